"""Codeblocks against Introcore's own extraction (../shared/oracle/codeblocks): every case, every field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hvmiex.engine.codeblocks import (
    Level,
    alert_codeblocks,
    decoder_classes,
    match_hashes,
    match_window,
)
from tests.conftest import SHARED, shared_path

CASES_DIR = SHARED / "oracle" / "codeblocks" / "cases"
CASE_NAMES = sorted(p.stem for p in CASES_DIR.glob("*.json")) if CASES_DIR.exists() else ["<absent>"]

_PIVOT_NAMES = {"JMP": "Jmp", "CALL": "Call", "MOV_MEM": "MovMem", "MOV_FS_GS": "MovFsGs"}


def _case(name: str) -> tuple[dict[str, Any], bytes, bool, Level]:
    path = shared_path("oracle", "codeblocks", "cases", f"{name}.json")
    case = json.loads(Path(path).read_text())
    code = bytes.fromhex(case["input"]["code_hex"])
    match = case["introcore"]["match"]
    if case["kind"] == "window":
        start = match["window_page_offset"] - case["input"]["buffer_page_offset"]
        code = code[start : start + match["bytes_scanned_buffer"]]
    level = Level.MEDIUM if case["level"] == "medium" else Level.NORMAL
    return case, code, case["mode"] == 64, level


def test_oracle_has_all_cases() -> None:
    index = json.loads(shared_path("oracle", "codeblocks", "index.json").read_text())
    assert index["count"] == len(CASE_NAMES)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_matching_path(name: str) -> None:
    case, buf, mode64, level = _case(name)
    match = case["introcore"]["match"]
    if case["kind"] == "window":
        window = match_window(case["input"]["rip_page_offset"], case["execute"])
        assert (window.page_offset, window.size, window.max_hashes) == (
            match["window_page_offset"],
            match["window_size"],
            match["max_hashes"],
        )
    result = match_hashes(buf, mode64, level, match["max_hashes"])
    assert result.status.value == match["status"]
    assert list(result.hashes) == match["hashes"]
    if "class_sequence" in match:
        assert list(result.classes) == match["class_sequence"]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_decoder_only_scan(name: str) -> None:
    case, buf, mode64, level = _case(name)
    expected = case["introcore"].get("decoder_class_sequence")
    if expected is None:
        pytest.skip("no decoder sequence recorded")
    base = case["introcore"]["match"]["window_page_offset"] if case["kind"] == "window" else 0
    got = [[off + base, cls] for off, cls in decoder_classes(buf, mode64, level)]
    assert got == expected


@pytest.mark.parametrize("name", [n for n in CASE_NAMES if not n.startswith("syn_short")])
def test_alert_path(name: str) -> None:
    case, buf, mode64, level = _case(name)
    alert = case["introcore"].get("alert")
    if alert is None:
        pytest.skip("direct case: no alert extraction")
    rip_off = case["input"]["rip_page_offset"]
    window = match_window(rip_off, case["execute"])
    got = alert_codeblocks(buf, window, rip_off, mode64, level)
    assert got.valid == alert["valid"]
    assert got.rip_cb_index == alert["rip_cb_index"]
    assert got.start_page_offset == alert["start_page_offset"]
    assert got.count == alert["count"]
    assert [(b.offset, _PIVOT_NAMES[b.pivot.name], b.hash) for b in got.blocks] == [
        (b["offset"], b["pivot"], b["hash"]) for b in alert["blocks"]
    ]
