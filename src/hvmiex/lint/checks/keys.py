"""Checks on the JSON objects as written (HX6xx): keys the compiler silently ignores or overrides."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from hvmiex.errors import Diagnostic, Severity
from hvmiex.lint.checks.common import kind_of, sources_or_exceptions
from hvmiex.lint.framework import DISABLE_KEY, Check, Entry, LintContext, LintModel
from hvmiex.model.enums import ExceptionKind

_COMMON = frozenset({"originator", "object_type", "victim", "flags", "signatures", DISABLE_KEY})
EXCEPTION_KEYS: dict[ExceptionKind, frozenset[str]] = {
    ExceptionKind.KERNEL: _COMMON,
    ExceptionKind.USER: _COMMON | {"process"},
    ExceptionKind.USER_APC: _COMMON | {"process"},
    ExceptionKind.USER_GLOB: _COMMON | {"process"},
    ExceptionKind.KERNEL_USER: _COMMON | {"process"},
}
_SIG_COMMON = frozenset({"sig_type", "sig_id", "flags", "id", DISABLE_KEY})  # "id": hvmiex's pinned-id extension
SIGNATURE_KEYS: dict[str, frozenset[str]] = {
    "export": _SIG_COMMON | {"library", "hashes"},
    "value": _SIG_COMMON | {"score", "hashes"},
    "codeblocks": _SIG_COMMON | {"score", "hashes"},
    "value-code": _SIG_COMMON | {"pattern", "offset"},
    "idt": _SIG_COMMON | {"entry"},
    "version-os": _SIG_COMMON | {"minimum", "maximum"},
    "version-intro": _SIG_COMMON | {"minimum", "maximum"},
    "process-creation": _SIG_COMMON | {"create_mask"},
}


class DuplicateKey(Check):
    code = "HX601"
    name = "duplicate-key"
    title = "Key given twice in one object: the last value silently wins"
    severity = Severity.WARNING
    help = "keep one of the two values"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in (*sources_or_exceptions(model), *model.signatures):
            for key in entry.duplicate_keys:
                value = entry.raw.get(key) if entry.raw is not None else None
                yield self.diag(entry, f"'{key}' is given more than once; only the last value {value!r} is used",
                                field=key)  # fmt: skip


class UnknownKey(Check):
    code = "HX602"
    name = "unknown-key"
    title = "Key the compiler does not know: it is silently ignored"
    severity = Severity.WARNING
    help = "check the spelling; the compiler ignores unknown keys (e.g. 'signature' instead of 'signatures')"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in sources_or_exceptions(model):
            if entry.raw is not None:
                yield from self._keys(entry, EXCEPTION_KEYS[kind_of(entry)])
        for entry in model.signatures:
            allowed = SIGNATURE_KEYS.get(str(entry.raw.get("sig_type")) if entry.raw is not None else "")
            if allowed is not None:
                yield from self._keys(entry, allowed)

    def _keys(self, entry: Entry, allowed: frozenset[str]) -> Iterator[Diagnostic]:
        raw = entry.raw or {}
        for key in raw:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), sorted(allowed), n=1, cutoff=0.6)
                hint = f"did you mean '{close[0]}'?" if close else "allowed: " + ", ".join(sorted(allowed))
                yield self.diag(entry, f"unknown key '{key}' is ignored", field=str(key), hint=hint)


CHECKS: tuple[type[Check], ...] = (DuplicateKey, UnknownKey)
