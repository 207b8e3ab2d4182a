"""The exceptions compiler: JSON sources -> model -> exceptions.bin bytes, byte-identical to upstream's
``exceptions.py`` for every input it accepts (spec 02), with the four deviations of spec 02 §16
(Q3, Q4, Q7, Q17) and clear diagnostics instead of tracebacks.

Pipeline: enumerate and read files -> construct signatures (ids in file order) -> construct exceptions
(groups expanded from the JSON entry as written, references resolved against all signatures) ->
partition and sort -> drop unused signatures (quirk Q1) -> serialize.
"""

from __future__ import annotations

import dataclasses
import difflib
import gc
import operator
import os
import struct
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hvmiex.binfile.layout import LayoutError, encode_glob_string, pack_record
from hvmiex.binfile.writer import pack_records, write_bytes
from hvmiex.config import Config, load_config
from hvmiex.errors import Diagnostic, InputError, Severity, SourceLocation
from hvmiex.model.enums import SIGNATURE_ID_SHIFT, ExceptionKind
from hvmiex.model.records import (
    KM_PATH_HASH,
    CodeBlocksSignature,
    Exception_,
    ExceptionSet,
    ExportHash,
    ExportSignature,
    GlobException,
    HeaderCounts,
    IdtSignature,
    KernelException,
    KernelUserException,
    ProcessCreationSignature,
    Record,
    Signature,
    UserApcException,
    UserException,
    ValueCodeSignature,
    ValueHash,
    ValueSignature,
    VersionIntroSignature,
    VersionOsSignature,
)
from hvmiex.model.values import FlagSet, IntroVersion, LinuxVersion, SignatureRef
from hvmiex.names import (
    IMAGE_BASE_NAME_LEN,
    LIX_COMM_LEN,
    HashRule,
    Name,
    NameOrigin,
    NameSyntaxError,
    has_escapes,
    looks_like_path,
    name_value,
    reduce_path,
)
from hvmiex.source.jsonc import JsonPath
from hvmiex.source.reader import SourceFile, enumerate_inputs, order_sources, read_source

U8, U16, U32 = 0xFF, 0xFFFF, 0xFFFFFFFF
MAX_BODY = 0xFFFF
ALERT_COUNTER_BASE = 0x200000

# object-type name sets of spec 02 §8 (names: a custom config keeps the names)
KM_ORIGINATOR_OPTIONAL = frozenset({"token-privs", "security-descriptor", "acl-edit", "sud-modification"})
KM_VICTIM_REQUIRED = frozenset({
    "driver", "driver imports", "driver code", "driver data", "driver resources", "drvobj", "fastio",
    "driver exports", "token-privs", "security-descriptor", "acl-edit", "sud-modification",
})  # fmt: skip
KM_VICTIM_FORBIDDEN = frozenset(
    {"msr", "ssdt", "cr4", "idt", "idt-reg", "gdt-reg", "infinity-hook", "hal-perf-counter", "interrupt-obj"}
)
KM_NARROW_VICTIM = frozenset({"token-privs", "security-descriptor", "acl-edit"})
UM_NARROW_ORIGINATOR = frozenset({
    "process", "thread-context", "peb32", "peb64", "apc-thread", "process-creation", "process-creation-dpi",
    "instrumentation-callback",
})  # fmt: skip
UM_NARROW_VICTIM = UM_NARROW_ORIGINATOR | {"double-agent"}
APC_NARROW = frozenset(
    {"process", "thread-context", "peb32", "peb64", "apc-thread", "double-agent", "instrumentation-callback"}
)
UM_VICTIM_REQUIRED = frozenset({"process", "module", "module imports"})
UM_PROCESS_REQUIRED = frozenset({"module", "module imports"})
UM_EXEC_TYPES = frozenset({"nx_zone", "process-creation", "process-creation-dpi"})
ACCESS_FLAGS = ("read", "write", "exec")
GLOB_PREFIX_START = ("*", "[", "]", "?", "\\\\")

# hashing rules (spec 02 §6.7)


@dataclass(frozen=True, slots=True)
class _Verbatim:
    """A name field given as {"hash": "0x..."} (decompiler extension)."""

    value: int


@dataclass(slots=True)
class _Ctx:
    """Where the object being built comes from, for diagnostics."""

    src: SourceFile
    path: JsonPath
    subject: str
    group_note: str = ""  # "(member 'x' of group '[g]' in field 'victim')"


def _subject(ctx: _Ctx) -> str:
    if ctx.subject:
        return ctx.subject
    if len(ctx.path) >= 2 and ctx.path[0] == "Exceptions":
        return f"{ctx.src.kind} exception #{ctx.path[1]}"
    return f"file {ctx.src.path}"


@dataclass(frozen=True, slots=True)
class CompileResult:
    exception_set: ExceptionSet
    diagnostics: tuple[Diagnostic, ...]  # warnings and notes (errors raise)
    files: tuple[str, ...]  # files compiled, in processing order
    dropped_signatures: tuple[str, ...]  # sig_id of each signature removed as unused
    defined_signatures: tuple[Signature, ...] = ()  # every signature defined, in id order (before dropping)
    data: bytes = field(repr=False, default=b"")  # the serialized file


def _as_config(config: Config | str | os.PathLike[str] | None) -> Config:
    if isinstance(config, Config):
        return config
    return load_config(None if config is None else os.fspath(config))


def compile_set(
    paths: Iterable[str | os.PathLike[str]],
    config: Config | str | os.PathLike[str] | None = None,
    build: int = 0,
    *,
    locations: bool = True,
) -> CompileResult:
    """Compile JSON files/folders into the model of an exceptions.bin (raises InputError on bad input).

    With ``locations`` every record carries the file:line:col of its JSON object (exceptions made by a
    group expansion share their entry's); ``hvmiex build`` turns it off to save time on huge inputs."""
    # the compiler makes millions of small acyclic objects: the cyclic collector would rescan them all
    # again and again (super-linear time), so it is paused for the run and restored afterwards
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _Compiler(_as_config(config), locations).run(list(paths), build)
    finally:
        if was_enabled:
            gc.enable()


def compile(
    paths: Iterable[str | os.PathLike[str]],
    config: Config | str | os.PathLike[str] | None = None,
    build: int = 0,
) -> bytes:
    """Compile JSON files/folders into exceptions.bin bytes."""
    return compile_set(paths, config, build, locations=False).data


def _did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def _allowed(choices: Iterable[str], limit: int = 40) -> str:
    items = sorted(choices)
    shown = ", ".join(items[:limit])
    return shown + (", ..." if len(items) > limit else "")


def _show(value: Any) -> str:
    return repr(value) if not isinstance(value, str) else f"'{value}'"


