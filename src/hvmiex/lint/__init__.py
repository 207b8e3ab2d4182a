"""``hvmiex lint``: checks over exception and signature JSON with stable codes (HX101…), severities and
source positions, per-exception suppression, and text / JSON / SARIF output.

Library entry points:

* :func:`lint_paths` — read JSON files or folders (the compiler's reader and model) and run the checks;
* :func:`lint_context` — run the checks over an already built :class:`LintContext`;
* :func:`strict_gate` — what ``hvmiex build --strict`` refuses on (error-severity findings).
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
    "LintResult",
    "Selection",
    "Suppressions",
    "context_from_records",
    "lint_context",
    "lint_paths",
    "parse_codes",
    "strict_gate",
    "strict_gate_paths",
]


def lint_context(
    context: LintContext,
    *,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    suppressions: Suppressions | None = None,
    extra: Iterable[Diagnostic] = (),
) -> LintResult:
    """Run every selected check over ``context``; ``extra`` adds diagnostics found while reading."""
    selection = Selection(parse_codes(select), parse_codes(ignore))
    if suppressions is None:
        suppressions = Suppressions()
        suppressions.add_entries(context.exceptions)
        suppressions.add_entries(context.sources)
        suppressions.add_entries(context.signatures)
    return run_checks(context, instantiate(), selection, suppressions, extra)


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
    from hvmiex.lint.inputs import build_context  # the reader is only needed here

    context, suppressions, problems = build_context(paths, config_path)
    return lint_context(context, select=select, ignore=ignore, suppressions=suppressions, extra=problems)


def context_from_records(records: Iterable[object]) -> LintContext:
    """A context from model records alone (no raw JSON, no comments): exceptions and signatures."""
    exceptions: list[Entry] = []
    signatures: list[Entry] = []
    seen_globs: set[object] = set()
    for rec in records:
        if isinstance(rec, GlobException):
            if rec in seen_globs:
                continue  # upstream quirk Q2: compiled files hold prefix globs twice
            seen_globs.add(rec)
        if isinstance(rec, EXCEPTION_CLASSES):
            exceptions.append(Entry(rec, getattr(rec, "location", None)))
        elif isinstance(rec, SIGNATURE_CLASSES):
            signatures.append(Entry(rec, getattr(rec, "location", None)))
    return LintContext(exceptions=tuple(exceptions), signatures=tuple(signatures))


def strict_gate(model: object) -> list[Diagnostic]:
    """Error-severity lint findings that make ``hvmiex build --strict`` refuse.

    ``model`` is a :class:`LintContext`, an :class:`~hvmiex.model.ExceptionSet` or an iterable of model
    records (exceptions and every defined signature, before unused ones are dropped)."""
    if isinstance(model, LintContext):
        context = model
    elif isinstance(model, ExceptionSet):
        context = context_from_records(model.records)
    else:
        context = context_from_records(model)  # type: ignore[arg-type]
    result = lint_context(context)
    return [d for d in result.diagnostics if d.severity is Severity.ERROR]


def strict_gate_paths(paths: Sequence[str], config_path: str | None = None) -> list[Diagnostic]:
    """Like :func:`strict_gate`, from the JSON inputs themselves: findings carry file:line:col and
    suppression comments and fields apply (what ``hvmiex build --strict`` should call)."""
    result = lint_paths(paths, config_path)
    return [d for d in result.diagnostics if d.severity is Severity.ERROR]
