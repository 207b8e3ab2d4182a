"""Byte-level fixtures for every object type 1-47, written from spec 05 §4-§7 tables (offsets and sizes
taken from the spec, packed here by hand, independently of hvmiex.alerts.layout)."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from hvmiex.alerts.decode import decode_alert
from hvmiex.alerts.encode import encode_alert, encode_object, make_object
from hvmiex.alerts.layout import LAYOUTS, MAX_OBJECT_TYPE
from hvmiex.alerts.model import BlobString


def s8(text: bytes) -> bytes:
    """A string: u32 length, u8 encoding 0, content (spec 05 §6.1)."""
    return struct.pack("<IB", len(text), 0) + text


def obj(type_id: int, payload: bytes) -> bytes:
    return struct.pack("<IHH", 1, type_id, len(payload)) + payload


PAGE = bytes(range(256)) * 16  # 4096 bytes
FRAME = bytes(range(200)) * 2 + bytes(112)  # 512 bytes

# type id -> (payload bytes, expected field values (subset), spec size of the fixed part)
FIXTURES: dict[int, tuple[bytes, dict[str, Any], int]] = {
    1: (b"", {}, 0),
    2: (b"", {}, 0),
    3: (b"", {}, 0),
    4: (b"", {}, 0),
    5: (b"", {}, 0),
    6: (b"", {}, 0),
    # §7.1 victim: u32 object type, u32 zone type, u64 zone flags
    7: (struct.pack("<IIQ", 16, 1, 0x10000004), {"object_type": 16, "zone_type": 1, "zone_flags": 0x10000004}, 16),
    # §7.2 EPT: gva, gpa, u8 access
    8: (struct.pack("<QQB", 0x7FFD1C3BD583, 0x1F3A2583, 2), {"gva": 0x7FFD1C3BD583, "gpa": 0x1F3A2583, "access": 2}, 17),
    9: (struct.pack("<I", 0xC0000082), {"msr": 0xC0000082}, 4),
    10: (struct.pack("<I", 4), {"cr": 4}, 4),
    11: (struct.pack("<I", 27), {"dtr_type": 27}, 4),
    12: (struct.pack("<I", 14), {"entry": 14}, 4),
    13: (b"\x01\x02\x03", {"data": b"\x01\x02\x03"}, 0),
    # §7.5 injection: gva, u32 length, u32 kind
    14: (struct.pack("<QII", 0x7FF600001000, 0x40, 3), {"gva": 0x7FF600001000, "length": 0x40, "kind": 3}, 16),
    # §7.6 Windows process: 76 bytes then name, path, command line
    15: (
        struct.pack("<QQQQQIQQQQ", 0xFFFFA50F3C6E2080, 0xFFFFA50F39D1C340, 0xFFFFA50F39D1C340, 0x13A2F1002,
                    0x139EF2001, 7412, 0xA8F3C5A000, 0, 0x7FF7C6110000, 0x8000000C)
        + s8(b"chrome.exe" + bytes(6)) + s8(b"\\device\\x\\chrome.ex\0") + s8(b"chrome.exe --x\0"),
        {"eprocess": 0xFFFFA50F3C6E2080, "pid": 7412, "peb64": 0xA8F3C5A000, "peb32": 0,
         "main_module": 0x7FF7C6110000, "flags": 0x8000000C},
        76,
    ),
    16: (
        struct.pack("<QQQQQIQQQQ", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10) + s8(b"explorer.exe\0\0\0\0") + s8(b"") + s8(b""),
        {"eprocess": 1, "parent": 2, "real_parent": 3, "cr3": 4, "user_cr3": 5, "pid": 6, "peb64": 7, "peb32": 8,
         "main_module": 9, "flags": 10},
        76,
    ),
    # §7.7 Linux task: 60 bytes then name, path, command line
    17: (
        struct.pack("<QQQQQQIII", 0xFFFF8880AA000000, 11, 12, 13, 14, 0x1234000, 501, 500, 0xDEAD)
        + s8(b"bash") + s8(b"/usr/bin/bash") + s8(b"bash -i\0"),
        {"task": 0xFFFF8880AA000000, "real_parent": 11, "actual_parent": 12, "parent": 13, "mm": 14,
         "cr3": 0x1234000, "pid": 501, "tgid": 500, "flags": 0xDEAD},
        60,
    ),
    18: (
        struct.pack("<QQQQQQIII", 1, 2, 3, 4, 5, 6, 7, 8, 9) + s8(b"sshd") + s8(b"") + s8(b""),
        {"task": 1, "pid": 7, "tgid": 8, "flags": 9},
        60,
    ),
    # §7.8 kernel driver: object, base, size, entry point, section string (9 bytes)
    19: (
        struct.pack("<QQQQ", 0xFFFFF80001FFF000, 0xFFFFF80002000000, 0x20000, 0xFFFFF80002001000)
        + s8(b".text\0\0\0\0"),
        {"object_gva": 0xFFFFF80001FFF000, "base": 0xFFFFF80002000000, "size": 0x20000,
         "entry_point": 0xFFFFF80002001000},
        32,
    ),
    20: (struct.pack("<QQQQ", 1, 2, 3, 4) + s8(b""), {"object_gva": 1, "base": 2, "size": 3, "entry_point": 4}, 32),
    # §7.9 Windows kernel driver: u32 timestamp, path
    21: (struct.pack("<I", 0x5A2F9B1D) + s8(b"\\??\\C:\\x\\evil.sys\0"), {"timestamp": 0x5A2F9B1D}, 4),
    22: (struct.pack("<I", 7) + s8(b"\\SystemRoot\\system32\\ntoskrnl.exe\0"), {"timestamp": 7}, 4),
    # §7.10 Linux kernel module: init base/size/text/ro, core base/size/text/ro, name
    23: (
        struct.pack("<QIIIQIII", 0xFFFFFFFFC0100000, 0x1000, 0x800, 0x200, 0xFFFFFFFFC0000000, 0x9000, 0x6000,
                    0x1000) + s8(b"ext4"),
        {"init_base": 0xFFFFFFFFC0100000, "init_size": 0x1000, "init_text_size": 0x800, "init_ro_size": 0x200,
         "core_base": 0xFFFFFFFFC0000000, "core_size": 0x9000, "core_text_size": 0x6000, "core_ro_size": 0x1000},
        40,
    ),
    24: (struct.pack("<QIIIQIII", 1, 2, 3, 4, 5, 6, 7, 8) + s8(b"kernel"), {"init_base": 1, "core_ro_size": 8}, 40),
    # §7.11 Windows driver object: gva, gpa, fast I/O, name
    25: (struct.pack("<QQQ", 0xFFFFE001, 0x1000, 0) + s8(b"\\Driver\0"), {"gva": 0xFFFFE001, "gpa": 0x1000, "fast_io": 0}, 24),
    # §7.12 VAD: start, end, vad, vad prot, vad type, prot, exec count, flags, path
    26: (
        struct.pack("<QQQIIIII", 0x10000, 0x1FFFF, 0xFFFF9000, 0x18, 2, 0x40, 3, 1) + struct.pack("<IB", 0, 1),
        {"start": 0x10000, "end": 0x1FFFF, "vad": 0xFFFF9000, "vad_protection": 0x18, "vad_type": 2,
         "protection": 0x40, "exec_count": 3, "flags": 1},
        44,
    ),
    # §7.13 VMA: start, end, vma, flags, file, path
    27: (struct.pack("<QQQQQ", 0x400000, 0x401000, 0xFFFF1, 0x75, 0) + s8(b""), {"start": 0x400000, "flags": 0x75, "file": 0}, 40),
    # §7.14 Windows module: base, u32 size, path
    28: (struct.pack("<QI", 0x7FFD1C2E0000, 0xD9000) + s8(b"\\device\\x\\chrome_elf.dl\0"), {"base": 0x7FFD1C2E0000, "size": 0xD9000}, 12),
    29: (struct.pack("<QI", 1, 2) + s8(b"a.dl\0"), {"base": 1, "size": 2}, 12),
    # §7.15 instruction: RIP + 16 bytes
    30: (struct.pack("<Q", 0xFFFFF80002001020) + b"\x48\x89\x0a" + bytes(13), {"rip": 0xFFFFF80002001020,
         "bytes": b"\x48\x89\x0a" + bytes(13)}, 24),
    # §7.16 write info: u32 size, 8 u64 old, 8 u64 new
    31: (struct.pack("<I8Q8Q", 8, 0x1111, 0, 0, 0, 0, 0, 0, 0, 0x2222, 0, 0, 0, 0, 0, 0, 0),
         {"access_size": 8, "old": struct.pack("<Q", 0x1111) + bytes(56), "new": struct.pack("<Q", 0x2222) + bytes(56)}, 132),
    # §7.17 read info: u32 size, 8 u64 value
    32: (struct.pack("<I8Q", 4, 0xDEADBEEF, 0, 0, 0, 0, 0, 0, 0), {"access_size": 4,
         "value": struct.pack("<Q", 0xDEADBEEF) + bytes(56)}, 68),
    # §7.18 exec info as the producer writes it: RSP, stack base, stack limit, u32 length (28 bytes)
    33: (struct.pack("<QQQI", 0x7FFE0000F00, 0x7FFE0010000, 0x7FFE0000000, 5),
         {"rsp": 0x7FFE0000F00, "stack_base": 0x7FFE0010000, "stack_limit": 0x7FFE0000000, "length": 5}, 28),
    # §7.19 arch regs: 28 u64 (RAX first, GDT limit last)
    34: (struct.pack("<28Q", *range(100, 128)), {"rax": 100, "rcx": 101, "r8": 108, "r9": 109, "rip": 119,
         "gdt_limit": 127}, 224),
    # §7.20 code blocks: start, RIP, u32 index, u32 N, N hashes
    35: (struct.pack("<QQII6I", 0xFFFFF80381E41F00, 0xFFFFF80381E41F30, 2, 6, 0x5A1C2E3F, 0x0BC24175, 0x9D00A1B2,
                     0x77E1C0DE, 0xE44CC01D, 0x1234ABCD),
         {"start_address": 0xFFFFF80381E41F00, "rip": 0xFFFFF80381E41F30, "rip_index": 2, "count": 6,
          "hashes": (0x5A1C2E3F, 0x0BC24175, 0x9D00A1B2, 0x77E1C0DE, 0xE44CC01D, 0x1234ABCD)}, 24),
    # §7.21 RIP code: u32 cs type, u32 N, N bytes
    36: (struct.pack("<II", 3, 4096) + PAGE, {"cs_type": 3, "length": 4096, "code": PAGE}, 8),
    # §7.22 raw dump: u32 N, N bytes
    37: (struct.pack("<I", 3) + b"abc", {"length": 3, "data": b"abc"}, 4),
    # §7.23 export: u32 count, u32 delta, count strings (worked example §15.2)
    38: (struct.pack("<II", 2, 3) + s8(b"NtOpenProcess") + s8(b"ZwOpenProcess"), {"count": 2, "delta": 3}, 8),
    39: (struct.pack("<I", 0x4), {"flags": 4}, 4),
    40: (struct.pack("<Q", 0xFFFF0001), {"debugger": 0xFFFF0001}, 8),
    # §7.26 pivoted stack: 6 u64 + 512-byte trap frame
    41: (struct.pack("<6Q", 1, 2, 3, 4, 5, 6) + FRAME, {"current_stack": 1, "stack_base": 2, "stack_limit": 3,
         "wow64_current_stack": 4, "wow64_stack_base": 5, "wow64_stack_limit": 6, "trap_frame": FRAME}, 560),
    42: (struct.pack("<Q", 0xFFFF0002), {"stolen_from": 0xFFFF0002}, 8),
    43: (struct.pack("<4Q", 1, 2, 3, 4), {"old_enabled": 1, "new_enabled": 2, "old_present": 3, "new_present": 4}, 32),
    # §7.28 thread start: shellcode flags, start address, 4096-byte page
    44: (struct.pack("<QQ", 0x10, 0x7FF0000) + PAGE, {"shellcode_flags": 0x10, "start_address": 0x7FF0000,
         "start_page": PAGE}, 4112),
    # §7.29 heap spray: 15 u32, u64 shellcode flags, two pages
    45: (struct.pack("<15IQ", *[0x01010101 * i for i in range(1, 16)], 0x20) + PAGE + PAGE[::-1],
         {"heap_page_1": 0x01010101, "heap_page_15": 0x0F0F0F0F, "shellcode_flags": 0x20, "detected_page": PAGE,
          "max_page": PAGE[::-1]}, 8260),
    # §7.30 security descriptor: eprocess, old ptr, new ptr, 4 ACL headers (rev, sbz1, size, count, sbz2)
    46: (struct.pack("<QQQ", 0, 0x10, 0x20) + struct.pack("<BBHHH", 2, 0, 0x1C, 1, 0) * 3
         + struct.pack("<BBHHH", 0x82, 0, 0x80F0, 3, 0),
         {"stolen_from": 0, "old_pointer": 0x10, "new_pointer": 0x20, "old_sacl_revision": 2, "old_sacl_size": 0x1C,
          "new_dacl_revision": 0x82, "new_dacl_size": 0x80F0, "new_dacl_ace_count": 3}, 56),
    47: (struct.pack("<BBHHH", 2, 0, 0x1C, 1, 0) * 4, {"old_sacl_revision": 2, "new_dacl_ace_count": 1}, 32),
}

HEADER = struct.pack("<IIIHI", 1, 1, 1, 0, 1)


def test_every_type_has_a_fixture() -> None:
    assert set(FIXTURES) == set(range(1, MAX_OBJECT_TYPE + 1)) == set(LAYOUTS)


@pytest.mark.parametrize("type_id", sorted(FIXTURES))
def test_fixed_size_matches_spec(type_id: int) -> None:
    assert LAYOUTS[type_id].fixed.size == FIXTURES[type_id][2]


@pytest.mark.parametrize("type_id", sorted(FIXTURES))
def test_object_fixture_decodes_and_reencodes(type_id: int) -> None:
    payload, expected, _ = FIXTURES[type_id]
    blob = HEADER + obj(type_id, payload)
    alert = decode_alert(blob)
    assert len(alert.objects) == 1
    decoded = alert.objects[0]
    assert decoded.type_id == type_id and decoded.offset == 18 and decoded.extra == b""
    for name, value in expected.items():
        assert decoded.values[name] == value, name
    assert encode_alert(alert) == blob
    assert encode_object(decoded) == obj(type_id, payload)


def test_string_fields_of_fixtures() -> None:
    alert = decode_alert(HEADER + obj(15, FIXTURES[15][0]))
    proc = alert.objects[0]
    assert proc.string("name") == "chrome.exe"
    assert proc.string("path") == "\\device\\x\\chrome.ex"
    assert proc.string("command_line") == "chrome.exe --x"
    export = decode_alert(HEADER + obj(38, FIXTURES[38][0])).objects[0]
    assert [s.value for s in export.values["names"]] == ["NtOpenProcess", "ZwOpenProcess"]
    vad = decode_alert(HEADER + obj(26, FIXTURES[26][0])).objects[0]
    assert vad.values["path"] == BlobString(b"", 1)


def test_make_object_builds_the_fixture_bytes() -> None:
    built = make_object("code_blocks", start_address=0xFFFFF80381E41F00, rip=0xFFFFF80381E41F30, rip_index=2,
                        hashes=(0x5A1C2E3F, 0x0BC24175, 0x9D00A1B2, 0x77E1C0DE, 0xE44CC01D, 0x1234ABCD))
    assert encode_object(built) == obj(35, FIXTURES[35][0])
    export = make_object("export", delta=3, names=("NtOpenProcess", "ZwOpenProcess"))
    assert encode_object(export) == obj(38, FIXTURES[38][0])


def sample_blob() -> bytes:
    """A blob holding every object type once (markers bracketing the sections), for fuzzing seeds."""
    body = obj(1, b"")
    body += b"".join(obj(t, FIXTURES[t][0]) for t in (15, 16, 17, 18, 19, 21, 20, 22, 23, 24, 28, 29, 30))
    body += obj(2, b"") + obj(3, b"")
    body += b"".join(obj(t, FIXTURES[t][0]) for t in (7, 8, 9, 10, 11, 12, 13, 25, 26, 27))
    body += obj(4, b"") + obj(5, b"")
    small = (14, 31, 32, 33, 34, 35, 37, 38, 39, 40, 42, 43, 46, 47)
    body += b"".join(obj(t, FIXTURES[t][0]) for t in small)
    body += obj(6, b"")
    return HEADER + body


def test_sample_blob_round_trips() -> None:
    blob = sample_blob()
    alert = decode_alert(blob)
    assert encode_alert(alert) == blob
    assert [o.section.value if o.section else None for o in alert.objects][:2] == ["originator", "originator"]
