"""Every block of ../shared/oracle/logs-real parses to the violation Introcore printed it from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hvmiex.logs.blocks import LogStats
from hvmiex.logs.parse import LogViolation, parse_log
from hvmiex.violation import violation_from_dict
from tests.conftest import SHARED, shared_path
from tests.logs.oracle_projection import project

ORACLE = SHARED / "oracle" / "logs-real"


def _cases() -> list[str]:
    if not ORACLE.exists():
        return ["<absent>"]
    return sorted(str(p.relative_to(ORACLE).with_suffix("")) for p in ORACLE.glob("*/*.json"))


def _clean(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _clean(v) for k, v in d.items() if k != "same_process_as_victim"}
    return d


@pytest.mark.parametrize("case", _cases())
def test_oracle_block(case: str) -> None:
    root = shared_path("oracle", "logs-real")
    meta = json.loads((root / f"{case}.json").read_text())
    stats = LogStats()
    items = list(parse_log(root / f"{case}.log", stats))
    found = [x for x in items if isinstance(x, LogViolation)]
    # "exceptions not loaded" logs a banner, not a block
    logged = [
        e for e in meta["evaluations"] if e["logged"] and e["verdict"]["reason"] != "exceptions-not-loaded"
    ]
    assert len(found) == len(logged), items
    for got, evaluation in zip(found, logged, strict=True):
        expected = violation_from_dict(_clean(evaluation["violation"]), where=case)
        assert project(got.violation) == project(expected)
        assert got.reason == evaluation["verdict"]["reason"]
        first, last = evaluation["lines"]
        assert (got.first_line, got.last_line) == (first, last)


def test_oracle_not_loaded_banner_is_no_block() -> None:
    root = shared_path("oracle", "logs-real")
    stats = LogStats()
    assert list(parse_log(root / "engine" / "km_win_same_value_not_loaded.log", stats)) == []
    assert stats.unplaced["banner"] == 3


def test_oracle_all_files_listed() -> None:
    root = shared_path("oracle", "logs-real")
    index = json.loads((root / "index.json").read_text())
    assert {Path(c["log"]).stem for c in index} <= {Path(c).name for c in _cases()}
