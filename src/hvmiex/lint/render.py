"""Lint output: plain text for people, JSON for scripts, SARIF 2.1.0 for code-scanning tools."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from hvmiex import __version__
from hvmiex.errors import Diagnostic, Severity
from hvmiex.lint.checks import ALL_CHECKS
from hvmiex.lint.framework import LintResult

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def summary_line(result: LintResult) -> str:
    n_err = len(result.errors)
    n_warn = len(result.warnings)
    n_info = len(result.diagnostics) - n_err - n_warn
    text = f"{n_err} error(s), {n_warn} warning(s), {n_info} note(s)"
    if result.suppressed:
        text += f", {result.suppressed} suppressed"
    return text


def render_text(result: LintResult) -> str:
    lines = [d.render() for d in result.diagnostics]
    lines.append(summary_line(result))
    return "\n".join(lines) + "\n"


def diagnostic_dict(d: Diagnostic) -> dict[str, Any]:
    loc = d.location
    return {
        "code": d.code,
        "severity": d.severity.value,
        "message": d.message,
        "path": loc.path if loc else None,
        "line": loc.line if loc else None,
        "col": loc.col if loc else None,
        "subject": d.subject,
        "field": d.field,
        "hint": d.hint,
    }


def render_json(result: LintResult) -> str:
    doc = {
        "diagnostics": [diagnostic_dict(d) for d in result.diagnostics],
        "summary": {
            "errors": len(result.errors),
            "warnings": len(result.warnings),
            "notes": len(result.diagnostics) - len(result.errors) - len(result.warnings),
            "suppressed": result.suppressed,
        },
    }
    return json.dumps(doc, indent=2) + "\n"


def _uri(path: str) -> str:
    p = PurePath(path)
    if p.is_absolute():
        return "file://" + p.as_posix()
    return p.as_posix()


def sarif_document(result: LintResult) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for cls in ALL_CHECKS:
        index[cls.code] = len(rules)
        rule: dict[str, Any] = {
            "id": cls.code,
            "name": cls.name,
            "shortDescription": {"text": cls.title},
            "defaultConfiguration": {"level": _SARIF_LEVEL[cls.severity]},
        }
        if cls.help:
            rule["help"] = {"text": cls.help}
        rules.append(rule)
    results: list[dict[str, Any]] = []
    for d in result.diagnostics:
        if d.code not in index:  # reader diagnostics (json-syntax, ...) become ad-hoc rules
            index[d.code] = len(rules)
            rules.append({"id": d.code, "shortDescription": {"text": d.code}})
        text = d.message
        if d.subject or d.field:
            where = ", ".join(x for x in (d.subject, f"field '{d.field}'" if d.field else None) if x)
            text = f"{where}: {text}"
        if d.hint:
            text += f" ({d.hint})"
        item: dict[str, Any] = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": _SARIF_LEVEL[d.severity],
            "message": {"text": text},
        }
        if d.location is not None:
            physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(d.location.path)}}
            if d.location.line is not None:
                region: dict[str, Any] = {"startLine": d.location.line}
                if d.location.col is not None:
                    region["startColumn"] = d.location.col
                physical["region"] = region
            item["locations"] = [{"physicalLocation": physical}]
        results.append(item)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "hvmiex",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }


def render_sarif(result: LintResult) -> str:
    return json.dumps(sarif_document(result), indent=2) + "\n"


def render(result: LintResult, output_format: str) -> str:
    if output_format == "json":
        return render_json(result)
    if output_format == "sarif":
        return render_sarif(result)
    return render_text(result)


def rule_table() -> Sequence[tuple[str, str, str, str]]:
    """(code, name, severity, title) of every check, for docs and ``--list``."""
    return [(c.code, c.name, c.severity.value, c.title) for c in ALL_CHECKS]
