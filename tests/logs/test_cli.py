"""`hvmiex log violations` and `hvmiex log propose`."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from click.testing import CliRunner

from hvmiex.cli.main import main
from tests.logs.test_blocks import KM

OTHER = [x.replace("a.sys [0x11111111]", "c.sys [0x33333333]").replace("(no exc)", "(no sig)") for x in KM]


def _log(tmp_path: Path) -> Path:
    path = tmp_path / "k.log.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join([*KM, "noise without envelope", *OTHER]) + "\n")
    return path


def test_violations_text_json_jsonl_and_filters(tmp_path: Path) -> None:
    log = _log(tmp_path)
    runner = CliRunner()
    res = runner.invoke(main, ["log", "violations", str(log)])
    assert res.exit_code == 0, res.output
    assert "a.sys" in res.output and "c.sys" in res.output
    res = runner.invoke(main, ["log", "violations", str(log), "--format", "json", "--reason", "signature-not-matched"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [r["originator"] for r in doc["violations"]] == ["c.sys"]
    assert doc["stats"]["unplaced"] == {"no-envelope": 1}
    res = runner.invoke(main, ["log", "violations", str(log), "--format", "jsonl", "--originator", "A.SYS"])
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert [(r["line"], r["victim"], r["mode"]) for r in rows] == [(1, "b.sys", "kernel")]
    res = runner.invoke(main, ["log", "violations", "-", "--format", "jsonl", "--mode", "user"], input="\n".join(KM))
    assert res.exit_code == 0 and res.stdout == ""


def test_violations_missing_file_is_a_clean_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["log", "violations", str(tmp_path / "nope.log")])
    assert res.exit_code == 1 and "nope.log" in res.output and "Traceback" not in res.output


def test_propose_writes_files_that_build_compiles(tmp_path: Path) -> None:
    log = _log(tmp_path)
    out = tmp_path / "out"
    runner = CliRunner()
    res = runner.invoke(main, ["log", "propose", str(log), str(log), "-o", str(out), "--jobs", "2"])
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["log-00-signatures.json", "log-10-kernel.json"]
    text = (out / "log-10-kernel.json").read_text()
    assert "// 2 violations; first: " in text and f"{log}:1" in text
    res = runner.invoke(main, ["build", str(out), "-o", str(tmp_path / "x.bin")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "x.bin").stat().st_size > 0
    res = runner.invoke(main, ["log", "propose", str(log), "--format", "json", "--exact"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["violations"] == 2 and report["exceptions"] == 2
    assert '"flags": "write"' in report["documents"]["log-10-kernel.json"] or "write" in report["documents"][
        "log-10-kernel.json"
    ]
