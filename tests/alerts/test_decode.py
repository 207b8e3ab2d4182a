"""Decoder: worked examples of spec 05 §15, oracle blobs, errors with offsets, producer defects."""

from __future__ import annotations

import struct

import pytest

from hvmiex.alerts.decode import decode_alert, field_notes
from hvmiex.alerts.encode import encode_alert
from hvmiex.alerts.layout import Section
from hvmiex.alerts.model import AlertFormatError, BlobString
from hvmiex.alerts.transport import decode_base64
from hvmiex.errors import HvmiexError
from tests.alerts.helpers import oracle_blob, oracle_cases
from tests.alerts.test_layout_fixtures import FIXTURES, HEADER, obj, s8

# spec 05 §15.1: a complete kernel-mode MSR alert (193 bytes)
MSR_B64 = (
    "AAAAAAEAAAACAAAAAAABAAAAAQAAAAEAAAABAAAAFQAbAB2bL1oSAAAAAFw/P1xDOlx4XGV2aWwuc3lzAAEAAAACAAAAAQAAAAMAAAAB"
    "AAAABwAQAAAAAAACAAAAAAAAEAAAAAABAAAACQAEAIIAAMABAAAABAAAAAEAAAAFAAAAAQAAACMAMAAAH+SBA/j//zAf5IED+P//AgAA"
    "AAYAAAA/LhxadUHCC7KhAJ3ewOF3HcBM5M2rNBIBAAAABgAAAA=="
)


def test_worked_example_msr_alert() -> None:
    blob = decode_base64(MSR_B64)
    assert len(blob) == 193
    alert = decode_alert(blob)
    h = alert.header
    assert (h.alert_class, h.guest, h.event, h.size, h.arch) == (0, 1, 2, 0, 1)
    assert [o.type_id for o in alert.objects] == [1, 21, 2, 3, 7, 9, 4, 5, 35, 6]
    assert [o.offset for o in alert.objects] == [0x12, 0x1A, 0x3D, 0x45, 0x4D, 0x65, 0x71, 0x79, 0x81, 0xB9]
    drv = alert.objects[1]
    assert drv.values["timestamp"] == 1513069341 and drv.section is Section.ORIGINATOR
    assert drv.values["path"] == BlobString(b"\\??\\C:\\x\\evil.sys\0", 0)
    assert drv.string("path") == "\\??\\C:\\x\\evil.sys"
    victim = alert.objects[4]
    assert dict(victim.values) == {"object_type": 0, "zone_type": 2, "zone_flags": 0x10000000}
    assert alert.objects[5].values["msr"] == 0xC0000082
    cb = alert.objects[8]
    assert cb.section is Section.MISC
    assert cb.values["hashes"] == (0x5A1C2E3F, 0x0BC24175, 0x9D00A1B2, 0x77E1C0DE, 0xE44CC01D, 0x1234ABCD)
    assert (cb.values["rip_index"], cb.values["count"]) == (2, 6)
    assert encode_alert(alert) == blob


def test_oracle_blobs_round_trip() -> None:
    for case in oracle_cases():
        blob = oracle_blob(case)
        assert decode_base64(case["serialized"]["base64"]) == blob
        alert = decode_alert(blob)
        assert encode_alert(alert) == blob, case["id"]
        # the producer's sections, in order (spec 05 §8.1)
        markers = [o.type_id for o in alert.objects if o.type_id <= 6]
        assert markers == [1, 2, 3, 4, 5, 6]


def test_read_info_alert_decodes() -> None:
    # upstream's reader aborts on every read-info object (spec 05 §13 reader 2); we decode it
    case = next(c for c in oracle_cases() if c["id"] == "win_km_drv_read")
    alert = decode_alert(oracle_blob(case))
    read = alert.first(32)
    assert read is not None and read.values["access_size"] == 4
    assert read.values["value"][:4] == bytes.fromhex("efbeadde")


def test_process_creation_zone_7_decodes() -> None:
    # upstream's reader aborts on zone type 7 (spec 05 §13 reader 6)
    case = next(c for c in oracle_cases() if c["id"] == "win_um_process_creation")
    victim = decode_alert(oracle_blob(case)).first(7)
    assert victim is not None and victim.values["zone_type"] == 7


# ---------------------------------------------------------------------------------------------- errors


def _error(blob: bytes) -> AlertFormatError:
    with pytest.raises(AlertFormatError) as info:
        decode_alert(blob)
    return info.value


def test_short_blob() -> None:
    err = _error(b"\0" * 17)
    assert "18-byte file header" in err.message
    assert err.diagnostics[0].location is not None and err.diagnostics[0].location.offset == 0


def test_bad_header_values() -> None:
    assert "alert class 3" in _error(struct.pack("<IIIHI", 3, 1, 1, 0, 1)).message
    assert "guest 7" in _error(struct.pack("<IIIHI", 0, 7, 1, 0, 1)).message
    assert "arch 2" in _error(struct.pack("<IIIHI", 0, 1, 1, 0, 2)).message


@pytest.mark.parametrize("type_id", [0, 48, 0xFFFF])
def test_unknown_type(type_id: int) -> None:
    err = _error(HEADER + obj(1, b"") + struct.pack("<IHH", 1, type_id, 0))
    assert f"unknown object type {type_id}" in err.message
    diag = err.diagnostics[0]
    assert diag.location is not None and diag.location.offset == 18 + 8 + 4
    assert diag.subject == "object #1"


