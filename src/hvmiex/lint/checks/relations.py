"""Checks about how exceptions relate to each other (HX2xx): duplicates, shadowing, breadth, trim clashes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

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
from hvmiex.lint.framework import Check, Entry, LintContext, LintModel
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

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        first: dict[tuple[object, ...], Entry] = {}
        for entry in model.exceptions:
            key = record_key(entry)
            earlier = first.get(key)
            if earlier is None:
                first[key] = entry
            else:
                yield self.diag(entry, f"compiles to the same record as the exception at {_where(earlier)}")


# ------------------------------------------------------------------------------------------ shadowing


@dataclass(frozen=True, slots=True)
class _Facts:
    """What shadowing looks at, computed once per exception."""

    entry: Entry
    family: str
    flags: int
    list: str  # which of Introcore's lists the record is loaded into (spec 01 §9.4, spec 03 §5.1)
    orig: object
    victim: object
    process: object
    type: int
    type_name: str
    sigs: frozenset[int]
    key: tuple[object, ...]
    pos: int  # rank in the compiler's sorted order = stored order inside each list


def _facts(entry: Entry, pos: int) -> _Facts:
    family = _FAMILY[kind_of(entry)]
    flags = flags_of(entry)
    orig = _value(entry, "originator")
    otype = obj_type(entry)
    if family == "um" and otype == UM_PROCESS_CREATION:
        lst = "um-pc-fb" if flags & FEEDBACK else "um-pc"
    elif flags & FEEDBACK:
        lst = family + "-fb"
    elif orig == ANY_NAME:
        lst = family + "-generic"
    elif orig == NONE_NAME:
        lst = family + "-noname"
    else:
        lst = family + "-bucket"
    process = _value(entry, "process") if family != "km" else ANY_NAME
    return _Facts(
        entry, family, flags, lst, orig, _value(entry, "victim"), process, int(entry.record.object_type), otype,
        frozenset(_sig_ids(entry)), record_key(entry), pos,
    )


_RESTRICTING = {"km": KM_RESTRICTING & ~(SMAP | SMEP), "kum": KUM_RESTRICTING, "um": UM_RESTRICTING}
_MUST_EQUAL = {
    "km": RETURN | RETURN_DRV | LINUX,
    "kum": RETURN | RETURN_DRV | LINUX | KUM_USER | KUM_KERNEL,
    "um": RETURN | LINUX,
}
_EXPORT_CODE = int(SignatureType.EXPORT)


def covers(a: _Facts, b: _Facts) -> bool:
    """Does ``a`` match (and allow) every violation ``b`` matches and allows? (conservative)"""
    fa, fb = a.flags, b.flags
    if (fa | fb) & IGNORE:
        return False
    if a.family == "um" and fa & ONE_TIME:
        return False  # stateful: consumed once, later violations reach the next candidates
    if (fa ^ fb) & _MUST_EQUAL[a.family]:
        return False
    if (fb & ACCESS) & ~fa or (fb & (ARCH32 | ARCH64)) & ~fa:
        return False
    restricting = _RESTRICTING[a.family]
    if (fa & restricting) & ~(fb & restricting):
        return False
    if a.type == 0 or b.type == 0 or (a.type != 1 and a.type != b.type):
        return False
    if a.family == "km" and a.type_name == "cr4":
        sa, sb = fa & (SMAP | SMEP), fb & (SMAP | SMEP)
        if sa != SMAP | SMEP and (sb & ~sa or not sb):
            return False
    if a.victim != b.victim and a.victim != ANY_NAME:
        return False
    if a.process != b.process and a.process != ANY_NAME:
        return False
    if a.sigs and a.sigs != b.sigs:
        return False
    # spec 03 §8: an injection into a module needs an export signature, so 'a' without one does not cover 'b'
    needs_export = a.family == "um" and any(i >> SIG_SHIFT == _EXPORT_CODE for i in b.sigs)
    return bool(a.sigs) or not needs_export


def precedes(a: _Facts, b: _Facts) -> bool:
    """Is ``a`` evaluated before ``b`` for every violation that ``b`` matches? (spec 03 §6.3)"""
    la, lb, family = a.list, b.list, a.family
    if la == lb:
        # bucket scans only evaluate equal originators; the other lists evaluate '*' entries for anyone
        return a.pos < b.pos and (a.orig == b.orig or (a.orig == ANY_NAME and not la.endswith("-bucket")))
    if la == "um-pc" and lb == "um-pc-fb":
        return a.orig in (ANY_NAME, b.orig)
    named_b = b.orig not in (ANY_NAME, NONE_NAME, NONAME) and not b.flags & (RETURN | RETURN_DRV)
    if not named_b or (family == "kum" and b.flags & KUM_KERNEL):
        return False
    if la == family + "-generic" and lb in (family + "-bucket", family + "-fb"):
        return True  # the generic list is scanned whenever the originator has a name
    return la == family + "-bucket" and lb == family + "-fb" and a.orig == b.orig


class ShadowedException(Check):
    code = "HX202"
    name = "shadowed-exception"
    title = "Exception that never decides anything: an earlier, more general one always wins"
    severity = Severity.WARNING
    help = "remove it, or narrow the earlier exception"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        by_family: dict[str, list[Entry]] = defaultdict(list)
        for entry in model.exceptions:
            family = _FAMILY[kind_of(entry)]
            if family != "glob":
                by_family[family].append(entry)
        for entries in by_family.values():
            order = sorted(range(len(entries)), key=lambda i: (entries[i].record.sort_key(), i))
            facts = [_facts(entries[i], rank) for rank, i in enumerate(order)]  # in stored order
            # a covering exception has each of originator, victim, process equal or '*': index on all three
            index: dict[tuple[object, object, object], list[_Facts]] = defaultdict(list)
            for f in facts:
                index[(f.orig, f.victim, f.process)].append(f)
            found: list[tuple[int, Diagnostic]] = []
            for b in facts:
                combos = {(o, v, p) for o in (b.orig, ANY_NAME) for v in (b.victim, ANY_NAME) for p in (b.process, ANY_NAME)}
                candidates = sorted((a for c in combos for a in index.get(c, ())), key=lambda a: a.pos)
                for a in candidates:
                    if a is b or a.key == b.key:
                        continue  # identical records are HX201
                    if precedes(a, b) and covers(a, b):
                        found.append((b.pos, self.diag(
                            b.entry,
                            f"is never reached: the exception at {_where(a.entry)} is evaluated first by "
                            "Introcore and matches everything this one matches",
                        )))  # fmt: skip
                        break
            yield from (d for _, d in found)


class OverBroadException(Check):
    code = "HX203"
    name = "over-broad-exception"
    title = "Exception with '*' originator and '*' victim and no signature"
    severity = Severity.WARNING
    help = "name the originator or the victim, or add a signature that narrows it"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in model.exceptions:
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

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        users: dict[tuple[int, str], dict[str, list[tuple[Entry, str]]]] = defaultdict(dict)
        for entry in model.exceptions:
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
