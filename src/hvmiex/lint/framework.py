"""The lint framework: checks with stable codes, the context they read, suppression, running them.

A check is a small class with a stable ``code`` (``HX101``), a default severity, a title and a
``check(model, context)`` generator of :class:`~hvmiex.errors.Diagnostic`. Checks never raise for findings
and never print; :func:`run_checks` applies selection and suppression.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hvmiex.errors import Diagnostic, Severity, SourceLocation
from hvmiex.model.records import ExceptionSet

DISABLE_KEY = "hvmiex-disable"
# "// hvmiex: disable=HX101,HX202" (spaces allowed around ':' '=' and ',')
_DISABLE_COMMENT = re.compile(r"//\s*hvmiex\s*:\s*disable\s*=\s*([A-Za-z0-9_,\s]+)")
_CODE = re.compile(r"HX\d{3}|ALL")


@dataclass(frozen=True, slots=True)
class Entry:
    """One exception or signature as lint sees it: the model record plus where and how it was written."""

    record: Any  # an Exception_ or a Signature of hvmiex.model (Any: checks narrow it themselves)
    location: SourceLocation | None = None
    raw: Mapping[str, Any] | None = None  # the JSON entry as written, when the reader keeps it
    index: int | None = None  # index in its file's array
    file_type: str | None = None  # the file's "Type"
    group: str | None = None  # set when this record came from expanding a group (name of the group)
    duplicate_keys: tuple[str, ...] = ()  # keys written more than once in the JSON object (the last one wins)

    @property
    def path(self) -> str | None:
        return self.location.path if self.location is not None else None

    def describe(self) -> str:
        if self.is_signature:
            name = getattr(self.record, "name", None)
            return f"signature '{name}'" if name is not None else "signature"
        kind = getattr(getattr(self.record, "KIND", None), "value", None) or self.file_type
        text = f"{kind} exception" if kind else "exception"
        if self.index is not None:
            text += f" #{self.index}"
        if self.group is not None:
            text += f" (expanded from group '{self.group}')"
        return text

    @property
    def is_signature(self) -> bool:
        return not hasattr(self.record, "originator")


@dataclass(frozen=True, slots=True)
class LintModel:
    """What is linted: the model records, each with where and how it was written."""

    exceptions: tuple[Entry, ...] = ()  # after group expansion, in reading order
    signatures: tuple[Entry, ...] = ()  # every defined signature, in definition order (before dropping)
    sources: tuple[Entry, ...] = ()  # exceptions as written (one per JSON object, before expansion), when known
    compiled: ExceptionSet | None = None  # the arranged file `hvmiex build` writes (sorted, Q1, Q2)

    def signature_by_name(self) -> dict[str, Entry]:
        out: dict[str, Entry] = {}
        for entry in self.signatures:
            name = getattr(entry.record, "name", None)
            if name is not None and name not in out:
                out[name] = entry
        return out

    def signature_by_id(self) -> dict[int, Entry]:
        return {entry.record.id: entry for entry in self.signatures}


@dataclass(frozen=True, slots=True)
class LintContext:
    """How the model was read: inputs and configuration."""

    files: tuple[str, ...] = ()  # input files in compile order
    groups: Mapping[str, Sequence[str]] = field(default_factory=dict)  # config Groups
    sig_codes: Mapping[str, int] = field(default_factory=dict)  # config SignatureType
    written_exceptions: int = 0  # exception objects in the JSON, built or refused


class Check:
    """Base class of every check. Subclasses set the class attributes and implement :meth:`check`."""

    code: ClassVar[str]
    name: ClassVar[str]  # short kebab-case name
    title: ClassVar[str]  # one line for docs and SARIF
    severity: ClassVar[Severity] = Severity.WARNING
    help: ClassVar[str] = ""  # what to do about it

    def check(self, model: LintModel, context: LintContext) -> Iterable[Diagnostic]:
        raise NotImplementedError

    # helpers for subclasses
    def diag(
        self,
        entry: Entry | None,
        message: str,
        *,
        severity: Severity | None = None,
        field: str | None = None,
        hint: str | None = None,
        location: SourceLocation | None = None,
    ) -> Diagnostic:
        return Diagnostic(
            code=self.code,
            message=message,
            severity=severity or self.severity,
            location=location if location is not None else (entry.location if entry is not None else None),
            subject=entry.describe() if entry is not None else None,
            field=field,
            hint=hint if hint is not None else (self.help or None),
        )


@dataclass(frozen=True, slots=True)
class Selection:
    """Which codes run: ``select`` (prefixes, empty = all) minus ``ignore`` (prefixes)."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()

    def wants(self, code: str) -> bool:
        code = code.upper()
        if self.select and not any(code.startswith(p.upper()) for p in self.select):
            return False
        return not any(code.startswith(p.upper()) for p in self.ignore)


