"""Checks about how exceptions relate to each other (HX2xx): duplicates, shadowing, breadth, trim clashes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from hvmiex.errors import Diagnostic, Severity
from hvmiex.lint.checks.common import FIELDS, flags_of, kind_of, name_field, obj_type
from hvmiex.lint.facts import (
    ACCESS,
    ANY_NAME,
    ARCH32,
    ARCH64,
    FEEDBACK,
    IGNORE,
    KM_RESTRICTING,
    KUM_KERNEL,
    KUM_RESTRICTING,
    KUM_USER,
    LINUX,
    NONAME,
    NONE_NAME,
    ONE_TIME,
    RETURN,
    RETURN_DRV,
    SIG_SHIFT,
    SMAP,
    SMEP,
    UM_PROCESS_CREATION,
    UM_RESTRICTING,
)
from hvmiex.lint.framework import Check, Entry, LintContext
from hvmiex.model.enums import ExceptionKind, SignatureType
from hvmiex.model.records import GlobException

_FAMILY = {
    ExceptionKind.KERNEL: "km",
    ExceptionKind.USER: "um",
    ExceptionKind.USER_APC: "um",  # sorted and matched together with user exceptions
    ExceptionKind.USER_GLOB: "glob",
    ExceptionKind.KERNEL_USER: "kum",
}


def _value(entry: Entry, field: str) -> int | str:
    rec = entry.record
    if isinstance(rec, GlobException):
        return str(getattr(rec, field))
    name = name_field(entry, field)
    return name.value if name is not None else 0


def _sig_ids(entry: Entry) -> tuple[int, ...]:
    return tuple(sorted(int(r.id) for r in entry.record.signatures))


def record_key(entry: Entry) -> tuple[object, ...]:
    return (
        _FAMILY[kind_of(entry)],
        _value(entry, "originator"),
        _value(entry, "victim"),
        _value(entry, "process") if kind_of(entry) is not ExceptionKind.KERNEL else 0,
        int(entry.record.object_type),
        flags_of(entry),
        _sig_ids(entry),
    )


def _where(entry: Entry) -> str:
    return str(entry.location) if entry.location is not None else entry.describe()


class DuplicateException(Check):
    code = "HX201"
    name = "duplicate-exception"
    title = "Exception identical to an earlier one"
    severity = Severity.WARNING
    help = "remove one of the two"

    def check(self, context: LintContext) -> Iterator[Diagnostic]:
        first: dict[tuple[object, ...], Entry] = {}
        for entry in context.exceptions:
            key = record_key(entry)
            earlier = first.get(key)
            if earlier is None:
                first[key] = entry
            else:
                yield self.diag(entry, f"compiles to the same record as the exception at {_where(earlier)}")


# ------------------------------------------------------------------------------------------ shadowing


def _list_of(entry: Entry) -> str:
    """Which of Introcore's lists the record is loaded into (spec 01 §9.4, spec 03 §5.1)."""
    family = _FAMILY[kind_of(entry)]
    flags = flags_of(entry)
    orig = _value(entry, "originator")
    if family == "um" and obj_type(entry) == UM_PROCESS_CREATION:
        return "um-pc-fb" if flags & FEEDBACK else "um-pc"
    if flags & FEEDBACK:
        return family + "-fb"
    if orig == ANY_NAME:
        return family + "-generic"
    if orig == NONE_NAME:
        return family + "-noname"
    return family + "-bucket"


def _restricting(entry: Entry) -> int:
    family = _FAMILY[kind_of(entry)]
    if family == "km":
        return KM_RESTRICTING & ~(SMAP | SMEP)
    if family == "kum":
        return KUM_RESTRICTING
    return UM_RESTRICTING


def _must_equal(entry: Entry) -> int:
    family = _FAMILY[kind_of(entry)]
    if family == "km":
        return RETURN | RETURN_DRV | LINUX
    if family == "kum":
        return RETURN | RETURN_DRV | LINUX | KUM_USER | KUM_KERNEL
    return RETURN | LINUX


def covers(a: Entry, b: Entry) -> bool:
    """Does ``a`` match (and allow) every violation ``b`` matches and allows? (conservative)"""
    fa, fb = flags_of(a), flags_of(b)
    if (fa | fb) & IGNORE:
        return False
    if _FAMILY[kind_of(a)] == "um" and fa & ONE_TIME:
        return False  # stateful: consumed once, later violations reach the next candidates
    if (fa ^ fb) & _must_equal(a):
        return False
    if (fb & ACCESS) & ~fa or (fb & (ARCH32 | ARCH64)) & ~fa:
        return False
    if (fa & _restricting(a)) & ~(fb & _restricting(b)):
        return False
    ta, tb = int(a.record.object_type), int(b.record.object_type)
    if ta == 0 or tb == 0 or (ta != 1 and ta != tb):
        return False
    if _FAMILY[kind_of(a)] == "km" and obj_type(a) == "cr4":
        sa, sb = fa & (SMAP | SMEP), fb & (SMAP | SMEP)
        if sa != SMAP | SMEP and (sb & ~sa or not sb):
            return False
    va, vb = _value(a, "victim"), _value(b, "victim")
    if va != vb and va != ANY_NAME:
        return False
    if _FAMILY[kind_of(a)] != "km":
        pa, pb = _value(a, "process"), _value(b, "process")
        if pa != pb and pa != ANY_NAME:
            return False
    sa_ids, sb_ids = set(_sig_ids(a)), set(_sig_ids(b))
    if sa_ids and sa_ids != sb_ids:
        return False
    if not sa_ids and sb_ids and _FAMILY[kind_of(a)] == "um":
        export = int(SignatureType.EXPORT)
        if any(i >> SIG_SHIFT == export for i in sb_ids):
            return False  # spec 03 §8: injections into a module need an export signature
    return True


