"""``hvmiex replay`` end to end with click's CliRunner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hvmiex.cli.main import main
from hvmiex.replay import Replayer
from tests.replay.replay_fixtures import SOURCES, VIOLATIONS, write_log


def _run(*args: str) -> Any:
    return CliRunner().invoke(main, ["replay", *args], catch_exceptions=False)


def test_text_output(bin_path: Path, tmp_path: Path) -> None:
    log = write_log(tmp_path / "guest.log.gz")
    result = _run("-e", str(bin_path), str(log), str(VIOLATIONS), "--os-version", "19041")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "12 violations: 6 allowed, 6 blocked, 3 decided otherwise than logged" in out
    assert "exception coverage: 3 of 5 fired, 2 never did" in out
    assert "blocked by reason" in out and "no-exception" in out


def test_json_output_and_html(bin_path: Path, tmp_path: Path) -> None:
    log = write_log(tmp_path / "guest.log")
    html = tmp_path / "report.html"
    result = CliRunner().invoke(
        main,
        ["replay", "-e", str(bin_path), str(log), "--format", "json", "--html", str(html), "--names", str(SOURCES[1]),
         "--introcore-version", "1.133.0.186"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["summary"]["total"] == 6 and data["summary"]["changed"] == 3
    assert data["violations"][5]["allowed"] is False  # the Windows build is unknown: version-os cannot pass
    assert len(data["violations"]) == 6 and data["violations"][0]["logged"]["reason"] == "no-exception"
    assert "unused.sys" in {e["originator"] for e in data["coverage"]["entries"]}
    page = html.read_text()
    assert '<table id="violations">' in page and "replay-data" in page and "fixer.sys" in page
    assert "HTML report written" in result.stderr


def test_forced_input_kind(bin_path: Path) -> None:
    result = _run("-e", str(bin_path), "--input", "violations", str(VIOLATIONS), "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["inputs"][0]["input"] == "violations"


def test_refused_bin_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\0" * 64)
    result = CliRunner().invoke(main, ["replay", "-e", str(bad), str(VIOLATIONS)])
    assert result.exit_code == 1
    assert "refuses" in result.stderr and "Traceback" not in result.stderr


def test_usage_errors_exit_2(bin_path: Path, tmp_path: Path) -> None:
    assert _run("-e", str(bin_path), str(tmp_path / "missing.log")).exit_code == 2
    assert _run("-e", str(bin_path), str(VIOLATIONS), "--introcore-version", "one.two").exit_code == 2
    assert _run(str(VIOLATIONS)).exit_code == 2  # --exceptions is required


def test_unreadable_violation_json_exits_1(bin_path: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"kind": "km", "victim": 3}')
    result = CliRunner().invoke(main, ["replay", "-e", str(bin_path), str(broken)])
    assert result.exit_code == 1 and "Traceback" not in result.stderr


def test_ctrl_c_prints_what_was_done(bin_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = Replayer.replay_path

    def interrupted(self: Replayer, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for n, item in enumerate(original(self, *args, **kwargs), 1):
            yield item
            if n == 2:
                raise KeyboardInterrupt

    monkeypatch.setattr(Replayer, "replay_path", interrupted)
    result = _run("-e", str(bin_path), str(VIOLATIONS), str(VIOLATIONS), "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["interrupted"] is True and data["summary"]["total"] == 2
    text = _run("-e", str(bin_path), str(VIOLATIONS))
    assert text.exit_code == 0 and "interrupted" in text.output


def test_progress_bar_forced(bin_path: Path, tmp_path: Path) -> None:
    log = write_log(tmp_path / "guest.log")
    result = _run("-e", str(bin_path), str(log), "--progress", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["summary"]["total"] == 6


def test_log_on_stdin(bin_path: Path, tmp_path: Path) -> None:
    log = write_log(tmp_path / "guest.log")
    result = CliRunner().invoke(
        main, ["replay", "-e", str(bin_path), "-", "--format", "json"], input=log.read_text(), catch_exceptions=False
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["summary"]["total"] == 6 and data["violations"][0]["source"] == "-"
