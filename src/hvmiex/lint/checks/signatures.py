"""Checks about signatures and signature references (HX1xx)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from hvmiex.errors import Diagnostic, Severity
from hvmiex.lint.checks.common import arch_bits, flags_of, is_linux, kind_of
from hvmiex.lint.facts import ARCH32, ARCH64, LINUX, SIG_SHIFT
from hvmiex.lint.framework import Check, Entry, LintContext
from hvmiex.model.enums import ExceptionKind, SignatureFlag, SignatureKind, SignatureType
from hvmiex.model.records import CodeBlocksSignature, ExportSignature, ValueSignature


def _ref_key(ref: object) -> str | int:
    name = getattr(ref, "name", None)
    return name if name is not None else int(getattr(ref, "id", 0))


def _sig_key(entry: Entry) -> str | int:
    name = getattr(entry.record, "name", None)
    return name if name is not None else int(getattr(entry.record, "id", 0))


def referenced_keys(context: LintContext) -> set[str | int]:
    keys: set[str | int] = set()
    for entry in context.exceptions:
        for ref in entry.record.signatures:
            keys.add(_ref_key(ref))
            keys.add(int(ref.id))
    return keys


def unused_split(context: LintContext) -> tuple[list[Entry], list[Entry]]:
    """(dropped, kept) unused signatures, reproducing the compiler's removal walk (upstream quirk Q1)."""
    used = referenced_keys(context)
    ordered = sorted(context.signatures, key=lambda e: int(getattr(e.record, "id", 0)))
    dropped: list[Entry] = []
    kept: list[Entry] = []
    i = 0
    while i < len(ordered):
        if _sig_key(ordered[i]) not in used:
            dropped.append(ordered.pop(i))
        i += 1  # upstream quirk Q1: the element shifted into slot i is never examined
    kept = [e for e in ordered if _sig_key(e) not in used]
    return dropped, kept


class UnusedSignature(Check):
    code = "HX101"
    name = "unused-signature"
    title = "Signature defined but referenced by no exception"
    severity = Severity.WARNING
    help = "remove it, or reference it from the exception it was written for"

    def check(self, context: LintContext) -> Iterator[Diagnostic]:
        dropped, _ = unused_split(context)
        for entry in dropped:
            yield self.diag(entry, "is not referenced by any exception; the compiler drops it")


class UnusedSignatureKept(Check):
    code = "HX102"
    name = "unused-signature-kept"
    title = "Unused signature that the compiler keeps anyway (upstream quirk Q1)"
    severity = Severity.WARNING
    help = "remove it: it ships in exceptions.bin although nothing uses it"

    def check(self, context: LintContext) -> Iterator[Diagnostic]:
        _, kept = unused_split(context)
        for entry in kept:
            yield self.diag(
                entry,
                "is not referenced by any exception but is written to exceptions.bin anyway: the compiler "
                "never examines the signature right after a removed one (upstream quirk Q1)",
            )


class MissingSignature(Check):
    code = "HX103"
    name = "missing-signature"
    title = "Exception references a signature that is not defined"
    severity = Severity.ERROR
    help = "define the signature in a file with a top-level \"Signatures\" array, or fix the name"

    def check(self, context: LintContext) -> Iterator[Diagnostic]:
        names = {n for n in (getattr(e.record, "name", None) for e in context.signatures) if n is not None}
        ids = {int(getattr(e.record, "id", 0)) for e in context.signatures}
        for entry in context.exceptions:
            for ref in entry.record.signatures:
                if ref.name is not None:
                    if ref.name not in names:
                        yield self.diag(entry, f"signature '{ref.name}' is not defined", field="signatures")
                elif int(ref.id) not in ids:
                    yield self.diag(entry, f"signature id 0x{ref.id:08x} is not defined", field="signatures")


class CodeblocksScore(Check):
    code = "HX104"
    name = "codeblocks-score-too-high"
    title = "Codeblocks score larger than a hash list"
    severity = Severity.WARNING
    help = "lower 'score' to at most the length of the shortest list, or add hashes"

    def check(self, context: LintContext) -> Iterator[Diagnostic]:
        for entry in context.signatures:
            sig = entry.record
            if not isinstance(sig, CodeBlocksSignature) or not sig.lists:
                continue
            short = [i for i, lst in enumerate(sig.lists) if len(lst) < sig.score]
            if not short:
                continue
            if len(short) == len(sig.lists):
                yield self.diag(
                    entry,
                    f"score {sig.score} is larger than every hash list (longest has "
                    f"{max(len(x) for x in sig.lists)} hashes): the signature can never match",
                    severity=Severity.ERROR,
                    field="score",
                )
            else:
                lists = ", ".join(f"#{i} ({len(sig.lists[i])})" for i in short)
                yield self.diag(
                    entry, f"score {sig.score} is larger than hash list(s) {lists}: those lists can never match",
                    field="score",
                )


class ValueScore(Check):
    code = "HX105"
    name = "value-score-too-high"
    title = "Value signature score larger than its number of hashes"
    severity = Severity.ERROR
    help = "lower 'score' to at most the number of entries in 'hashes'"

    def check(self, context: LintContext) -> Iterator[Diagnostic]:
        for entry in context.signatures:
            sig = entry.record
            if isinstance(sig, ValueSignature) and sig.score > len(sig.entries):
                yield self.diag(
                    entry,
                    f"score {sig.score} is larger than its {len(sig.entries)} hash(es): the signature can "
                    "never match",
                    field="score",
                )


