"""hvmiex's loader against Introcore's own outcomes (../shared/oracle/loader)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hvmiex.binfile.reader import GuestOS, LoadStatus, load, simulate_load
from tests.conftest import SHARED, shared_path

CASES_DIR = SHARED / "oracle" / "loader" / "cases"
CASES = sorted(p.stem for p in CASES_DIR.glob("*.json")) if CASES_DIR.exists() else []


def _case(name: str) -> tuple[dict[str, object], bytes]:
    base = shared_path("oracle", "loader", "cases")
    doc = json.loads((base / f"{name}.json").read_text())
    return doc, (base / f"{name}.bin").read_bytes()


def test_oracle_present_or_skipped() -> None:
    shared_path("oracle", "loader", "cases")
    assert len(CASES) >= 60


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("guest", [GuestOS.WINDOWS, GuestOS.LINUX])
def test_same_outcome_as_introcore(name: str, guest: GuestOS) -> None:
    doc, data = _case(name)
    expected = doc["introcore"][guest.value]  # type: ignore[index]
    report = simulate_load(data, guest, name)
    assert report.accepted == expected["accepted"]
    assert report.status.status_name == expected["status_name"]
    assert report.counts.to_dict() == expected["counts"]
    assert report.total_exceptions == expected["total_exceptions"]
    assert report.total_signatures == expected["total_signatures"]
    assert list(report.version) == [expected["version_stored"][k] for k in ("major", "minor", "build")]
    assert list(report.log) == [entry["text"] for entry in expected["logs"]]
    if not report.accepted:
        assert report.reasons and all(d.location is not None and d.location.offset is not None for d in report.reasons)


@pytest.mark.parametrize("name", CASES)
def test_without_init(name: str) -> None:
    doc, data = _case(name)
    expected = doc["introcore"]["without_exceptions_init"]  # type: ignore[index]
    report = simulate_load(data, GuestOS.WINDOWS, name, initialized=False)
    assert report.status.status_name == expected["status_name"]


@pytest.mark.parametrize("name", CASES)
def test_load_result_consistent(name: str) -> None:
    doc, data = _case(name)
    result = load(data, name)
    assert result.accepted == doc["introcore"]["windows"]["accepted"]  # type: ignore[index]
    if result.accepted:
        assert result.status is LoadStatus.SUCCESS


def test_cli_check_exit_codes(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hvmiex.cli.main import main

    base = shared_path("oracle", "loader", "cases")
    runner = CliRunner()
    ok = runner.invoke(main, ["check", str(base / "compiled_case005.bin")])
    assert ok.exit_code == 0, ok.output
    assert "Introcore would load this" in ok.output
    bad = runner.invoke(main, ["check", str(base / "glob_rule_r208.bin")])
    assert bad.exit_code == 1
    assert "NOT load" in bad.output and "@0x24" in bad.output
    js = runner.invoke(main, ["check", "--format", "json", str(base / "size_km_small.bin")])
    assert js.exit_code == 1
    doc = json.loads(js.output)
    assert doc["status_name"] == "INT_STATUS_INVALID_DATA_STATE"
    assert doc["reasons"][0]["offset"] == 37
