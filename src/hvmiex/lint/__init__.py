"""``hvmiex lint``: checks over exception and signature JSON with stable codes (HX101…), severities and
source positions, per-exception suppression, and text / JSON / SARIF output.

Library entry points:

* :func:`lint_paths` — read JSON files or folders (the compiler's reader and model) and run the checks;
* :func:`lint_model` — run the checks over an already built :class:`LintModel` (+ :class:`LintContext`);
* :func:`strict_gate` / :func:`strict_gate_paths` — what ``hvmiex build --strict`` refuses on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hvmiex.errors import Diagnostic, Severity
from hvmiex.lint.checks import ALL_CHECKS, CHECKS_BY_CODE, instantiate
from hvmiex.lint.framework import (
    DISABLE_KEY,
    Check,
    Entry,
    LintContext,
    LintModel,
    LintResult,
    Selection,
    Suppressions,
    parse_codes,
    run_checks,
)
from hvmiex.model.records import EXCEPTION_CLASSES, SIGNATURE_CLASSES, ExceptionSet, GlobException

__all__ = [
    "ALL_CHECKS",
    "CHECKS_BY_CODE",
    "DISABLE_KEY",
    "Check",
    "Entry",
    "LintContext",
    "LintModel",
    "LintResult",
    "Selection",
    "Suppressions",
    "lint_model",
    "lint_paths",
    "model_from_records",
    "parse_codes",
    "strict_gate",
    "strict_gate_paths",
]


def lint_model(
    model: LintModel,
    context: LintContext | None = None,
    *,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    suppressions: Suppressions | None = None,
    extra: Iterable[Diagnostic] = (),
) -> LintResult:
    """Run every selected check over ``model``; ``extra`` adds diagnostics found while reading.

    Without ``suppressions`` only ``"hvmiex-disable"`` fields apply (comments need the file text)."""
    selection = Selection(parse_codes(select), parse_codes(ignore))
    if suppressions is None:
        suppressions = Suppressions()
        suppressions.add_entries((*model.exceptions, *model.sources, *model.signatures))
    return run_checks(model, context or LintContext(), instantiate(), selection, suppressions, extra)


def lint_paths(
    paths: Sequence[str],
    config_path: str | None = None,
    *,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
) -> LintResult:
    """Read ``paths`` (files or folders) like ``hvmiex build`` does and lint them.

    Input the compiler refuses (JSON syntax, unknown names, …) is reported as diagnostics with the
    reader's codes; the checks then run over everything that could be read.
    """
    from hvmiex.lint.inputs import read_for_lint  # the reader is only needed here

    model, context, suppressions, problems = read_for_lint(paths, config_path)
    return lint_model(model, context, select=select, ignore=ignore, suppressions=suppressions, extra=problems)


def model_from_records(records: Iterable[object] | ExceptionSet) -> LintModel:
    """A model from records alone (no raw JSON, no positions unless the records carry them).

    ``records`` are a compiled file (an :class:`ExceptionSet`, file order) or exceptions and defined
    signatures, which are then arranged as the compiler does (sorting, glob prefix Q2, removal Q1)."""
    compiled: ExceptionSet | None = None
    if isinstance(records, ExceptionSet):
        compiled = records
        items: list[object] = list(records.records)
    else:
        items = list(records)
    exceptions: list[Entry] = []
    signatures: list[Entry] = []
    seen_globs: set[object] = set()
    for rec in items:
        if isinstance(rec, GlobException):
            if rec in seen_globs:
                continue  # upstream quirk Q2: compiled files hold prefix globs twice
            seen_globs.add(rec)
        if isinstance(rec, EXCEPTION_CLASSES):
            exceptions.append(Entry(rec, getattr(rec, "location", None)))
        elif isinstance(rec, SIGNATURE_CLASSES):
            signatures.append(Entry(rec, getattr(rec, "location", None)))
    if compiled is None:
        from hvmiex.compiler import _Compiler
        from hvmiex.config import load_config

        arranged, _ = _Compiler(load_config())._arrange([e.record for e in exceptions], [e.record for e in signatures])
        compiled = ExceptionSet(tuple(arranged))
    return LintModel(exceptions=tuple(exceptions), signatures=tuple(signatures), compiled=compiled)


def strict_gate(model: object) -> list[Diagnostic]:
    """Error-severity lint findings that make ``hvmiex build --strict`` refuse.

    ``model`` is a :class:`LintModel`, an :class:`~hvmiex.model.ExceptionSet` or an iterable of model
    records (exceptions and every defined signature, before unused ones are dropped)."""
    lm = model if isinstance(model, LintModel) else model_from_records(model)  # type: ignore[arg-type]
    return [d for d in lint_model(lm).diagnostics if d.severity is Severity.ERROR]


def strict_gate_paths(paths: Sequence[str], config_path: str | None = None) -> list[Diagnostic]:
    """Like :func:`strict_gate`, from the JSON inputs themselves: findings carry file:line:col and
    suppression comments and fields apply (what ``hvmiex build --strict`` calls)."""
    return [d for d in lint_paths(paths, config_path).diagnostics if d.severity is Severity.ERROR]
