"""Model -> exception and signature JSON, in the compiler's vocabulary (spec 02), plus hvmiex's extension.

Any model objects go through here: records parsed from a ``.bin`` (decompile), exceptions proposed
from alerts or logs, records built in code. Each value is written so that ``hvmiex build`` turns it
back into exactly the same bytes:

* names: the ``Name.text`` when it hashes to the stored value, else a name found by a
  :class:`~hvmiex.namedb.NameResolver`, else the extension ``{"hash": "0x1a2b3c4d"}``;
* flags: flag names when the compiler's defaults and implied flags (spec 02 §7.2) give back the
  exact value, else the extension ``{"raw": "0x..."}``;
* object types: the config's name, else the number (extension);
* signatures: ``sig_id`` (the model's name or one made from the id) and, with ``pin_ids``, the
  extension ``"id": <int>`` that keeps the numeric id.

:func:`decompile` turns a whole file's :class:`~hvmiex.model.ExceptionSet` into documents that
compile back byte for byte (it also reproduces upstream quirks Q1 and Q2 from the JSON side).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hvmiex.config import Config, load_config
from hvmiex.errors import Diagnostic, Severity
from hvmiex.io import atomic_write_text
from hvmiex.model import (
    CodeBlocksSignature,
    ExceptionKind,
    ExceptionSet,
    ExportSignature,
    GlobException,
    IdtSignature,
    KernelException,
    KernelUserException,
    LinuxVersion,
    Name,
    NameOrigin,
    ProcessCreationSignature,
    RawObject,
    Record,
    SignatureRef,
    UserApcException,
    UserException,
    ValueCodeSignature,
    ValueSignature,
    VersionIntroSignature,
    VersionOsSignature,
)
from hvmiex.model.records import Exception_, Signature
from hvmiex.namedb.resolver import NameResolver
from hvmiex.namedb.rules import FieldRule, exception_field_rule, export_function_rule, export_library_rule
from hvmiex.names import HashRule, NameSyntaxError, name_value

JsonObject = dict[str, Any]

SIGNATURE_FILE_TYPE = "user"  # a Signatures file needs some Type; upstream ignores its value

_KIND_FILES: dict[ExceptionKind, str] = {
    ExceptionKind.KERNEL: "10-kernel",
    ExceptionKind.USER: "20-user",
    ExceptionKind.USER_APC: "21-user-apc",
    ExceptionKind.KERNEL_USER: "30-kernel-user",
    ExceptionKind.USER_GLOB: "40-user-glob-match",
}
_SIG_KIND_SHORT = {
    "version-os": "vos",
    "version-intro": "vintro",
    "process-creation": "pc",
    "export": "exp",
    "value": "val",
    "idt": "idt",
    "value-code": "vc",
    "codeblocks": "cb",
}
# KM object types that must not have a victim / must have one (spec 02 §8.1)
_KM_NO_VICTIM = frozenset(
    {"msr", "ssdt", "cr4", "idt", "idt-reg", "gdt-reg", "infinity-hook", "hal-perf-counter", "interrupt-obj"}
)
_KM_INTEGRITY_TYPES = frozenset({"token-privs", "sud-modification", "security-descriptor", "acl-edit"})
_UM_VICTIM_REQUIRED = frozenset({"process", "module", "module imports"})
_UM_PROCESS_REQUIRED = frozenset({"module", "module imports"})
_GLOB_PREFIX = ("*", "[", "]", "?", "\\\\")  # upstream quirk Q2: these originators are written twice


@dataclass(frozen=True, slots=True)
class JsonDocument:
    """One JSON input file: a suggested file name and its top-level object."""

    filename: str
    data: JsonObject

    def dumps(self) -> str:
        return dumps(self.data)


@dataclass(slots=True)
class WriterOptions:
    """How values are written (shared by every record of one call)."""

    config: Config
    resolver: NameResolver | None = None
    pin_ids: bool = True
    signature_names: dict[int, str] = field(default_factory=dict)  # id -> sig_id text
    notes: list[Diagnostic] = field(default_factory=list)
    # caches: big files repeat the same names, flags and rules many times
    name_cache: dict[tuple[int, int], str | JsonObject] = field(default_factory=dict)  # (value, id(rule))
    keep: list[object] = field(default_factory=list)  # rules whose id() keys name_cache stay alive
    static_cache: dict[tuple[type, int, int], tuple[Any, ...]] = field(default_factory=dict)
    interned: dict[tuple[HashRule, int], FieldRule] = field(default_factory=dict)


def _intern(keep: list[object], table: dict[tuple[HashRule, int], FieldRule], rule: FieldRule | None) -> FieldRule | None:
    """One FieldRule object per distinct rule, so caches keyed by id(rule) hit across records."""
    if rule is None:
        return None
    key = (rule.rule, id(rule.predefined))
    got = table.get(key)
    if got is None:
        keep.append(rule.predefined)
        got = table[key] = rule
    return got


def _options(
    config: Config | None, resolver: NameResolver | None, pin_ids: bool, signatures: Iterable[Signature] = ()
) -> WriterOptions:
    opts = WriterOptions(config or load_config(), resolver, pin_ids)
    for sig in signatures:
        opts.signature_names[sig.id] = sig.name or default_signature_name(sig.id, opts.config)
    return opts


def default_signature_name(sig_id: int, config: Config | None = None) -> str:
    """A readable, unique ``sig_id`` for a signature known only by its numeric id: ``cb-0x96000002``."""
    code = sig_id >> 22
    kind = None
    if config is not None:
        kind = next((k for k, v in config.signature_types.items() if v == code), None)
    short = _SIG_KIND_SHORT.get(kind or "", "sig")
    return f"{short}-0x{sig_id:08x}"


# --------------------------------------------------------------------------- values


def hash_json(value: int) -> JsonObject:
    return {"hash": f"0x{value:08x}"}


def _name_json(name: Name, rule: FieldRule | None, opts: WriterOptions) -> str | JsonObject:
    value = name.value
    if rule is None:
        return name.text if name.text is not None else hash_json(value)
    if name.text is not None and name.origin is not NameOrigin.VERBATIM:
        try:
            if name_value(name.text, rule.rule, rule.predefined)[0] == value:
                return name.text
        except NameSyntaxError:
            pass
    key = (value, id(rule))
    cached = opts.name_cache.get(key)
    if cached is not None:
        return cached
    opts.keep.append(rule)
    result: str | JsonObject = hash_json(value)
    for text, v in rule.predefined.items():
        if v == value:
            result = text
            break
    else:
        if opts.resolver is not None:
            found = opts.resolver.resolve(value, rule.rule, rule.predefined)
            if found is not None:
                result = found
    opts.name_cache[key] = result
    return result


def _exception_tables(kind: ExceptionKind, config: Config) -> list[Mapping[str, int]]:
    """Flag tables in the order names are preferred (no side-effect names first)."""
    common = config.flags["common"]
    if kind is ExceptionKind.KERNEL:
        return [common, config.flags["kernel-mode"]]
    if kind is ExceptionKind.KERNEL_USER:
        return [common, config.flags["kernel-user-mode"], config.flags["user-mode"], config.flags["kernel-mode"]]
    return [common, config.flags["user-mode"]]  # spec 02 Q7 (DEVIATION): no kernel names in user kinds


def _flag_value(tokens: Sequence[str], table: Mapping[str, int]) -> int:
    value = 0
    for t in tokens:
        value |= table[t]
    return value


def compile_exception_flags(kind: ExceptionKind, tokens: Sequence[str] | None, type_name: str | None, config: Config) -> int | None:
    """The value the compiler gives a ``flags`` text (spec 02 §7.2 steps A-C); None if it refuses it."""
    table = config.flag_table(kind.flag_table)
    toks = ["32", "64"] if tokens is None else list(tokens)
    if any(t not in table for t in toks):
        return None
    if "32" not in toks and "64" not in toks:
        toks += ["32", "64"]
    if not any(t in ("read", "write", "exec") for t in toks):
        exec_types: tuple[str, ...] = ("nx_zone",)
        if kind in (ExceptionKind.USER, ExceptionKind.USER_GLOB):
            exec_types = ("nx_zone", "process-creation", "process-creation-dpi")
        if kind in (ExceptionKind.KERNEL, ExceptionKind.KERNEL_USER) or type_name not in exec_types:
            toks.append("write")
        else:
            toks.append("exec")
    if kind is ExceptionKind.KERNEL:
        original = list(tokens or ())
        if "non-driver" in toks and "return-drv" not in toks:
            toks.append("return-drv")
        if "return-drv" in original:
            return None
        if "return" in toks:
            toks.append("return-drv")
    elif kind is ExceptionKind.KERNEL_USER:
        if "non-driver" in toks and "return-drv" not in toks:
            toks.append("return-drv")
        if "return" in toks:
            toks.append("return-drv")
        if "user" in toks and "kernel" in toks:
            return None
    return _flag_value(toks, table)


def _pick_names(value: int, tables: list[Mapping[str, int]], skip: frozenset[str]) -> tuple[list[str], int]:
    names: list[str] = []
    left = value
    for bit_index in range(32):
        bit = 1 << bit_index
        if not value & bit:
            continue
        for table in tables:
            name = next((n for n, v in table.items() if v == bit and n not in skip), None)
            if name is not None:
                names.append(name)
                left &= ~bit
                break
    return names, left


_IMPLIED = frozenset({"32", "64", "write", "exec", "return-drv"})


def exception_flags_json(kind: ExceptionKind, value: int, type_name: str | None, config: Config) -> str | JsonObject | None:
    """Flags text that compiles to ``value`` (None: leave ``flags`` out), else ``{"raw": ...}``."""
    names, left = _pick_names(value, _exception_tables(kind, config), frozenset({"reserved"}))
    if not left:
        minimal = [n for n in names if n not in _IMPLIED or (n == "exec" and "write" in names)]
        for candidate in (minimal, [n for n in names if n not in ("32", "64")], [n for n in names if n != "return-drv"], names):
            tokens = candidate or None
            if compile_exception_flags(kind, tokens, type_name, config) == value:
                return None if tokens is None else " ".join(_ordered(tokens))
    return {"raw": f"0x{value:08x}"}


def _ordered(tokens: Sequence[str]) -> list[str]:
    # meaning-carrying names first, architecture and access last, as people write them
    tail = ("32", "64", "read", "write", "exec")
    return [t for t in tokens if t not in tail] + [t for t in tail if t in tokens]


def signature_flags_json(value: int, config: Config) -> str | JsonObject | None:
    table = config.flags["signatures"]
    names, left = _pick_names(value, [table], frozenset())
    if left:
        return {"raw": f"0x{value:08x}"}

    def compiled(tokens: list[str]) -> int:
        toks = list(tokens) if tokens else ["32", "64"]
        if "32" not in toks and "64" not in toks:
            toks += ["32", "64"]
        return _flag_value(toks, table)

    minimal = [n for n in names if n not in ("32", "64")]
    if compiled(minimal) == value:
        return " ".join(minimal) if minimal else None
    if compiled(names) == value:
        return " ".join(names)
    return {"raw": f"0x{value:08x}"}


def _type_json(kind: ExceptionKind, value: int, config: Config) -> tuple[str | int, str | None]:
    name = config.type_name(kind.type_table, value)
    return (name if name is not None else value), name


# --------------------------------------------------------------------------- records


def _sig_refs(refs: tuple[SignatureRef, ...], opts: WriterOptions) -> list[str]:
    out = []
    for ref in refs:
        name = opts.signature_names.get(ref.id) or ref.name or default_signature_name(ref.id, opts.config)
        out.append(name)
    return out


_MODE_GLOB, _MODE_KM, _MODE_KUM, _MODE_UM = 0, 1, 2, 3
_MODES = {GlobException: _MODE_GLOB, KernelException: _MODE_KM, KernelUserException: _MODE_KUM,
          UserException: _MODE_UM, UserApcException: _MODE_UM}  # fmt: skip


def _exception_static(exc: Exception_, opts: WriterOptions) -> tuple[Any, ...]:
    """What every record of one (class, object type, flags) shares: flags text, type, field rules and
    which optional fields the compiler requires or forbids."""
    config = opts.config
    kind = exc.KIND
    value = exc.flags.value
    otype_json, tname = _type_json(kind, exc.object_type, config)
    rules = tuple(
        _intern(opts.keep, opts.interned, exception_field_rule(kind, fld, exc.object_type, value, config))
        for fld in ("originator", "victim", "process")
    )
    integrity = value & config.flags["kernel-mode"].get("integrity", 0x1000)
    dash = config.predefined["kernel-mode"].get("-", 4)
    # KM integrity types: the originator must be absent (it becomes "-")
    omit_dash_originator = bool(tname in _KM_INTEGRITY_TYPES and integrity)
    return (
        _MODES[type(exc)], exception_flags_json(kind, value, tname, config), otype_json, tname, rules,
        dash if omit_dash_originator else None,
        tname in _KM_NO_VICTIM, tname in _UM_VICTIM_REQUIRED, tname in _UM_PROCESS_REQUIRED, tname == "nx_zone",
    )  # fmt: skip


def exception_to_json(exc: Exception_, opts: WriterOptions) -> JsonObject:
    """One exception entry of an ``Exceptions`` array."""
    skey = (type(exc), exc.object_type, exc.flags.value)
    static = opts.static_cache.get(skey)
    if static is None:
        static = opts.static_cache[skey] = _exception_static(exc, opts)
    mode, flags, otype, _tname, rules, omit_originator, no_victim, victim_required, process_required, nx_zone = static
    entry: JsonObject = {}
    e: Any = exc
    if mode == _MODE_GLOB:
        entry["originator"] = e.originator
        if nx_zone and e.victim == "*":
            entry["victim"] = ""  # upstream accepts only an empty victim for a glob nx_zone (spec 02 Q14)
        else:
            entry["victim"] = e.victim
        if not (e.process == "*" and not process_required):
            entry["process"] = e.process
    elif mode == _MODE_KM:
        if omit_originator is None or e.originator.value != omit_originator:
            entry["originator"] = _name_json(e.originator, rules[0], opts)
        if not (no_victim and e.victim.value == 0):
            entry["victim"] = _name_json(e.victim, rules[1], opts)
    elif mode == _MODE_KUM:
        entry["originator"] = _name_json(e.originator, rules[0], opts)
        entry["victim"] = _name_json(e.victim, rules[1], opts)
        if e.process.value != 0:
            entry["process"] = _name_json(e.process, rules[2], opts)
    else:
        entry["originator"] = _name_json(e.originator, rules[0], opts)
        if e.victim.value != 0 or victim_required:
            entry["victim"] = _name_json(e.victim, rules[1], opts)
        elif not nx_zone:
            entry["victim"] = "*"
        if e.process.value != 0 or process_required:
            entry["process"] = _name_json(e.process, rules[2], opts)
    entry["object_type"] = otype
    if flags is not None:
        entry["flags"] = flags
    if e.signatures:
        entry["signatures"] = _sig_refs(e.signatures, opts)
    return entry


def _version_os_json(sig: VersionOsSignature) -> tuple[str, str, bool]:
    lo, hi = sig.minimum, sig.maximum
    if lo >> 32 == 0 and hi >> 32 == 0xFFFF:  # Linux form: backport 0 / 0xFFFF
        a, b = LinuxVersion.unpack(lo), LinuxVersion.unpack(hi)
        exact = a.pack() == lo and b.pack() == hi
        return f"{a.version}.{a.patch}.{a.sublevel}", f"{b.version}.{b.patch}.{b.sublevel}", exact
    return str(lo), str(hi), lo <= 0xFFFFFFFF and hi <= 0xFFFFFFFF


def signature_to_json(sig: Signature, opts: WriterOptions) -> JsonObject:
    """One entry of a ``Signatures`` array (``sig_type``, ``sig_id``, payload; ``id`` when pinned)."""
    config = opts.config
    entry: JsonObject = {"sig_type": sig.KIND.value, "sig_id": opts.signature_names.get(sig.id) or sig.name or
                         default_signature_name(sig.id, config)}
    if opts.pin_ids:
        entry["id"] = sig.id
    flags = signature_flags_json(sig.flags.value, config)
    if flags is not None:
        entry["flags"] = flags
    if isinstance(sig, ExportSignature):
        entry["library"] = _name_json(sig.library, export_library_rule(config), opts)
        fn_rule = export_function_rule(config)
        entry["hashes"] = [{"name": _name_json(h.name, fn_rule, opts), "delta": h.delta} for h in sig.entries]
    elif isinstance(sig, ValueSignature):
        entry["score"] = sig.score
        entry["hashes"] = [{"offset": h.offset, "size": h.size, "hash": f"0x{h.hash:08x}"} for h in sig.entries]
    elif isinstance(sig, CodeBlocksSignature):
        entry["score"] = sig.score
        entry["hashes"] = [[f"0x{h:08x}" for h in hashes] for hashes in sig.lists]
    elif isinstance(sig, ValueCodeSignature):
        entry["offset"] = sig.offset
        entry["pattern"] = [f"0x{p:02x}" for p in sig.pattern]
    elif isinstance(sig, IdtSignature):
        entry["entry"] = sig.entry
    elif isinstance(sig, VersionOsSignature):
        lo, hi, exact = _version_os_json(sig)
        if not exact:
            opts.notes.append(
                Diagnostic("DC003", f"version-os bounds 0x{sig.minimum:x}/0x{sig.maximum:x} cannot be written exactly",
                           Severity.WARNING, subject=f"signature {entry['sig_id']}")
            )
        entry["minimum"], entry["maximum"] = lo, hi
    elif isinstance(sig, VersionIntroSignature):
        a, b = sig.minimum, sig.maximum
        entry["minimum"] = f"{a.major}.{a.minor}.{a.revision}"
        entry["maximum"] = f"{b.major}.{b.minor}.{b.revision}"
        if a.build != 0 or b.build != 0xFFFF:
            opts.notes.append(
                Diagnostic("DC003", "version-intro build parts other than 0/0xFFFF cannot be written",
                           Severity.WARNING, subject=f"signature {entry['sig_id']}")
            )
    elif isinstance(sig, ProcessCreationSignature):
        mask = sig.create_mask.value
        names = []
        covered = 0
        for name, text in config.process_creation_flags.items():
            bit = int(text, 16)
            if bit and mask & bit == bit and not covered & bit:
                names.append(name)
                covered |= bit
        if covered != mask:
            opts.notes.append(
                Diagnostic("DC003", f"create_mask bits 0x{mask & ~covered:x} have no name in the config",
                           Severity.WARNING, subject=f"signature {entry['sig_id']}")
            )
        entry["create_mask"] = names
    return entry


# --------------------------------------------------------------------------- documents


def _exception_documents(exceptions: Sequence[Exception_], opts: WriterOptions) -> list[JsonDocument]:
    """One document per kind, in the order given (a kind split into runs when ``_runs`` says so)."""
    by_kind: dict[ExceptionKind, list[JsonObject]] = {}
    for exc in exceptions:
        by_kind.setdefault(exc.KIND, []).append(exception_to_json(exc, opts))
    return [
        JsonDocument(f"{_KIND_FILES[kind]}.json", {"Type": kind.value, "Exceptions": entries})
        for kind, entries in sorted(by_kind.items(), key=lambda kv: _KIND_FILES[kv[0]])
    ]


def write_json(
    exceptions: Iterable[Exception_] = (),
    signatures: Iterable[Signature] = (),
    *,
    config: Config | None = None,
    resolver: NameResolver | None = None,
    pin_ids: bool = False,
) -> list[JsonDocument]:
    """Documents (signatures first, then one per exception kind) for any model objects.

    Signature references of the exceptions use the signatures' ``name`` (``sig_id``) when they have one,
    else a name made from the numeric id. ``pin_ids`` adds the ``"id"`` extension to every signature.
    """
    sigs = list(signatures)
    opts = _options(config, resolver, pin_ids, sigs)
    docs: list[JsonDocument] = []
    if sigs:
        docs.append(
            JsonDocument("00-signatures.json", {"Type": SIGNATURE_FILE_TYPE, "Signatures": [signature_to_json(s, opts) for s in sigs]})
        )
    docs.extend(_exception_documents(list(exceptions), opts))
    return docs


def write_json_text(
    exceptions: Iterable[Exception_] = (),
    signatures: Iterable[Signature] = (),
    *,
    config: Config | None = None,
    resolver: NameResolver | None = None,
    pin_ids: bool = False,
) -> dict[str, str]:
    """Like :func:`write_json`, rendered: file name -> JSON text."""
    return {d.filename: d.dumps() for d in write_json(exceptions, signatures, config=config, resolver=resolver, pin_ids=pin_ids)}


def fast_json_encoder() -> Callable[[Any], str]:
    """``json.JSONEncoder(ensure_ascii=False).encode`` without rebuilding the C encoder on every call
    (twice as fast for many small values); plain ``encode`` where the C accelerator is missing."""
    encoder = json.JSONEncoder(ensure_ascii=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return encoder.encode
    chunks = make(None, encoder.default, json.encoder.encode_basestring, None, ": ", ", ", False, False, True)

    def encode(value: Any) -> str:
        return "".join(chunks(value, 0))

    return encode


_ENCODE = fast_json_encoder()


def dumps(data: JsonObject) -> str:
    """JSON text with one array element a line (diff-friendly, compact)."""
    lines = ["{"]
    items = list(data.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if isinstance(value, list):
            if value:
                body = ",\n        ".join(map(_ENCODE, value))
                lines.append(f"    {json.dumps(key)}: [\n        {body}\n    ]{comma}")
            else:
                lines.append(f"    {json.dumps(key)}: []{comma}")
        else:
            lines.append(f"    {json.dumps(key)}: {_ENCODE(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_documents(directory: str | os.PathLike[str], documents: Iterable[JsonDocument]) -> list[Path]:
    """Write each document atomically into ``directory`` (created if needed)."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for doc in documents:
        path = target / doc.filename
        atomic_write_text(path, doc.dumps())
        written.append(path)
    return written


