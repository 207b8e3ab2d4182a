"""Base64 (spec 05 §1) and [SERIALIZER] log framing (spec 04 §7.6)."""

from __future__ import annotations

import base64

import pytest

from hvmiex.alerts.model import AlertFormatError
from hvmiex.alerts.transport import BlobText, blob_bytes, blobs_from_lines, decode_base64, serializer_blobs
from tests.alerts.helpers import oracle_blob, oracle_cases


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("QUJD", b"ABC"),
        ("QQ==", b"A"),
        ("QQ", b"A"),  # missing padding tolerated
        ("QQ==QkM=", b"A"),  # "=" completing a group ends the data
        ("AAAA=AAAA", b"\0" * 6),  # "=" after a complete group is ignored
        ("Q U\nJ*D", b"ABC"),  # foreign characters skipped
        ("QR==", b"A"),  # non-zero unused bits (producer quirk §1.1) accepted
        ("  QUJD  \n", b"ABC"),
    ],
)
def test_base64_rules(text: str, expected: bytes) -> None:
    assert decode_base64(text) == expected


@pytest.mark.parametrize("text", ["A", "AAAAA", "", "***", "QUJé"])
def test_base64_refusals(text: str) -> None:
    with pytest.raises(AlertFormatError):
        decode_base64(text)


def test_oracle_log_lines_reassemble() -> None:
    for case in oracle_cases():
        lines = case["serialized"]["log_lines"]
        prefixed = [f"[0c1f7a2e-5b7d-4e0a-9d3c-6a1b2c3d4e5f] serializers.c : 120 {line}" for line in lines]
        blobs = list(blobs_from_lines(["other log line\n", *prefixed, "more\n"], "x.log"))
        assert len(blobs) == 1
        assert blobs[0].serializer_id == 1 and blobs[0].error is None and blobs[0].line == 2
        assert blobs[0].text == case["serialized"]["base64"]
        assert blob_bytes(blobs[0]) == oracle_blob(case)


def _framed(ident: int, data: bytes, guest: str = "") -> list[str]:
    text = base64.b64encode(data).decode()
    prefix = f"[{guest}] " if guest else ""
    out = [f"{prefix}f.c : 1 [SERIALIZER] Start Serializer ID -> 0x{ident:x}"]
    out += [f"{prefix}f.c : 2 [SERIALIZER] {text[i:i + 1000]}" for i in range(0, len(text), 1000)]
    if len(text) % 1000 == 0:
        out.append(f"{prefix}f.c : 2 [SERIALIZER]")  # the extra empty slice (spec 05 §1.1)
    out.append(f"{prefix}f.c : 3 [SERIALIZER] End Serializer ID -> 0x{ident:x}")
    return out


def test_interleaved_guests_and_exact_multiple_of_1000() -> None:
    a = bytes(range(256)) * 3  # 768 bytes -> 1024 characters
    b = b"\x01" * 750  # 1000 characters exactly: an empty extra slice is logged
    la, lb = _framed(0x1A, a, "11111111-aaaa"), _framed(0x1B, b, "22222222-bbbb")
    lines = [la[0], lb[0], la[1], lb[1], lb[2], la[2], lb[3], la[3]]
    blobs = list(serializer_blobs(lines))
    assert {(x.serializer_id, blob_bytes(x)) for x in blobs} == {(0x1A, a), (0x1B, b)}


def test_framing_problems_are_reported() -> None:
    lines = _framed(5, b"abc")[:-1]  # no End
    lines += _framed(6, b"defg")
    blobs = list(serializer_blobs(lines))
    assert blobs[0].serializer_id == 5 and "no 'End Serializer'" in (blobs[0].error or "")
    assert blob_bytes(blobs[0]) == b"abc"
    assert blobs[1].error is None and blob_bytes(blobs[1]) == b"defg"
    orphan = list(serializer_blobs(["[SERIALIZER] End Serializer ID -> 0x9"]))
    assert orphan[0].error is not None
    with pytest.raises(AlertFormatError):
        blob_bytes(orphan[0])
    mismatch = list(serializer_blobs(["[SERIALIZER] Start Serializer ID -> 0x1", "[SERIALIZER] QUJD",
                                      "[SERIALIZER] End Serializer ID -> 0x2"]))
    assert "does not match" in (mismatch[0].error or "")


def test_one_blob_per_line() -> None:
    blobs = list(blobs_from_lines(["# comment\n", "QUJD\n", "\n", "QQ==\n"], "list.txt"))
    assert [(b.line, blob_bytes(b)) for b in blobs] == [(2, b"ABC"), (4, b"A")]


def test_where() -> None:
    assert BlobText("x", "f.log", 3, 0x10).where == "f.log:3 (serializer id 0x10)"