class _Compiler:
    def __init__(self, config: Config, locations: bool = True) -> None:
        self.config = config
        self.locations = locations  # give every record the position of its JSON object
        self.loc: SourceLocation | None = None
        self.problems: list[Diagnostic] = []
        self.notes: list[Diagnostic] = []
        self.rules: dict[tuple[Any, ...], HashRule] = {}
        self.names: dict[int, dict[Any, Name]] = {}  # id(interned rule) -> text -> Name
        self.namers: dict[int, Callable[[str], Name | None]] = {}  # id(interned rule) -> see _namer
        self.flag_tables: dict[str, Mapping[str, int]] = {
            sec: config.flag_table(sec) for sec in ("kernel-mode", "user-mode", "kernel-user-mode", "signatures")
        }
        self.flag_cache: dict[tuple[Any, ...], tuple[FlagSet, tuple[str, ...]]] = {}
        self.sig_kinds = dict(config.signature_types)  # a plain dict: faster lookups than the read-only view
        self.bounds_cache: dict[tuple[str, str, str], tuple[Any, Any]] = {}  # version signatures
        self.rule_library = self._rule(wide=True, fold=False, table="user-mode")  # export signatures
        self.rule_export = self._rule(wide=False, fold=False, table="signature")
        self.group_starts = frozenset(k[0] for k in config.groups if k)
        self.counts: HeaderCounts | None = None
        self.sig_flag_cache: dict[str | None, FlagSet] = {}
        self.user_types = config.types["user-mode"]
        self.um_rules: dict[tuple[Any, ...], tuple[HashRule, HashRule, HashRule]] = {}
        # fast path (see _fast_record): per kind, (object type, flags text) -> plan
        self.plans: dict[ExceptionKind, dict[Any, Any]] = {k: {} for k in ExceptionKind}
        # first characters that cannot start a group name, before or after lower-casing
        self.safe_first = _LOWER_IS_SELF - self.group_starts
        self.registry: dict[Any, SignatureRef] = {}
        self.sig_where: dict[Any, tuple[SourceFile, JsonPath]] = {}
        self.ids_used: dict[int, str] = {}
        self.counter = 0
        self.type_names: dict[str, dict[int, str]] = {
            s: {v: k for k, v in reversed(list(t.items()))} for s, t in config.types.items()
        }

    # ------------------------------------------------------------------ diagnostics

    def error(
        self, ctx: _Ctx, path_field: str | None, message: str, hint: str | None = None, code: str = "invalid",
        fld: str | None = None,
    ) -> None:
        """An error at ``ctx.path`` + ``path_field`` (``fld`` names the field when the path goes deeper)."""
        path = ctx.path + ((path_field,) if path_field else ())
        loc = ctx.src.locate(path, key=False)
        self.problems.append(
            Diagnostic(code, message + ctx.group_note, Severity.ERROR, loc, _subject(ctx), fld or path_field, hint)
        )

    def warn(self, ctx: _Ctx, fld: str | None, message: str, code: str = "warning") -> None:
        path = ctx.path + ((fld,) if fld else ())
        loc = ctx.src.locate(path)
        self.notes.append(Diagnostic(code, message, Severity.WARNING, loc, _subject(ctx), fld))

    # ------------------------------------------------------------------ driver

    def run(self, paths: list[str | os.PathLike[str]], build: int) -> CompileResult:
        if isinstance(build, bool) or not isinstance(build, int) or not 0 <= build <= U32:
            raise InputError(
                "invalid build number",
                (Diagnostic("build-range", f"build number {build!r} does not fit 32 bits", field="--build",
                            hint="allowed: 0..4294967295"),),
            )
        files = enumerate_inputs(paths, self.notes)
        if not files:
            raise InputError(
                "no input",
                (Diagnostic("no-input", "give at least one JSON file or folder", field="paths"), *self.notes),
            )
        sources: list[SourceFile] = []
        for f in files:
            s = read_source(f, self.problems)
            if s is not None:
                sources.append(s)
        sources = order_sources(sources)
        for s in sources:
            self._check_dispatch(s)
        # pass 1: signatures, ids allocated in file order then array order (spec 02 §10)
        signatures: list[Signature] = []
        for s in sources:
            if s.kind == "signatures":
                entries = s.data["Signatures"]
                if not isinstance(entries, list):
                    self.error(_Ctx(s, (), f"file {s.path}"), "Signatures", "must be a JSON array")
                    continue
                for i, entry in enumerate(entries):
                    sig = self._signature(s, i, entry)
                    if sig is not None:
                        signatures.append(sig)
                s.data = entries = None  # done with this JSON: free it now (peak memory on huge inputs)
        # pass 2: exceptions, groups expanded in place (spec 02 §11)
        exceptions: list[Exception_] = []
        for s in sources:
            kind = s.kind
            if kind is None or kind == "signatures":
                continue
            entries = s.data["Exceptions"]
            if not isinstance(entries, list):
                self.error(_Ctx(s, (), f"file {s.path}"), "Exceptions", "must be a JSON array")
                continue
            ekind = ExceptionKind(kind)
            if self.locations:
                for i, entry in enumerate(entries):
                    self._exception(s, i, ekind, entry, exceptions)
                s.data = entries = entry = None
                continue
            # hot loop: plain entries straight from the fast path, the others through _exception
            fast, plans, append = self._fast_record, self.plans[ekind], exceptions.append
            for i, entry in enumerate(entries):
                rec = fast(ekind, plans, entry) if type(entry) is dict else None
                if rec is None:
                    self._exception(s, i, ekind, entry, exceptions)
                else:
                    append(rec)
            s.data = entries = entry = None  # done with this JSON: free it now (peak memory on huge inputs)
        if self.problems:
            raise InputError("refused: nothing was written", tuple(self.problems) + tuple(self.notes))
        try:
            # packed in build order, while records lie close together in memory; arranged alongside
            packed = pack_records(exceptions)
        except (LayoutError, struct.error) as exc:  # every range is checked before; this is a safety net
            raise InputError("a value does not fit the binary format", (Diagnostic("range", str(exc)),)) from None
        records, dropped = self._arrange(exceptions, signatures, packed)
        del exceptions
        es = ExceptionSet(tuple(records), self.config.major, self.config.minor, build, self.counts)
        del records
        self._check_loadable(es)
        try:
            data = write_bytes(es, packed)
        except (LayoutError, struct.error) as exc:  # every range is checked before; this is a safety net
            raise InputError("a value does not fit the binary format", (Diagnostic("range", str(exc)),)) from None
        return CompileResult(
            es, tuple(self.notes), tuple(s.path for s in sources), tuple(dropped), tuple(signatures), data
        )

    def _check_dispatch(self, s: SourceFile) -> None:
        ctx = _Ctx(s, (), f"file {s.path}")
        data = s.data
        if not isinstance(data, dict):
            self.error(ctx, None, "the top level must be a JSON object", code="bad-file")
        elif "Type" not in data:
            self.error(ctx, None, "missing key 'Type'", "allowed Type values: " + ", ".join(
                ("kernel", "user", "user-apc", "user-glob-match", "kernel-user")), code="bad-file")
        elif s.kind is None:
            t = data["Type"]
            hint = None
            if isinstance(t, str):
                hint = _did_you_mean(t, ("kernel", "user", "user-apc", "user-glob-match", "kernel-user"))
            self.error(ctx, "Type",
                       f"invalid file: Type {_show(t)} with keys {sorted(map(str, data))}; a file needs an exception "
                       "Type (kernel, user, user-apc, user-glob-match, kernel-user) with 'Exceptions', or 'Signatures'",
                       hint, code="bad-file")  # fmt: skip

    # ------------------------------------------------------------------ arrangement (spec 02 §12, §13)

    def _arrange(
        self, exceptions: list[Exception_], signatures: list[Signature], packed: list[bytes] | None = None
    ) -> tuple[list[Record], list[str]]:
        """Records in file order (spec 02 §12, §13) and the sig_ids dropped. ``packed`` (optional): the
        bytes of each exception, in ``exceptions`` order; replaced by the bytes of the arranged exceptions."""
        # partition by index (exact type first, isinstance for anything else)
        km_i: list[int] = []
        um_i: list[int] = []
        kum_i: list[int] = []
        glob_i: list[int] = []
        by_type: dict[type, list[int]] = {
            KernelException: km_i, UserException: um_i, UserApcException: um_i, KernelUserException: kum_i,
            GlobException: glob_i,
        }  # fmt: skip
        types = list(map(type, exceptions))
        if set(types) <= by_type.keys():  # the usual case: exact classes, one pass per kind in C-speed comprehensions
            km_i += [i for i, t in enumerate(types) if t is KernelException]
            um_i += [i for i, t in enumerate(types) if t is UserException or t is UserApcException]
            kum_i += [i for i, t in enumerate(types) if t is KernelUserException]
            glob_i += [i for i, t in enumerate(types) if t is GlobException]
            exceptions_left: Iterable[tuple[int, Exception_]] = ()
        else:
            exceptions_left = enumerate(exceptions)
        del types
        for i, e in exceptions_left:
            target = by_type.get(type(e))
            if target is None:
                if isinstance(e, KernelException):
                    target = km_i
                elif isinstance(e, UserException | UserApcException):
                    target = um_i
                elif isinstance(e, KernelUserException):
                    target = kum_i
                else:
                    target = glob_i
            target.append(i)
        referenced = {r.id for sigs in map(_SIGS, exceptions) if sigs for r in sigs}
        at = exceptions.__getitem__
        km: list[Any] = list(map(at, km_i))
        um: list[Any] = list(map(at, um_i))
        kum: list[Any] = list(map(at, kum_i))
        glob: list[Any] = list(map(at, glob_i))
        # sort keys of spec 02 §12 as 20-byte big-endian strings: they order like the tuples of u32 and
        # compare with one memcmp (a value that is not a u32 raises struct.error: compare tuples then)
        try:
            km_o = _order([_KEY5(e.path_hash, e.originator.value, e.object_type, e.victim.value, e.flags.value)
                           for e in km])  # fmt: skip
            um_o = _order([_KEY5(e.originator.value, e.object_type, e.victim.value, e.process.value, e.flags.value)
                           for e in um])  # fmt: skip
            kum_o = _order([_KEY5(e.originator.value, e.process.value, e.object_type, e.victim.value, e.flags.value)
                            for e in kum])  # fmt: skip
        except struct.error:
            km_o = _order([(e.path_hash, e.originator.value, e.object_type, e.victim.value, e.flags.value) for e in km])
            um_o = _order([(e.originator.value, e.object_type, e.victim.value, e.process.value, e.flags.value)
                           for e in um])  # fmt: skip
            kum_o = _order([(e.originator.value, e.process.value, e.object_type, e.victim.value, e.flags.value)
                            for e in kum])  # fmt: skip
        # upstream quirk Q2: globs whose originator starts with a glob item are written twice: first
        # unsorted, then again inside the sorted list of all globs
        prefix_o = [j for j, g in enumerate(glob) if g.originator.startswith(GLOB_PREFIX_START)]
        glob_keys = [(g.originator, g.object_type, g.victim, g.process, g.flags.value) for g in glob]
        body_o = sorted(range(len(glob)), key=glob_keys.__getitem__)
        final = [km_i[j] for j in km_o]
        final += [um_i[j] for j in um_o]
        final += [kum_i[j] for j in kum_o]
        final += [glob_i[j] for j in prefix_o]
        final += [glob_i[j] for j in body_o]
        if packed is not None:
            packed[:] = map(packed.__getitem__, final)
        nkm, num_, nkum, nglob = len(km), len(um), len(kum), len(prefix_o) + len(body_o)
        del km, um, kum, glob, glob_keys
        signatures.sort(key=_REF_ID)  # (any record with an id)
        # upstream quirk Q1: the in-place removal skips the signature right after each removed one
        kept: list[Signature] = []
        dropped: list[str] = []
        j, n = 0, len(signatures)
        while j < n:
            s = signatures[j]
            if s.id in referenced:
                kept.append(s)
                j += 1
                continue
            dropped.append(s.name or f"0x{s.id:08x}")
            if j + 1 < n:
                nxt = signatures[j + 1]
                kept.append(nxt)
                if nxt.id not in referenced:
                    self.notes.append(Diagnostic(
                        "unused-signature-kept",
                        f"signature '{nxt.name}' is not used by any exception but is kept, as upstream does "
                        "(quirk Q1: the signature after a removed one is never examined)",
                        Severity.INFO, nxt.location, f"signature '{nxt.name}'"))  # fmt: skip
            j += 2
        records: list[Record] = list(map(at, final))
        records += kept
        self.counts = HeaderCounts(nkm, num_, len(kept), nglob, nkum)
        return records, dropped

    def _check_loadable(self, es: ExceptionSet) -> None:
        """Loader pitfalls the bytes cannot avoid (quirk Q28): warn, keep the bytes."""
        c = es.header_counts()
        if c.kernel == c.user == c.glob == c.kernel_user == 0:
            self.notes.append(Diagnostic(
                "no-exceptions", "the output holds no exceptions; Introcore refuses such a file (quirk Q28)",
                Severity.WARNING))  # fmt: skip
        if c.glob and c.signatures <= 40:  # 40+ signatures (15+ bytes each) always leave enough room
            tail = es.records[-c.signatures :] if c.signatures else ()
            after = sum(len(pack_record(r)) for r in tail)
            last = es.records[len(es.records) - c.signatures - 1]
            assert isinstance(last, GlobException)
            body = len(pack_record(last)) - 3
            strings = body - 8 - 4 * len(last.signatures)
            if body + after < 200 + 8 + strings:
                self.notes.append(Diagnostic(
                    "glob-loader-room",
                    f"Introcore's loader needs {200 + 8 + strings} bytes from the start of the last glob exception "
                    f"to the end of the file, there are {body + after} (quirk Q28): it will refuse this file; "
                    "add signatures after it",
                    Severity.WARNING, last.location, "user-glob-match exception"))  # fmt: skip

    # ------------------------------------------------------------------ field helpers

    def _name_field(self, ctx: _Ctx, entry: Mapping[str, Any], key: str) -> str | _Verbatim | None:
        """A name field: text, {"hash": ...} (verbatim value), or None when absent/null."""
        v = entry.get(key)
        if v is None or isinstance(v, str):
            return v
        if isinstance(v, dict) and set(v) == {"hash"}:
            h = self._hex(ctx, key, v["hash"], U32)
            return _Verbatim(h) if h is not None else None
        self.error(ctx, key, f"must be a string, got {_show(v)}", 'allowed: text, null, or {"hash": "0x1a2b3c4d"}')
        return None

    def _hex(self, ctx: _Ctx, fld: str, value: Any, limit: int) -> int | None:
        if isinstance(value, str):
            try:
                n = int(value, 16)
            except ValueError:
                self.error(ctx, fld, f"{_show(value)} is not a hexadecimal number", "e.g. \"0x1a2b3c4d\"")
                return None
            if 0 <= n <= limit:
                return n
            self.error(ctx, fld, f"{_show(value)} does not fit", f"allowed: 0x0..0x{limit:x}")
            return None
        self.error(ctx, fld, f"must be a hexadecimal string, got {_show(value)}", "e.g. \"0x1a2b3c4d\"")
        return None

    def _int(self, ctx: _Ctx, fld: str, value: Any, lo: int, hi: int, what: str | None = None) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(ctx, fld, f"{what or fld} must be a JSON integer, got {_show(value)}", f"allowed: {lo}..{hi}")
            return None
        if not lo <= value <= hi:
            self.error(ctx, fld, f"{what or fld} {value} is out of range", f"allowed: {lo}..{hi}")
            return None
        return value

    def _rule(
        self, wide: bool = False, fold: bool = True, trim: int | None = None, table: str | None = None,
        escapes: bool = False, path_reduce: bool = False, lower_bytes: bool = False,
    ) -> HashRule:
        """The interned HashRule for these settings (names are cached per interned rule)."""
        key = (wide, fold, trim, table, escapes, path_reduce, lower_bytes)
        r = self.rules.get(key)
        if r is None:
            r = self.rules[key] = HashRule(wide, fold, trim, table, escapes, path_reduce, lower_bytes)
            self.names[id(r)] = {}
        return r

    def _name(self, ctx: _Ctx, fld: str, text: str | _Verbatim | None, rule: HashRule) -> Name | None:
        if isinstance(text, _Verbatim):
            return Name.verbatim(text.value)
        cache = self.names.get(id(rule))
        if cache is None:  # a rule not made by _rule(): intern it
            rule = self._rule(rule.wide, rule.fold, rule.trim, rule.table, rule.escapes, rule.path_reduce,
                              rule.lower_bytes)  # fmt: skip
            cache = self.names[id(rule)]
        hit = cache.get(text)
        if hit is not None:
            return hit
        table = self.config.predefined.get(rule.table) if rule.table else None
        try:
            value, origin = name_value(text, rule, table)
        except NameSyntaxError as exc:
            self.error(ctx, fld, str(exc))
            return None
        n: Name = _new_name(value, text, rule, origin)
        cache[text] = n
        return n

    def _object_type(self, ctx: _Ctx, entry: Mapping[str, Any], section: str) -> tuple[int, str] | None:
        v = entry.get("object_type")
        table = self.config.types[section]
        if isinstance(v, int) and not isinstance(v, bool):
            if not 0 <= v <= U8:
                self.error(ctx, "object_type", f"object type {v} is out of range", "allowed: 0..255")
                return None
            return v, self.type_names[section].get(v, "")
        if isinstance(v, str):
            t = table.get(v)
            if t is None:
                hint = _did_you_mean(v, table)
                allowed = f"allowed {section} object types: {_allowed(table)}"
                self.error(ctx, "object_type", f"unknown object type '{v}'", f"{hint} {allowed}" if hint else allowed)
                return None
            if not 0 <= t <= U8:
                self.error(ctx, "object_type", f"config value {t} of object type '{v}' does not fit a byte")
                return None
            return t, v
        self.error(ctx, "object_type", f"must be a string, got {_show(v)}", f"allowed: {_allowed(table)}")
        return None

    def _flag_text(self, ctx: _Ctx, entry: Mapping[str, Any], signature: bool) -> str | int | None:
        """Flags text after step A (spec 02 §7.2), or the verbatim value of {"raw": ...}; None on error."""
        v = entry.get("flags")
        if isinstance(v, dict) and set(v) == {"raw"}:
            return self._hex(ctx, "flags", v["raw"], U32)
        if v is None or (signature and v == ""):
            return "32 64"
        if not isinstance(v, str):
            self.error(ctx, "flags", f"must be a string of space-separated flag names, got {_show(v)}")
            return None
        if "32" not in v and "64" not in v:
            v += " 32 64"
        return v

    def _encode_flags(self, ctx: _Ctx, tokens: Sequence[str], section: str, kind_label: str) -> int | None:
        table = self.flag_tables[section]
        value = 0
        ok = True
        for t in tokens:
            bit = table.get(t)
            if bit is None:
                ok = False
                if t == "":
                    self.error(ctx, "flags", "empty flag name (flags are separated by exactly one space)",
                               code="unknown-flag")  # fmt: skip
                    continue
                if section == "user-mode" and t in self.flag_tables["kernel-user-mode"]:
                    # hvmiex deviation Q7: kernel-mode names are not user-mode flags (their bits mean other things)
                    self.error(ctx, "flags", f"flag '{t}' is a kernel/kernel-user flag, not allowed in a {kind_label} "
                               "exception (upstream quirk Q7 accepted it with a colliding bit)",
                               f"allowed: {_allowed(table)}", code="unknown-flag")  # fmt: skip
                    continue
                hint = _did_you_mean(t, table)
                allowed = f"allowed for {kind_label}: {_allowed(table)}"
                self.error(ctx, "flags", f"invalid flag '{t}'", f"{hint} {allowed}" if hint else allowed,
                           code="unknown-flag")  # fmt: skip
                continue
            value |= bit
        return value & U32 if ok else None

    def _flags(
        self, ctx: _Ctx, e: Mapping[str, Any], kind: ExceptionKind, tname: str
    ) -> tuple[FlagSet, tuple[str, ...]] | None:
        """Final flags of an exception (spec 02 §7.2 steps A-C per kind), cached per (kind, text, type)."""
        raw = e.get("flags")
        key = (kind, raw, tname) if raw is None or isinstance(raw, str) else None
        if key is not None:
            hit = self.flag_cache.get(key)
            if hit is not None:
                return hit
        before = len(self.problems)
        ftext = self._flag_text(ctx, e, False)
        if ftext is None:
            return None
        section = _KIND_SECTION[kind]
        if isinstance(ftext, int):
            return FlagSet(ftext, (), raw=True), tuple(self._raw_tokens(ftext, section))
        tokens = ftext.split(" ")
        written = list(tokens)
        if kind is ExceptionKind.KERNEL and tname == "cr4" and "smep" not in tokens and "smap" not in tokens:
            self.error(ctx, "flags", "object type 'cr4' needs the flag 'smep' or 'smap'")
            return None
        if not any(t in tokens for t in ACCESS_FLAGS):
            if kind is ExceptionKind.USER_APC:
                tokens.append("exec" if tname == "nx_zone" else "write")
            elif kind in (ExceptionKind.USER, ExceptionKind.USER_GLOB):
                tokens.append("exec" if tname in UM_EXEC_TYPES else "write")
            else:
                tokens.append("write")
        if kind in (ExceptionKind.KERNEL, ExceptionKind.KERNEL_USER):
            if "non-driver" in tokens and "return-drv" not in tokens:
                tokens.append("return-drv")
            if kind is ExceptionKind.KERNEL and "return-drv" in written:
                self.error(ctx, "flags", "flag 'return-drv' is obsolete", "use 'return' (it implies return-drv)")
                return None
            if "return" in tokens:
                tokens.append("return-drv")
        elif tname == "nx_zone" and "exec" not in tokens:
            self.error(ctx, "flags", f"object type 'nx_zone' needs flag 'exec' (flags are '{' '.join(tokens)}')")
            return None
        label = {ExceptionKind.USER_GLOB: "user-glob-match"}.get(kind, kind.value)
        value = self._encode_flags(ctx, tokens, section, label)
        if value is None:
            return None
        result = FlagSet(value, tuple(tokens)), tuple(tokens)
        if key is not None and len(self.problems) == before:
            self.flag_cache[key] = result
        return result

    def _raw_tokens(self, value: int, section: str) -> list[str]:
        """Names whose bits are all set in a verbatim flags value (for the flag-dependent rules)."""
        return [k for k, b in self.flag_tables[section].items() if b and value & b == b]

    def _signature_refs(self, ctx: _Ctx, entry: Mapping[str, Any]) -> tuple[SignatureRef, ...] | None:
        v = entry.get("signatures")
        if not v:
            return ()
        if not isinstance(v, list):
            self.error(ctx, "signatures", f"must be a list of signature ids, got {_show(v)}")
            return None
        refs: list[SignatureRef] = []
        ok = True
        for i, name in enumerate(v):
            try:
                ref = self.registry.get(name)
            except TypeError:
                ref = None
            if ref is None:
                ok = False
                hint = _did_you_mean(name, [k for k in self.registry if isinstance(k, str)]) if isinstance(
                    name, str) else None  # fmt: skip
                ictx = _Ctx(ctx.src, (*ctx.path, "signatures", i), ctx.subject, ctx.group_note)
                self.error(ictx, None, f"signature {_show(name)} (signatures[{i}]) is not defined in any input file",
                           hint, code="missing-signature", fld="signatures")  # fmt: skip
                continue
            refs.append(ref)
        if not ok:
            return None
        refs.sort(key=lambda r: r.id)
        return tuple(refs)

    # ------------------------------------------------------------------ exceptions

    def _exception(self, s: SourceFile, i: int, kind: ExceptionKind, entry: Any, out: list[Exception_]) -> None:
        if self.locations:
            self.loc = s.locate(("Exceptions", i))
        if type(entry) is dict:
            fast = self._fast_record(kind, self.plans[kind], entry)
            if fast is not None:
                out.append(fast)
                return
        ctx = _Ctx(s, ("Exceptions", i), "")  # subject derived from the path when a message needs it
        if not isinstance(entry, dict):
            self.error(ctx, None, f"must be a JSON object, got {_show(entry)}")
            return
        starts = self.group_starts
        for f in _KM_FIELDS if kind is ExceptionKind.KERNEL else _UM_FIELDS:
            v = entry.get(f)  # cheap pre-filter: can this field name a group at all?
            if type(v) is str and v:
                c = v[0]
                if c in starts or (c not in _LOWER_IS_SELF and c.lower()[:1] in starts):
                    break
        else:
            rec: Exception_ | None
            if kind is ExceptionKind.USER:
                rec = self._um(ctx, entry, False, None)
            elif kind is ExceptionKind.USER_APC:
                rec = self._um(ctx, entry, True, None)
            else:
                rec = self._build(ctx, kind, entry, None)
            if rec is not None:
                out.append(rec)
            return
        for member, note, last_field in self._expand(ctx, kind, entry):
            mctx = ctx if not note else _Ctx(s, ctx.path, ctx.subject, note)
            rec = self._build(mctx, kind, member, last_field)
            if rec is not None:
                out.append(rec)

    # ------------------------------------------------------------------ fast path
    # Huge inputs are mostly plain entries: text names, a known object type, flags text seen before, no
    # group. ``_fast_record`` builds those directly from a per-(kind, object type, flags text) plan and
    # cached names. It accepts only entries the full path accepts, and builds the same record; anything
    # else (groups, verbatim values, errors, warnings, rare object types) returns None and goes through
    # the full path, which reports problems. Nothing here adds diagnostics.

    def _fast_record(self, kind: ExceptionKind, plans: dict[Any, Any], e: dict[str, Any]) -> Exception_ | None:
        """The record of a plain entry, or None (use the full path). ``plans``: this kind's plans."""
        tv = e.get("object_type")
        raw = e.get("flags")
        if type(tv) is not str or not tv or (raw is not None and type(raw) is not str):
            return None
        plan: Any = plans.get((tv, raw))
        if plan is None:
            plan = self._plan(kind, tv, raw)
            if plan is None:  # flags not seen yet: the full path fills the flag cache
                return None
            plans[(tv, raw)] = plan
        if plan is False:
            return None
        safe = self.safe_first
        orig = e.get("originator")
        if type(orig) is not str or not orig or (orig[0] not in safe and _maybe_group(orig, self.group_starts)):
            return None
        if plan[0] == _GLOB:
            return self._fast_glob(e, orig, plan)
        code, otype, tname, flagset, need_victim, no_victim, o_cache, o_new, v_cache, v_new, p_cache, p_new, maker = plan
        victim = e.get("victim")
        if not victim:
            if need_victim or (victim is not None and type(victim) is not str):
                return None
            victim = "*"
        elif (
            type(victim) is not str
            or (victim[0] not in safe and _maybe_group(victim, self.group_starts))
            or (no_victim and (code != _UM or victim != "*"))  # nx_zone: "*" allowed in a user exception
        ):
            return None
        sigs = e.get("signatures")
        if sigs:
            sigs = self._fast_refs(sigs)
            if sigs is None or len(sigs) > 16378:
                return None
        else:
            sigs = ()
        if code == _KM and orig[-1] in "\\/":  # a path ending with a separator: the full path decides
            return None
        o = o_cache.get(orig) or o_new(orig)
        v = v_cache.get(victim) or v_new(victim)
        if o is None or v is None:
            return None
        if code == _KM:
            return maker(o, v, flagset, otype, sigs, KM_PATH_HASH, self.loc)  # type: ignore[no-any-return]
        process = e.get("process")
        p: Name | None
        if not process:
            if process is not None and type(process) is not str:
                return None
            if code == _KUM:
                p = p_cache.get("*") or p_new("*")
            elif tname in UM_PROCESS_REQUIRED:
                return None
            else:
                p = _NO_PROCESS
        elif (
            type(process) is not str
            or (process[0] not in safe and _maybe_group(process, self.group_starts))
            or (code != _KUM and tname == "process")
        ):
            return None
        else:
            p = p_cache.get(process) or p_new(process)
        if p is None:
            return None
        return maker(o, v, p, flagset, otype, sigs, self.loc)  # type: ignore[no-any-return]

    def _fast_glob(self, e: dict[str, Any], orig: str, plan: tuple[Any, ...]) -> GlobException | None:
        otype, tname, flagset, need_victim, no_victim = plan[1:6]
        victim = e.get("victim")
        process = e.get("process")
        if type(victim) is not str or (process is not None and type(process) is not str):
            return None
        if (not victim and need_victim) or (victim and no_victim):
            return None
        if victim and victim[0] not in self.safe_first and _maybe_group(victim, self.group_starts):
            return None
        if process:
            if tname == "process" or (process[0] not in self.safe_first and _maybe_group(process, self.group_starts)):
                return None
        elif tname in UM_PROCESS_REQUIRED:
            return None
        else:
            process = ""
        whole = orig + victim + process
        if not ("*" in whole or "?" in whole or "[" in whole or "]" in whole or "\\\\" in whole):
            return None
        if not whole.isascii():  # the full path warns (quirk Q18)
            return None
        for pat in (orig, victim, process):
            if len(pat) > IMAGE_BASE_NAME_LEN and _glob_units(pat) > IMAGE_BASE_NAME_LEN:
                return None
        sigs = self._fast_refs(e.get("signatures"))
        if sigs is None or len(sigs) > 1000:
            return None
        return _new_glob(orig, victim or "*", process or "*", flagset, otype, sigs, self.loc)  # type: ignore[no-any-return]

    def _plan(self, kind: ExceptionKind, tv: str, raw: str | None) -> tuple[Any, ...] | bool | None:
        """What an entry of this kind, object type name and flags text gets: (kind code, object type, type name, flags,
        victim required, victim forbidden, ((rule, name cache) of originator, victim, process)).
        False: always the full path; None: flags not cached yet."""
        rules: tuple[HashRule, ...]
        section = _KIND_SECTION[kind]
        t = self.config.types[section].get(tv)
        if t is None or not 0 <= t <= U8:
            return False
        fl = self.flag_cache.get((kind, raw, tv))
        if fl is None:
            return None
        flagset, tokens = fl
        fold = "linux" not in tokens
        if kind is ExceptionKind.KERNEL:
            if tv in KM_ORIGINATOR_OPTIONAL:  # integrity-dependent originator rules
                return False
            orule = self._rule(wide=True, fold=fold, table="kernel-mode", path_reduce=True)
            vrule = self._rule(wide=True, fold=fold, table="kernel-mode")
            rules = (orule, vrule)
            need_victim, no_victim = tv in KM_VICTIM_REQUIRED, tv in KM_VICTIM_FORBIDDEN
        elif kind is ExceptionKind.KERNEL_USER:
            if "user" in tokens and "kernel" in tokens:
                return False
            if "user" in tokens:
                orule = self._rule(wide=False, fold=fold, trim=IMAGE_BASE_NAME_LEN, table="user-mode")
            else:
                orule = self._rule(wide=True, fold=fold, table="kernel-mode")
            rules = (orule, self._rule(wide=True, fold=fold, table="user-mode"),
                     self._rule(wide=False, fold=fold, trim=IMAGE_BASE_NAME_LEN, table="user-mode"))  # fmt: skip
            need_victim, no_victim = True, False
        elif kind is ExceptionKind.USER_GLOB:
            return (_GLOB, t, tv, flagset, tv in UM_VICTIM_REQUIRED, tv == "nx_zone")
        else:
            apc = kind is ExceptionKind.USER_APC
            module_load = "module-load" in tokens
            narrow = APC_NARROW if apc else UM_NARROW_ORIGINATOR
            vnarrow = tv in (APC_NARROW if apc else UM_NARROW_VICTIM)
            rkey = (apc, fold, tv in narrow and not module_load, vnarrow, None)
            um = self.um_rules.get(rkey)
            if um is None:
                um = self.um_rules[rkey] = self._um_rules(*rkey)
            rules = um
            # nx_zone: no victim ("*" allowed in a user exception; checked per entry)
            need_victim, no_victim = tv in UM_VICTIM_REQUIRED, tv == "nx_zone"
        namers: list[Any] = []
        for r in (*rules, self._rule())[:3]:  # KM has no process: any rule fills the slot
            namers += (self.names[id(r)], self._namer(r))
        code = _KIND_CODE[kind]
        maker = (_new_km, _new_um, _new_apc, _new_kum)[code]
        return (code, t, tv, flagset, need_victim, no_victim, *namers, maker)

    def _namer(self, rule: HashRule) -> Callable[[str], Name | None]:
        """For a cache miss of an interned rule: text -> new cached Name (spec 02 §6, as ``name_value``),
        None when the text is malformed. Specialised per rule: the fast path hashes every distinct text."""
        done = self.namers.get(id(rule))
        if done is not None:
            return done
        cache = self.names[id(rule)]
        table = self.config.predefined.get(rule.table) if rule.table else None
        fold, trim, escapes, path_reduce = rule.fold, rule.trim, rule.escapes, rule.path_reduce
        encoding = "utf-16-le" if rule.wide else "utf-8"
        errors = "surrogatepass" if rule.wide else "strict"
        crc = zlib.crc32
        hashed, predefined = NameOrigin.HASHED, NameOrigin.PREDEFINED

        def general(text: str) -> Name | None:
            try:
                value, origin = name_value(text, rule, table)
            except NameSyntaxError:
                return None
            n: Name = _new_name(value, text, rule, origin)
            cache[text] = n
            return n

        def name_of(text: str) -> Name | None:
            if not text:
                return general(text)
            t = text
            if path_reduce:
                try:
                    t = reduce_path(t)
                except NameSyntaxError:
                    return None
            if fold:
                t = t.lower()
            if escapes and t[:1] == "*" and "\\x" in t:
                return general(text)
            v = table.get(t) if table is not None else None
            if v is not None:
                n: Name = _new_name(v & U32, text, rule, predefined)
            else:
                if trim is not None:
                    t = t[:trim]
                n = _new_name(crc(t.encode(encoding, errors), U32), text, rule, hashed)
            cache[text] = n
            return n

        self.namers[id(rule)] = name_of
        return name_of

    def _fast_refs(self, v: Any) -> tuple[SignatureRef, ...] | None:
        """Resolved signature references, sorted by id; None when one is unknown or malformed."""
        if not v:
            return ()
        if type(v) is not list:
            return None
        registry = self.registry
        try:
            refs = [registry[name] for name in v]
        except (KeyError, TypeError):
            return None
        if len(refs) > 1:
            refs.sort(key=_REF_ID)
        return tuple(refs)

    def _linux(self, entry: Mapping[str, Any]) -> bool:
        f = entry.get("flags")
        if isinstance(f, str):
            return "linux" in f
        if isinstance(f, dict) and isinstance(f.get("raw"), str):
            try:
                return bool(int(f["raw"], 16) & self.config.flags["common"].get("linux", 0))
            except ValueError:
                return False
        return False

    def _group_key(self, kind: ExceptionKind, entry: Mapping[str, Any], fld: str) -> str | None:
        """The group named by ``fld`` (after the field's normalisation), if any."""
        v = entry.get(fld)
        if not isinstance(v, str) or not v:
            return None
        starts = self.group_starts
        if v[0] not in starts and v[0].lower()[:1] not in starts:
            return None
        sud_victim = kind is ExceptionKind.KERNEL and fld == "victim" and entry.get("object_type") == "sud-modification"
        if kind is not ExceptionKind.USER_GLOB and not self._linux(entry) and not sud_victim:
            v = v.lower()
        if kind is ExceptionKind.USER and has_escapes(v):
            return None
        return v if v in self.config.groups else None

    def _expand(
        self, ctx: _Ctx, kind: ExceptionKind, entry: dict[str, Any]
    ) -> Iterable[tuple[dict[str, Any], str, str | None]]:
        """Group expansion from the entry as written (hvmiex deviations Q3/Q4): originator outermost, then
        victim, then process; members that are groups expand depth-first. Yields (entry, note, last field)."""
        fields = _KM_FIELDS if kind is ExceptionKind.KERNEL else _UM_FIELDS
        starts = self.group_starts
        for f in fields:  # cheap pre-filter on the first character before any lower-casing
            v = entry.get(f)
            if isinstance(v, str) and v and (v[0] in starts or v[0].lower()[:1] in starts):
                break
        else:
            yield entry, "", None
            return
        if not any(self._group_key(kind, entry, f) for f in fields):
            yield entry, "", None
            return

        results: list[tuple[dict[str, Any], str, str | None]] = []

        def expand_field(e: dict[str, Any], idx: int, note: str, last: str | None, chain: tuple[str, ...]) -> None:
            if idx == len(fields):
                results.append((e, note, last))
                return
            fld = fields[idx]
            g = self._group_key(kind, e, fld)
            if g is None:
                expand_field(e, idx + 1, note, last, ())
                return
            if g in chain:
                self.error(ctx, fld, f"group '{g}' contains itself (through {' -> '.join((*chain, g))})",
                           code="group-cycle")  # fmt: skip
                return
            for m in self.config.groups[g]:
                child = dict(e)
                child[fld] = m
                sub = f" (member '{m}' of group '{g}' in field '{fld}')"
                # a member that is itself a group expands again on the same field
                if self._group_key(kind, child, fld) is not None:
                    expand_field(child, idx, note + sub, fld, (*chain, g))
                else:
                    expand_field(child, idx + 1, note + sub, fld, ())

        expand_field(entry, 0, "", None, ())
        yield from results

    def _build(self, ctx: _Ctx, kind: ExceptionKind, e: Mapping[str, Any], last: str | None) -> Exception_ | None:
        if kind is ExceptionKind.KERNEL:
            return self._km(ctx, e)
        if kind is ExceptionKind.USER_GLOB:
            return self._glob(ctx, e)
        if kind is ExceptionKind.KERNEL_USER:
            return self._kum(ctx, e)
        return self._um(ctx, e, kind is ExceptionKind.USER_APC, last)

    def _common_checks(self, ctx: _Ctx, e: Mapping[str, Any], required: bool) -> bool:
        ok = True
        for key in ("originator", "object_type"):
            if required and key not in e:
                self.error(ctx, key, f"required key '{key}' is missing", code="missing-key")
                ok = False
        return ok

    def _km(self, ctx: _Ctx, e: Mapping[str, Any]) -> KernelException | None:
        orig = self._name_field(ctx, e, "originator")
        victim = self._name_field(ctx, e, "victim")
        ot = self._object_type(ctx, e, "kernel-mode")
        sigs = self._signature_refs(ctx, e)
        if ot is None:
            return None
        otype, tname = ot
        if not orig and tname not in KM_ORIGINATOR_OPTIONAL:
            self.error(ctx, "originator", "originator cannot be missing",
                       f"only {', '.join(sorted(KM_ORIGINATOR_OPTIONAL))} may omit it")  # fmt: skip
            return None
        if isinstance(orig, str) and looks_like_path(orig):
            sep = "\\" if "\\" in orig else "/"
            if orig.endswith(sep):
                self.error(ctx, "originator", f"path '{orig}' ends with a separator", "give the driver file name")
                return None
        if not victim and tname in KM_VICTIM_REQUIRED:
            self.error(ctx, "victim", f"object type '{tname}' requires a victim name")
            return None
        if victim and tname in KM_VICTIM_FORBIDDEN:
            self.error(ctx, "victim", f"object type '{tname}' must not have a victim", "remove the victim field")
            return None
        fl = self._flags(ctx, e, ExceptionKind.KERNEL, tname)
        if fl is None:
            return None
        flagset, tokens = fl
        flags: int | None = flagset.value
        linux = "linux" in tokens
        integrity = "integrity" in tokens
        dash = "-"
        if tname in ("token-privs", "sud-modification") and integrity:
            if orig and not self._is_dash(orig, "kernel-mode"):
                self.error(ctx, "originator", f"object type '{tname}' with flag 'integrity' must not have an originator")
                return None
            orig = dash
        elif tname == "token-privs" and not orig:
            self.error(ctx, "originator", "originator cannot be missing for 'token-privs' without flag 'integrity'")
            return None
        if tname in ("security-descriptor", "acl-edit"):
            if not integrity:
                self.error(ctx, "flags", f"object type '{tname}' only works with flag 'integrity'")
                return None
            if orig and not self._is_dash(orig, "kernel-mode"):
                self.error(ctx, "originator", f"object type '{tname}' with flag 'integrity' must not have an originator")
                return None
            orig = dash
        if tname == "sud-modification" and not linux and not orig:
            self.error(ctx, "originator", "originator cannot be missing for 'sud-modification' without flag 'integrity'")
            return None
        if flags is None or sigs is None:
            return None
        if not victim:
            victim = "*"
        fold = not linux
        if tname == "sud-modification":
            vrule = self._rule(wide=False, fold=False, table="kernel-mode")
        elif tname in KM_NARROW_VICTIM:
            vrule = self._rule(wide=False, fold=fold, trim=IMAGE_BASE_NAME_LEN, table="kernel-mode")
        else:
            vrule = self._rule(wide=True, fold=fold, table="kernel-mode")
        o = self._name(ctx, "originator", orig, self._rule(wide=True, fold=fold, table="kernel-mode", path_reduce=True))
        v = (self.names[id(vrule)].get(victim) if type(victim) is str else None) or self._name(ctx, "victim", victim, vrule)
        if o is None or v is None or not self._sig_count_ok(ctx, sigs, 20):
            return None
        return _new_km(o, v, flagset, otype, sigs, KM_PATH_HASH, self.loc)  # type: ignore[no-any-return]

    def _is_dash(self, value: str | _Verbatim, table: str) -> bool:
        """A verbatim originator equal to '-' (as a decompiler writes integrity exceptions) is accepted."""
        return isinstance(value, _Verbatim) and value.value == self.config.predefined[table].get("-", 4)

    def _sig_count_ok(self, ctx: _Ctx, sigs: tuple[SignatureRef, ...], fixed: int) -> bool:
        if fixed + 4 * len(sigs) > MAX_BODY:
            self.error(ctx, "signatures", f"{len(sigs)} signatures make the record larger than 65535 bytes",
                       f"at most {(MAX_BODY - fixed) // 4}")  # fmt: skip
            return False
        return True

    def _um(self, ctx: _Ctx, e: Mapping[str, Any], apc: bool, last: str | None) -> UserException | UserApcException | None:
        if ("originator" not in e or "object_type" not in e) and not self._common_checks(ctx, e, True):
            return None
        orig = e.get("originator")
        if orig is not None and type(orig) is not str:
            orig = self._name_field(ctx, e, "originator")
        victim = e.get("victim")
        if victim is not None and type(victim) is not str:
            victim = self._name_field(ctx, e, "victim")
        process = e.get("process")
        if process is not None and type(process) is not str:
            process = self._name_field(ctx, e, "process")
        tv: Any = e.get("object_type")
        t = self.user_types.get(tv) if type(tv) is str else None
        ot: tuple[int, str] | None = (t, tv) if t is not None and 0 <= t <= U8 else self._object_type(ctx, e, "user-mode") if tv else None
        if not orig:
            self.error(ctx, "originator", "originator cannot be missing")
            return None
        if not e.get("object_type"):
            self.error(ctx, "object_type", "object type cannot be missing")
            return None
        sigs = self._signature_refs(ctx, e)
        if ot is None:
            return None
        otype, tname = ot
        if not victim and tname in UM_VICTIM_REQUIRED:
            self.error(ctx, "victim", f"object type '{tname}' requires a victim name")
            return None
        if tname == "nx_zone" and victim and (apc or victim != "*"):
            self.error(ctx, "victim", "object type 'nx_zone' must not have a victim",
                       None if apc else "omit it or use \"*\"")  # fmt: skip
            return None
        if not process and tname in UM_PROCESS_REQUIRED:
            self.error(ctx, "process", f"process cannot be missing for object type '{tname}'")
            return None
        if process and tname == "process":
            self.error(ctx, "process", "process must be missing for object type 'process'")
            return None
        fl = self._flags(ctx, e, ExceptionKind.USER_APC if apc else ExceptionKind.USER, tname)
        if fl is None:
            return None
        flagset, tokens = fl
        flags: int | None = flagset.value
        if flags is None or sigs is None:
            return None
        linux = "linux" in tokens
        module_load = "module-load" in tokens
        fold = not linux
        if not victim:
            victim = "*"
        if not process:
            process = None
        if apc:
            onarrow = tname in APC_NARROW and not module_load
            vnarrow = tname in APC_NARROW
        else:
            onarrow = tname in UM_NARROW_ORIGINATOR and not module_load
            vnarrow = tname in UM_NARROW_VICTIM
        rkey = (apc, fold, onarrow, vnarrow, last)
        rules = self.um_rules.get(rkey)
        if rules is None:
            rules = self.um_rules[rkey] = self._um_rules(apc, fold, onarrow, vnarrow, last)
        o = (self.names[id(rules[0])].get(orig) if type(orig) is str else None) or self._name(ctx, "originator", orig, rules[0])
        v = (self.names[id(rules[1])].get(victim) if type(victim) is str else None) or self._name(ctx, "victim", victim, rules[1])
        p = (self.names[id(rules[2])].get(process) if type(process) is str else None) or self._name(ctx, "process", process, rules[2]) if process is not None else _NO_PROCESS
        if o is None or v is None or p is None or (len(sigs) > 16378 and not self._sig_count_ok(ctx, sigs, 20)):
            return None
        return (_new_apc if apc else _new_um)(o, v, p, flagset, otype, sigs, self.loc)  # type: ignore[no-any-return]

    def _um_rules(
        self, apc: bool, fold: bool, onarrow: bool, vnarrow: bool, last: str | None
    ) -> tuple[HashRule, HashRule, HashRule]:
        """Hash rules of originator, victim, process for a user / user-apc exception (spec 02 §6.7)."""
        escapes = not apc  # \x escapes: user only
        trim = IMAGE_BASE_NAME_LEN if apc or fold else LIX_COMM_LEN  # apc: 14 even with linux

        def rule(narrow: bool, t: int, fld: str) -> HashRule:
            # upstream quirk Q5: a record rebuilt by group expansion has its \x bytes ASCII-lower-cased,
            # except in the field that was just replaced by a member
            lower = escapes and fold and last is not None and last != fld
            return self._rule(wide=not narrow, fold=fold, trim=t if narrow else None, table="user-mode",
                              escapes=escapes, lower_bytes=lower)  # fmt: skip

        # the process field is trimmed to 14 even with linux (upstream quirk Q24)
        return rule(onarrow, trim, "originator"), rule(vnarrow, trim, "victim"), rule(True, IMAGE_BASE_NAME_LEN, "process")

    def _kum(self, ctx: _Ctx, e: Mapping[str, Any]) -> KernelUserException | None:
        orig = self._name_field(ctx, e, "originator")
        victim = self._name_field(ctx, e, "victim")
        process = self._name_field(ctx, e, "process")
        if not orig:
            self.error(ctx, "originator", "originator cannot be missing")
            return None
        if not e.get("object_type"):
            self.error(ctx, "object_type", "object type cannot be missing")
            return None
        ot = self._object_type(ctx, e, "kernel-user-mode")
        if not victim:
            self.error(ctx, "victim", "victim cannot be missing")
            return None
        sigs = self._signature_refs(ctx, e)
        if ot is None:
            return None
        otype, _tname = ot
        fl = self._flags(ctx, e, ExceptionKind.KERNEL_USER, _tname)
        if fl is None:
            return None
        flagset, tokens = fl
        flags: int | None = flagset.value
        if "user" in tokens and "kernel" in tokens:
            self.error(ctx, "flags", "flags 'user' and 'kernel' exclude each other", "give at most one of them")
            return None
        if flags is None or sigs is None:
            return None
        fold = "linux" not in tokens
        if not process:
            process = "*"
        if "user" in tokens:
            orule = self._rule(wide=False, fold=fold, trim=IMAGE_BASE_NAME_LEN, table="user-mode")
        else:
            orule = self._rule(wide=True, fold=fold, table="kernel-mode")
        o = (self.names[id(orule)].get(orig) if type(orig) is str else None) or self._name(ctx, "originator", orig, orule)
        v = self._name(ctx, "victim", victim, self._rule(wide=True, fold=fold, table="user-mode"))
        p = self._name(ctx, "process", process,
                       self._rule(wide=False, fold=fold, trim=IMAGE_BASE_NAME_LEN, table="user-mode"))  # fmt: skip
        if o is None or v is None or p is None or not self._sig_count_ok(ctx, sigs, 20):
            return None
        return _new_kum(o, v, p, flagset, otype, sigs, self.loc)  # type: ignore[no-any-return]

    def _glob(self, ctx: _Ctx, e: Mapping[str, Any]) -> GlobException | None:
        if not self._common_checks(ctx, e, True):
            return None
        orig, victim, process = e.get("originator"), e.get("victim"), e.get("process")
        for key, val in (("originator", orig), ("victim", victim), ("process", process)):
            if val is not None and not isinstance(val, str):
                self.error(ctx, key, f"a glob pattern must be a string, got {_show(val)}")
                return None
        if not orig:
            self.error(ctx, "originator", "originator cannot be missing")
            return None
        if not e.get("object_type"):
            self.error(ctx, "object_type", "object type cannot be missing")
            return None
        ot = self._object_type(ctx, e, "user-mode")
        if ot is None:
            return None
        otype, tname = ot
        if not victim and tname in UM_VICTIM_REQUIRED:
            self.error(ctx, "victim", f"object type '{tname}' requires a victim name")
            return None
        if tname == "nx_zone" and victim:
            self.error(ctx, "victim", "object type 'nx_zone' must not have a victim", 'give "victim": ""')
            return None
        if not process and tname in UM_PROCESS_REQUIRED:
            self.error(ctx, "process", f"process cannot be missing for object type '{tname}'")
            return None
        if process and tname == "process":
            self.error(ctx, "process", "process must be missing for object type 'process'")
            return None
        if victim is None:
            self.error(ctx, "victim", "victim cannot be missing in a glob exception",
                       'give a pattern, "*", or "" for nx_zone')  # fmt: skip
            return None
        process = process or ""
        whole = orig + victim + process
        if not any(c in whole for c in "*[]?") and "\\\\" not in whole:
            self.error(ctx, None, "at least one of originator, victim, process must contain a glob item",
                       "glob items: * ? [ ] \\\\")  # fmt: skip
            return None
        for key, pat in (("process", process), ("victim", victim), ("originator", orig)):
            if pat and _glob_units(pat) > IMAGE_BASE_NAME_LEN:
                self.error(ctx, key, f"pattern too long: '{pat}'",
                           "at most 14 units (a character, a ? or a [...] class each count 1)")  # fmt: skip
                return None
        sigs = self._signature_refs(ctx, e)
        fl = self._flags(ctx, e, ExceptionKind.USER_GLOB, tname)
        if fl is None:
            return None
        flagset, _tokens = fl
        flags: int | None = flagset.value
        if flags is None or sigs is None:
            return None
        victim = victim or "*"
        process = process or "*"
        for key, pat in (("originator", orig), ("victim", victim), ("process", process)):
            if not pat.isascii():
                self.warn(ctx, key, f"non-ASCII glob text '{pat}' is stored cut to its character count (quirk Q18); "
                          "Introcore will misread the record", code="glob-non-ascii")  # fmt: skip
        if len(sigs) > 1000:
            size = 8 + sum(len(encode_glob_string(x)) for x in (orig, victim, process))
            if not self._sig_count_ok(ctx, sigs, size):
                return None
        return _new_glob(orig, victim, process, flagset, otype, sigs, self.loc)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ signatures

    def _signature(self, s: SourceFile, i: int, entry: Any) -> Signature | None:
        sid_text = entry.get("sig_id") if isinstance(entry, dict) else None
        subject = f"signature #{i} '{sid_text}'" if sid_text and isinstance(sid_text, (str, int)) else f"signature #{i}"
        ctx = _Ctx(s, ("Signatures", i), subject)
        if not isinstance(entry, dict):
            self.error(ctx, None, f"must be a JSON object, got {_show(entry)}")
            return None
        st = entry.get("sig_type")
        kinds = self.sig_kinds
        if st is None:
            self.error(ctx, "sig_type", "sig_type is required", f"allowed: {_allowed(kinds)}")
            return None
        if not isinstance(st, str) or st not in _SIG_BUILDERS or st not in kinds:
            hint = _did_you_mean(st, kinds) if isinstance(st, str) else None
            allowed = f"allowed: {_allowed(kinds)}"
            self.error(ctx, "sig_type", f"invalid signature type {_show(st)}", f"{hint} {allowed}" if hint else allowed)
            return None
        if "sig_id" not in entry:
            self.error(ctx, "sig_id", "required key 'sig_id' is missing", code="missing-key")
            return None
        if not sid_text:
            self.error(ctx, "sig_id", "sig_id is required (empty)")
            return None
        try:
            hash(sid_text)
        except TypeError:
            self.error(ctx, "sig_id", f"sig_id must be a string, got {_show(sid_text)}")
            return None
        builder = _SIG_BUILDERS[st]
        valid = builder.validate(self, ctx, entry)
        # the id is allocated after validation and before encoding, as upstream does
        if sid_text in self.registry:
            src, where = self.sig_where[sid_text]
            self.error(ctx, "sig_id", f"duplicated signature {_show(sid_text)}",
                       f"first defined at {src.locate(where)}", code="duplicate-signature")  # fmt: skip
            return None
        if not valid:
            return None
        self.counter += 1
        code = kinds[st]
        pinned = entry.get("id")
        if pinned is not None:
            num = self._int(ctx, "id", pinned, 0, U32, "pinned signature id")
            if num is None:
                return None
        else:
            if self.counter >= _COUNTER_LIMIT:
                self.error(ctx, "sig_id", "more than 4194303 signatures: the id counter overflows its 22 bits")
                return None
            if not 0 <= code < 1 << 10:
                self.error(ctx, "sig_type", f"config kind code {code} of '{st}' does not fit 10 bits")
                return None
            num = (code << SIGNATURE_ID_SHIFT) + self.counter
            if self.counter == ALERT_COUNTER_BASE:
                self.warn(ctx, "sig_id", "signature counters from 0x200000 collide with Introcore's alert ids")
        if num in self.ids_used:
            self.error(ctx, "id", f"signature id 0x{num:08x} is already used by '{self.ids_used[num]}'")
            return None
        name = sid_text if isinstance(sid_text, str) else str(sid_text)
        self.ids_used[num] = name
        ref = _new_ref(num, name)
        self.registry[sid_text] = ref
        self.sig_where[sid_text] = (s, ctx.path)
        flags = self._sig_flags(ctx, entry)
        if self.locations:
            self.loc = s.locate(ctx.path)
        sig = builder.build(self, ctx, entry, num, flags, name) if flags is not None else None
        return sig

    def _sig_flags(self, ctx: _Ctx, e: Mapping[str, Any]) -> FlagSet | None:
        raw = e.get("flags")
        if raw is None or type(raw) is str:
            hit = self.sig_flag_cache.get(raw)
            if hit is None:
                before = len(self.problems)
                hit = self._sig_flags_uncached(ctx, e)
                if hit is not None and len(self.problems) == before:
                    self.sig_flag_cache[raw] = hit
            return hit
        return self._sig_flags_uncached(ctx, e)

    def _sig_flags_uncached(self, ctx: _Ctx, e: Mapping[str, Any]) -> FlagSet | None:
        text = self._flag_text(ctx, e, True)
        if text is None:
            return None
        if isinstance(text, int):
            return FlagSet(text, (), raw=True)
        tokens = text.split(" ")
        value = self._encode_flags(ctx, tokens, "signatures", "signatures")
        return FlagSet(value, tuple(tokens)) if value is not None else None