# --------------------------------------------------------------------------- decompile


@dataclass(frozen=True, slots=True)
class Decompiled:
    """JSON documents that ``hvmiex build`` compiles back to the decompiled file, and how to build them."""

    documents: tuple[JsonDocument, ...]
    build: int
    config: JsonObject | None  # a config to pass with -c (None: the stock config reproduces the header)
    notes: tuple[Diagnostic, ...]
    exact: bool  # False when something in the file cannot be expressed in JSON (see notes)

    def build_command(self, directory: str = ".", config_name: str = "build-config.json.txt") -> str:
        files = " ".join(f"{directory}/{d.filename}" for d in self.documents)
        parts = ["hvmiex build"]
        if self.config is not None:
            parts.append(f"-c {directory}/{config_name}")
        parts.append(f"-b {self.build}")
        return " ".join(parts) + f" -o exceptions.bin {files}"


def _glob_split(globs: list[GlobException]) -> tuple[list[GlobException], bool]:
    """Compiler input order that reproduces the file's glob list (prefix + sorted body, quirk Q2)."""
    total = len(globs)
    prefix_count = sum(1 for g in globs if g.originator.startswith(_GLOB_PREFIX))
    # file = prefix (k records) + body (total - k records) where the body holds k prefix-type records
    k = prefix_count // 2 if prefix_count % 2 == 0 else -1
    if k < 0 or any(not g.originator.startswith(_GLOB_PREFIX) for g in globs[:k]):
        return globs, False
    prefix, body = globs[:k], globs[k:]
    if sorted(map(_glob_identity, prefix)) != sorted(_glob_identity(g) for g in body if g.originator.startswith(_GLOB_PREFIX)):
        return globs, False
    if total - k != len(body):
        return globs, False
    # input: the prefix records in prefix order, then the other body records in body order
    return prefix + [g for g in body if not g.originator.startswith(_GLOB_PREFIX)], True


