"""Every blob kind (Windows and Linux; KM, UM, KUM; each violation source) decodes in both modes: the
object listing (--alert) and the proposal route (--exception), including kinds upstream's reader crashes on
(read info, zone type 7, victim types >= 35, exec info)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hvmiex.alerts.convert import alert_to_violation
from hvmiex.alerts.decode import decode_alert
from hvmiex.alerts.encode import build_alert, encode_violation, make_object
from hvmiex.alerts.exceptions_json import proposals_documents
from hvmiex.alerts.layout import Section
from hvmiex.alerts.model import AlertHeader, AlertObject, BlobString
from hvmiex.alerts.proposals import merge_proposals, propose_from_alert
from hvmiex.alerts.render import alert_json, alert_text
from hvmiex.engine.propose import ProposalError
from hvmiex.violation import Violation
from tests.alerts.helpers import oracle_blob, oracle_cases
from tests.alerts.test_roundtrip_violation import km_violation, kum_violation, um_violation


def _both_modes(blob: bytes) -> None:
    alert = decode_alert(blob)
    assert alert_text(alert) and alert_json(alert)["objects"]
    decoded = alert_to_violation(alert)
    with contextlib.suppress(ProposalError):
        proposal = propose_from_alert(decoded)
        docs = proposals_documents(merge_proposals([("x", proposal)]))
        assert docs


def test_oracle_blobs_in_both_modes() -> None:
    for case in oracle_cases():
        _both_modes(oracle_blob(case))


@settings(max_examples=60, deadline=None)
@given(st.one_of(km_violation(), kum_violation(), um_violation()))
def test_generated_blobs_in_both_modes(v: Violation) -> None:
    _both_modes(encode_violation(v))


# ------------------------------------------------------------------ hand-built blobs for the other sources


W, R, X, INTEG = 0x10000000, 0x20000000, 0x40000000, 0x100000000
PAGE = bytes(range(256)) * 16


def _km_orig() -> list[AlertObject]:
    return [
        make_object("kernel_driver", base=0xFFFFF80002000000, size=0x20000, entry_point=0xFFFFF80002001000,
                    section=BlobString(b".text\0\0\0\0")),
        make_object("windows_kernel_driver", path=BlobString(b"\\??\\C:\\x\\evil.sys\0")),
        make_object("kernel_driver_return", base=0xFFFFF80002000000, section=BlobString(b"")),
        make_object("windows_kernel_driver_return", path=BlobString(b"\\??\\C:\\x\\evil.sys\0")),
    ]


def _km_misc(ept: dict[str, int] | None = None) -> list[AlertObject]:
    blocks = make_object("code_blocks", start_address=0xFFFFF80002001000, rip=0xFFFFF80002001020, rip_index=1,
                         hashes=(1, 2, 3, 4, 5, 6, 7))
    return [blocks, blocks, make_object("instruction", rip=0xFFFFF80002001020),
            make_object("write_info", access_size=8, old=bytes(64), new=b"\x01" * 8 + bytes(56)),
            make_object("ept", **(ept or {})), make_object("arch_regs", rip=0xFFFFF80002001020),
            make_object("rip_code", cs_type=3, code=PAGE)]


def _proc(key: str = "windows_process", name: bytes = b"chrome.exe") -> AlertObject:
    return make_object(key, eprocess=0xFFFF1, pid=4, name=BlobString(name.ljust(16, b"\0")),
                       path=BlobString(b"\\device\\x\\" + name[:-1] + b"\0"), command_line=BlobString(b"x\0"))


def _module(key: str = "windows_module") -> AlertObject:
    return make_object(key, base=0x7FF800000000, size=0x1000, path=BlobString(b"\\device\\x\\a.dl\0"))


def _vad() -> AlertObject:
    return make_object("windows_vad", start=0x10000, end=0x1FFFF, path=BlobString(b"", 1))


def _um_pc(dpi: int, dpi_objects: list[AlertObject]) -> bytes:
    return build_alert(AlertHeader(1, 1, 16, 0, 1), {
        Section.ORIGINATOR: [_proc(), _proc("windows_parent_process", b"explorer.exe")],
        Section.VICTIM: [make_object("victim", object_type=32, zone_type=7, zone_flags=X)],
        Section.MISC: [make_object("dpi", flags=dpi), *dpi_objects, make_object("rip_code", cs_type=3, code=PAGE)],
    })


SOURCES = {
    "km-driver-object-write": build_alert(AlertHeader(0, 1, 1, 0, 1), {
        Section.ORIGINATOR: _km_orig(),
        Section.VICTIM: [make_object("victim", object_type=5, zone_type=1, zone_flags=W),
                         make_object("ept", gva=0xFFFFE00010, gpa=0x10, access=2),
                         make_object("windows_driver_object", gva=0xFFFFE00000, gpa=0x1000,
                                     name=BlobString(b"\\Drive\0"))],
        Section.MISC: _km_misc({"gva": 0xFFFFE00010, "gpa": 0x10, "access": 2}),
    }),
    "km-fastio-integrity": build_alert(AlertHeader(0, 1, 5, 0, 1), {
        Section.ORIGINATOR: _km_orig(),
        Section.VICTIM: [make_object("victim", object_type=4, zone_type=4, zone_flags=W | INTEG),
                         make_object("windows_driver_object", gva=0xFFFFE00000, fast_io=0xFFFFE00100,
                                     name=BlobString(b"\\FileSy\0"))],
        Section.MISC: _km_misc({"gva": 0xFFFFE00100, "gpa": 0x8 | (0xE0 << 32)}),
    }),
    "km-logger-context-integrity": build_alert(AlertHeader(0, 1, 5, 0, 1), {
        Section.ORIGINATOR: _km_orig(),
        Section.VICTIM: [make_object("victim", object_type=31, zone_type=4, zone_flags=W | INTEG)],
        Section.MISC: _km_misc({"gva": 0xFFFFE00100, "gpa": 0x8 | (0x100 << 32)}),
    }),
    "km-interrupt-object-integrity": build_alert(AlertHeader(0, 1, 5, 0, 0), {
        Section.ORIGINATOR: _km_orig(),
        Section.VICTIM: [make_object("victim", object_type=41, zone_type=4, zone_flags=W | INTEG)],
        Section.MISC: _km_misc(),
    }),
    "um-sud-exec": build_alert(AlertHeader(1, 1, 1, 0, 1), {
        Section.ORIGINATOR: [_proc(), _module(), _module("windows_module_return")],
        Section.VICTIM: [make_object("victim", object_type=34, zone_type=1, zone_flags=X), _proc(),
                         _proc("windows_parent_process"), _module(), _vad()],
        Section.MISC: [make_object("ept", gva=0x7FFE0300, access=4),
                       make_object("exec_info", rsp=1, stack_base=2, stack_limit=3, length=2),
                       make_object("code_blocks", rip=0x7FFE0300, hashes=(9, 8, 7)),
                       make_object("rip_code", cs_type=3, code=PAGE)],
    }),
    "um-module-load": build_alert(AlertHeader(1, 1, 17, 0, 1), {
        Section.ORIGINATOR: [_proc(), _module()],
        Section.VICTIM: [make_object("victim", zone_type=5, zone_flags=W | 0x100), _proc(), _module(), _vad()],
        Section.MISC: [make_object("injection", gva=0x7FF800000000, length=1),
                       make_object("raw_dump", data=b"M")],
    }),
    "um-apc-injection": build_alert(AlertHeader(1, 1, 7, 0, 1), {
        Section.ORIGINATOR: [_proc()],
        Section.VICTIM: [make_object("victim", zone_type=5, zone_flags=W | 0x40), _proc(name=b"lsass.exe")],
        Section.MISC: [make_object("injection", gva=0x1000, length=8, kind=3),
                       make_object("raw_dump", data=b"12345678")],
    }),
    "um-pc-debug": _um_pc(0x1, [make_object("dpi_debug", debugger=0xFFFF2), _proc(name=b"windbg.exe")]),
    "um-pc-pivoted-stack": _um_pc(0x2, [make_object("dpi_pivoted_stack", trap_frame=bytes(512))]),
    "um-pc-stolen-token": _um_pc(0x4, [make_object("dpi_stolen_token", stolen_from=0xFFFF3), _proc()]),
    "um-pc-heap-spray": _um_pc(0x8, [make_object("dpi_heap_spray", detected_page=PAGE, max_page=PAGE)]),
    "um-pc-token-privs": _um_pc(0x10, [make_object("dpi_token_privs", new_enabled=0xFF)]),
    "um-pc-thread-start": _um_pc(0x20, [make_object("dpi_thread_start", start_page=PAGE)]),
    "um-pc-security-descriptor": _um_pc(0x40, [make_object("dpi_security_descriptor", new_pointer=8)]),
    "um-pc-acl-edit": _um_pc(0x80, [make_object("dpi_acl_edit", new_dacl_revision=0x82)]),
    "lix-um-nx": build_alert(AlertHeader(1, 2, 1, 0, 1), {
        Section.ORIGINATOR: [make_object("linux_task", pid=3, name=BlobString(b"bash"), path=BlobString(b"/bin/bash"),
                                         command_line=BlobString(b"bash\0")),
                             make_object("linux_parent_task", name=BlobString(b"sshd")),
                             make_object("instruction", rip=0x400000),
                             make_object("code_blocks", rip=0x400000, hashes=(1,))],
        Section.VICTIM: [make_object("victim", object_type=15, zone_type=1, zone_flags=X),
                         make_object("linux_task", name=BlobString(b"bash")),
                         make_object("linux_parent_task", name=BlobString(b"sshd")),
                         make_object("linux_vma", start=0x400000, end=0x401000, path=BlobString(b"/tmp/x"))],
        Section.MISC: [make_object("ept", gva=0x400000, access=4), make_object("exec_info", length=1),
                       make_object("code_blocks", rip=0x400000, hashes=(1, 2)),
                       make_object("rip_code", cs_type=3, code=PAGE)],
    }),
    "lix-km-vsyscall": build_alert(AlertHeader(0, 2, 1, 0, 1), {
        Section.ORIGINATOR: [make_object("kernel_driver", section=BlobString(b"")),
                             make_object("linux_kernel_module", name=BlobString(b"evil")),
                             make_object("instruction", rip=0xFFFFFFFFC0001000)],
        Section.VICTIM: [make_object("victim", object_type=24, zone_type=1, zone_flags=W | 0x4),
                         make_object("ept", gva=0xFFFFFFFFFF600000, access=2),
                         make_object("kernel_driver", section=BlobString(b"")),
                         make_object("linux_kernel_module", name=BlobString(b"kernel"))],
        Section.MISC: [make_object("write_info", access_size=8, old=bytes(64), new=bytes(64)),
                       make_object("arch_regs"), make_object("rip_code", code=PAGE)],
    }),
}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_source_in_both_modes(name: str) -> None:
    _both_modes(SOURCES[name])
