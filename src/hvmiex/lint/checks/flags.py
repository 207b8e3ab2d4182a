"""Checks about flags and object types that cannot match together (HX3xx)."""

from __future__ import annotations

from collections.abc import Iterator

from hvmiex.errors import Diagnostic, Severity
from hvmiex.lint.checks.common import flags_of, is_linux, kind_of, name_field, obj_type
from hvmiex.lint.facts import (
    ACCESS,
    ANY_NAME,
    ARCH32,
    ARCH64,
    EXEC,
    FEEDBACK,
    IGNORE,
    INTEGRITY,
    KM_INTEGRITY_TYPES,
    KM_WINDOWS_ONLY,
    NON_DRIVER,
    NONE_NAME,
    RETURN,
    UM_WINDOWS_ONLY,
    WRITE,
    access_names,
    access_table,
)
from hvmiex.lint.framework import Check, LintContext, LintModel
from hvmiex.model.enums import ExceptionKind


class AccessCannotMatch(Check):
    code = "HX301"
    name = "access-cannot-match"
    title = "Access or architecture flags that no violation of the object type carries"
    severity = Severity.ERROR
    help = "use the access the violation has (e.g. 'exec' for nx_zone and process-creation)"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in model.exceptions:
            kind = kind_of(entry)
            otype = obj_type(entry)
            flags = flags_of(entry)
            if not flags & (ARCH32 | ARCH64):
                # only possible with verbatim flags ({"raw": ...}): neither 32 nor 64 never matches
                yield self.diag(entry, "never matches: the flags have neither '32' nor '64'", field="flags")
            have = flags & ACCESS
            if not have:
                # verbatim flags without access: Introcore's loader adds one for kernel and user records only
                if kind in (ExceptionKind.KERNEL_USER, ExceptionKind.USER_GLOB):
                    yield self.diag(
                        entry,
                        f"never matches: no access flag, and Introcore adds none to {kind.value} exceptions at load",
                        field="flags",
                    )
                    continue
                have = EXEC if kind is not ExceptionKind.KERNEL and otype == "nx_zone" else WRITE
            possible = access_table(kind).get(otype)
            if possible is None or otype == "none":
                continue
            if not have & possible:
                extra = ""
                if kind is ExceptionKind.USER_APC and otype == "process-creation":
                    extra = " (a user-apc file gives process-creation 'write' by default, unlike a user file)"
                yield self.diag(
                    entry,
                    f"never matches: flags give access '{access_names(have)}' but {otype} violations are "
                    f"'{access_names(possible)}'{extra}",
                    field="flags",
                )


class WindowsOnlyType(Check):
    code = "HX302"
    name = "linux-windows-only"
    title = "'linux' exception for an object type that exists only on Windows"
    severity = Severity.ERROR
    help = "drop 'linux' or use an object type Linux guests produce"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in model.exceptions:
            if not is_linux(entry):
                continue
            kind = kind_of(entry)
            otype = obj_type(entry)
            table = KM_WINDOWS_ONLY if kind is ExceptionKind.KERNEL else UM_WINDOWS_ONLY
            if kind is not ExceptionKind.KERNEL_USER and otype in table:
                yield self.diag(
                    entry, f"never matches: '{otype}' violations only happen on Windows guests", field="flags"
                )
            if kind is ExceptionKind.KERNEL_USER:
                process = name_field(entry, "process")
                if process is not None and process.value != ANY_NAME:
                    yield self.diag(
                        entry,
                        "never matches: on Linux a kernel-user exception with a named process never matches",
                        field="process",
                    )


class IntegrityType(Check):
    code = "HX303"
    name = "integrity-type-mismatch"
    title = "'integrity' flag on an object type never checked by integrity"
    severity = Severity.ERROR
    help = "remove 'integrity', or use a type protected by integrity checks"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in model.exceptions:
            if kind_of(entry) is not ExceptionKind.KERNEL or not flags_of(entry) & INTEGRITY:
                continue
            otype = obj_type(entry)
            if otype not in KM_INTEGRITY_TYPES:
                yield self.diag(
                    entry,
                    f"never matches: 'integrity' requires an integrity violation, and '{otype}' is never one",
                    field="flags",
                )


class TypeNone(Check):
    code = "HX304"
    name = "object-type-none"
    title = "Object type 'none' never matches"
    severity = Severity.ERROR
    help = "use the object type the exception is meant for, or 'any'"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in model.exceptions:
            if int(entry.record.object_type) == 0:
                yield self.diag(entry, "object type 'none' never matches any violation", field="object_type")


class NonDriverWithoutReturn(Check):
    code = "HX305"
    name = "non-driver-never-matches"
    title = "Kernel 'non-driver' exception that no lookup reaches"
    severity = Severity.WARNING
    help = "use originator '-' (code outside any driver), or add 'return' to match on the return driver"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in model.exceptions:
            if kind_of(entry) is not ExceptionKind.KERNEL:
                continue
            flags = flags_of(entry)
            if not flags & NON_DRIVER or flags & (RETURN | FEEDBACK):
                continue
            orig = name_field(entry, "originator")
            if orig is not None and orig.value != NONE_NAME:
                yield self.diag(
                    entry,
                    "never matches: 'non-driver' needs code outside any driver (no originator name), but "
                    f"originator '{orig}' is only looked up for named drivers",
                    field="flags",
                )


class IgnoreFlag(Check):
    code = "HX306"
    name = "ignored-at-load"
    title = "Exception with the 'ignore' flag is dropped when Introcore loads the file"
    severity = Severity.INFO
    help = "remove the exception if it is not needed"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in model.exceptions:
            if flags_of(entry) & IGNORE:
                yield self.diag(entry, "has 'ignore': Introcore drops it at load time", field="flags")


CHECKS: tuple[type[Check], ...] = (
    AccessCannotMatch,
    WindowsOnlyType,
    IntegrityType,
    TypeNone,
    NonDriverWithoutReturn,
    IgnoreFlag,
)