def _glob_identity(g: GlobException) -> tuple[Any, ...]:
    return (g.originator, g.victim, g.process, g.flags.value, g.object_type, tuple(r.id for r in g.signatures))


def _q1_placeholders(signatures: list[Signature], referenced: set[int], config: Config) -> tuple[list[Signature], list[Diagnostic]]:
    """upstream quirk Q1: an unused signature survives only right after a dropped one, so each unused
    signature of the file gets an unused placeholder just before it (id - 1), which the compiler drops."""
    out: list[Signature] = []
    notes: list[Diagnostic] = []
    previous_id: int | None = None
    codes = {v: k for k, v in config.signature_types.items()}
    for sig in signatures:
        if sig.id not in referenced:
            pid = sig.id - 1
            if pid < 0 or (previous_id is not None and pid <= previous_id):
                notes.append(
                    Diagnostic("DC002", f"unused signature 0x{sig.id:08x} cannot be kept by a rebuild (no free id before it)",
                               Severity.WARNING, subject=f"signature 0x{sig.id:08x}")
                )
            else:
                kind = codes.get(pid >> 22)
                out.append(_placeholder(pid, kind or sig.KIND.value))
        out.append(sig)
        previous_id = sig.id
    return out, notes


def _placeholder(sig_id: int, kind: str) -> Signature:
    from hvmiex.model import ExportHash, FlagSet, IntroVersion, ValueHash

    name = f"q1-placeholder-0x{sig_id:08x}"
    flags = FlagSet(0x3)
    if kind == "export":
        return ExportSignature(sig_id, flags, Name(0, "*"), (ExportHash(0, Name(0, "*")),), name=name)
    if kind == "value":
        return ValueSignature(sig_id, flags, 1, (ValueHash(0, 1, 0),), name=name)
    if kind == "codeblocks":
        return CodeBlocksSignature(sig_id, flags, 1, ((0,),), name=name)
    if kind == "value-code":
        return ValueCodeSignature(sig_id, flags, 0, (0x90,), name=name)
    if kind == "version-os":
        return VersionOsSignature(sig_id, flags, 0, 0xFFFF, name=name)
    if kind == "version-intro":
        return VersionIntroSignature(sig_id, flags, IntroVersion(0, 0, 0, 0), IntroVersion(0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF), name=name)
    if kind == "process-creation":
        return ProcessCreationSignature(sig_id, flags, FlagSet(1), name=name)
    return IdtSignature(sig_id, flags, 0, name=name)


