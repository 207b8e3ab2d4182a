"""Alert exceptions through the engine, against ../shared/oracle/alerts-real (Introcore's own
AddExceptionFromAlert + re-evaluation): verdict before, add status, verdict after, second add status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hvmiex.engine import AddStatus, Engine
from hvmiex.violation import GuestOS, violation_from_dict
from tests.conftest import SHARED, shared_path

_DIR = SHARED / "oracle" / "alerts-real" / "cases"
_CASES = sorted(p.name for p in _DIR.glob("*.json")) if _DIR.exists() else ["<absent>"]
_NOT_NEEDED = 0x61000000


def _verdict(v: Any) -> tuple[int, int, dict[str, Any] | None]:
    return int(v.action), int(v.reason), v.matched.oracle_record() if v.matched else None


@pytest.mark.parametrize("name", _CASES)
def test_alert_exception_round(name: str) -> None:
    root = shared_path("oracle", "alerts-real")
    case = json.loads((root / "cases" / name).read_text())
    data = dict(case["violation"])
    data["memory"] = case.get("memory") or []
    violation = violation_from_dict(data, where=name)
    engine = Engine(GuestOS(case["environment"]["os"]))
    if case["exceptions_file"]:
        engine.update_exceptions(_bin(root, case["exceptions_file"]))
    before = case["verdict_before"]
    assert _verdict(engine.decide(violation))[:2] == (before["action"], before["reason"])
    added = engine.add_exception_from_alert(violation, context=name)
    if case["add_status"] != 0:
        assert added.status is not AddStatus.ADDED
        return
    assert added.status is AddStatus.ADDED, added.message
    after = case["verdict_after"]
    got = _verdict(engine.decide(violation))
    assert got[:2] == (after["action"], after["reason"])
    if after.get("matched") is not None:
        assert got[2] == after["matched"]
    again = engine.add_exception_from_alert(violation, context=name + "-2")
    if case.get("add_again_status") == _NOT_NEEDED:
        assert again.status is AddStatus.DUPLICATE
    elif case.get("add_again_status") == 0:
        assert again.status is AddStatus.ADDED


def _bin(root: Path, name: str) -> Path:
    """The case names the group (e.g. ``alerts_base``); the file lives in exceptions/<group>/exceptions.bin."""
    for candidate in (root / name, root / "exceptions" / name / "exceptions.bin", root / "exceptions" / name):
        if candidate.is_file():
            return candidate
    raise AssertionError(f"no exceptions file for {name!r}")