def test_unknown_version() -> None:
    err = _error(HEADER + struct.pack("<IHH", 2, 7, 16) + FIXTURES[7][0])
    assert "unsupported version 2" in err.message and "object #0" in err.message


def test_size_too_small_is_refused() -> None:
    # spec 05 §15.4: a victim declaring size 8 for its 16-byte payload
    err = _error(HEADER + bytes.fromhex("0100000007000800") + FIXTURES[7][0])
    assert "smaller than the 16 bytes of its fixed fields" in err.message
    assert err.diagnostics[0].field == "size"


def test_size_past_end_is_refused() -> None:
    err = _error(HEADER + struct.pack("<IHH", 1, 7, 20) + FIXTURES[7][0])
    assert "past the end of the blob" in err.message


def test_trailing_bytes_are_refused() -> None:
    err = _error(HEADER + obj(1, b"") + b"\x01\x00\x00")
    assert "3 trailing byte(s)" in err.message


def test_string_overrunning_its_object() -> None:
    payload = struct.pack("<QI", 1, 2) + struct.pack("<IB", 50, 0) + b"abc"
    err = _error(HEADER + obj(28, payload))
    assert err.diagnostics[0].field == "path"


def test_count_larger_than_object() -> None:
    payload = struct.pack("<QQII", 0, 0, 0, 1000) + b"\0" * 8
    err = _error(HEADER + obj(35, payload))
    assert "'count' = 1000" in err.message


def test_errors_are_toolkit_errors() -> None:
    assert issubclass(AlertFormatError, HvmiexError)


# ----------------------------------------------------------------------------------- producer defects


def test_utf16_string_with_stale_copy() -> None:
    # producer defect (spec 05 §6.3): non-ASCII wide string, L = S but 2*S bytes written
    text = "\\??\\C:\\zoë.sys".encode("utf-16-le")
    payload = struct.pack("<I", 7) + struct.pack("<IB", len(text), 1) + text + b"\xaa" * len(text)
    alert = decode_alert(HEADER + obj(21, payload))
    path = alert.objects[0].values["path"]
    assert path.value == "\\??\\C:\\zoë.sys" and path.stale == b"\xaa" * len(text)
    assert any("stale" in n.message for n in alert.notes)
    assert encode_alert(alert) == HEADER + obj(21, payload)


def test_utf16_stale_copy_in_process_object_finds_next_string() -> None:
    fixed = FIXTURES[15][0][:76]
    path = "\\device\\é".encode("utf-16-le")
    payload = fixed + s8(b"a.exe" + bytes(11)) + struct.pack("<IB", len(path), 1) + path + b"\x01" * len(path)
    payload += s8(b"cmd\0")
    alert = decode_alert(HEADER + obj(15, payload))
    proc = alert.objects[0]
    assert proc.string("path") == "\\device\\é"
    assert proc.string("command_line") == "cmd"


def test_embedded_nul_is_noted() -> None:
    payload = struct.pack("<QI", 1, 2) + s8(b"ab.dl\0zz")
    alert = decode_alert(HEADER + obj(28, payload))
    assert alert.objects[0].string("path") == "ab.dl"
    notes = field_notes(alert)
    assert any("embedded NUL" in n.message and n.field == "path" for n in notes)


def test_narrowed_path_is_noted() -> None:
    alert = decode_alert(HEADER + obj(28, FIXTURES[28][0]))
    assert any("last character" in n.message for n in field_notes(alert))


def test_buffer_exhaustion_header_without_payload() -> None:
    # producer defect (spec 05 §8.5): size-0 header of a non-marker object, payload missing
    blob = HEADER + obj(5, b"") + struct.pack("<IHH", 1, 36, 0) + obj(6, b"")
    alert = decode_alert(blob)
    assert alert.objects[1].truncated and alert.first(36) is None
    assert any("buffer exhausted" in n.message for n in alert.notes)
    assert encode_alert(alert) == blob


def test_missing_trailing_strings() -> None:
    payload = FIXTURES[15][0][:76] + s8(b"a.exe" + bytes(11))
    alert = decode_alert(HEADER + obj(15, payload))
    proc = alert.objects[0]
    assert proc.values["path"] is None and proc.values["command_line"] is None
    assert encode_alert(alert) == HEADER + obj(15, payload)


def test_extra_payload_bytes_are_kept() -> None:
    blob = HEADER + obj(9, struct.pack("<I", 0x176) + b"\x01\x02")
    alert = decode_alert(blob)
    assert alert.objects[0].extra == b"\x01\x02"
    assert encode_alert(alert) == blob


def test_marker_with_payload() -> None:
    blob = HEADER + obj(1, b"xy") + obj(2, b"")
    alert = decode_alert(blob)
    assert alert.objects[0].extra == b"xy"
    assert encode_alert(alert) == blob


def test_security_descriptor_defect() -> None:
    # producer defect (spec 05 §8.4): the stolen-from process object sits in the SD payload (type 46)
    inner = FIXTURES[15][0]
    stale = bytes(range(56))
    blob = HEADER + obj(5, b"") + struct.pack("<IHH", 1, 46, 56) + struct.pack("<IHH", 1, 46, len(inner)) + inner
    blob += stale + obj(6, b"")
    alert = decode_alert(blob)
    sd = alert.objects[1]
    assert sd.type_id == 46 and sd.values["process"].string("name") == "chrome.exe"
    assert alert.objects[2].type_id == 6
    assert any("producer defect" in n.message for n in alert.notes)
    assert encode_alert(alert) == blob
