"""Random and mutated blobs never raise anything but the toolkit's error type."""

from __future__ import annotations

import contextlib
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hvmiex.alerts.convert import alert_to_violation
from hvmiex.alerts.decode import decode_alert, field_notes
from hvmiex.alerts.encode import encode_alert
from hvmiex.alerts.proposals import propose_from_alert
from hvmiex.alerts.render import alert_json, alert_text
from hvmiex.alerts.transport import decode_base64
from hvmiex.errors import HvmiexError
from tests.alerts.test_layout_fixtures import sample_blob

SEED = sample_blob()


def _exercise(data: bytes) -> None:
    try:
        alert = decode_alert(data)
    except HvmiexError:
        return
    # whatever decodes must re-encode to the same bytes and render, and convert or refuse cleanly
    assert encode_alert(alert) == data
    alert_text(alert)
    alert_json(alert)
    field_notes(alert)
    try:
        decoded = alert_to_violation(alert)
    except HvmiexError:
        return
    with contextlib.suppress(HvmiexError):
        propose_from_alert(decoded)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    _exercise(data)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_random_objects_after_valid_header(body: bytes) -> None:
    _exercise(struct.pack("<IIIHI", 1, 1, 1, 0, 1) + body)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(SEED) - 1), st.integers(0, 255)), min_size=1, max_size=6))
def test_mutated_blob(mutations: list[tuple[int, int]]) -> None:
    data = bytearray(SEED)
    for pos, value in mutations:
        data[pos] = value
    _exercise(bytes(data))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(SEED)))
def test_truncated_blob(cut: int) -> None:
    _exercise(SEED[:cut])


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=80))
def test_random_base64_text(text: str) -> None:
    with contextlib.suppress(HvmiexError):
        decode_base64(text)


def _oracle_seeds() -> list[bytes]:
    from tests.conftest import SHARED

    folder = SHARED / "oracle" / "alerts-real" / "cases"
    if not folder.exists():
        return [SEED]
    import json

    return [bytes.fromhex(json.loads(p.read_text())["serialized"]["hex"]) for p in sorted(folder.glob("*.json"))]


SEEDS = _oracle_seeds()


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(SEEDS) - 1),
       st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 255)), min_size=1, max_size=4))
def test_mutated_real_blobs(which: int, mutations: list[tuple[int, int]]) -> None:
    data = bytearray(SEEDS[which])
    for pos, value in mutations:
        # mutate mostly the structured head of the blob (headers, strings), sometimes anywhere
        data[pos % min(len(data), 1200 if pos % 3 else len(data))] = value
    _exercise(bytes(data))