def _slot_maker(cls: type, names: tuple[str, ...]) -> Callable[..., Any]:
    """Fast construction of a frozen slots dataclass: values go straight into the slots (the generated
    ``__init__`` calls ``object.__setattr__`` per field, which dominates for millions of records).
    Falls back to the class itself if its fields are not exactly ``names``."""
    if tuple(f.name for f in dataclasses.fields(cls)) != names:
        return cls
    new = object.__new__
    if len(names) == 2:
        u0, u1 = (cls.__dict__[n].__set__ for n in names)

        def make2(a: Any, b: Any) -> Any:
            obj: Any = new(cls)
            u0(obj, a)
            u1(obj, b)
            return obj

        return make2
    if len(names) == 3:
        v0, v1, v2 = (cls.__dict__[n].__set__ for n in names)

        def make3(a: Any, b: Any, c: Any) -> Any:
            obj: Any = new(cls)
            v0(obj, a)
            v1(obj, b)
            v2(obj, c)
            return obj

        return make3
    if len(names) == 5:
        w0, w1, w2, w3, w4 = (cls.__dict__[n].__set__ for n in names)

        def make5(a: Any, b: Any, c: Any, d: Any, e: Any) -> Any:
            obj: Any = new(cls)
            w0(obj, a)
            w1(obj, b)
            w2(obj, c)
            w3(obj, d)
            w4(obj, e)
            return obj

        return make5
    if len(names) == 6:
        x0, x1, x2, x3, x4, x5 = (cls.__dict__[n].__set__ for n in names)

        def make6(a: Any, b: Any, c: Any, d: Any, e: Any, f: Any) -> Any:
            obj: Any = new(cls)
            x0(obj, a)
            x1(obj, b)
            x2(obj, c)
            x3(obj, d)
            x4(obj, e)
            x5(obj, f)
            return obj

        return make6
    if len(names) not in (4, 7):  # any other size: one setter call per field
        setters = tuple(cls.__dict__[n].__set__ for n in names)

        def make(*values: Any) -> Any:
            obj: Any = new(cls)
            for setter, v in zip(setters, values, strict=True):
                setter(obj, v)
            return obj

        return make
    if len(names) == 4:
        s0, s1, s2, s3 = (cls.__dict__[n].__set__ for n in names)

        def make4(a: Any, b: Any, c: Any, d: Any) -> Any:
            obj: Any = new(cls)
            s0(obj, a)
            s1(obj, b)
            s2(obj, c)
            s3(obj, d)
            return obj

        return make4
    t0, t1, t2, t3, t4, t5, t6 = (cls.__dict__[n].__set__ for n in names)

    def make7(a: Any, b: Any, c: Any, d: Any, e: Any, f: Any, g: Any) -> Any:
        obj: Any = new(cls)
        t0(obj, a)
        t1(obj, b)
        t2(obj, c)
        t3(obj, d)
        t4(obj, e)
        t5(obj, f)
        t6(obj, g)
        return obj

    return make7


