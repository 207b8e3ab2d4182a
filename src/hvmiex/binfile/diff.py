"""Semantic difference of two exception sets (each from a .bin or compiled from JSON).

Order never matters: exceptions are compared as multisets; signatures are compared by content
(kind, flags, payload), not by their numeric ids, which only reflect the order files were compiled
in; an exception's signature references are compared through the content of the signatures they name.
Upstream quirk Q2's doubled glob records are counted once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hvmiex.binfile.inspect import _Describer, signature_label
from hvmiex.config import Config, load_config
from hvmiex.model import (
    CodeBlocksSignature,
    ExceptionSet,
    ExportSignature,
    GlobException,
    IdtSignature,
    KernelException,
    ProcessCreationSignature,
    RawObject,
    ValueCodeSignature,
    ValueSignature,
    VersionIntroSignature,
    VersionOsSignature,
)
from hvmiex.model.records import Exception_, Signature
from hvmiex.namedb.resolver import NameResolver


def signature_content(sig: Signature) -> tuple[Any, ...]:
    """Everything a signature means, without its id and name."""
    base: tuple[Any, ...] = (sig.KIND.value, sig.flags.value)
    if isinstance(sig, ExportSignature):
        return (*base, sig.library.value, tuple((h.delta, h.name.value) for h in sig.entries))
    if isinstance(sig, ValueSignature):
        return (*base, sig.score, tuple((h.offset, h.size, h.hash) for h in sig.entries))
    if isinstance(sig, CodeBlocksSignature):
        return (*base, sig.score, sig.lists)
    if isinstance(sig, ValueCodeSignature):
        return (*base, sig.offset, sig.pattern)
    if isinstance(sig, IdtSignature):
        return (*base, sig.entry)
    if isinstance(sig, VersionOsSignature):
        return (*base, sig.minimum, sig.maximum)
    if isinstance(sig, VersionIntroSignature):
        return (*base, sig.minimum, sig.maximum)
    if isinstance(sig, ProcessCreationSignature):
        return (*base, sig.create_mask.value)
    return base


def exception_identity(exc: Exception_) -> tuple[Any, ...]:
    """What an exception applies to: kind, originator, victim, process, object type."""
    if isinstance(exc, GlobException):
        return (exc.KIND.value, exc.originator, exc.victim, exc.process, exc.object_type)
    process = None if isinstance(exc, KernelException) else exc.process.value
    return (exc.KIND.value, exc.originator.value, exc.victim.value, process, exc.object_type)


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a diff: the model and where it came from."""

    model: ExceptionSet
    label: str
    binary: bool = True


@dataclass(slots=True)
class DiffResult:
    added: list[dict[str, Any]] = field(default_factory=list)  # exceptions only in B
    removed: list[dict[str, Any]] = field(default_factory=list)  # exceptions only in A
    changed: list[dict[str, Any]] = field(default_factory=list)  # same identity, other flags/signatures
    signatures_added: list[dict[str, Any]] = field(default_factory=list)
    signatures_removed: list[dict[str, Any]] = field(default_factory=list)
    signatures_changed: list[dict[str, Any]] = field(default_factory=list)  # same id, other content
    header: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def equivalent(self) -> bool:
        return not (
            self.added or self.removed or self.changed or self.signatures_added or self.signatures_removed
            or self.signatures_changed or self.header
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "equivalent": self.equivalent,
            "header": self.header,
            "exceptions": {"added": self.added, "removed": self.removed, "changed": self.changed},
            "signatures": {
                "added": self.signatures_added,
                "removed": self.signatures_removed,
                "changed": self.signatures_changed,
            },
            "notes": self.notes,
        }


def _unique_exceptions(model: ExceptionSet) -> list[Exception_]:
    """The exceptions once each: upstream quirk Q2's glob prefix copies are left out when recognisable."""
    from hvmiex.source.writer import _glob_split

    out: list[Exception_] = []
    globs: list[GlobException] = []
    for exc in model.exceptions:
        if isinstance(exc, GlobException):
            globs.append(exc)
        else:
            out.append(exc)
    unique, _ok = _glob_split(globs)
    out.extend(unique)
    return out


class _Side:
    def __init__(self, side: Side, describer: _Describer) -> None:
        self.side = side
        self.describer = describer
        self.sigs: dict[int, Signature] = {s.id: s for s in side.model.signatures}
        self.content: dict[int, tuple[Any, ...]] = {i: signature_content(s) for i, s in self.sigs.items()}
        self.exceptions = _unique_exceptions(side.model)

    def full(self, exc: Exception_) -> tuple[Any, ...]:
        refs = tuple(sorted((self.content.get(r.id, ("missing", r.id)) for r in exc.signatures), key=repr))
        return (*exception_identity(exc), exc.flags.value, refs)

    def row(self, exc: Exception_) -> dict[str, Any]:
        row = self.describer.exception(exc, -1)
        row.pop("offset", None)
        row["signatures"] = [self.sig_text(r.id) for r in exc.signatures]
        return row

    def sig_text(self, sig_id: int) -> str:
        sig = self.sigs.get(sig_id)
        label = signature_label(sig_id, self.describer.config)
        if sig is None:
            return f"{label} (missing)"
        return f"{label} {self.describer.signature(sig, -1, 0).get('summary', '')}".strip()

    def sig_row(self, sig: Signature) -> dict[str, Any]:
        row = self.describer.signature(sig, -1, 0)
        for key in ("offset", "used_by"):
            row.pop(key, None)
        return row


