"""The seed blog's violation and spec 04 §11's worked examples, parsed and proposed."""

from __future__ import annotations

import re
from pathlib import Path

from hvmiex.logs.mine import propose_violation
from hvmiex.logs.parse import LogViolation, Mode, parse_lines
from hvmiex.model import CodeBlocksSignature, ExportSignature
from hvmiex.violation import ObjectType, ZoneFlags
from tests.conftest import shared_path

SEED = "000_cc3bc7fbffa8c13a.txt"


def _one(lines: list[str]) -> LogViolation:
    items = list(parse_lines(lines, "example.log"))
    found = [x for x in items if isinstance(x, LogViolation)]
    assert len(found) == 1, items
    return found[0]


def _blog_lines() -> list[str]:
    text = shared_path("seeds", SEED).read_text().splitlines()
    block = [
        next(x for x in text if x.startswith("exceptions_user.c : 775 ")),
        next(x for x in text if x.startswith("exceptions_user.c : 1070 ")),
        next(x for x in text if x.startswith("exceptions_user.c : 1145 ^") and "MALWARE (no exc)" in x),
    ]
    # the post's second, intact listing of the code blocks (its first listing is garbled)
    dump = [x for x in text if x.startswith("codeblocks.c : ") and "[CODEBLOCKS] " in x][-12:]
    return block + dump


def _names(sig: ExportSignature) -> list[tuple[str | None, int]]:
    return [(e.name.text, e.delta) for e in sig.entries]


def test_blog_violation_fields() -> None:
    lv = _one(_blog_lines())
    v = lv.violation
    assert lv.mode is Mode.USER  # V-blog verdict has no mode: taken from exceptions_user.c
    assert lv.reason == "no-exception"
    assert (lv.process, lv.originator, lv.victim) == ("chrome.exe", "ntdll.dll", "kernel32.dll")
    assert v.env.guest_64
    assert v.victim.object_type is ObjectType.UM_MODULE
    assert v.victim.zone_flags == ZoneFlags.WRITE | ZoneFlags.LIB_CODE
    assert v.victim.write is not None and v.victim.write.access_size == 1
    assert v.victim.write.old == b"\xff" and v.victim.write.new == b"\x42"
    assert lv.exports == ("CreateFileA",) and lv.delta == 0
    assert v.um.process is not None and v.um.process.pid == 7472
    assert v.um.process.command_line is not None and v.um.process.command_line.endswith("/prefetch:8")
    assert v.um.rip == 0x00007FFC48660AB5
    # the blog pairs the block with a dump of another RIP (spec 04 §11.1): used, and reported
    assert lv.codeblocks is not None and len(lv.codeblocks.blocks) == 94 and lv.codeblocks.rip_index == 79
    assert any("differs from the block's RIP" in p for p in lv.problems)


def test_blog_exception_blog_procedure() -> None:
    """The blog's exception: chrome.exe / ntdll.dll / kernel32.dll, `write 64`, export + codeblocks.

    Spec 04 corrects the blog's object type: `module` (there is no user-mode `module code`)."""
    lv = _one(_blog_lines())
    p = propose_violation(lv)
    exc = p.exception
    assert (exc.originator.text, exc.victim.text, exc.process.text) == ("ntdll.dll", "kernel32.dll", "chrome.exe")
    assert exc.object_type == 3  # user `module`
    assert exc.flags.value == 0x20000000 | 0x4  # write 64
    exports = [s for s in p.signatures if isinstance(s, ExportSignature)]
    assert len(exports) == 1 and exports[0].library.text == "kernel32.dll"
    assert _names(exports[0]) == [("CreateFileA", 1)]  # Delta 0x00 + write size 1
    assert exports[0].flags.value == 0x2  # signature flag 64
    cbs = [s for s in p.signatures if isinstance(s, CodeBlocksSignature)]
    assert len(cbs) == 1 and cbs[0].flags.value == 0x2
    assert {r.id for r in exc.signatures} == {s.id for s in p.signatures}


def test_blog_exception_add_exception_from_alert() -> None:
    """Spec 04 §11.1: what AddExceptionFromAlert makes of the same violation (exact mode)."""
    p = propose_violation(_one(_blog_lines()), exact=True)
    exc = p.exception
    assert exc.flags.value == 0x20000000 | 0x2 | 0x4  # 32 64 write
    assert not [s for s in p.signatures if isinstance(s, ExportSignature)]  # no export signature for EPT
    (cb,) = [s for s in p.signatures if isinstance(s, CodeBlocksSignature)]
    assert cb.score == 5
    assert cb.lists == ((0x7C09AC49, 0x7F93DDDE, 0x85FFCA8E, 0xA6AD5025, 0xC56695C2, 0xE9F50E48),)


def _spec_example(section: str) -> list[str]:
    text = shared_path("spec", "04-log-format.md").read_text()
    start = text.index(f"### {section}")
    body = text[start:]
    block = body[body.index("```\n") + 4 :]
    block = block[: block.index("```")]
    return [x for x in block.splitlines() if x and not x.startswith("(...") and not re.search(r"\(lines? .*elided\)", x)]


