"""Files Introcore would refuse or load differently (HX5xx): loader pitfalls of spec 02 Q28 and limits
of spec 01 §8–§9."""

from __future__ import annotations

from collections.abc import Iterator

from hvmiex.binfile import layout as L
from hvmiex.errors import Diagnostic, Severity, SourceLocation
from hvmiex.lint.checks.common import flags_of, is_predefined, kind_of, name_field
from hvmiex.lint.facts import ALERT_COUNTER_BASE, FEEDBACK, NONE_NAME, SIG_COUNTER_LIMIT
from hvmiex.lint.framework import Check, Entry, LintContext, LintModel
from hvmiex.model.enums import ExceptionKind
from hvmiex.model.records import (
    CodeBlocksSignature,
    ExportSignature,
    GlobException,
    IdtSignature,
    KernelException,
    KernelUserException,
    RawObject,
    UserApcException,
    UserException,
    ValueCodeSignature,
    ValueSignature,
)

GLOB_LOADER_STRUCT = 200  # size of Introcore's glob struct with three 64-byte arrays
GLOB_STRING_MAX = 63  # bytes, plus the NUL (EXCEPTION_UM_GLOB_LENGTH = 64)
OBJECT_HEADER = L.OBJECT_HEADER.size
_ID = L.SIG_ID.size
_GLOB_FIELDS = ("originator", "victim", "process")


def _glob_strings(record: GlobException) -> int:
    return sum(len(L.encode_glob_string(getattr(record, f))) for f in _GLOB_FIELDS)


def body_size(record: object) -> int:
    """Size of a record's body in exceptions.bin, from the record declarations (without packing it, so
    that oversized records can be reported)."""
    if isinstance(record, RawObject):
        return len(record.body)
    if isinstance(record, GlobException):
        return L.GLOB_EXCEPTION.size + _glob_strings(record) + _ID * len(record.signatures)
    if isinstance(record, KernelException | UserException | UserApcException | KernelUserException):
        return L.KM_EXCEPTION.size + _ID * len(record.signatures)
    if isinstance(record, CodeBlocksSignature):
        return L.CB_SIGNATURE.size + sum(L.CB_LIST_COUNT.size + _ID * len(lst) for lst in record.lists)
    if isinstance(record, ExportSignature):
        return L.EXPORT_SIGNATURE.size + L.EXPORT_ENTRY.size * len(record.entries)
    if isinstance(record, ValueSignature):
        return L.VALUE_SIGNATURE.size + L.VALUE_ENTRY.size * len(record.entries)
    if isinstance(record, ValueCodeSignature):
        return L.VALUE_CODE_SIGNATURE.size + 2 * len(record.pattern)
    if isinstance(record, IdtSignature):
        return L.IDT_SIGNATURE.size
    return L.VERSION_OS_SIGNATURE.size  # version-os, version-intro, process-creation: 24 bytes each


def _exceptions_of(model: LintModel, kind: ExceptionKind) -> list[Entry]:
    return [e for e in model.exceptions if kind_of(e) is kind]


class NoExceptions(Check):
    code = "HX501"
    name = "no-exceptions"
    title = "File with no exceptions: Introcore refuses to load it"
    severity = Severity.ERROR
    help = "compile signature files together with the exception files that use them"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        if model.exceptions or context.written_exceptions or not (model.signatures or context.files):
            return  # (refused exception objects are reported by the reader)
        where = context.files[0] if context.files else None
        yield self.diag(
            None,
            "the compiled file would hold no kernel, user, kernel-user or glob exception: Introcore refuses "
            "such a file (INT_STATUS_INVALID_OBJECT_TYPE)",
            location=SourceLocation(where) if where else None,
        )


