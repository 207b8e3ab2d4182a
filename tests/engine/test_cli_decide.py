"""``hvmiex decide``."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from hvmiex.cli.main import main
from tests.engine.builders import DATA


def _bin(tmp_path: Path) -> Path:
    from hvmiex.compiler import compile as compile_bin

    out = tmp_path / "exceptions.bin"
    # without the glob file: a .bin that ends with glob records does not load (oracle umg_win_glob_at_file_tail)
    names = ("00-signatures.json", "10-kernel.json", "20-user.json")
    out.write_bytes(compile_bin([str(DATA / "examples" / n) for n in names]))
    return out


def test_decide_text_explains(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["decide", "-e", str(_bin(tmp_path)), str(DATA / "violations" / "km-driver-write.json"), "--candidates"]
    )
    assert result.exit_code == 0, result.output
    assert "blocked: signature-not-matched" in result.output
    assert "foo.sys/bar.sys/driver code" in result.output
    assert "codeblocks" in result.output


def test_decide_json_and_not_loaded(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["decide", str(DATA / "violations" / "um-module-write.json"), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["verdict"]["reason"] == "exceptions-not-loaded"
    assert data["verdict"]["action"] == "allowed"


def test_decide_propose(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["decide", str(DATA / "violations" / "um-module-write.json"), "--propose", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    proposal = json.loads(result.output)["proposal"]
    assert proposal["list"] == "UserAlert"
    assert any("hooker.dll" in text for text in proposal["files"].values())


def test_decide_refuses_bad_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"kind": "km", "victim": {"zone_type": "nope"}}))
    result = CliRunner().invoke(main, ["decide", str(bad)])
    assert result.exit_code == 1
    assert "victim.zone_type" in result.output


def test_decide_warns_when_the_file_does_not_load(tmp_path: Path) -> None:
    from hvmiex.compiler import compile as compile_bin

    out = tmp_path / "tail.bin"
    out.write_bytes(compile_bin([str(DATA / "examples")]))  # ends with glob records: Introcore refuses it
    result = CliRunner().invoke(main, ["decide", "-e", str(out), str(DATA / "violations" / "km-driver-write.json")])
    assert result.exit_code == 0
    assert "exceptions-not-loaded" in result.output
    assert "could not load" in result.output


def test_decide_sources_show_file_and_line(tmp_path: Path) -> None:
    names = ("00-signatures.json", "10-kernel.json", "20-user.json")
    sources = [str(DATA / "examples" / n) for n in names]
    args = ["decide", "-e", str(_bin(tmp_path)), str(DATA / "violations" / "km-driver-write.json")]
    for s in sources:
        args += ["--sources", s]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "10-kernel.json:" in result.output
    assert "cb-14-3" in result.output  # signature named by its sig_id