def parse_codes(text: Iterable[str]) -> tuple[str, ...]:
    """``["HX1", "HX202,HX203"]`` -> ``("HX1", "HX202", "HX203")``."""
    out: list[str] = []
    for item in text:
        out.extend(p.strip().upper() for p in item.split(",") if p.strip())
    return tuple(out)


# ---------------------------------------------------------------------------------------- suppression


def comment_disables(text: str) -> dict[int, frozenset[str]]:
    """Line number (1-based) -> codes disabled by a ``// hvmiex: disable=...`` comment on that line."""
    out: dict[int, frozenset[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if "hvmiex" not in line:
            continue
        match = _DISABLE_COMMENT.search(line)
        if match:
            codes = frozenset(c.upper() for c in _CODE.findall(match.group(1).upper()))
            if codes:
                out[number] = codes
    return out


def field_disables(raw: Mapping[str, Any] | None) -> frozenset[str]:
    """Codes listed in an entry's ``"hvmiex-disable"`` field (a list of codes or one string)."""
    if raw is None:
        return frozenset()
    value = raw.get(DISABLE_KEY)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return frozenset()
    return frozenset(str(v).strip().upper() for v in value if isinstance(v, str))


@dataclass
class Suppressions:
    """Per-file comment suppressions plus per-entry field suppressions.

    A finding is suppressed by a comment on its own line or the line before, or — when it lies inside an
    exception or signature object (e.g. at one of its fields) — by a comment on the line where that object
    starts or the line before, or by the object's ``"hvmiex-disable"`` field."""

    by_file: dict[str, dict[int, frozenset[str]]] = field(default_factory=dict)
    # path -> sorted start lines of objects, and (path, start line) -> codes of their "hvmiex-disable" field
    starts: dict[str, list[int]] = field(default_factory=dict)
    by_start: dict[tuple[str, int], frozenset[str]] = field(default_factory=dict)

    def add_file(self, path: str, text: str) -> None:
        self.by_file[path] = comment_disables(text)

    def add_entries(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            loc = entry.location
            if loc is None or loc.line is None:
                continue
            key = (loc.path, loc.line)
            if key not in self.by_start:
                lines = self.starts.setdefault(loc.path, [])
                bisect.insort(lines, loc.line)
                self.by_start[key] = frozenset()
            codes = field_disables(entry.raw)
            if codes:
                self.by_start[key] = self.by_start[key] | codes

    def _comment(self, path: str, line: int, code: str) -> bool:
        lines = self.by_file.get(path)
        if not lines:
            return False
        return any(code in c or "ALL" in c for c in (lines.get(line, ()), lines.get(line - 1, ())))

    def suppressed(self, diagnostic: Diagnostic) -> bool:
        loc = diagnostic.location
        if loc is None or loc.line is None:
            return False
        code = diagnostic.code.upper()
        if self._comment(loc.path, loc.line, code):
            return True
        starts = self.starts.get(loc.path)
        if not starts:
            return False
        i = bisect.bisect_right(starts, loc.line) - 1
        if i < 0:
            return False
        start = starts[i]  # the object that encloses the finding
        codes = self.by_start.get((loc.path, start), frozenset())
        return code in codes or "ALL" in codes or self._comment(loc.path, start, code)


# ---------------------------------------------------------------------------------------- running


@dataclass(frozen=True, slots=True)
class LintResult:
    diagnostics: tuple[Diagnostic, ...]
    suppressed: int = 0

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.WARNING)


_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def sort_key(d: Diagnostic) -> tuple[str, int, int, str, int, str]:
    loc = d.location
    return (
        loc.path if loc else "",
        (loc.line or 0) if loc else 0,
        (loc.col or 0) if loc else 0,
        d.code,
        _SEVERITY_ORDER[d.severity],
        d.message,
    )


def run_checks(
    model: LintModel,
    context: LintContext,
    checks: Sequence[Check],
    selection: Selection = Selection(),
    suppressions: Suppressions | None = None,
    extra: Iterable[Diagnostic] = (),
) -> LintResult:
    """Run the selected checks; drop suppressed findings; sort by file, line, column, code."""
    found: list[Diagnostic] = [d for d in extra if selection.wants(d.code)]
    for check in checks:
        if selection.wants(check.code):
            found.extend(check.check(model, context))
    kept: list[Diagnostic] = []
    dropped = 0
    seen: set[Diagnostic] = set()
    for d in found:
        if d in seen:
            continue
        seen.add(d)
        if suppressions is not None and suppressions.suppressed(d):
            dropped += 1
            continue
        kept.append(d)
    kept.sort(key=sort_key)
    return LintResult(tuple(kept), dropped)
