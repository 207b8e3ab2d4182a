"""Replay Introcore's own logs and alerts (../shared/oracle) against the .bin they were made with, and compare
with the verdicts Introcore recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hvmiex.replay import GuestFacts, InputKind, Replayer
from tests.conftest import SHARED, shared_path

LOGS = SHARED / "oracle" / "logs-real"
# engine-oracle case id prefix -> exceptions group (the logs-real sample does not name its group)
_GROUPS = (
    ("umg_win_", "win_umg"),
    ("kum_win_", "win_kum"),
    ("km_win", "win_km"),
    ("um_win_", "win_um"),
    ("lix_", "lix"),
)


def _cases() -> list[str]:
    if not LOGS.exists():
        return ["<absent>"]
    return sorted(str(p.relative_to(LOGS).with_suffix("")) for p in LOGS.glob("*/*.json"))


def _group(case: str) -> str | None:
    folder, name = case.split("/", 1)
    if folder == "alerts-real":
        return "alerts-real/exceptions/alerts_base"
    index = json.loads((SHARED / "oracle" / "engine" / "index.json").read_text())
    for c in index["cases"]:
        if c["id"] == name:
            return f"engine/{c['exceptions']}" if c["exceptions"] else None
    for prefix, group in _GROUPS:
        if name.startswith(prefix):
            return f"engine/exceptions/{group}"
    return None


def _version(text: str | None) -> tuple[int, int, int, int] | None:
    if not text:
        return None
    parts = [int(x) for x in str(text).split(".")] + [0, 0, 0, 0]
    return (parts[0], parts[1], parts[2], parts[3])


def _facts(env: dict[str, Any]) -> GuestFacts:
    linux = env.get("linux_version")
    return GuestFacts(
        env.get("os_version"),
        tuple(linux) if linux else None,
        _version(env.get("introcore_version")),
    )


@pytest.mark.parametrize("case", _cases())
def test_log_replay_matches_introcore(case: str) -> None:
    root = shared_path("oracle", "logs-real")
    meta = json.loads((root / f"{case}.json").read_text())
    group = _group(case)
    if not meta.get("exceptions_loaded") or group is None:
        pytest.skip("no exceptions file was loaded for this log")
    bin_path = SHARED / "oracle" / group / "exceptions.bin"
    if not bin_path.exists():
        pytest.skip(f"{bin_path} is not available")
    logged = [e for e in meta["evaluations"] if e["logged"] and e["verdict"]["reason"] != "exceptions-not-loaded"]
    replayer = Replayer(bin_path, environment=_facts(meta["environment"]))
    items = list(replayer.replay_path(root / f"{case}.log", InputKind.LOG))
    assert len(items) == len(logged)
    for item, evaluation in zip(items, logged, strict=True):
        verdict = evaluation["verdict"]
        assert (item.action, item.reason) == (verdict["action"], verdict["reason"]), item.explanation
        assert item.line == evaluation["lines"][0]
        assert item.logged_reason == verdict["reason"] and item.changed is False


def _alert_cases() -> list[dict[str, Any]]:
    folder = shared_path("oracle", "alerts-real", "cases")
    return [json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))]


def test_alert_files_replay_like_introcore(tmp_path: Path) -> None:
    cases = _alert_cases()
    bin_path = shared_path("oracle", "alerts-real", "exceptions", "alerts_base", "exceptions.bin")
    blobs = tmp_path / "alerts.txt"
    blobs.write_text("".join(c["serialized"]["base64"] + "\n" for c in cases))
    chunks = tmp_path / "serializer.log"
    chunks.write_text("".join(line if line.endswith("\n") else line + "\n" for c in cases
                              for line in c["serialized"]["log_lines"]))  # fmt: skip
    expected = [(c["verdict_before"]["action"], c["verdict_before"]["reason"]) for c in cases]
    for path in (blobs, chunks):
        replayer = Replayer(bin_path)
        items = list(replayer.replay_path(path))
        got = [(int(_ACTIONS[i.action]), int(_REASONS[i.reason])) for i in items]
        assert got == [(_num(a, _ACTIONS), _num(r, _REASONS)) for a, r in expected]
        assert all(i.input is InputKind.ALERTS for i in items)
        assert not replayer.result().problems


def _num(value: int | str, table: dict[str, int]) -> int:
    return value if isinstance(value, int) else table[value]


def _table(enum_name: str) -> dict[str, int]:
    from hvmiex.engine import verdict

    return {m.json_name: int(m) for m in getattr(verdict, enum_name)}


_ACTIONS = _table("Action")
_REASONS = _table("Reason")
