"""Upstream quirks that change what an exception means (HX4xx): spec 02 §16 and §6.8."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from hvmiex.errors import Diagnostic, Severity, SourceLocation
from hvmiex.lint.checks.common import (
    FIELDS,
    flag_tokens,
    flags_of,
    is_hashed,
    is_linux,
    is_predefined,
    kind_of,
    name_field,
    obj_type,
    sources_or_exceptions,
    text_of,
)
from hvmiex.lint.facts import INTEGRITY, KUM_KERNEL, MODULE_LOAD, NON_DRIVER, OWN_NAME, RETURN
from hvmiex.lint.framework import Check, Entry, LintContext, LintModel
from hvmiex.model.enums import ExceptionKind
from hvmiex.model.records import GlobException

_KM_VICTIMLESS = frozenset(
    {"msr", "ssdt", "cr4", "idt", "idt-reg", "gdt-reg", "infinity-hook", "hal-perf-counter", "interrupt-obj"}
)
_KM_INTEGRITY_SPECIAL = frozenset({"token-privs", "sud-modification", "security-descriptor", "acl-edit"})
# kernel-mode and kernel-user flag names that upstream leaks into the user-mode table (Q7)
_KERNEL_ONLY_FLAGS = frozenset({"non-driver", "return-drv", "smap", "smep", "integrity", "user", "kernel"})


def _group_fields(entry: Entry, groups: object) -> list[tuple[str, str]]:
    """(field, group) for every field of the entry, as written, that names a config group."""
    out: list[tuple[str, str]] = []
    if not isinstance(groups, dict) and not hasattr(groups, "keys"):
        return out
    glob = kind_of(entry) is ExceptionKind.USER_GLOB
    for field in FIELDS:
        text = text_of(entry, field)
        if not text:
            continue
        key = text if glob or is_linux(entry) else text.lower()
        if key in groups:  # type: ignore[operator]
            out.append((field, key))
    return out


class GroupDroppedUpstream(Check):
    code = "HX401"
    name = "group-dropped-upstream"
    title = "Group in a user-apc, kernel-user or glob exception: upstream drops the record (Q3)"
    severity = Severity.WARNING
    help = "hvmiex expands it; list the members by hand if the file must also build with upstream's compiler"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        kinds = (ExceptionKind.USER_APC, ExceptionKind.KERNEL_USER, ExceptionKind.USER_GLOB)
        for entry in sources_or_exceptions(model):
            if kind_of(entry) not in kinds:
                continue
            for field, group in _group_fields(entry, context.groups):
                yield self.diag(
                    entry,
                    f"names group '{group}': upstream's compiler silently drops this {kind_of(entry).value} "
                    "exception, hvmiex expands it (upstream quirk Q3)",
                    field=field,
                )


class GroupCrashesUpstream(Check):
    code = "HX402"
    name = "group-crashes-upstream"
    title = "Group in a kernel exception that upstream cannot expand (Q4)"
    severity = Severity.WARNING
    help = "hvmiex expands it; list the members by hand if the file must also build with upstream's compiler"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in sources_or_exceptions(model):
            if kind_of(entry) is not ExceptionKind.KERNEL:
                continue
            fields = _group_fields(entry, context.groups)
            if not fields:
                continue
            flags = flags_of(entry)
            otype = obj_type(entry)
            why = None
            if flags & RETURN:
                why = "'return'"
            elif flags & NON_DRIVER:
                why = "'non-driver'"
            elif flags & INTEGRITY and otype in _KM_INTEGRITY_SPECIAL:
                why = f"'integrity' on {otype}"
            elif otype in _KM_VICTIMLESS:
                why = f"victim-less type {otype}"
            if why is not None:
                field, group = fields[0]
                yield self.diag(
                    entry,
                    f"names group '{group}' together with {why}: upstream's compiler fails on this input, "
                    "hvmiex expands it (upstream quirk Q4)",
                    field=field,
                )


class EscapeLowercasedByGroup(Check):
    code = "HX403"
    name = "escape-lowercased-by-group"
    title = "\\x escapes in an exception that a group expands are ASCII-lower-cased (Q5)"
    severity = Severity.WARNING
    help = "write the escaped bytes in lower case, or list the group members by hand"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in sources_or_exceptions(model):
            if kind_of(entry) is not ExceptionKind.USER or is_linux(entry):
                continue
            groups = _group_fields(entry, context.groups)
            if not groups:
                continue
            for field in FIELDS:
                text = (text_of(entry, field) or "").lower()
                if text.startswith("*") and "\\x" in text:
                    raw = bytes.fromhex("".join(_escaped_hex(text)))
                    if raw != raw.lower():
                        yield self.diag(
                            entry,
                            f"'{text_of(entry, field)}' has escaped upper-case bytes, and group "
                            f"'{groups[0][1]}' expands this exception: the expanded records hash them "
                            "lower-cased (upstream quirk Q5)",
                            field=field,
                        )


def _escaped_hex(text: str) -> list[str]:
    out: list[str] = []
    i = text.find("\\x")
    while i >= 0:
        pair = text[i + 2 : i + 4]
        if len(pair) == 2 and all(c in "0123456789abcdef" for c in pair):
            out.append(pair)
        i = text.find("\\x", i + 2)
    return out


class KernelUserPredefined(Check):
    code = "HX404"
    name = "kernel-user-predefined"
    title = "'[kernel]'/'[hal]' where a kernel-user exception cannot use them (Q6, spec 02 §6.8)"
    severity = Severity.WARNING
    help = "name the module or process; with 'kernel' name the driver file (e.g. ntoskrnl.exe)"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in model.exceptions:
            if kind_of(entry) is not ExceptionKind.KERNEL_USER:
                continue
            for field in ("victim", "process"):
                name = name_field(entry, field)
                if name is not None and name.text and name.text.lower() in ("[kernel]", "[hal]"):
                    yield self.diag(
                        entry,
                        f"'{name.text}' is hashed as text in a kernel-user {field} (upstream quirk Q6): it "
                        "never matches",
                        field=field,
                    )
            orig = name_field(entry, "originator")
            if flags_of(entry) & KUM_KERNEL and (is_predefined(orig, 2) or is_predefined(orig, 3)):
                yield self.diag(
                    entry,
                    f"originator '{orig}' with 'kernel': Introcore looks up the calling driver's own name hash "
                    "without [kernel]/[hal] substitution, so this never matches",
                    field="originator",
                )


class KernelFlagInUserMode(Check):
    code = "HX405"
    name = "kernel-flag-in-user-mode"
    title = "Kernel-mode flag name in a user, user-apc or glob exception (Q7)"
    severity = Severity.ERROR
    help = "user-mode exceptions accept only common and user-mode flag names"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        kinds = (ExceptionKind.USER, ExceptionKind.USER_APC, ExceptionKind.USER_GLOB)
        for entry in sources_or_exceptions(model):
            if kind_of(entry) not in kinds:
                continue
            tokens = flag_tokens(entry) or ()
            bad = sorted(set(tokens) & _KERNEL_ONLY_FLAGS)
            if bad:
                yield self.diag(
                    entry,
                    f"flag(s) {', '.join(repr(b) for b in bad)} belong to kernel/kernel-user exceptions; upstream "
                    "accepts them here only after some kernel-user exception, with bits that mean something "
                    "else in user mode (upstream quirk Q7)",
                    field="flags",
                )


class VersionMasked(Check):
    code = "HX406"
    name = "version-masked"
    title = "version-os number that does not fit and is masked to 32 bits (Q17)"
    severity = Severity.WARNING
    help = "write a number between 0 and 4294967295"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in model.signatures:
            raw = entry.raw
            if raw is None or raw.get("sig_type") != "version-os":
                continue
            for key in ("minimum", "maximum"):
                value = raw.get(key)
                if not isinstance(value, str):
                    continue
                for part in value.split("."):
                    part = part.strip()
                    if part == "*":
                        continue
                    try:
                        number = int(part, 10)
                    except ValueError:
                        continue
                    if number < 0 or number > 0xFFFFFFFF:
                        yield self.diag(
                            entry,
                            f"{key} part {number} is masked to 0x{number & 0xFFFFFFFF:08x} (upstream quirk Q17)",
                            field=key,
                        )


class GlobNonAscii(Check):
    code = "HX407"
    name = "glob-non-ascii"
    title = "Non-ASCII glob text is stored truncated (Q18)"
    severity = Severity.WARNING
    help = "use ASCII glob patterns ('?' matches one character)"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in model.exceptions:
            rec = entry.record
            if not isinstance(rec, GlobException):
                continue
            for field in FIELDS:
                text = getattr(rec, field)
                if not text.isascii():
                    yield self.diag(
                        entry,
                        f"'{text}' is not ASCII: the record stores it cut to its character count, so Introcore "
                        "reads a different pattern (upstream quirk Q18)",
                        field=field,
                    )


class FlatHashList(Check):
    code = "HX408"
    name = "flat-hash-list"
    title = "Codeblocks 'hashes' or 'create_mask' given as strings are iterated per character (Q19)"
    severity = Severity.WARNING
    help = "write codeblocks hashes as a list of lists and create_mask as a list of names"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in model.signatures:
            raw = entry.raw
            if raw is None:
                continue
            if raw.get("sig_type") == "codeblocks":
                hashes = raw.get("hashes")
                if isinstance(hashes, list) and any(isinstance(h, str) for h in hashes):
                    yield self.diag(
                        entry,
                        "hash list items are strings, not lists: each character becomes a one-digit hash "
                        "(upstream quirk Q19)",
                        field="hashes",
                    )
            if raw.get("sig_type") == "process-creation" and isinstance(raw.get("create_mask"), str):
                yield self.diag(
                    entry, "create_mask is a string: each character is looked up as a flag name (upstream quirk "
                    "Q19)", field="create_mask",
                )


class LinuxNameTrimmed14(Check):
    code = "HX409"
    name = "linux-name-trimmed-14"
    title = "Linux task name of 15+ characters in a field trimmed to 14 (Q24)"
    severity = Severity.WARNING
    help = "a Linux comm keeps 15 characters; this field is cut to 14, so the hashes never agree"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in model.exceptions:
            if not is_linux(entry):
                continue
            for field in FIELDS:
                name = name_field(entry, field)
                if name is None or not is_hashed(name) or name.rule is None or name.text is None:
                    continue
                if name.rule.trim == 14 and len(name.text) > 14:
                    yield self.diag(
                        entry,
                        f"'{name.text}' is hashed on 14 characters, but Introcore hashes a Linux task name on "
                        "up to 15: it never matches (upstream quirk Q24)",
                        field=field,
                    )


class NonAsciiName(Check):
    code = "HX410"
    name = "non-ascii-name"
    title = "Non-ASCII name: compiler and Introcore fold and encode it differently (Q26)"
    severity = Severity.WARNING
    help = "Introcore folds only A-Z and hashes process names as 8-bit bytes; use the name's exact runtime form"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in model.exceptions:
            for field in FIELDS:
                name = name_field(entry, field)
                if name is not None and is_hashed(name) and name.text is not None and not name.text.isascii():
                    yield self.diag(
                        entry,
                        f"'{name.text}' contains non-ASCII characters: the compiled hash may differ from the "
                        "one Introcore computes (upstream quirk Q26)",
                        field=field,
                    )


class HashNeverMatches(Check):
    code = "HX411"
    name = "hash-never-matches"
    title = "Field hashed differently from what Introcore computes (spec 02 §6.8)"
    severity = Severity.WARNING
    help = "see spec 02 §6.8 for how to write the field so that it can match"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in model.exceptions:
            yield from self._one(entry)

    def _one(self, entry: Entry) -> Iterator[Diagnostic]:
        kind = kind_of(entry)
        otype = obj_type(entry)
        orig = name_field(entry, "originator")
        victim = name_field(entry, "victim")
        if kind is ExceptionKind.KERNEL:
            if is_linux(entry):
                for field, name in (("originator", orig), ("victim", victim)):
                    if is_hashed(name) and name is not None and name.rule is not None and name.rule.wide:
                        yield self.diag(
                            entry,
                            f"'{name.text}' is hashed wide, but Introcore hashes Linux kernel-module names "
                            "narrow: it never matches (use '*', '-' or '[kernel]')",
                            field=field,
                        )
            if otype in ("selfmap", "sud-exec") and victim is not None and victim.value != 0:
                yield self.diag(
                    entry, f"a {otype} victim other than '*' never matches (the runtime victim hash differs)",
                    field="victim",
                )
        if kind is ExceptionKind.USER_APC:
            if otype in ("process-creation", "process-creation-dpi"):
                for field, name in (("originator", orig), ("victim", victim)):
                    if is_hashed(name):
                        yield self.diag(
                            entry,
                            f"user-apc {otype} {field} '{name}' is hashed wide, Introcore hashes process names "
                            "narrow: it never matches (put it in a 'user' file)",
                            field=field,
                        )
            if otype == "double-agent" and is_hashed(orig) and not flags_of(entry) & MODULE_LOAD:
                yield self.diag(
                    entry,
                    f"user-apc double-agent originator '{orig}' is hashed narrow, the runtime module hash is "
                    "wide: it never matches (add 'module-load' or use a 'user' file)",
                    field="originator",
                )
        if is_predefined(orig, OWN_NAME) and kind is not ExceptionKind.USER_GLOB:
            yield self.diag(entry, "'[own]' as originator never matches", field="originator")
        if kind in (ExceptionKind.USER, ExceptionKind.USER_APC, ExceptionKind.KERNEL_USER) and is_predefined(
            victim, OWN_NAME
        ):
            yield self.diag(entry, "'[own]' works only as a kernel-mode victim; here it never matches", field="victim")


class GlobScanStop(Check):
    code = "HX412"
    name = "glob-scan-stop"
    title = "Glob originator starting with two backslashes stops Introcore's glob scan (spec 03 §5.3)"
    severity = Severity.WARNING
    help = "start the originator with a glob character or a letter"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in model.exceptions:
            rec = entry.record
            # upstream quirk Q2: only a two-backslash start puts a non-exempt record in the unsorted prefix
            if isinstance(rec, GlobException) and rec.originator.startswith("\\\\"):
                yield self.diag(
                    entry,
                    f"'{rec.originator}' lands in the unsorted glob prefix but is not exempt from the first-"
                    "character filter: originators sorting below '\\' (digits, upper case, '.', '-') stop "
                    "the glob scan here and never reach later glob exceptions",
                    field="originator",
                )


class FileTwice(Check):
    code = "HX413"
    name = "file-given-twice"
    title = "Same input file compiled twice (Q21)"
    severity = Severity.WARNING
    help = "pass each file once"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        counts = Counter(context.files)
        for path, n in counts.items():
            if n > 1:
                yield self.diag(
                    None,
                    f"is given {n} times: upstream compiles it {n} times (duplicated records or a duplicate-"
                    "signature error)",
                    location=SourceLocation(path),
                )


def _strings_with_slashes(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        if "//" in value:
            yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings_with_slashes(v, str(k) if not path else f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings_with_slashes(v, f"{path}[{i}]")


class SlashesInString(Check):
    code = "HX414"
    name = "slashes-in-string"
    title = "'//' inside a string: upstream's comment stripper cuts the line there (Q9)"
    severity = Severity.WARNING
    help = "hvmiex reads it correctly; upstream's compiler fails with a JSON error on this file"

    def check(self, model: LintModel, context: LintContext) -> Iterator[Diagnostic]:
        for entry in (*sources_or_exceptions(model), *model.signatures):
            if entry.raw is None:
                continue
            for path, text in _strings_with_slashes(entry.raw, ""):
                yield self.diag(
                    entry,
                    f"'{text}' contains '//': upstream removes everything from there to the end of the line as a "
                    "comment, so its compiler cannot read this file (upstream quirk Q9)",
                    field=path,
                )


CHECKS: tuple[type[Check], ...] = (
    GroupDroppedUpstream,
    GroupCrashesUpstream,
    EscapeLowercasedByGroup,
    KernelUserPredefined,
    KernelFlagInUserMode,
    VersionMasked,
    GlobNonAscii,
    FlatHashList,
    LinuxNameTrimmed14,
    NonAsciiName,
    HashNeverMatches,
    GlobScanStop,
    FileTwice,
    SlashesInString,
)