_new_name = _slot_maker(Name, ("value", "text", "rule", "origin"))
_new_ref = _slot_maker(SignatureRef, ("id", "name"))
_new_flags = _slot_maker(FlagSet, ("value", "names", "raw"))
_new_sig: dict[type, Callable[..., Any]] = {
    cls: _slot_maker(cls, tuple(f.name for f in dataclasses.fields(cls)))
    for cls in (ExportSignature, ValueSignature, CodeBlocksSignature, IdtSignature, VersionOsSignature,
                VersionIntroSignature, ProcessCreationSignature, ValueCodeSignature)
}  # fmt: skip
_new_export_hash = _slot_maker(ExportHash, ("delta", "name"))
_new_value_hash = _slot_maker(ValueHash, ("offset", "size", "hash"))


def _hex_list(items: list[Any], limit: int) -> list[int] | None:
    """Each item parsed as ``_hex`` does (a hexadecimal string in 0..limit); None if any is not."""
    if not all(type(x) is str for x in items):
        return None
    try:
        values = [int(x, 16) for x in items]
    except ValueError:
        return None
    if values and (min(values) < 0 or max(values) > limit):
        return None
    return values


def _hex_or_none(text: str) -> int | None:
    """``int(text, 16)`` as ``_hex`` parses it, None when malformed."""
    try:
        return int(text, 16)
    except ValueError:
        return None
