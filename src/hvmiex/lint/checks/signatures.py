"""Checks about signatures and signature references (HX1xx)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from hvmiex.errors import Diagnostic, Severity
from hvmiex.lint.checks.common import arch_bits, flags_of, is_linux, kind_of
from hvmiex.lint.facts import ARCH32, ARCH64, SIG_SHIFT
from hvmiex.lint.framework import Check, Entry, LintContext, LintModel
from hvmiex.model.enums import ExceptionKind, SignatureFlag, SignatureKind, SignatureType
from hvmiex.model.records import CodeBlocksSignature, ExportSignature, ValueSignature


def _ref_key(ref: object) -> str | int:
    name = getattr(ref, "name", None)
    return name if name is not None else int(getattr(ref, "id", 0))


def _sig_key(entry: Entry) -> str | int:
    name = getattr(entry.record, "name", None)
    return name if name is not None else int(getattr(entry.record, "id", 0))


def referenced_keys(model: LintModel) -> set[str | int]:
    keys: set[str | int] = set()
    for entry in model.exceptions:
        for ref in entry.record.signatures:
            keys.add(_ref_key(ref))
            keys.add(int(ref.id))
    return keys


def unused_split(model: LintModel) -> tuple[list[Entry], list[Entry]]:
    """(dropped, kept) unused signatures. Which ones the compiler keeps (upstream quirk Q1) is read from
    the compiled file; without one, every unused signature counts as dropped."""
    used = referenced_keys(model)
    unused = [e for e in model.signatures if _sig_key(e) not in used]
    if model.compiled is None:
        return unused, []
    present = {id(s) for s in model.compiled.signatures}
    return [e for e in unused if id(e.record) not in present], [e for e in unused if id(e.record) in present]


class UnusedSignature(Check):
    code = "HX101"
    name = "unused-signature"
    title = "Signature defined but referenced by no exception"
    severity = Severity.WARNING
    help = "remove it, or reference it from the exception it was written for"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        dropped, _ = unused_split(model)
        for entry in dropped:
            yield self.diag(entry, "is not referenced by any exception; the compiler drops it")


class UnusedSignatureKept(Check):
    code = "HX102"
    name = "unused-signature-kept"
    title = "Unused signature that the compiler keeps anyway (upstream quirk Q1)"
    severity = Severity.WARNING
    help = "remove it: it ships in exceptions.bin although nothing uses it"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        _, kept = unused_split(model)
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

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        names = {n for n in (getattr(e.record, "name", None) for e in model.signatures) if n is not None}
        ids = {int(getattr(e.record, "id", 0)) for e in model.signatures}
        for entry in model.exceptions:
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

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in model.signatures:
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

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in model.signatures:
            sig = entry.record
            if isinstance(sig, ValueSignature) and sig.score > len(sig.entries):
                if sig.flags.value & int(SignatureFlag.CLI):
                    # a 'cli' group passes when the originator has no command line (spec 03 §9.5)
                    yield self.diag(
                        entry,
                        f"score {sig.score} is larger than its {len(sig.entries)} hash(es): it only passes for "
                        "processes without a command line",
                        field="score",
                        severity=Severity.WARNING,
                    )
                    continue
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

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in model.signatures:
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


_GUEST_ONLY = frozenset(
    {SignatureKind.IDT, SignatureKind.PROCESS_CREATION, SignatureKind.VERSION_OS, SignatureKind.VERSION_INTRO}
)
_MEDIUM_OK = {
    SignatureKind.CODEBLOCKS: frozenset({ExceptionKind.USER, ExceptionKind.USER_APC, ExceptionKind.USER_GLOB}),
    SignatureKind.VALUE_CODE: frozenset(
        {ExceptionKind.USER, ExceptionKind.USER_APC, ExceptionKind.USER_GLOB, ExceptionKind.KERNEL_USER}
    ),
}


def _usable(sig_flags: int, sig_kind: SignatureKind, exc: Entry) -> str | None:
    """Why a signature can never be used by this exception (None when it can), spec 03 §9.1-§9.4."""
    kind = kind_of(exc)
    if sig_kind is SignatureKind.EXPORT and kind in (ExceptionKind.KERNEL, ExceptionKind.USER_GLOB):
        return None  # the export verifier passes without looking for these kinds
    if bool(sig_flags & int(SignatureFlag.LINUX)) != is_linux(exc):
        return "is for the other OS (linux flag differs)"
    medium_ok = _MEDIUM_OK.get(sig_kind)
    if sig_flags & int(SignatureFlag.MEDIUM) and medium_ok is not None and kind not in medium_ok:
        return "has 'medium', which is only used at the user-mode extraction level"
    if sig_kind is SignatureKind.EXPORT:
        return None  # user-mode: may depend on the victim process's bitness
    arch = arch_bits(exc)
    user_windows = kind in (ExceptionKind.USER, ExceptionKind.USER_APC, ExceptionKind.USER_GLOB) and not is_linux(exc)
    needs: set[bool] = set()  # possible values of Introcore's "requires 64-bit" predicate
    if arch & ARCH64:
        needs.add(True)
    if arch & ARCH32:
        needs.add(False)
        if user_windows and sig_kind in _GUEST_ONLY:
            needs.add(True)  # a '32' user exception also matches WoW64 processes on 64-bit guests
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

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        by_id = model.signature_by_id()
        for exc in model.exceptions:
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

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for exc in model.exceptions:
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