def _user_layers(users: list[Exception_]) -> list[list[Exception_]]:
    """user + user-apc are sorted together (stable), so within records of equal sort key the input order
    must be the file's. Each tie group is cut into runs of one kind; the n-th run goes to layer n (user
    layers even, user-apc layers odd), and the layers are compiled in order. Usually 2 layers: one user
    file, one user-apc file."""
    layers: list[list[Exception_]] = [[], []]
    key: tuple[object, ...] | None = None
    layer = 0
    previous: type | None = None
    for exc in users:
        k = exc.sort_key()
        apc = isinstance(exc, UserApcException)
        if k != key:
            key = k
            layer = 1 if apc else 0
        elif type(exc) is not previous:
            layer += 1
        previous = type(exc)
        while len(layers) <= layer:
            layers.append([])
        layers[layer].append(exc)
    return layers


def decompile(
    model: ExceptionSet,
    *,
    config: Config | None = None,
    resolver: NameResolver | None = None,
) -> Decompiled:
    """JSON documents that compile (``hvmiex build``, stock config unless :attr:`Decompiled.config`) back
    to the bytes of ``model``; notes say what cannot be reproduced."""
    from hvmiex.binfile.reader import paused_gc

    with paused_gc():
        return _decompile(model, config, resolver)


def _decompile(model: ExceptionSet, config: Config | None, resolver: NameResolver | None) -> Decompiled:
    cfg = config or load_config()
    records: tuple[Record, ...] = model.records
    notes: list[Diagnostic] = []
    kernel: list[Exception_] = []
    users: list[Exception_] = []
    kum: list[Exception_] = []
    globs: list[GlobException] = []
    sigs: list[Signature] = []
    for r in records:
        if isinstance(r, KernelException):
            kernel.append(r)
        elif isinstance(r, UserException | UserApcException):
            users.append(r)
        elif isinstance(r, KernelUserException):
            kum.append(r)
        elif isinstance(r, GlobException):
            globs.append(r)
        elif isinstance(r, RawObject):
            notes.append(Diagnostic("DC001", f"object of unknown type {r.type} ({len(r.body)} bytes) has no JSON form; left out",
                                    Severity.WARNING))
        else:
            sigs.append(r)
    glob_input, glob_ok = _glob_split(globs)
    if not glob_ok and globs:
        notes.append(Diagnostic("DC004", "the glob records are not in the compiler's prefix + sorted order; written as found",
                                Severity.WARNING))
    for g in globs:
        for text in (g.originator, g.victim, g.process):
            if text in cfg.groups:
                notes.append(Diagnostic("DC005", f"glob string {text!r} is a group name: a rebuild expands it", Severity.WARNING))
    referenced = {ref.id for r in records if not isinstance(r, RawObject) and hasattr(r, "signatures")
                  for ref in r.signatures}
    ids = [s.id for s in sigs]
    if ids != sorted(ids) or len(set(ids)) != len(ids):
        notes.append(Diagnostic("DC004", "signatures are not in ascending unique id order; a rebuild sorts them", Severity.WARNING))
    missing = referenced - set(ids)
    if missing:
        notes.append(Diagnostic("DC006", f"{len(missing)} referenced signature id(s) are not in the file, e.g. "
                                f"0x{min(missing):08x}: the JSON will not build", Severity.WARNING))
    all_sigs, q1_notes = _q1_placeholders(sigs, referenced, cfg)
    notes.extend(q1_notes)
    opts = _options(cfg, resolver, True, all_sigs)
    documents: list[JsonDocument] = []
    if all_sigs:
        documents.append(
            JsonDocument("00-signatures.json", {"Type": SIGNATURE_FILE_TYPE, "Signatures": [signature_to_json(s, opts) for s in all_sigs]})
        )
    if kernel:
        documents.append(_doc(ExceptionKind.KERNEL, "10-kernel.json", kernel, opts))
    layers = _user_layers(users)
    for i, layer in enumerate(layers):
        if not layer:
            continue
        kind = ExceptionKind.USER if i % 2 == 0 else ExceptionKind.USER_APC
        name = f"{_KIND_FILES[kind]}.json" if len(layers) <= 2 else f"20-user-{i:04d}-{kind.value}.json"
        documents.append(_doc(kind, name, layer, opts))
    if kum:
        documents.append(_doc(ExceptionKind.KERNEL_USER, "30-kernel-user.json", kum, opts))
    if glob_input:
        documents.append(_doc(ExceptionKind.USER_GLOB, "40-user-glob-match.json", list(glob_input), opts))
    notes.extend(opts.notes)
    if not (kernel or users or kum or globs):
        notes.append(Diagnostic("DC007", "the file holds no exceptions: upstream's compiler cannot produce it from JSON "
                                "without one", Severity.INFO))
    counts = model.counts
    if counts is not None:
        notes.append(Diagnostic("DC008", "the header counts disagree with the records; a rebuild writes the real counts",
                                Severity.WARNING))
    if model.reserved:
        notes.append(Diagnostic("DC008", "the header's reserved dword is not 0; a rebuild writes 0", Severity.WARNING))
    custom = None
    if (model.major, model.minor) != (cfg.major, cfg.minor):
        custom = _config_with_version(cfg, model.major, model.minor)
    exact = not any(n.severity is Severity.WARNING for n in notes)
    return Decompiled(tuple(documents), model.build, custom, tuple(notes), exact)


def _doc(kind: ExceptionKind, filename: str, records: Sequence[Exception_], opts: WriterOptions) -> JsonDocument:
    return JsonDocument(filename, {"Type": kind.value, "Exceptions": [exception_to_json(e, opts) for e in records]})


def _config_with_version(cfg: Config, major: int, minor: int) -> JsonObject:
    """The configuration as JSON (upstream's layout) with the file's format version."""

    def hex_flags(table: Mapping[str, int]) -> dict[str, str]:
        return {k: f"0x{v:08x}" for k, v in table.items()}

    return {
        "Type": "config",
        "Version": {"Major": major, "Minor": minor},
        "Predefined": {k: dict(v) for k, v in cfg.predefined.items()},
        "SignatureType": dict(cfg.signature_types),
        "ProcessCreationFlags": dict(cfg.process_creation_flags),
        "Groups": {k: list(v) for k, v in cfg.groups.items()},
        "Flags": {k: hex_flags(v) for k, v in cfg.flags.items()},
        "Types": {k: dict(v) for k, v in cfg.types.items()},
    }