_new_km = _slot_maker(
    KernelException, ("originator", "victim", "flags", "object_type", "signatures", "path_hash", "location")
)
_UM_SLOTS = ("originator", "victim", "process", "flags", "object_type", "signatures", "location")
_new_um = _slot_maker(UserException, _UM_SLOTS)
_new_apc = _slot_maker(UserApcException, _UM_SLOTS)
_new_kum = _slot_maker(KernelUserException, _UM_SLOTS)
_new_glob = _slot_maker(GlobException, _UM_SLOTS)


# ASCII characters that str.lower() leaves unchanged (everything but A-Z)
_LOWER_IS_SELF = frozenset(chr(c) for c in range(128) if not chr(c).isupper())
_KIND_SECTION = {k: k.type_table for k in ExceptionKind}
_KM_FIELDS = ("originator", "victim")
_UM_FIELDS = ("originator", "victim", "process")
_NO_PROCESS = Name(0, None, None, NameOrigin.VERBATIM)


_REF_ID = operator.attrgetter("id")
_COUNTER_LIMIT = 1 << SIGNATURE_ID_SHIFT
_SIGS = operator.attrgetter("signatures")
_KM, _UM, _APC, _KUM, _GLOB = range(5)  # kind codes of the fast path (ints compare faster than enums hash)
_KIND_CODE = {ExceptionKind.KERNEL: _KM, ExceptionKind.USER: _UM, ExceptionKind.USER_APC: _APC,
              ExceptionKind.KERNEL_USER: _KUM, ExceptionKind.USER_GLOB: _GLOB}  # fmt: skip