def precedes(a: Entry, b: Entry, pos: dict[int, int]) -> bool:
    """Is ``a`` evaluated before ``b`` for every violation that ``b`` matches? (spec 03 §6.3)"""
    la, lb = _list_of(a), _list_of(b)
    oa, ob = _value(a, "originator"), _value(b, "originator")
    family = _FAMILY[kind_of(a)]
    earlier = pos[id(a)] < pos[id(b)]  # stored order inside a list = the compiler's sorted order
    if la == lb:
        # bucket scans only evaluate equal originators; the other lists evaluate '*' entries for anyone
        return earlier and (oa == ob or (oa == ANY_NAME and not la.endswith("-bucket")))
    if la == "um-pc" and lb == "um-pc-fb":
        return oa in (ANY_NAME, ob)
    named_b = ob not in (ANY_NAME, NONE_NAME, NONAME) and not flags_of(b) & (RETURN | RETURN_DRV)
    if not named_b or (family == "kum" and flags_of(b) & KUM_KERNEL):
        return False
    if la == family + "-generic" and lb in (family + "-bucket", family + "-fb"):
        return True  # the generic list is scanned whenever the originator has a name
    return la == family + "-bucket" and lb == family + "-fb" and oa == ob


def _triple(entry: Entry) -> tuple[object, object, object]:
    process = _value(entry, "process") if kind_of(entry) is not ExceptionKind.KERNEL else ANY_NAME
    return _value(entry, "originator"), _value(entry, "victim"), process


class ShadowedException(Check):
    code = "HX202"
    name = "shadowed-exception"
    title = "Exception that never decides anything: an earlier, more general one always wins"
    severity = Severity.WARNING
    help = "remove it, or narrow the earlier exception"

    def check(self, context: LintContext) -> Iterator[Diagnostic]:
        by_family: dict[str, list[Entry]] = defaultdict(list)
        for entry in context.exceptions:
            family = _FAMILY[kind_of(entry)]
            if family != "glob":
                by_family[family].append(entry)
        for entries in by_family.values():
            order = sorted(range(len(entries)), key=lambda i: (entries[i].record.sort_key(), i))
            pos = {id(entries[i]): rank for rank, i in enumerate(order)}
            # a covering exception has each of originator, victim, process equal or '*': index on all three
            index: dict[tuple[object, object, object], list[Entry]] = defaultdict(list)
            for entry in entries:
                index[_triple(entry)].append(entry)
            keys = {id(e): record_key(e) for e in entries}
            for b in entries:
                o, v, p = _triple(b)
                combos = {(o2, v2, p2) for o2 in (o, ANY_NAME) for v2 in (v, ANY_NAME) for p2 in (p, ANY_NAME)}
                candidates = sorted((a for combo in combos for a in index.get(combo, ())), key=lambda a: pos[id(a)])
                for a in candidates:
                    if a is b or keys[id(a)] == keys[id(b)]:
                        continue  # identical records are HX201
                    if precedes(a, b, pos) and covers(a, b):
                        yield self.diag(
                            b,
                            f"is never reached: the exception at {_where(a)} is evaluated first by Introcore "
                            "and matches everything this one matches",
                        )
                        break


class OverBroadException(Check):
    code = "HX203"
    name = "over-broad-exception"
    title = "Exception with '*' originator and '*' victim and no signature"
    severity = Severity.WARNING
    help = "name the originator or the victim, or add a signature that narrows it"

    def check(self, context: LintContext) -> Iterator[Diagnostic]:
        for entry in context.exceptions:
            if entry.record.signatures or flags_of(entry) & IGNORE:
                continue
            if isinstance(entry.record, GlobException):
                broad = entry.record.originator == "*" and entry.record.victim in ("*", "")
            else:
                broad = _value(entry, "originator") == ANY_NAME and _value(entry, "victim") == ANY_NAME
            if broad:
                yield self.diag(
                    entry, f"allows every {obj_type(entry)} violation from any originator on any victim"
                )


class TrimCollision(Check):
    code = "HX204"
    name = "trim-collision"
    title = "Different names that the 14/15-character trim makes equal"
    severity = Severity.WARNING
    help = "the exception also covers every process whose name starts with the same characters"

    def check(self, context: LintContext) -> Iterator[Diagnostic]:
        users: dict[tuple[int, str], dict[str, list[tuple[Entry, str]]]] = defaultdict(dict)
        for entry in context.exceptions:
            for field in FIELDS:
                name = name_field(entry, field)
                if name is None or name.text is None or name.rule is None or name.rule.trim is None:
                    continue
                if name.origin.value != "hashed" or (name.rule.escapes and "\\x" in name.text):
                    continue
                text = name.text.lower() if name.rule.fold else name.text
                trim = name.rule.trim
                users[(trim, text[:trim])].setdefault(text, []).append((entry, field))
        for (trim, stored), names in users.items():
            if len(names) < 2:
                continue
            all_names = sorted(names)
            for full, uses in names.items():
                if len(full) <= trim:
                    continue
                others = ", ".join(f"'{n}'" for n in all_names if n != full)
                for entry, field in uses:
                    yield self.diag(
                        entry,
                        f"'{full}' is stored as its first {trim} characters '{stored}', which also names "
                        f"{others}",
                        field=field,
                    )


CHECKS: tuple[type[Check], ...] = (DuplicateException, ShadowedException, OverBroadException, TrimCollision)