def test_spec_11_2_kernel_mode() -> None:
    lv = _one(_spec_example("11.2"))
    v = lv.violation
    assert lv.mode is Mode.KERNEL and lv.originator == "[kernel]" and lv.victim == "ndis.sys"
    assert v.km.return_.name == "acmefilt.sys" and v.km.return_.rip == 0xFFFFF8026C7A1F3E
    assert v.km.return_.section == ".text"
    assert lv.codeblocks is not None and lv.codeblocks.rip_index == 13 and len(lv.codeblocks.blocks) == 20
    assert lv.return_codeblocks is not None and lv.return_codeblocks.rip_index == 15
    assert len(lv.return_codeblocks.blocks) == 18
    p = propose_violation(lv, exact=True)
    assert p.exception.originator.value == 2 and p.exception.victim.text == "ndis.sys"
    assert p.exception.object_type == 4  # driver code
    assert p.exception.flags.value == 0x20000000 | 0x6
    (cb,) = [s for s in p.signatures if isinstance(s, CodeBlocksSignature)]
    assert cb.score == 5
    assert cb.lists == ((0x03E9A8F7, 0x2E5CB471, 0x61D8E2A3, 0x9A03F6DE, 0xB7C4150E, 0xD56F2C19),)
    refined = propose_violation(lv)
    assert refined.exception.flags.value == 0x20000000 | 0x4  # write 64


def test_spec_11_3_kernel_user() -> None:
    lv = _one(_spec_example("11.3"))
    v = lv.violation
    assert lv.mode is Mode.KERNEL_USER
    assert v.km.injection.user and not v.km.injection.kernel
    assert v.km.process is not None and v.km.process.pid == 6140
    assert v.victim.process is not None and v.victim.process.pid == 8120
    assert lv.exports == ("NtCreateFile", "ZwCreateFile") and lv.delta == 0
    assert (lv.process, lv.originator, lv.victim) == ("chrome.exe", "chrome.exe", "ntdll.dll")
    p = propose_violation(lv, exact=True)
    exc = p.exception
    assert exc.flags.value == 0x20000000 | 0x6 | 0x8000  # 32 64 write user
    assert (exc.originator.text, exc.victim.text, exc.process.text) == ("chrome.exe", "ntdll.dll", "chrome.exe")
    (cb,) = [s for s in p.signatures if isinstance(s, CodeBlocksSignature)]
    assert cb.lists == ((0x1FB9C3D4, 0x3B6FE1A7, 0x84D02F9B, 0xA6E21B08, 0xC35E7A61, 0xF7A9C250),)
    refined = propose_violation(lv)
    (exp,) = [s for s in refined.signatures if isinstance(s, ExportSignature)]
    assert _names(exp) == [("NtCreateFile", 8), ("ZwCreateFile", 8)]  # §11.3: delta 0x00 + 8


def test_garbled_blog_listing_is_not_fatal() -> None:
    """The post's first listing has two lines mangled together: the block still parses."""
    text = shared_path("seeds", SEED).read_text().splitlines()
    start = next(i for i, x in enumerate(text) if x.startswith("exceptions_user.c : 775 "))
    lines = text[start : start + 20]
    items = list(parse_lines(lines, "blog.md"))
    found = [x for x in items if isinstance(x, LogViolation)]
    assert len(found) == 1 and found[0].victim == "kernel32.dll"
    assert Path(SEED).suffix == ".txt"


def test_serialized_alert_in_the_log_is_decoded() -> None:
    import base64
    import json

    from hvmiex.alerts.encode import encode_violation
    from hvmiex.alerts.transport import serializer_lines
    from hvmiex.logs.parse import decode_serialized
    from hvmiex.logs.render import RenderOptions, render_violation
    from hvmiex.violation import violation_from_dict

    case = shared_path("oracle", "logs-real", "alerts-real", "win_um_module_code_write_export.json")
    data = json.loads(case.read_text())["evaluations"][0]["violation"]
    data["originator"].pop("same_process_as_victim", None)
    v = violation_from_dict(data)
    blob = base64.b64encode(encode_violation(v)).decode()
    lines = render_violation(v, RenderOptions(guest=None))
    lines += [f"serializers.c : 10 {m}" for m in serializer_lines(blob, 7, 100)]
    lv = _one(lines)
    assert lv.serialized == (blob,)
    (decoded,) = decode_serialized(lv)
    assert decoded.violation.victim.name_hash == v.victim.name_hash
    assert propose_violation(lv).exception.victim.text == "ntdll.dll"


def test_cr4_labels_are_swapped_upstream_and_values_decide() -> None:
    """Upstream quirk (spec 04 §5.3): `(SMAP)` is printed when SMEP was cleared; the values say which."""
    from hvmiex.logs.parse import parse_log

    (lv,) = [x for x in parse_log(shared_path("oracle", "logs-real", "alerts-real", "win_km_cr4_smep.log"))
             if isinstance(x, LogViolation)]  # fmt: skip
    cr = lv.violation.victim.cr
    assert cr is not None and cr.smep_cleared and not cr.smap_cleared
    assert propose_violation(lv).exception.flags.value & 0xC00 == 0x800  # `smep` only (blog procedure)
    assert propose_violation(lv, exact=True).exception.flags.value & 0xC00 == 0xC00  # alert: smep smap
