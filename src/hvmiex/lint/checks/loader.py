"""Files Introcore would refuse or load differently (HX5xx): loader pitfalls of spec 02 Q28 and limits
of spec 01 §8–§9."""

from __future__ import annotations

from collections.abc import Iterator

from hvmiex.errors import Diagnostic, Severity, SourceLocation
from hvmiex.lint.checks.common import flags_of, is_predefined, kind_of, name_field
from hvmiex.lint.checks.signatures import unused_split
from hvmiex.lint.facts import ALERT_COUNTER_BASE, FEEDBACK, NONE_NAME, SIG_COUNTER_LIMIT
from hvmiex.lint.framework import Check, Entry, LintContext
from hvmiex.model.enums import ExceptionKind
from hvmiex.model.records import (
    CodeBlocksSignature,
    ExportSignature,
    GlobException,
    IdtSignature,
    ValueCodeSignature,
    ValueSignature,
)

OBJECT_HEADER = 3
GLOB_LOADER_STRUCT = 200  # size of Introcore's glob struct with three 64-byte arrays
GLOB_STRING_MAX = 63  # bytes, plus the NUL (EXCEPTION_UM_GLOB_LENGTH = 64)
MAX_BODY = 0xFFFF
_GLOB_PREFIX = ("*", "[", "]", "?", "\\\\")


def _glob_bytes(text: str) -> int:
    return len(text) + 1  # upstream quirk Q18: stored with its character count (+ NUL)


def body_size(record: object) -> int:
    """Size of a record's body in exceptions.bin (spec 01 §5–§6), without building it."""
    if isinstance(record, GlobException):
        strings = sum(_glob_bytes(getattr(record, f)) for f in ("originator", "victim", "process"))
        return 8 + strings + 4 * len(record.signatures)
    if hasattr(record, "originator"):
        return 20 + 4 * len(record.signatures)  # type: ignore[attr-defined]
    if isinstance(record, CodeBlocksSignature):
        return 10 + sum(1 + 4 * len(lst) for lst in record.lists)
    if isinstance(record, ExportSignature):
        return 16 + 8 * len(record.entries)
    if isinstance(record, ValueSignature):
        return 12 + 12 * len(record.entries)
    if isinstance(record, ValueCodeSignature):
        return 12 + 2 * len(record.pattern)
    if isinstance(record, IdtSignature):
        return 12
    return 24  # version-os, version-intro, process-creation


def _exceptions_of(context: LintContext, kind: ExceptionKind) -> list[Entry]:
    return [e for e in context.exceptions if kind_of(e) is kind]


class NoExceptions(Check):
    code = "HX501"
    name = "no-exceptions"
    title = "File with no exceptions: Introcore refuses to load it"
    severity = Severity.ERROR
    help = "compile signature files together with the exception files that use them"

    def check(self, context: LintContext) -> Iterator[Diagnostic]:
        if context.exceptions or not (context.signatures or context.files):
            return
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

    def check(self, context: LintContext) -> Iterator[Diagnostic]:
        globs = _exceptions_of(context, ExceptionKind.USER_GLOB)
        if not globs:
            return
        # compiled order: unsorted prefix (upstream quirk Q2), then all globs sorted, then signatures
        prefix = [e for e in globs if e.record.originator.startswith(_GLOB_PREFIX)]
        ordered = prefix + sorted(globs, key=lambda e: e.record.sort_key())
        dropped, _ = unused_split(context)
        dropped_ids = {id(e) for e in dropped}
        tail = sum(OBJECT_HEADER + body_size(s.record) for s in context.signatures if id(s) not in dropped_ids)
        after: list[int] = [0] * len(ordered)
        running = tail
        for i in range(len(ordered) - 1, -1, -1):
            after[i] = running
            running += OBJECT_HEADER + body_size(ordered[i].record)
        reported: set[int] = set()
        for entry, rest in zip(ordered, after, strict=True):
            rec = entry.record
            assert isinstance(rec, GlobException)
            strings = sum(_glob_bytes(getattr(rec, f)) for f in ("originator", "victim", "process"))
            available = body_size(rec) + rest  # from the start of its body to the end of the file
            need = GLOB_LOADER_STRUCT + 8 + strings
            if available < need and id(entry) not in reported:
                reported.add(id(entry))
                yield self.diag(
                    entry,
                    f"only {available} bytes follow the start of this glob record in the compiled file; "
                    f"Introcore's loader needs {need} and refuses the whole file",
                )


class KernelUserNoName(Check):
    code = "HX503"
    name = "kernel-user-noname"
    title = "Kernel-user exception with originator '-' lands in the kernel list and never matches"
    severity = Severity.WARNING
    help = "name the originator, use '*', or add 'feedback'"

    def check(self, context: LintContext) -> Iterator[Diagnostic]:
        for entry in _exceptions_of(context, ExceptionKind.KERNEL_USER):
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

    def check(self, context: LintContext) -> Iterator[Diagnostic]:
        count = len(context.signatures)
        if count >= ALERT_COUNTER_BASE and context.signatures:
            yield self.diag(
                context.signatures[-1],
                f"{count} signatures: ids from 0x200000 on collide with the ids Introcore gives alert "
                "signatures" + (" and overflow the 22-bit counter" if count >= SIG_COUNTER_LIMIT else ""),
                severity=Severity.ERROR if count >= SIG_COUNTER_LIMIT else Severity.WARNING,
            )
        for entry in context.exceptions:
            rec = entry.record
            if body_size(rec) > MAX_BODY:
                yield self.diag(entry, f"record body of {body_size(rec)} bytes exceeds 65535", field="signatures")
            if isinstance(rec, GlobException):
                for field in ("originator", "victim", "process"):
                    size = len(getattr(rec, field).encode("utf-8"))
                    if size > GLOB_STRING_MAX:
                        yield self.diag(
                            entry,
                            f"glob string of {size} bytes: Introcore's loader accepts at most {GLOB_STRING_MAX} "
                            "and refuses the whole file",
                            field=field,
                        )
        for entry in context.signatures:
            rec = entry.record
            if body_size(rec) > MAX_BODY:
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
