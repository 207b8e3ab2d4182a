"""Codeblocks: windows, fast path, decoder rules, hashes, score test, alert selection (spec 03 §10)."""

from __future__ import annotations

import json
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hvmiex.engine.codeblocks import (
    ALERT_CLASS_CAP,
    CodeblockCache,
    CodeClass,
    Level,
    MatchStatus,
    alert_codeblocks,
    decoder_classes,
    level_for_rip,
    list_passes,
    match_hashes,
    match_window,
    match_window_bytes,
    scan_classes,
    select_signature_hashes,
    signature_score,
)
from tests.conftest import DATA

# spec 03 §14.2: 64-bit user code, window starting at the code, rest zero
WORKED = bytes.fromhex("e810000000" "7405" "e820000000" "eb03" "c3" "e830000000" "75f0" "c3" "e900010000" "c3")


def _window(code: bytes, size: int = 0x49F) -> bytes:
    return code + bytes(size - len(code))


def test_worked_example_sequence_and_hashes() -> None:
    buf = _window(WORKED)
    seq = scan_classes(buf, True, Level.MEDIUM)
    assert seq == [3, 1, 3, 2, 4, 3, 1, 4, 2, 4]
    result = match_hashes(buf, True, Level.MEDIUM, 0x49F // 4)
    assert result.status is MatchStatus.SUCCESS
    assert result.hashes == (0xB030B8D1, 0xB8010E30)
    assert zlib.crc32(bytes([3, 1, 3, 2, 4, 3, 1, 4]), 0xFFFFFFFF) == 0xB8010E30


def test_worked_example_signature_score() -> None:
    extracted = (0xB030B8D1, 0xB8010E30)
    assert list_passes([0x12345678, 0xB030B8D1, 0xB8010E30], 2, extracted)
    assert not list_passes([0x12345678, 0xB030B8D1], 2, extracted)


def test_score_quirks() -> None:
    # a repeated signature hash counts twice against one extracted occurrence (cursor does not move on a hit)
    assert list_passes([5, 5], 2, (5,))
    # score 0 passes whenever something was extracted; an unsorted list misses hashes
    assert list_passes([99], 0, (1,))
    assert not list_passes([9, 3], 2, (3, 9))


@pytest.mark.parametrize(
    ("rip", "execute", "expected"),
    [
        (0x1000, False, (0, 0x49F)),
        (0x1250, False, (0, 0x49F)),
        (0x1251, False, (1, 0x49F)),
        (0x1DAF, False, (0xDAF - 0x250, 0x49F)),
        (0x1DB0, False, (0xB60, 0x49F)),
        (0x1FFF, False, (0xB60, 0x49F)),
        (0x1FF0, True, (0xFF0, 0x24F)),
    ],
)
def test_windows(rip: int, execute: bool, expected: tuple[int, int]) -> None:
    win = match_window(rip, execute)
    assert (win.page_offset, win.size) == expected
    assert win.max_hashes == expected[1] // 4


def test_execution_window_fallback_and_cap() -> None:
    page = 0x7000
    code = bytes(0x1000)

    def read(gva: int, size: int) -> bytes | None:
        if page <= gva and gva + size <= page + 0x1000:
            return code[gva - page : gva - page + size]
        return None

    win, data = match_window_bytes(read, page + 0xF00, True)
    assert win.size == 0x24F and data is not None and len(data) == 0x100  # rest of the page only
    win, data = match_window_bytes(read, page + 0x100, True)
    assert data is not None and len(data) == 0x24F
    win, data = match_window_bytes(read, page + 0x800, False)
    assert data is not None and len(data) == 0x49F


def test_short_buffers() -> None:
    assert match_hashes(bytes(15), True, Level.NORMAL, 3).status is MatchStatus.INVALID_PARAMETER
    assert match_hashes(bytes(16), True, Level.NORMAL, 4).status is MatchStatus.NOT_FOUND
    assert match_hashes(bytes(30), True, Level.NORMAL, 7).status is MatchStatus.NOT_FOUND


@pytest.mark.parametrize(
    ("code", "mode64", "normal", "medium"),
    [
        ("90", True, [], []),
        ("c3", True, [4], [4]),
        ("c20800", True, [4], [4]),
        ("e800000000", True, [3], [3]),
        ("ff1500000000", True, [3], [3]),
        ("0f8400000000", True, [1], [1]),
        ("ab", True, [5], [5]),
        ("9c", True, [], [12]),
        ("b801000000", True, [], [10]),
        ("48b80100000000000000", True, [], [10]),
        ("41b801000000", True, [], [10]),
        ("89c0", True, [], [8]),
        ("4889c0", True, [], [8]),
        ("894c2408", True, [], [9]),
        ("48894c2408", True, [], [9]),
        ("488b8c2408000000", True, [], [9]),
        ("87c1", True, [6], [6]),
        ("0fb1c1", True, [6], [6]),
        ("0fa3c1", True, [7], [7]),
        ("ff25aaaaaaaa", True, [2], [2]),  # decoder: jmp [rip+disp]
        ("40", False, [], []),  # 32-bit row 34: INC
        ("ffc0", True, [], []),  # row 32: INC eax
        ("0f00f0", False, [2], [2]),  # JMPE in 32-bit mode (bddisasm decodes it as a jump)
        ("0f20c0", True, [], []),  # MOV from CR0 is not "MOV"
        ("8ce8", True, [], [8]),  # MOV reg, sreg
        ("a1000000000000000000", True, [], [9]),  # moffs
    ],
)
def test_single_instruction_classes(code: str, mode64: bool, normal: list[int], medium: list[int]) -> None:
    buf = bytes.fromhex(code) + bytes.fromhex("90") * 40
    assert scan_classes(buf, mode64, Level.NORMAL)[: len(normal)] == normal
    assert scan_classes(buf, mode64, Level.MEDIUM)[: len(medium)] == medium
    if not normal:
        assert scan_classes(buf, mode64, Level.NORMAL) == []


def test_call_rax_is_a_call_via_decoder() -> None:
    buf = bytes.fromhex("ffd0") + bytes(40)
    assert scan_classes(buf, True, Level.NORMAL)[0] == CodeClass.CALL


def test_jmpe_invalid_in_64_bit() -> None:
    buf = bytes.fromhex("0f00f0") + bytes.fromhex("90") * 40
    assert CodeClass.JMP not in scan_classes(buf, True, Level.NORMAL)


def test_truncated_instruction_is_skipped_byte_by_byte() -> None:
    # E8 two bytes before the scan end: the decoder sees a cut-off call, skips one byte and finds C3 (RET)
    body = bytes.fromhex("eb00") * 29 + bytes.fromhex("e8c3")
    buf = body + bytes.fromhex("e8") * 15
    seq = scan_classes(buf, False, Level.MEDIUM)
    assert seq[-1] == CodeClass.RET


def test_block_cap_and_sorting() -> None:
    buf = bytes.fromhex("e800000000") * 200 + bytes(15)
    result = match_hashes(buf, True, Level.NORMAL, 10)
    assert len(result.hashes) == 10 and list(result.hashes) == sorted(result.hashes)


def test_quirk_13_13_alert_tail_has_one_block_fewer() -> None:
    # upstream quirk 13.13: the alert path forms blocks only for i < len - 8, the matching path for i <= len - 8
    buf = bytes.fromhex("e800000000") * 8 + bytes(40)
    assert len(match_hashes(buf, True, Level.NORMAL, 100).hashes) == 1
    cbs = alert_codeblocks(buf, match_window(0x100, True), 0x100, True, Level.NORMAL)
    assert cbs.valid and cbs.count == 0 and cbs.rip_cb_index is None


def test_alert_class_cap() -> None:
    buf = bytes.fromhex("e800000000") * 1000 + bytes(15)
    assert len(decoder_classes(buf, True, Level.NORMAL)) == ALERT_CLASS_CAP


def test_alert_unreadable_window() -> None:
    cbs = alert_codeblocks(None, match_window(0xFF0, True), 0xFF0, True, Level.MEDIUM)
    assert not cbs.valid and cbs.count == 0


def test_level_for_rip() -> None:
    assert level_for_rip(0xFFFFF80000001000, True) is Level.NORMAL
    assert level_for_rip(0x7FF600001000, True) is Level.MEDIUM
    assert level_for_rip(0x80001000, False) is Level.NORMAL
    assert level_for_rip(0x00401000, False) is Level.MEDIUM


@pytest.mark.parametrize(
    ("rip_index", "execute", "expected"),
    [(0, False, [0, 1, 2, 3, 4, 5]), (2, False, [0, 1, 2, 3, 4, 5]), (3, False, [0, 1, 2, 3, 4, 5]),
     (7, False, [4, 5, 6, 7, 8, 9]), (8, False, [4, 5, 6, 7, 8, 9]), (5, False, [2, 3, 4, 5, 6, 7]),
     (5, True, [0, 1, 2, 3, 4, 5])],
)  # fmt: skip
def test_signature_selection(rip_index: int, execute: bool, expected: list[int]) -> None:
    hashes = [100 - i for i in range(10)]  # descending, so the sort is visible
    chosen, score = select_signature_hashes(hashes, rip_index, execute)
    assert chosen == tuple(sorted(100 - i for i in expected))
    assert score == 5


def test_signature_score() -> None:
    assert [signature_score(n) for n in (1, 2, 6)] == [1, 1, 5]
    assert select_signature_hashes([7, 3], 1, False) == ((3, 7), 1)


def test_cache_returns_same_result_and_counts() -> None:
    cache = CodeblockCache(max_entries=2)
    buf = _window(WORKED)
    first = cache.get(buf, True, Level.MEDIUM, 295)
    assert cache.get(buf, True, Level.MEDIUM, 295) is first
    assert (cache.hits, cache.misses) == (1, 1)
    cache.get(_window(b"\xc3"), True, Level.MEDIUM, 295)
    cache.get(_window(b"\xcc"), True, Level.MEDIUM, 295)
    assert len(cache) == 2


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=400), st.booleans(), st.sampled_from([Level.NORMAL, Level.MEDIUM]))
def test_random_bytes_never_crash(data: bytes, mode64: bool, level: Level) -> None:
    result = match_hashes(data, mode64, level, max(1, len(data) // 4))
    assert list(result.hashes) == sorted(result.hashes)
    assert all(0 < c <= 12 for c in result.classes)
    win = match_window(0x400, False)
    cbs = alert_codeblocks(data, win, 0x400, mode64, level)
    assert cbs.count <= 64


def _fixture_cases() -> list[dict[str, object]]:
    data = json.loads((DATA / "codeblocks" / "examples.json").read_text())
    return list(data["cases"])


@pytest.mark.parametrize("case", _fixture_cases(), ids=lambda c: str(c["name"]))
def test_hand_derived_examples(case: dict[str, Any]) -> None:
    buf = _window(bytes.fromhex(case["code_hex"]))
    level = Level.MEDIUM if case["level"] == "medium" else Level.NORMAL
    mode64 = case["mode"] == 64
    assert scan_classes(buf, mode64, level) == case["classes"]
    seq = bytes(case["classes"])
    expected = sorted(zlib.crc32(seq[i : i + 8], 0xFFFFFFFF) for i in case["block_starts"])
    if "hashes_hex" in case:
        assert expected == [int(h, 16) for h in case["hashes_hex"]]
    result = match_hashes(buf, mode64, level, 295)
    assert list(result.hashes) == expected
    assert result.status is (MatchStatus.SUCCESS if expected else MatchStatus.NOT_FOUND)
