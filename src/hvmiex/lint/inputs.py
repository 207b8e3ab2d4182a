"""Build a :class:`LintContext` from JSON inputs with the compiler's own reader and object builders.

The compiler stops at the first refused input; lint goes on and keeps every object that could be built,
together with the JSON entry as written, its position, and the comment suppressions of each file.
Compiler problems become diagnostics (with lint codes where a check covers the same finding).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from hvmiex import compiler as _compiler
from hvmiex.config import Config, load_config
from hvmiex.errors import Diagnostic
from hvmiex.lint.framework import Entry, LintContext, LintModel, Suppressions
from hvmiex.model.enums import ExceptionKind
from hvmiex.model.records import ExceptionSet
from hvmiex.source.jsonc import strip_comments
from hvmiex.source.reader import SourceFile, enumerate_inputs, order_sources, read_source

# compiler diagnostic code -> lint code, for findings a lint check also describes
_RECODE = {
    "missing-signature": "HX103",
    "input-twice": "HX413",
}
# compiler notes that a lint check reports itself (with a position)
_DROP = frozenset(
    {"unused-signature-kept", "no-exceptions", "version-mask", "glob-non-ascii", "cb-flat-hashes", "create-mask-string"}
)


def _recode(d: Diagnostic) -> Diagnostic | None:
    if d.code in _DROP or (d.code == "warning" and "0x200000" in d.message):
        return None
    code = _RECODE.get(d.code)
    if code is None and d.code == "unknown-flag" and "kernel/kernel-user flag" in d.message:
        code = "HX405"
    if code is None:
        return d
    return Diagnostic(code, d.message, d.severity, d.location, d.subject, d.field, d.hint)


class _Object(dict[str, Any]):
    """A parsed JSON object that remembers the keys written more than once (json keeps the last)."""

    __slots__ = ("duplicates",)

    duplicates: tuple[str, ...]


def _pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    dups: list[str] = []
    for key, value in pairs:
        if key in obj and key not in dups:
            dups.append(key)
        obj[key] = value
    obj.duplicates = tuple(dups)
    return obj


def _duplicate_keys(s: SourceFile, array: str) -> list[tuple[str, ...]]:
    """Per element of the file's ``array``: keys written twice (a second parse that keeps them)."""
    try:
        data = json.loads(strip_comments(s.text), object_pairs_hook=_pairs)
        items = data[array]
    except (ValueError, KeyError, TypeError):
        return []
    return [getattr(x, "duplicates", ()) for x in items] if isinstance(items, list) else []


def _group_of(note: str) -> str | None:
    # the compiler's member note reads " (member 'x' of group '[g]' in field 'f')"
    marker = "of group '"
    i = note.rfind(marker)
    if i < 0:
        return None
    j = note.find("'", i + len(marker))
    return note[i + len(marker) : j] if j > 0 else None


def read_for_lint(
    paths: Sequence[str | os.PathLike[str]], config: Config | str | None = None
) -> tuple[LintModel, LintContext, Suppressions, list[Diagnostic]]:
    """Read ``paths`` as ``hvmiex build`` does; return the model, the context, the suppressions and the
    reader's diagnostics (refusals included: lint reports them and keeps going)."""
    cfg = config if isinstance(config, Config) else load_config(config)
    c = _compiler._Compiler(cfg)
    files = enumerate_inputs(paths, c.notes)
    if not files:
        c.problems.append(Diagnostic("no-input", "no JSON file to lint", hint="give JSON files or folders holding *.json"))
    sources: list[SourceFile] = []
    for f in files:
        s = read_source(f, c.problems)
        if s is not None:
            sources.append(s)
    sources = order_sources(sources)
    suppressions = Suppressions()
    for s in sources:
        suppressions.add_file(s.path, s.text)
        c._check_dispatch(s)

    signatures: list[Entry] = []
    for s in sources:
        if s.kind != "signatures":
            continue
        entries = s.data.get("Signatures")
        if not isinstance(entries, list):
            continue
        dups = _duplicate_keys(s, "Signatures")
        for i, raw in enumerate(entries):
            where = s.locate(("Signatures", i))
            suppressions.add_entries([Entry(None, where, _mapping(raw), i)])  # even when refused
            sig = c._signature(s, i, raw)
            if sig is not None:
                signatures.append(Entry(sig, where, _mapping(raw), i, "signatures", None, _at(dups, i)))

    exceptions: list[Entry] = []
    written: list[Entry] = []
    n_written = 0
    for s in sources:
        kind_name = s.kind
        if kind_name is None or kind_name == "signatures":
            continue
        entries = s.data.get("Exceptions")
        if not isinstance(entries, list):
            continue
        kind = ExceptionKind(kind_name)
        n_written += len(entries)
        dups = _duplicate_keys(s, "Exceptions")
        for i, raw in enumerate(entries):
            if not isinstance(raw, dict):
                c._exception(s, i, kind, raw, [])  # reports the problem
                continue
            where = s.locate(("Exceptions", i))
            suppressions.add_entries([Entry(None, where, raw, i)])  # even when refused
            ctx = _compiler._Ctx(s, ("Exceptions", i), f"{kind.value} exception #{i}")
            first: Entry | None = None
            for member, note, last in c._expand(ctx, kind, raw):
                mctx = ctx if not note else _compiler._Ctx(s, ctx.path, ctx.subject, note)
                rec = c._build(mctx, kind, member, last)
                if rec is None:
                    continue
                entry = Entry(rec, where, raw, i, kind_name, _group_of(note))
                exceptions.append(entry)
                if first is None:
                    first = Entry(rec, where, raw, i, kind_name, None, _at(dups, i))
            if first is not None:
                written.append(first)

    # the compiler's own arrangement: sort, glob prefix (Q2), unused-signature removal (Q1)
    records, _ = c._arrange([e.record for e in exceptions], [e.record for e in signatures])
    compiled = ExceptionSet(tuple(records), cfg.major, cfg.minor)
    problems = [d for d in (_recode(x) for x in (*c.problems, *c.notes)) if d is not None]
    model = LintModel(
        exceptions=tuple(exceptions), signatures=tuple(signatures), sources=tuple(written), compiled=compiled
    )
    context = LintContext(
        files=tuple(s.path for s in sources),
        groups=cfg.groups,
        sig_codes=cfg.signature_types,
        written_exceptions=n_written,
    )
    return model, context, suppressions, problems


def _at(items: list[tuple[str, ...]], i: int) -> tuple[str, ...]:
    return items[i] if i < len(items) else ()


def _mapping(raw: Any) -> dict[str, Any] | None:
    return raw if isinstance(raw, dict) else None
