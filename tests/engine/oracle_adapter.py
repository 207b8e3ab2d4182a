"""Adapter from the engine oracle's neutral schema (../shared/oracle/engine/README.md) to our model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hvmiex.engine import Engine, Verdict
from hvmiex.violation import GuestOS, Violation, violation_from_dict


def load_case(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def case_violation(case: dict[str, Any], evaluation: dict[str, Any]) -> Violation:
    data = dict(evaluation["violation"])
    data["memory"] = case.get("memory") or []
    return violation_from_dict(data, where=case["id"])


def case_engine(case: dict[str, Any], root: Path) -> Engine:
    os = GuestOS(case["environment"]["os"])
    engine = Engine(os)
    if case["exceptions"] is not None:
        engine.update_exceptions(root / case["exceptions"] / "exceptions.bin")
    return engine


def verdict_summary(v: Verdict) -> dict[str, Any]:
    return {
        "action": v.action.json_name,
        "reason": v.reason.json_name,
        "matched": v.matched.oracle_record() if v.matched else None,
        "candidates": [(c.exception.oracle_record(), c.result.value, int(c.reason)) for c in v.candidates],
    }


def expected_summary(verdict: dict[str, Any]) -> dict[str, Any]:
    return {
        "action": verdict["action"],
        "reason": verdict["reason"],
        "matched": verdict["matched_exception"],
        "candidates": [(c["exception"], c["result"], c["reason"]) for c in verdict["candidates"]],
    }