def _order(keys: Sequence[Any]) -> list[int]:
    """Indices of ``keys`` in stable sorted order."""
    return sorted(range(len(keys)), key=keys.__getitem__)


_KEY5 = struct.Struct(">IIIII").pack


def _maybe_group(v: str, starts: frozenset[str]) -> bool:
    """Can this non-empty text name a group? (first character, before or after lower-casing)"""
    c = v[0]
    return c in starts or (c not in _LOWER_IS_SELF and c.lower()[:1] in starts)


def _glob_units(pattern: str) -> int:
    """Pattern length in units: each [...] class, each ? and each other character count one."""
    units = 0
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "[":
            end = pattern.find("]", i + 1)
            if end > i + 1:
                units += 1
                i = end + 1
                continue
        units += 1
        i += 1
    return units


# ---------------------------------------------------------------------- signature builders


class _SigBuilder:
    def validate(self, c: _Compiler, ctx: _Ctx, e: Mapping[str, Any]) -> bool:
        return True

    def build(self, c: _Compiler, ctx: _Ctx, e: Mapping[str, Any], sid: int, flags: FlagSet, name: str) -> Signature | None:
        raise NotImplementedError


def _require_keys(c: _Compiler, ctx: _Ctx, e: Mapping[str, Any], *keys: str) -> bool:
    ok = True
    for k in keys:
        if k not in e:
            c.error(ctx, k, f"required key '{k}' is missing", code="missing-key")
            ok = False
    return ok


