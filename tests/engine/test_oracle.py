"""Acceptance: every case of ../shared/oracle/engine gives Introcore's own verdict (action, reason, matched
exception and the full candidate order)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SHARED, shared_path
from tests.engine.oracle_adapter import (
    case_engine,
    case_violation,
    expected_summary,
    load_case,
    verdict_summary,
)

_CASES_DIR = SHARED / "oracle" / "engine" / "cases"
_CASES = sorted(p.name for p in _CASES_DIR.glob("*.json")) if _CASES_DIR.exists() else ["<absent>"]


@pytest.mark.parametrize("case_name", _CASES)
def test_oracle_case(case_name: str) -> None:
    root = shared_path("oracle", "engine")
    case = load_case(root / "cases" / case_name)
    engine = case_engine(case, root)
    assert engine.loaded == case["exceptions_loaded"]
    for n, evaluation in enumerate(case["evaluations"]):
        got = verdict_summary(engine.decide(case_violation(case, evaluation)))
        expected = expected_summary(evaluation["verdict"])
        assert got["action"] == expected["action"], (case_name, n)
        assert got["reason"] == expected["reason"], (case_name, n)
        assert got["matched"] == expected["matched"], (case_name, n)
        assert got["candidates"] == expected["candidates"], (case_name, n)


def test_oracle_index_agrees_with_cases() -> None:
    root = shared_path("oracle", "engine")
    index = json.loads((root / "index.json").read_text())
    for entry in index["cases"]:
        case = load_case(root / "cases" / f"{entry['id']}.json")
        engine = case_engine(case, root)
        for want, evaluation in zip(entry["evaluations"], case["evaluations"], strict=True):
            verdict = engine.decide(case_violation(case, evaluation))
            assert (verdict.action.json_name, verdict.reason.json_name) == (want["action"], want["reason"]), entry["id"]


def _strip_hashes(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: _strip_hashes(v) for k, v in obj.items() if k not in ("name_hash", "comm_hash", "name_hashes")}
    if isinstance(obj, list):
        return [_strip_hashes(x) for x in obj]
    return obj


def test_hashes_recomputed_from_names_agree_with_oracle() -> None:
    """The runtime hashing helpers (spec 03 §2.2) give the hashes the oracle computed, wherever a name is given."""
    from hvmiex.violation import NONAME, violation_from_dict

    root = shared_path("oracle", "engine")
    checked = 0
    for path in sorted((root / "cases").glob("*.json")):
        case = load_case(path)
        for evaluation in case["evaluations"]:
            raw = evaluation["violation"]
            full = violation_from_dict(raw)
            bare = violation_from_dict(_strip_hashes(raw))  # type: ignore[arg-type]
            pairs = [(full.victim.name_hash, bare.victim.name_hash, full.victim.name)]
            if full.victim.process is not None and bare.victim.process is not None:
                pairs.append((full.victim.process.name_hash, bare.victim.process.name_hash, full.victim.process.name))
            if full.victim.module is not None and bare.victim.module is not None:
                pairs.append((full.victim.module.name_hash, bare.victim.module.name_hash, full.victim.module.name))
            for want, got, name in pairs:
                if name is None or want in (0, 2, 3, NONAME):
                    continue
                assert got == want, (path.name, name)
                checked += 1
    assert checked > 20


def test_adapter_is_thin(tmp_path: Path) -> None:
    """An oracle violation is a valid hand-written violation as it is."""
    from hvmiex.violation import load_violations, violation_to_dict

    root = shared_path("oracle", "engine")
    case = load_case(root / "cases" / "um_win_inject_plain.json")
    file = tmp_path / "v.json"
    file.write_text(json.dumps(case["evaluations"][0]["violation"]))
    (v,) = load_violations(file)
    assert violation_to_dict(v)["kind"] == "um"
