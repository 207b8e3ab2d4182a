"""Renderers (text, JSON, SARIF 2.1.0 key structure), the CLI and the strict gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from hvmiex.cli.main import main
from hvmiex.errors import Severity
from hvmiex.lint import ALL_CHECKS, LintModel, lint_model, lint_paths, model_from_records, strict_gate
from hvmiex.lint.inputs import read_for_lint
from hvmiex.lint.render import render, render_json, render_sarif, render_text, sarif_document
from tests.conftest import DATA

FIX = DATA / "lint"


def _check_sarif(doc: dict[str, Any]) -> None:
    assert doc["version"] == "2.1.0"
    assert doc["$schema"].endswith("sarif-2.1.0.json")
    assert isinstance(doc["runs"], list) and len(doc["runs"]) == 1
    run = doc["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "hvmiex" and isinstance(driver["version"], str)
    rules = driver["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))
    for rule in rules:
        assert set(rule) <= {"id", "name", "shortDescription", "help", "defaultConfiguration"}
        assert isinstance(rule["shortDescription"]["text"], str)
        if "defaultConfiguration" in rule:
            assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    for res in run["results"]:
        assert set(res) <= {"ruleId", "ruleIndex", "level", "message", "locations"}
        assert res["level"] in ("error", "warning", "note")
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert isinstance(res["message"]["text"], str) and res["message"]["text"]
        for loc in res.get("locations", []):
            phys = loc["physicalLocation"]
            assert isinstance(phys["artifactLocation"]["uri"], str)
            if "region" in phys:
                assert phys["region"]["startLine"] >= 1
                assert phys["region"].get("startColumn", 1) >= 1


def test_sarif_shape() -> None:
    result = lint_paths([str(FIX / "HX202" / "bad"), str(FIX / "HX103" / "bad")])
    doc = json.loads(render_sarif(result))
    _check_sarif(doc)
    results = doc["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"HX202", "HX103"}
    rules = {r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    assert {c.code for c in ALL_CHECKS} <= rules
    hx202 = next(r for r in results if r["ruleId"] == "HX202")
    assert hx202["level"] == "warning"
    assert hx202["locations"][0]["physicalLocation"]["region"]["startLine"] > 1


def test_sarif_with_reader_errors_and_absolute_paths(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{")
    doc = sarif_document(lint_paths([str(bad)]))
    _check_sarif(doc)
    (res,) = doc["runs"][0]["results"]
    assert res["ruleId"] == "json-syntax" and res["level"] == "error"
    assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith("file://")


def test_json_and_text() -> None:
    result = lint_paths([str(FIX / "HX201" / "bad")])
    doc = json.loads(render_json(result))
    assert doc["summary"] == {"errors": 0, "warnings": 1, "notes": 0, "suppressed": 0}
    (d,) = doc["diagnostics"]
    assert d["code"] == "HX201" and d["severity"] == "warning" and d["line"] and d["col"]
    text = render_text(result)
    assert "warning[HX201]" in text and text.endswith("0 error(s), 1 warning(s), 0 note(s)\n")
    assert render(result, "text") == text


def test_cli_exit_codes_and_formats(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["lint", str(FIX / "HX201" / "good")])
    assert ok.exit_code == 0, ok.output
    warn_only = runner.invoke(main, ["lint", str(FIX / "HX201" / "bad")])
    assert warn_only.exit_code == 0 and "HX201" in warn_only.output
    err = runner.invoke(main, ["lint", "--format", "json", str(FIX / "HX304" / "bad")])
    assert err.exit_code == 1
    assert json.loads(err.output)["summary"]["errors"] >= 1
    ignored = runner.invoke(main, ["lint", "--ignore", "HX304", str(FIX / "HX304" / "bad")])
    assert ignored.exit_code == 0
    out = tmp_path / "r.sarif"
    sarif = runner.invoke(main, ["lint", "--format", "sarif", "-o", str(out), str(FIX / "HX304" / "bad")])
    assert sarif.exit_code == 1 and sarif.output == ""
    _check_sarif(json.loads(out.read_text()))
    listed = runner.invoke(main, ["lint", "--list-checks"])
    assert listed.exit_code == 0 and all(c.code in listed.output for c in ALL_CHECKS)
    usage = runner.invoke(main, ["lint"])
    assert usage.exit_code == 2


def test_cli_with_config(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["lint", "-c", str(tmp_path / "nope.json"), str(FIX / "HX201" / "good")])
    assert missing.exit_code == 1 and "Traceback" not in missing.output


def test_strict_gate() -> None:
    model, _, _, _ = read_for_lint([str(FIX / "HX304" / "bad")])
    errors = strict_gate(model)
    assert errors and all(d.severity is Severity.ERROR for d in errors)
    assert {d.code for d in errors} == {"HX304"}
    # from bare records (as `hvmiex build` has them) too
    records = [e.record for e in model.exceptions] + [e.record for e in model.signatures]
    assert {d.code for d in strict_gate(records)} == {"HX304"}
    clean, _, _, _ = read_for_lint([str(FIX / "HX201" / "bad")])
    assert strict_gate(clean) == []  # warnings do not refuse
    assert strict_gate(LintModel()) == []
    assert model_from_records([]).exceptions == ()


def test_strict_gate_on_compiled_sets() -> None:
    from hvmiex.compiler import compile_set

    # a glob record at the end of the file: refused by Introcore's loader (HX502), in compiled form too
    bad = compile_set([str(FIX / "HX502" / "bad")])
    assert {d.code for d in strict_gate(bad.exception_set)} == {"HX502"}
    good = compile_set([str(FIX / "HX502" / "good")])
    assert strict_gate(good.exception_set) == []
    # prefix globs are written twice (upstream quirk Q2): not a duplicate finding
    assert strict_gate(compile_set([str(FIX / "HX412" / "bad")]).exception_set) == []
    # upstream quirk Q1 in a compiled file: the dropped signature is gone, the kept unused one is HX102
    kept = compile_set([str(FIX / "HX102" / "bad")]).exception_set
    assert sorted(d.code for d in lint_model(model_from_records(kept)).diagnostics) == ["HX102"]
    # from bare records, arranged as the compiler does: one dropped (HX101), one kept (HX102)
    model, _, _, _ = read_for_lint([str(FIX / "HX102" / "bad")])
    bare = model_from_records([*(e.record for e in model.exceptions), *(e.record for e in model.signatures)])
    assert sorted(d.code for d in lint_model(bare).diagnostics) == ["HX101", "HX102"]