class _Export(_SigBuilder):
    def validate(self, c: _Compiler, ctx: _Ctx, e: Mapping[str, Any]) -> bool:
        if not _require_keys(c, ctx, e, "hashes", "library"):
            return False
        if not e["hashes"]:
            c.error(ctx, "hashes", "hashes is required (empty)")
            return False
        if not e["library"]:
            c.error(ctx, "library", "library is required (empty)")
            return False
        return True

    def build(self, c: _Compiler, ctx: _Ctx, e: Mapping[str, Any], sid: int, flags: FlagSet, name: str) -> Signature | None:
        lib_text = c._name_field(ctx, e, "library")
        lib = c._name(ctx, "library", lib_text, c.rule_library)
        hashes = e["hashes"]
        if not isinstance(hashes, list):
            c.error(ctx, "hashes", f"must be a list of {{\"name\", \"delta\"}} objects, got {_show(hashes)}")
            return None
        if len(hashes) > U8:
            c.error(ctx, "hashes", f"{len(hashes)} entries", "at most 255")
            return None
        entries: list[ExportHash] = []
        ok = lib is not None
        rule = c.rule_export
        cache, namer = c.names[id(rule)], c._namer(rule)
        for j, h in enumerate(hashes):
            if type(h) is dict:  # plain entry: cached name, delta in range (no context needed)
                t, d = h.get("name"), h.get("delta")
                if type(t) is str and type(d) is int and 0 <= d <= U16 and (n := cache.get(t) or namer(t)) is not None:
                    entries.append(_new_export_hash(d, n))
                    continue
            hctx = _Ctx(ctx.src, (*ctx.path, "hashes", j), f"{ctx.subject} hashes[{j}]")
            if not isinstance(h, dict) or "name" not in h or "delta" not in h:
                c.error(hctx, None, "each entry needs 'name' and 'delta'", code="missing-key")
                ok = False
                continue
            t = c._name_field(hctx, h, "name")
            n = c._name(hctx, "name", t, rule)
            d = c._int(hctx, "delta", h["delta"], 0, U16)
            if n is None or d is None:
                ok = False
                continue
            entries.append(ExportHash(d, n))
        if not ok or lib is None:
            return None
        return _new_sig[ExportSignature](sid, flags, lib, tuple(entries), name, c.loc)  # type: ignore[no-any-return]


def _score(c: _Compiler, ctx: _Ctx, e: Mapping[str, Any]) -> bool:
    sc = e.get("score")
    if not sc:
        c.error(ctx, "score", "score is required (absent or 0)", "allowed: 1..255")
        return False
    return True


class _Value(_SigBuilder):
    def validate(self, c: _Compiler, ctx: _Ctx, e: Mapping[str, Any]) -> bool:
        if not _require_keys(c, ctx, e, "hashes") or not _score(c, ctx, e):
            return False
        if not e["hashes"]:
            c.error(ctx, "hashes", "hashes is required (empty)")
            return False
        return True

    def build(self, c: _Compiler, ctx: _Ctx, e: Mapping[str, Any], sid: int, flags: FlagSet, name: str) -> Signature | None:
        score = c._int(ctx, "score", e["score"], 1, U8)
        hashes = e["hashes"]
        if not isinstance(hashes, list):
            c.error(ctx, "hashes", f"must be a list of {{\"offset\", \"size\", \"hash\"}} objects, got {_show(hashes)}")
            return None
        if len(hashes) > U8:
            c.error(ctx, "hashes", f"{len(hashes)} entries", "at most 255")
            return None
        entries: list[ValueHash] = []
        ok = score is not None
        for j, h in enumerate(hashes):
            if type(h) is dict:  # plain entry: ints in range and a hex string (no context needed)
                off, size, hv = h.get("offset"), h.get("size"), h.get("hash")
                if type(off) is int and type(size) is int and 0 <= off <= U16 and 0 <= size <= U16 and type(hv) is str:
                    n = _hex_or_none(hv)
                    if n is not None and 0 <= n <= U32:
                        entries.append(_new_value_hash(off, size, n))
                        continue
            hctx = _Ctx(ctx.src, (*ctx.path, "hashes", j), f"{ctx.subject} hashes[{j}]")
            if not isinstance(h, dict) or not all(k in h for k in ("offset", "size", "hash")):
                c.error(hctx, None, "each entry needs 'offset', 'size' and 'hash'", code="missing-key")
                ok = False
                continue
            off = c._int(hctx, "offset", h["offset"], 0, U16)
            size = c._int(hctx, "size", h["size"], 0, U16)
            hv = c._hex(hctx, "hash", h["hash"], U32)
            if off is None or size is None or hv is None:
                ok = False
                continue
            entries.append(ValueHash(off, size, hv))
        if not ok or score is None:
            return None
        return _new_sig[ValueSignature](sid, flags, score, tuple(entries), name, c.loc)  # type: ignore[no-any-return]


class _CodeBlocks(_SigBuilder):
    validate = _Value.validate

    def build(self, c: _Compiler, ctx: _Ctx, e: Mapping[str, Any], sid: int, flags: FlagSet, name: str) -> Signature | None:
        score = c._int(ctx, "score", e["score"], 1, U8)
        hashes = e["hashes"]
        if not isinstance(hashes, list):
            c.error(ctx, "hashes", f"must be a list of lists of hex strings, got {_show(hashes)}")
            return None
        if len(hashes) > U8:
            c.error(ctx, "hashes", f"{len(hashes)} lists", "at most 255")
            return None
        lists: list[tuple[int, ...]] = []
        ok = score is not None
        flat_warned = False
        for j, lst in enumerate(hashes):
            if type(lst) is list and len(lst) <= U8:  # plain list of hex strings in range
                parsed = _hex_list(lst, U32)
                if parsed is not None:
                    lists.append(tuple(sorted(parsed)))
                    continue
            hctx = _Ctx(ctx.src, (*ctx.path, "hashes", j), f"{ctx.subject} hashes[{j}]")
            if isinstance(lst, str):
                # upstream quirk Q19: a string where a list belongs is iterated per character
                if not flat_warned:
                    c.warn(ctx, "hashes", "hashes is a flat list of strings: each character is read as one hash "
                           "(upstream quirk Q19); write a list of lists", code="cb-flat-hashes")  # fmt: skip
                    flat_warned = True
                items: list[Any] = list(lst)
            elif isinstance(lst, list):
                items = lst
            else:
                c.error(hctx, None, f"must be a list of hex strings, got {_show(lst)}")
                ok = False
                continue
            if len(items) > U8:
                c.error(hctx, None, f"{len(items)} hashes in one list", "at most 255")
                ok = False
                continue
            values: list[int] = []
            for h in items:
                v = c._hex(hctx, "hashes", h, U32)
                if v is None:
                    ok = False
                else:
                    values.append(v)
            lists.append(tuple(sorted(values)))
        if not ok or score is None:
            return None
        size = 10 + len(lists) + 4 * sum(len(x) for x in lists)
        if size > MAX_BODY:
            c.error(ctx, "hashes", f"the record would be {size} bytes", "at most 65535 (fewer hashes)")
            return None
        return _new_sig[CodeBlocksSignature](sid, flags, score, tuple(lists), name, c.loc)  # type: ignore[no-any-return]


