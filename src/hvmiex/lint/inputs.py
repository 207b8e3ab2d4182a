"""Build a :class:`LintContext` from JSON inputs with the compiler's own reader and object builders.

The compiler stops at the first refused input; lint goes on and keeps every object that could be built,
together with the JSON entry as written, its position, and the comment suppressions of each file.
Compiler problems become diagnostics (with lint codes where a check covers the same finding).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from hvmiex import compiler as _compiler
from hvmiex.config import Config, load_config
from hvmiex.errors import Diagnostic
from hvmiex.lint.framework import Entry, LintContext, Suppressions
from hvmiex.model.enums import ExceptionKind
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


def _group_of(note: str) -> str | None:
    # the compiler's member note reads " (member 'x' of group '[g]' in field 'f')"
    marker = "of group '"
    i = note.rfind(marker)
    if i < 0:
        return None
    j = note.find("'", i + len(marker))
    return note[i + len(marker) : j] if j > 0 else None


def build_context(
    paths: Sequence[str | os.PathLike[str]], config: Config | str | None = None
) -> tuple[LintContext, Suppressions, list[Diagnostic]]:
    """Read ``paths`` as ``hvmiex build`` does; return the context, the suppressions and the reader's
    diagnostics (refusals included: lint reports them and keeps going)."""
    cfg = config if isinstance(config, Config) else load_config(config)
    c = _compiler._Compiler(cfg)
    files = enumerate_inputs(paths, c.notes)
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
        for i, raw in enumerate(entries):
            sig = c._signature(s, i, raw)
            if sig is not None:
                signatures.append(Entry(sig, s.locate(("Signatures", i)), _mapping(raw), i, "signatures"))

    exceptions: list[Entry] = []
    written: list[Entry] = []
    for s in sources:
        kind_name = s.kind
        if kind_name is None or kind_name == "signatures":
            continue
        entries = s.data.get("Exceptions")
        if not isinstance(entries, list):
            continue
        kind = ExceptionKind(kind_name)
        for i, raw in enumerate(entries):
            if not isinstance(raw, dict):
                c._exception(s, i, kind, raw, [])  # reports the problem
                continue
            where = s.locate(("Exceptions", i))
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
                    first = Entry(rec, where, raw, i, kind_name)
            if first is not None:
                written.append(first)

    problems = [d for d in (_recode(x) for x in (*c.problems, *c.notes)) if d is not None]
    context = LintContext(
        exceptions=tuple(exceptions),
        signatures=tuple(signatures),
        sources=tuple(written),
        files=tuple(s.path for s in sources),
        groups=cfg.groups,
        sig_codes=cfg.signature_types,
    )
    suppressions.add_entries(exceptions)
    suppressions.add_entries(signatures)
    return context, suppressions, problems


def _mapping(raw: Any) -> dict[str, Any] | None:
    return raw if isinstance(raw, dict) else None
