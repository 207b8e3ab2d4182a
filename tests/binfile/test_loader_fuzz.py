"""The loader never raises on any byte string; the parser raises only BinaryFormatError."""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hvmiex.binfile.reader import GuestOS, load, parse_exceptions_bin, simulate_load
from hvmiex.binfile.writer import write_bytes
from hvmiex.errors import BinaryFormatError
from tests.binfile.samples import sample_bytes

VALID = sample_bytes()
HEADER = VALID[:36]

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _exercise(data: bytes) -> None:
    for guest in GuestOS:
        report = simulate_load(data, guest)
        assert report.accepted == (not report.reasons)
        assert report.total_exceptions >= 0
    result = load(data)
    assert result.accepted == (result.windows.accepted and result.linux.accepted)
    try:
        parsed = parse_exceptions_bin(data)
    except BinaryFormatError as exc:
        assert exc.diagnostics
        return
    # a well-formed file writes back to the same model (reserved bytes are not kept, so bytes may differ there)
    again = write_bytes(parsed.model)
    assert len(again) == len(data)
    assert parse_exceptions_bin(again).model == parsed.model


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    _exercise(data)


@SETTINGS
@given(st.binary(max_size=400))
def test_valid_header_random_objects(tail: bytes) -> None:
    _exercise(HEADER + tail)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(VALID)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "size"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "size" and pos + 2 < len(data):
            struct.pack_into("<H", data, pos, draw(st.sampled_from([0, 1, 0xFFFF, 200, 23, 24, 25])))
    return bytes(data)


@SETTINGS
@given(mutated())
def test_mutated_valid_file(data: bytes) -> None:
    _exercise(data)


def test_valid_sample_accepted() -> None:
    result = load(VALID)
    assert result.accepted
    assert result.parsed is not None
    assert write_bytes(result.parsed.model) == VALID