class _ValueCode(_SigBuilder):
    def validate(self, c: _Compiler, ctx: _Ctx, e: Mapping[str, Any]) -> bool:
        if not _require_keys(c, ctx, e, "pattern", "offset"):
            return False
        off = e["offset"] or 0
        if c._int(ctx, "offset", off, -32768, 32767) is None:
            return False
        if not e["pattern"]:
            c.error(ctx, "pattern", "pattern is required (empty)")
            return False
        return True

    def build(self, c: _Compiler, ctx: _Ctx, e: Mapping[str, Any], sid: int, flags: FlagSet, name: str) -> Signature | None:
        pattern = e["pattern"]
        if not isinstance(pattern, list):
            c.error(ctx, "pattern", f"must be a list of hex strings, got {_show(pattern)}")
            return None
        if 12 + 2 * len(pattern) > MAX_BODY:
            c.error(ctx, "pattern", f"{len(pattern)} items", "at most 32761")
            return None
        plain = _hex_list(pattern, U16)  # the usual case, checked in one go
        if plain is not None:
            return _new_sig[ValueCodeSignature](sid, flags, e["offset"] or 0, tuple(plain), name, c.loc)  # type: ignore[no-any-return]
        items = [c._hex(ctx, "pattern", p, U16) for p in pattern]
        if any(x is None for x in items):
            return None
        return ValueCodeSignature(sid, flags, e["offset"] or 0, tuple(x for x in items if x is not None), name=name, location=c.loc)


class _Idt(_SigBuilder):
    def validate(self, c: _Compiler, ctx: _Ctx, e: Mapping[str, Any]) -> bool:
        if not _require_keys(c, ctx, e, "entry"):
            return False
        if e["entry"] is None:
            c.error(ctx, "entry", "entry is required (null)", "allowed: 0..255")
            return False
        return c._int(ctx, "entry", e["entry"], 0, U8) is not None

    def build(self, c: _Compiler, ctx: _Ctx, e: Mapping[str, Any], sid: int, flags: FlagSet, name: str) -> Signature | None:
        return _new_sig[IdtSignature](sid, flags, e["entry"], name, c.loc)  # type: ignore[no-any-return]


def _version_part(c: _Compiler, ctx: _Ctx, fld: str, part: str, star: int, limit: int, masked: bool) -> int | None:
    if part == "*":
        return star
    try:
        n = int(part)
    except ValueError:
        c.error(ctx, fld, f"version part {_show(part)} is not a decimal number or '*'")
        return None
    if masked and n & U32 != n:
        c.warn(ctx, fld, f"version part {n} is masked to 32 bits: {n & U32} (as upstream does)", code="version-mask")
        n &= U32
    if not 0 <= n <= limit:
        c.error(ctx, fld, f"version part {n} does not fit its field", f"allowed: 0..{limit} or '*'")
        return None
    return n


class _VersionOs(_SigBuilder):
    def validate(self, c: _Compiler, ctx: _Ctx, e: Mapping[str, Any]) -> bool:
        if not _require_keys(c, ctx, e, "minimum", "maximum"):
            return False
        lo, hi = e["minimum"], e["maximum"]
        if lo is None:
            c.error(ctx, "minimum", "minimum version is required")
            return False
        if hi is None:
            c.error(ctx, "maximum", "maximum version is required")
            return False
        for k, v in (("minimum", lo), ("maximum", hi)):
            if not isinstance(v, str):
                c.error(ctx, k, f"must be a string, got {_show(v)}", 'e.g. "7600" (Windows build) or "4.14.*" (Linux)')
                return False
        if ("." in lo) != ("." in hi):
            c.error(ctx, "maximum", "invalid os version format: minimum and maximum must both be builds or both "
                    "version.patch.sublevel")  # fmt: skip
            return False
        for k, v in (("minimum", lo), ("maximum", hi)):
            if "." in v and len(v.split(".")) != 3:
                c.error(ctx, k, f"invalid os version format {_show(v)}", "Linux form: version.patch.sublevel")
                return False
        return True

    def build(self, c: _Compiler, ctx: _Ctx, e: Mapping[str, Any], sid: int, flags: FlagSet, name: str) -> Signature | None:
        bounds = _cached_bounds(c, ctx, ("os", e["minimum"], e["maximum"]), self.bounds)
        if bounds is None:
            return None
        return _new_sig[VersionOsSignature](sid, flags, *bounds, name, c.loc)  # type: ignore[no-any-return]

    def bounds(self, c: _Compiler, ctx: _Ctx, lo_t: str, hi_t: str) -> tuple[Any, Any] | None:
        if "." in lo_t:
            lo_p, hi_p = lo_t.split("."), hi_t.split(".")
            limits = (U8, U8, U16)
            # hvmiex deviation Q17: '*' in a maximum part is that field's maximum (upstream crashes on 8-bit parts)
            lo_v = [_version_part(c, ctx, "minimum", p, 0, lim, True) for p, lim in zip(lo_p, limits, strict=True)]
            hi_v = [_version_part(c, ctx, "maximum", p, lim, lim, True) for p, lim in zip(hi_p, limits, strict=True)]
            if any(x is None for x in (*lo_v, *hi_v)):
                return None
            a, b = [x or 0 for x in lo_v], [x or 0 for x in hi_v]
            lo = LinuxVersion(a[0], a[1], a[2], 0).pack()
            hi = LinuxVersion(b[0], b[1], b[2], U16).pack()
        else:
            lo_w = _version_part(c, ctx, "minimum", lo_t, 0, U32, True)
            hi_w = _version_part(c, ctx, "maximum", hi_t, U16, U32, True)  # Windows '*' maximum is 0xFFFF
            if lo_w is None or hi_w is None:
                return None
            lo, hi = lo_w, hi_w
        return lo, hi


class _VersionIntro(_SigBuilder):
    def validate(self, c: _Compiler, ctx: _Ctx, e: Mapping[str, Any]) -> bool:
        if not _require_keys(c, ctx, e, "minimum", "maximum"):
            return False
        for k in ("minimum", "maximum"):
            v = e[k]
            if v is None:
                c.error(ctx, k, f"{k} version is required")
                return False
            if not isinstance(v, str):
                c.error(ctx, k, f"must be a string, got {_show(v)}", 'e.g. "1.2.*"')
                return False
            if "." not in v or len(v.split(".")) != 3:
                c.error(ctx, k, f"invalid intro version format {_show(v)}", "major.minor.revision")
                return False
        return True

    def build(self, c: _Compiler, ctx: _Ctx, e: Mapping[str, Any], sid: int, flags: FlagSet, name: str) -> Signature | None:
        bounds = _cached_bounds(c, ctx, ("intro", e["minimum"], e["maximum"]), self.bounds)
        if bounds is None:
            return None
        return _new_sig[VersionIntroSignature](sid, flags, *bounds, name, c.loc)  # type: ignore[no-any-return]

    def bounds(self, c: _Compiler, ctx: _Ctx, lo_t: str, hi_t: str) -> tuple[Any, Any] | None:
        lo = [_version_part(c, ctx, "minimum", p, 0, U16, False) for p in lo_t.split(".")]
        hi = [_version_part(c, ctx, "maximum", p, U16, U16, False) for p in hi_t.split(".")]
        if any(x is None for x in (*lo, *hi)):
            return None
        a, b = [x or 0 for x in lo], [x or 0 for x in hi]
        return IntroVersion(a[0], a[1], a[2], 0), IntroVersion(b[0], b[1], b[2], U16)


def _cached_bounds(
    c: _Compiler, ctx: _Ctx, key: tuple[str, str, str],
    compute: Callable[[_Compiler, _Ctx, str, str], tuple[Any, Any] | None],
) -> tuple[Any, Any] | None:
    """Version bounds of a (kind, minimum, maximum) text pair, computed once; a pair that draws a
    diagnostic is never cached (each signature reports its own)."""
    hit = c.bounds_cache.get(key)
    if hit is None:
        before = len(c.problems) + len(c.notes)
        hit = compute(c, ctx, key[1], key[2])
        if hit is not None and len(c.problems) + len(c.notes) == before:
            c.bounds_cache[key] = hit
    return hit


class _ProcessCreation(_SigBuilder):
    def validate(self, c: _Compiler, ctx: _Ctx, e: Mapping[str, Any]) -> bool:
        if not _require_keys(c, ctx, e, "create_mask"):
            return False
        if e["create_mask"] is None:
            c.error(ctx, "create_mask", "create_mask is required (null)",
                    f"allowed: a list of {_allowed(c.config.process_creation_flags)}")  # fmt: skip
            return False
        return True

    def build(self, c: _Compiler, ctx: _Ctx, e: Mapping[str, Any], sid: int, flags: FlagSet, name: str) -> Signature | None:
        mask = e["create_mask"]
        table = c.config.process_creation_flags
        if isinstance(mask, str):
            c.warn(ctx, "create_mask", "create_mask is a string: each character is read as a name (upstream "
                   "quirk Q19); write a list", code="create-mask-string")  # fmt: skip
            items: list[Any] = list(mask)
        elif isinstance(mask, list):
            items = mask
        else:
            c.error(ctx, "create_mask", f"must be a list of names, got {_show(mask)}", f"allowed: {_allowed(table)}")
            return None
        value = 0
        ok = True
        for item in items:
            text = table.get(item) if isinstance(item, str) else None
            if text is None:
                hint = _did_you_mean(item, table) if isinstance(item, str) else None
                allowed = f"allowed: {_allowed(table)}"
                c.error(ctx, "create_mask", f"unknown process-creation flag {_show(item)}",
                        f"{hint} {allowed}" if hint else allowed)  # fmt: skip
                ok = False
                continue
            try:
                value |= int(text, 16)
            except ValueError:
                c.error(ctx, "create_mask", f"config value {text!r} of '{item}' is not hexadecimal")
                ok = False
        if not ok:
            return None
        if not 0 <= value <= U32:
            c.error(ctx, "create_mask", f"mask 0x{value:x} does not fit 32 bits")
            return None
        names = tuple(x for x in items if isinstance(x, str))
        return _new_sig[ProcessCreationSignature](sid, flags, _new_flags(value, names, False), name, c.loc)  # type: ignore[no-any-return]


_SIG_BUILDERS: dict[str, _SigBuilder] = {
    "export": _Export(),
    "value": _Value(),
    "codeblocks": _CodeBlocks(),
    "value-code": _ValueCode(),
    "idt": _Idt(),
    "version-os": _VersionOs(),
    "version-intro": _VersionIntro(),
    "process-creation": _ProcessCreation(),
}


__all__ = ["CompileResult", "compile", "compile_set"]