def diff_sets(
    a: Side, b: Side, *, config: Config | None = None, resolver: NameResolver | None = None
) -> DiffResult:
    """Added / removed / changed exceptions and signatures from ``a`` to ``b``."""
    cfg = config or load_config()
    present = {s.id for s in a.model.signatures} | {s.id for s in b.model.signatures}
    describer = _Describer(cfg, resolver, present)
    sa, sb = _Side(a, describer), _Side(b, describer)
    result = DiffResult()
    if a.binary and b.binary:
        for label, va, vb in (
            ("version", f"{a.model.major}.{a.model.minor}", f"{b.model.major}.{b.model.minor}"),
            ("build", a.model.build, b.model.build),
        ):
            if va != vb:
                result.header.append({"field": label, "a": va, "b": vb})
    for side, name in ((a, "A"), (b, "B")):
        raw = [r for r in side.model.records if isinstance(r, RawObject)]
        if raw:
            result.notes.append(f"{name} ({side.label}) has {len(raw)} object(s) of unknown type, not compared")

    # exceptions: multiset difference of full content, then pair leftovers by identity
    ca = Counter(sa.full(e) for e in sa.exceptions)
    cb = Counter(sb.full(e) for e in sb.exceptions)
    only_a = ca - cb
    only_b = cb - ca
    left_a = _take(sa.exceptions, only_a, sa.full)
    left_b = _take(sb.exceptions, only_b, sb.full)
    by_id_a: dict[tuple[Any, ...], list[Exception_]] = {}
    by_id_b: dict[tuple[Any, ...], list[Exception_]] = {}
    for e in left_a:
        by_id_a.setdefault(exception_identity(e), []).append(e)
    for e in left_b:
        by_id_b.setdefault(exception_identity(e), []).append(e)
    for ident, olds in by_id_a.items():
        news = by_id_b.pop(ident, [])
        for old, new in zip(olds, news, strict=False):
            result.changed.append(_changed(sa, sb, old, new))
        for old in olds[len(news):]:
            result.removed.append(sa.row(old))
        for new in news[len(olds):]:
            result.added.append(sb.row(new))
    for news in by_id_b.values():
        result.added.extend(sb.row(n) for n in news)

    # signatures: by content; same id on both sides with other content is "changed"
    sca = Counter(sa.content.values())
    scb = Counter(sb.content.values())
    gone = _take(list(a.model.signatures), sca - scb, signature_content)
    new_sigs = _take(list(b.model.signatures), scb - sca, signature_content)
    new_by_id = {s.id: s for s in new_sigs}
    for old in gone:
        match = new_by_id.pop(old.id, None)
        if match is not None and match.KIND is old.KIND:
            ra, rb = sa.sig_row(old), sb.sig_row(match)
            fields = sorted(k for k in set(ra) | set(rb) if ra.get(k) != rb.get(k) and k != "summary")
            result.signatures_changed.append({"id": f"0x{old.id:08x}", "fields": fields, "a": ra, "b": rb})
        else:
            result.signatures_removed.append(sa.sig_row(old))
    result.signatures_added.extend(sb.sig_row(s) for s in new_sigs if s.id in new_by_id)
    return result


def _take(items: Iterable[Any], wanted: Counter[Any], key: Any) -> list[Any]:
    want = Counter(wanted)
    out = []
    for item in items:
        k = key(item)
        if want[k] > 0:
            want[k] -= 1
            out.append(item)
    return out


def _changed(sa: _Side, sb: _Side, old: Exception_, new: Exception_) -> dict[str, Any]:
    ra, rb = sa.row(old), sb.row(new)
    fields: list[str] = []
    entry: dict[str, Any] = {"exception": ra}
    if old.flags.value != new.flags.value:
        fields.append("flags")
        fa, fb = set(ra["flags"]), set(rb["flags"])
        entry["flags"] = {"added": sorted(fb - fa), "removed": sorted(fa - fb)}
    ka = Counter(sa.content.get(r.id, ("missing", r.id)) for r in old.signatures)
    kb = Counter(sb.content.get(r.id, ("missing", r.id)) for r in new.signatures)
    if ka != kb:
        fields.append("signatures")
        removed = _take([r.id for r in old.signatures], ka - kb, lambda i: sa.content.get(i, ("missing", i)))
        added = _take([r.id for r in new.signatures], kb - ka, lambda i: sb.content.get(i, ("missing", i)))
        entry["signatures"] = {"added": [sb.sig_text(i) for i in added], "removed": [sa.sig_text(i) for i in removed]}
    entry["fields"] = fields
    return entry