class GlobNeedsRoom(Check):
    code = "HX502"
    name = "glob-at-end"
    title = "Glob record too close to the end of the file: Introcore refuses it"
    severity = Severity.ERROR
    help = "Introcore needs ~200 bytes after each glob record's start; add signatures or move globs"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        globs = _exceptions_of(model, ExceptionKind.USER_GLOB)
        if not globs or model.compiled is None:
            return
        # walk the compiled file backwards; prefix globs occur twice (upstream quirk Q2): equal records
        records = model.compiled.records
        by_record: dict[object, Entry] = {e.record: e for e in globs}
        after = 0
        reported: set[int] = set()
        for rec in reversed(records):
            entry = by_record.get(rec) if isinstance(rec, GlobException) else None
            if entry is not None and id(entry) not in reported and isinstance(rec, GlobException):
                available = body_size(rec) + after  # from the start of its body to the end of the file
                need = GLOB_LOADER_STRUCT + L.GLOB_EXCEPTION.size + _glob_strings(rec)
                if available < need:
                    reported.add(id(entry))
                    yield self.diag(
                        entry,
                        f"only {available} bytes follow the start of this glob record in the compiled file; "
                        f"Introcore's loader needs {need} and refuses the whole file",
                    )
            after += OBJECT_HEADER + body_size(rec)


class KernelUserNoName(Check):
    code = "HX503"
    name = "kernel-user-noname"
    title = "Kernel-user exception with originator '-' lands in the kernel list and never matches"
    severity = Severity.WARNING
    help = "name the originator, use '*', or add 'feedback'"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in _exceptions_of(model, ExceptionKind.KERNEL_USER):
            orig = name_field(entry, "originator")
            if is_predefined(orig, NONE_NAME) and not flags_of(entry) & FEEDBACK:
                yield self.diag(
                    entry,
                    "Introcore's loader puts kernel-user exceptions with originator '-' in the kernel-mode "
                    "no-name list, where they never match",
                    field="originator",
                )


class Limits(Check):
    code = "HX504"
    name = "limits"
    title = "Counts or sizes over the limits of the binary format or the loader"
    severity = Severity.ERROR
    help = "split the object, or shorten the strings"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        count = len(model.signatures)
        if count >= ALERT_COUNTER_BASE and model.signatures:
            yield self.diag(
                model.signatures[-1],
                f"{count} signatures: ids from 0x200000 on collide with the ids Introcore gives alert "
                "signatures" + (" and overflow the 22-bit counter" if count >= SIG_COUNTER_LIMIT else ""),
                severity=Severity.ERROR if count >= SIG_COUNTER_LIMIT else Severity.WARNING,
            )
        for entry in model.exceptions:
            rec = entry.record
            if body_size(rec) > L.MAX_BODY:
                yield self.diag(entry, f"record body of {body_size(rec)} bytes exceeds 65535", field="signatures")
            if isinstance(rec, GlobException):
                for field in _GLOB_FIELDS:
                    size = len(getattr(rec, field).encode("utf-8"))
                    if size > GLOB_STRING_MAX:
                        yield self.diag(
                            entry,
                            f"glob string of {size} bytes: Introcore's loader accepts at most {GLOB_STRING_MAX} "
                            "and refuses the whole file",
                            field=field,
                        )
        for entry in model.signatures:
            rec = entry.record
            if body_size(rec) > L.MAX_BODY:
                yield self.diag(entry, f"record body of {body_size(rec)} bytes exceeds 65535")
            counted: list[tuple[str, int]] = []
            if isinstance(rec, CodeBlocksSignature):
                counted.append(("hashes", len(rec.lists)))
                counted.extend(("hashes", len(lst)) for lst in rec.lists)
            elif isinstance(rec, ExportSignature | ValueSignature):
                counted.append(("hashes", len(rec.entries)))
            for field, n in counted:
                if n > 255:
                    yield self.diag(entry, f"{n} items where the format stores at most 255", field=field)


CHECKS: tuple[type[Check], ...] = (NoExceptions, GlobNeedsRoom, KernelUserNoName, Limits)