class ExportLibraryCase(Check):
    code = "HX106"
    name = "export-library-case"
    title = "Export signature library written with upper-case letters (upstream quirk Q25)"
    severity = Severity.WARNING
    help = "write 'library' in lower case: Introcore lower-cases module names before hashing"

    def check(self, context: LintContext) -> Iterator[Diagnostic]:
        for entry in context.signatures:
            sig = entry.record
            if isinstance(sig, ExportSignature):
                text = sig.library.text
                if text and text != text.lower() and not text.startswith("["):
                    yield self.diag(
                        entry,
                        f"library '{text}' is hashed as written (not folded); Introcore hashes the lower-case "
                        "module name, so this signature never matches",
                        field="library",
                    )


_STOCK_CODES = {int(t): SignatureKind[t.name] for t in SignatureType}


def _kind_of_id(sig_id: int) -> SignatureKind | None:
    return _STOCK_CODES.get(sig_id >> SIG_SHIFT)


def _groups(ids: Iterable[int]) -> list[list[int]]:
    groups: list[list[int]] = []
    for sid in sorted(ids):
        if groups and groups[-1][0] >> SIG_SHIFT == sid >> SIG_SHIFT:
            groups[-1].append(sid)
        else:
            groups.append([sid])
    return groups


def _usable(sig_flags: int, sig_kind: SignatureKind, exc: Entry) -> str | None:
    """Why a signature can never be used by this exception (None when it can)."""
    kind = kind_of(exc)
    sig_linux = bool(sig_flags & int(SignatureFlag.LINUX))
    if sig_linux != is_linux(exc):
        return "is for the other OS (linux flag differs)"
    if sig_flags & int(SignatureFlag.MEDIUM):
        medium_ok = {
            SignatureKind.CODEBLOCKS: {ExceptionKind.USER, ExceptionKind.USER_APC, ExceptionKind.USER_GLOB},
            SignatureKind.VALUE_CODE: {
                ExceptionKind.USER, ExceptionKind.USER_APC, ExceptionKind.USER_GLOB, ExceptionKind.KERNEL_USER
            },
        }.get(sig_kind)
        if medium_ok is not None and kind not in medium_ok:
            return "has 'medium', which is only used at the user-mode extraction level"
    if sig_kind is SignatureKind.EXPORT and kind is not ExceptionKind.KERNEL_USER:
        return None  # export on UM may depend on the victim's bitness; on KM/glob it always passes
    arch = arch_bits(exc)
    needs: set[bool] = set()
    if arch & ARCH64:
        needs.add(True)
    if arch & ARCH32:
        needs.add(False)
    ok = any(
        (sig_flags & int(SignatureFlag.ARCH64)) if n else (sig_flags & int(SignatureFlag.ARCH32)) for n in needs
    )
    if not ok:
        have = " ".join(x for b, x in ((ARCH32, "32"), (ARCH64, "64")) if arch & b) or "none"
        return f"has no architecture flag matching the exception's ({have})"
    return None


class SignatureNeverUsable(Check):
    code = "HX107"
    name = "signature-never-usable"
    title = "Exception whose signatures can never be used (OS, 32/64 or medium mismatch)"
    severity = Severity.ERROR
    help = "give the signature the same 'linux' and 32/64 flags as the exceptions that use it"

    def check(self, context: LintContext) -> Iterator[Diagnostic]:
        by_id = context.signature_by_id()
        for exc in context.exceptions:
            ids = [int(r.id) for r in exc.record.signatures]
            for group in _groups(ids):
                reasons: list[str] = []
                known = [by_id[i] for i in group if i in by_id]
                if not known:
                    continue  # HX103 reports missing ones
                for sig in known:
                    sig_kind = sig.record.KIND
                    why = _usable(flags_of(sig), sig_kind, exc)
                    if why is None:
                        break
                    reasons.append(f"'{getattr(sig.record, 'name', None) or hex(sig.record.id)}' {why}")
                else:
                    yield self.diag(
                        exc,
                        "never matches: no signature of its "
                        f"{known[0].record.KIND.value} group is usable: " + "; ".join(reasons),
                        field="signatures",
                    )


class SignatureKindMismatch(Check):
    code = "HX108"
    name = "signature-kind-mismatch"
    title = "Signature kind that cannot pass on this exception kind"
    severity = Severity.ERROR
    help = "idt signatures work only on kernel exceptions; process-creation signatures only on user ones"

    def check(self, context: LintContext) -> Iterator[Diagnostic]:
        for exc in context.exceptions:
            kind = kind_of(exc)
            for group in _groups(int(r.id) for r in exc.record.signatures):
                sig_kind = _kind_of_id(group[0])
                if sig_kind is None:
                    yield self.diag(
                        exc, f"signature id 0x{group[0]:08x} has an unknown kind code: Introcore reports an "
                        "internal error for this exception", field="signatures",
                    )
                elif sig_kind is SignatureKind.IDT and kind is not ExceptionKind.KERNEL:
                    yield self.diag(
                        exc, f"an idt signature never passes on a {kind.value} exception", field="signatures"
                    )
                elif sig_kind is SignatureKind.PROCESS_CREATION and kind is ExceptionKind.KERNEL:
                    yield self.diag(
                        exc, "a process-creation signature on a kernel exception is an internal error in "
                        "Introcore", field="signatures",
                    )
                elif sig_kind is SignatureKind.PROCESS_CREATION and kind is ExceptionKind.KERNEL_USER:
                    yield self.diag(
                        exc, "a process-creation signature on a kernel-user exception reads an unrelated "
                        "field: the outcome is undefined", field="signatures", severity=Severity.WARNING,
                    )


CHECKS: tuple[type[Check], ...] = (
    UnusedSignature,
    UnusedSignatureKept,
    MissingSignature,
    CodeblocksScore,
    ValueScore,
    ExportLibraryCase,
    SignatureNeverUsable,
    SignatureKindMismatch,
)
_ = LINUX
