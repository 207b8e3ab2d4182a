"""The violation model: hashing helpers (spec 03 §2), JSON form round trips and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hvmiex.violation import (
    NONAME,
    GuestMemory,
    GuestOS,
    MemoryRange,
    ObjectType,
    ViolationError,
    ZoneFlags,
    crc32_narrow,
    hash_driver_object,
    hash_export,
    hash_kernel_module,
    hash_process,
    hash_user_module,
    load_violations,
    violation_from_dict,
    violation_to_dict,
)
from tests.engine.builders import LIX64, km, kum, um_module, um_process


def test_spec_hash_table() -> None:
    assert hash_user_module("ntdll.dll") == 0xBE9D4EC5
    assert hash_user_module("C:\\Windows\\System32\\KERNEL32.DLL") == 0x72F47653
    assert hash_process("notepad.exe") == 0x7F484B8C
    assert hash_process("explorer.exe") == 0x3A2949C5
    assert hash_export("NtCreateKey") == 0xDA198B03
    assert hash_driver_object("\\Driver\\Disk") == 0x72FE0842
    assert crc32_narrow("crc32") == 0x9676DBBC
    assert crc32_narrow("") == NONAME


def test_kernel_substitutions() -> None:
    assert hash_kernel_module("ntoskrnl.exe") == 2
    assert hash_kernel_module("NTKRNLMP.EXE") == 2
    assert hash_kernel_module("halmacpi.dll") == 3
    assert hash_kernel_module("hal.dll", substitute=False) != 3
    assert hash_kernel_module("kernel", GuestOS.LINUX) == 2
    assert hash_kernel_module("Ext4", GuestOS.LINUX) == crc32_narrow("Ext4")  # case kept on Linux
    assert hash_process("GDB-Long-Process-Name", GuestOS.LINUX) == crc32_narrow("GDB-Long-Proces")


def test_memory_reads_across_ranges() -> None:
    m = GuestMemory((MemoryRange(0x1000, b"ab"), MemoryRange(0x1002, b"cd")))
    assert m.read(0x1001, 3) == b"bcd"
    assert m.read(0x1003, 2) is None
    assert m.read(0x5000, 0) == b""


@pytest.mark.parametrize("make", [lambda: km("foo.sys"), lambda: kum("k.sys", user=True, injector="x.exe"),
                                  lambda: um_module("m.dll", ret="r.dll"), lambda: um_process("a.exe"),
                                  lambda: km("ext4", env=LIX64)])  # fmt: skip
def test_round_trip(make: object) -> None:
    v = make()  # type: ignore[operator]
    again = violation_from_dict(json.loads(json.dumps(violation_to_dict(v))))
    assert again.victim == v.victim
    assert again.originator == v.originator
    assert again.env == v.env


@settings(max_examples=60, deadline=None)
@given(
    flags=st.integers(0, 0x1_7FFF_FFFF),
    obj=st.sampled_from(list(ObjectType)),
    name=st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=20),
    access=st.integers(0, 64),
)
def test_round_trip_property(flags: int, obj: ObjectType, name: str, access: int) -> None:
    base = um_module("m.dll")
    from dataclasses import replace

    from hvmiex.violation import WriteInfo

    v = replace(
        base,
        victim=replace(base.victim, zone_flags=ZoneFlags(flags), object_type=obj, name=name or None,
                       write=WriteInfo(b"\x01" * access, b"\x02" * access, access)),
    )  # fmt: skip
    again = violation_from_dict(violation_to_dict(v))
    assert again.victim == v.victim


def test_hand_written_form_computes_hashes() -> None:
    v = violation_from_dict(
        {
            "kind": "um",
            "env": {"os": "windows", "guest_64": True},
            "victim": {"zone_type": "ept", "zone_flags": ["write", "lib-code"], "object_type": "um-module",
                       "name": "NTDLL.DLL", "process": {"name": "Chrome.exe"}},
            "originator": {"name": "Hooker.dll", "name_wide": True, "rip": "0x7ff600001000",
                           "process": {"name": "Chrome.exe"}},
        }
    )  # fmt: skip
    assert v.victim.name_hash == 0xBE9D4EC5
    assert v.um.name_hash == hash_user_module("hooker.dll")
    assert v.um.process is not None and v.um.process.name == "chrome.exe"
    assert v.um.rip == 0x7FF600001000


def test_refusals_name_every_bad_field() -> None:
    with pytest.raises(ViolationError) as err:
        violation_from_dict(
            {"kind": "km", "victim": {"zone_type": "eptx", "zone_flags": ["write", "bogus"], "colour": 1},
             "originator": {"original": {"rip": "zz"}}}
        )  # fmt: skip
    fields = {d.field for d in err.value.diagnostics}
    assert {"victim.zone_type", "victim.zone_flags[1]", "victim.colour", "originator.original.rip"} <= fields
    with pytest.raises(ViolationError):
        violation_from_dict({"kind": "xm"})


def test_load_violations_forms(tmp_path: Path) -> None:
    one = violation_to_dict(km("foo.sys"))
    (tmp_path / "one.json").write_text(json.dumps(one))
    (tmp_path / "many.json").write_text(json.dumps({"violations": [one, one]}))
    (tmp_path / "lines.jsonl").write_text(json.dumps(one) + "\n" + json.dumps(one) + "\n")
    (tmp_path / "bad.json").write_text("{ nope")
    assert len(load_violations(tmp_path / "one.json")) == 1
    assert len(load_violations(tmp_path / "many.json")) == 2
    assert len(load_violations(tmp_path / "lines.jsonl")) == 2
    with pytest.raises(ViolationError) as err:
        load_violations(tmp_path / "bad.json")
    assert err.value.diagnostics[0].location is not None and err.value.diagnostics[0].location.line == 1


def test_example_violation_files_load() -> None:
    from tests.engine.builders import DATA

    for path in sorted((DATA / "violations").glob("*.json")):
        assert load_violations(path)
