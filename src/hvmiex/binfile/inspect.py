"""What an exceptions.bin holds, decoded for people and scripts: header summary and one table per list.

Names are resolved from hashes with a :class:`~hvmiex.namedb.NameResolver` (bundled dictionary and
``--names`` sources) under the exact rule of each field; unresolved values are shown as hashes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hvmiex.binfile.reader import LoadResult, ParsedBin, paused_gc
from hvmiex.config import Config, load_config
from hvmiex.model import (
    CodeBlocksSignature,
    ExceptionKind,
    ExportSignature,
    GlobException,
    IdtSignature,
    KernelException,
    KernelUserException,
    LinuxVersion,
    Name,
    ProcessCreationSignature,
    RawObject,
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
from hvmiex.names import HashRule
from hvmiex.source.writer import _intern, fast_json_encoder

LISTS = ("kernel", "user", "kernel-user", "glob", "signatures")
_SHORT = {
    "version-os": "vos",
    "version-intro": "vintro",
    "process-creation": "pc",
    "export": "exp",
    "value": "val",
    "idt": "idt",
    "value-code": "vc",
    "codeblocks": "cb",
}

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Inspection:
    """The decoded file: header facts and one list of rows per table (rows are JSON-ready dicts)."""

    header: dict[str, Any]
    tables: dict[str, list[Row]]
    unknown_objects: list[Row] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"header": self.header, **self.tables, "unknown_objects": self.unknown_objects}


class _Namer:
    """Resolves each (value, rule) once: files repeat the same names many times."""

    def __init__(self, resolver: NameResolver | None) -> None:
        self.resolver = resolver
        self.cache: dict[tuple[int, int], str] = {}
        self.rules: list[object] = []  # keeps every rule seen alive, so its id() stays unique

    def show(self, name: Name, rule: FieldRule | None) -> str:
        if name.text is not None:
            return name.text
        if rule is None:
            return f"0x{name.value:08x}"
        key = (name.value, id(rule))
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        self.rules.append(rule)
        text = None
        for t, v in rule.predefined.items():
            if v == name.value:
                text = t
                break
        if text is None and self.resolver is not None:
            text = self.resolver.resolve(name.value, rule.rule, rule.predefined)
        shown = text if text is not None else f"0x{name.value:08x}"
        self.cache[key] = shown
        return shown


def flag_names(value: int, tables: list[Mapping[str, int]]) -> list[str]:
    """Every flag name whose bit is set (first table wins for shared bits), unknown bits as hex."""
    names: list[str] = []
    left = value
    for bit_index in range(32):
        bit = 1 << bit_index
        if not value & bit:
            continue
        for table in tables:
            found = [n for n, v in table.items() if v == bit]
            if found:
                names.append("/".join(found))
                left &= ~bit
                break
    if left:
        names.append(f"0x{left:08x}")
    return names


def exception_flag_tables(kind: ExceptionKind, config: Config) -> list[Mapping[str, int]]:
    common = config.flags["common"]
    if kind is ExceptionKind.KERNEL:
        return [common, config.flags["kernel-mode"]]
    if kind is ExceptionKind.KERNEL_USER:
        return [common, config.flags["kernel-user-mode"], config.flags["kernel-mode"], config.flags["user-mode"]]
    return [common, config.flags["user-mode"]]


def signature_label(sig_id: int, config: Config) -> str:
    code = sig_id >> 22
    kind = next((k for k, v in config.signature_types.items() if v == code), None)
    return f"{_SHORT.get(kind or '', f'type{code}')}#{sig_id & 0x3FFFFF}"


class _Describer:
    def __init__(self, config: Config, resolver: NameResolver | None, present: set[int]) -> None:
        self.config = config
        self.namer = _Namer(resolver)
        self.present = present
        self.flag_cache: dict[tuple[ExceptionKind, int], list[str]] = {}
        self.type_cache: dict[tuple[ExceptionKind, int], str] = {}
        self.static: dict[tuple[type, int, int], tuple[str, str, int, list[str], str, tuple[FieldRule | None, ...]]] = {}
        self.labels: dict[int, str] = {}
        self.interned: dict[tuple[HashRule, int], FieldRule] = {}

    def label(self, sig_id: int) -> str:
        got = self.labels.get(sig_id)
        if got is None:
            got = self.labels[sig_id] = signature_label(sig_id, self.config)
        return got

    def refs(self, refs: tuple[SignatureRef, ...]) -> list[dict[str, Any]]:
        return [{"id": f"0x{r.id:08x}", "label": self.label(r.id), "present": r.id in self.present} for r in refs]

    def flags(self, kind: ExceptionKind, value: int) -> list[str]:
        key = (kind, value)
        got = self.flag_cache.get(key)
        if got is None:
            got = flag_names(value, exception_flag_tables(kind, self.config))
            self.flag_cache[key] = got
        return got

    def object_type(self, kind: ExceptionKind, value: int) -> str:
        key = (kind, value)
        got = self.type_cache.get(key)
        if got is None:
            got = self.config.type_name(kind.type_table, value) or f"unknown ({value})"
            self.type_cache[key] = got
        return got

    def _static(self, exc: Exception_) -> tuple[str, str, int, list[str], str, tuple[FieldRule | None, ...]]:
        """What rows of one (record class, object type, flags) share: computed once."""
        key = (type(exc), exc.object_type, exc.flags.value)
        got = self.static.get(key)
        if got is None:
            kind = exc.KIND
            value = exc.flags.value
            rules = tuple(
                _intern(self.namer.rules, self.interned, exception_field_rule(kind, fld, exc.object_type, value, self.config))
                for fld in ("originator", "victim", "process")
            )
            got = self.static[key] = (
                kind.value, self.object_type(kind, exc.object_type), exc.object_type, self.flags(kind, value),
                f"0x{value:08x}", rules,
            )  # fmt: skip
        return got

    def exception(self, exc: Exception_, offset: int) -> Row:
        kind, type_name, type_value, flags, flags_hex, rules = self._static(exc)
        row: Row = {"offset": offset, "kind": kind}
        if isinstance(exc, GlobException):
            row["originator"] = exc.originator
            row["victim"] = exc.victim
            row["process"] = exc.process
        else:
            show = self.namer.show
            row["originator"] = show(exc.originator, rules[0])
            row["victim"] = show(exc.victim, rules[1])
            if not isinstance(exc, KernelException):
                row["process"] = show(exc.process, rules[2])
        row["object_type"] = type_name
        row["object_type_value"] = type_value
        row["flags"] = flags
        row["flags_value"] = flags_hex
        row["signatures"] = self.refs(exc.signatures) if exc.signatures else []
        return row

    def signature(self, sig: Signature, offset: int, used_by: int) -> Row:
        cfg = self.config
        row: Row = {
            "offset": offset,
            "id": f"0x{sig.id:08x}",
            "label": self.label(sig.id),
            "kind": sig.KIND.value,
            "flags": flag_names(sig.flags.value, [cfg.flags["signatures"]]),
            "flags_value": f"0x{sig.flags.value:08x}",
            "used_by": used_by,
        }
        if isinstance(sig, ExportSignature):
            fn = export_function_rule(cfg)
            row["library"] = self.namer.show(sig.library, export_library_rule(cfg))
            row["entries"] = [{"name": self.namer.show(h.name, fn), "delta": h.delta} for h in sig.entries]
            row["summary"] = f"{row['library']}: " + ", ".join(f"{e['name']}+{e['delta']}" for e in row["entries"])
        elif isinstance(sig, ValueSignature):
            row["score"] = sig.score
            row["entries"] = [{"offset": h.offset, "size": h.size, "hash": f"0x{h.hash:08x}"} for h in sig.entries]
            row["summary"] = f"score {sig.score}; " + ", ".join(
                f"[{e['offset']}:{e['size']}]={e['hash']}" for e in row["entries"]
            )
        elif isinstance(sig, CodeBlocksSignature):
            row["score"] = sig.score
            row["lists"] = [[f"0x{h:08x}" for h in lst] for lst in sig.lists]
            row["summary"] = f"score {sig.score}; {len(sig.lists)} list(s) of " + "/".join(
                str(len(lst)) for lst in sig.lists
            ) + " hash(es)"
        elif isinstance(sig, ValueCodeSignature):
            row["offset_value"] = sig.offset
            row["pattern"] = ["??" if p == 0x100 else f"{p:02x}" for p in sig.pattern]
            row["summary"] = f"offset {sig.offset}: " + " ".join(row["pattern"])
        elif isinstance(sig, IdtSignature):
            row["entry"] = sig.entry
            row["summary"] = f"entry {sig.entry}"
        elif isinstance(sig, VersionOsSignature):
            if sig.minimum >> 32 == 0 and sig.maximum >> 32 == 0xFFFF:
                a, b = LinuxVersion.unpack(sig.minimum), LinuxVersion.unpack(sig.maximum)
                row["minimum"] = f"{a.version}.{a.patch}.{a.sublevel}"
                row["maximum"] = f"{b.version}.{b.patch}.{b.sublevel}"
                row["form"] = "linux"
            else:
                row["minimum"], row["maximum"], row["form"] = str(sig.minimum), str(sig.maximum), "windows"
            row["summary"] = f"{row['form']} {row['minimum']} .. {row['maximum']}"
        elif isinstance(sig, VersionIntroSignature):
            a2, b2 = sig.minimum, sig.maximum
            row["minimum"] = f"{a2.major}.{a2.minor}.{a2.revision}.{a2.build}"
            row["maximum"] = f"{b2.major}.{b2.minor}.{b2.revision}.{b2.build}"
            row["summary"] = f"introcore {row['minimum']} .. {row['maximum']}"
        elif isinstance(sig, ProcessCreationSignature):
            mask = sig.create_mask.value
            names = [n for n, t in cfg.process_creation_flags.items() if int(t, 16) & mask]
            row["create_mask"] = names
            row["create_mask_value"] = f"0x{mask:08x}"
            row["summary"] = "create mask " + (" ".join(names) or "0")
        return row


_TABLE_OF: dict[type, str] = {
    KernelException: "kernel",
    UserException: "user",
    UserApcException: "user",
    KernelUserException: "kernel-user",
    GlobException: "glob",
}
_ENCODE = fast_json_encoder()


def _header(parsed: ParsedBin, sizes: dict[str, int], unknown: int, used: dict[int, int], present: set[int],
            load: LoadResult | None) -> dict[str, Any]:  # fmt: skip
    model = parsed.model
    stored = parsed.header_counts
    actual = {"kernel": sizes["kernel"], "user": sizes["user"], "signatures": sizes["signatures"],
              "glob": sizes["glob"], "kernel_user": sizes["kernel-user"]}  # fmt: skip
    header: dict[str, Any] = {
        "path": parsed.path,
        "version": f"{model.major}.{model.minor}",
        "build": model.build,
        "counts": (
            {"kernel": stored.kernel, "user": stored.user, "signatures": stored.signatures, "glob": stored.glob,
             "kernel_user": stored.kernel_user}
            if stored else dict(actual)
        ),
        "records": {**actual, "unknown": unknown},
        "missing_signatures": sorted(f"0x{i:08x}" for i in set(used) - present),
        "unused_signatures": sorted(f"0x{i:08x}" for i in present - set(used)),
        "damage": parsed.error.render() if parsed.error is not None else None,
    }  # fmt: skip
    if load is not None:
        header["introcore"] = {
            "accepted": load.accepted,
            "status_name": load.status.status_name,
            "reasons": [d.render() for d in load.reasons],
            "windows": {"exceptions": load.windows.total_exceptions, "signatures": load.windows.total_signatures},
            "linux": {"exceptions": load.linux.total_exceptions, "signatures": load.linux.total_signatures},
        }
    return header


def _usage(parsed: ParsedBin) -> tuple[set[int], dict[int, int]]:
    present: set[int] = set()
    used: dict[int, int] = {}
    for record in parsed.model.records:
        if type(record) in _TABLE_OF:
            for ref in record.signatures:  # type: ignore[union-attr]
                used[ref.id] = used.get(ref.id, 0) + 1
        elif not isinstance(record, RawObject):
            present.add(record.id)  # type: ignore[union-attr]
    return present, used


def inspect_parsed(
    parsed: ParsedBin,
    *,
    config: Config | None = None,
    resolver: NameResolver | None = None,
    load: LoadResult | None = None,
    limit: int | None = None,
) -> Inspection:
    """Decode the records of ``parsed`` into rows, grouped by list, in file order (at most ``limit``
    rows per table; the header always counts every record)."""
    cfg = config or load_config()
    present, used = _usage(parsed)
    describer = _Describer(cfg, resolver, present)
    tables: dict[str, list[Row]] = {name: [] for name in LISTS}
    sizes = dict.fromkeys(LISTS, 0)
    unknown: list[Row] = []
    table_of = _TABLE_OF
    for record, offset in zip(parsed.model.records, parsed.offsets, strict=True):
        name = table_of.get(type(record))
        if name is None:
            if isinstance(record, RawObject):
                unknown.append({"offset": offset, "type": record.type, "size": len(record.body)})
                continue
            name = "signatures"
        sizes[name] += 1
        if limit is not None and sizes[name] > limit:
            continue
        if name == "signatures":
            tables[name].append(describer.signature(record, offset, used.get(record.id, 0)))  # type: ignore[arg-type, union-attr]
        else:
            tables[name].append(describer.exception(record, offset))  # type: ignore[arg-type]
    return Inspection(_header(parsed, sizes, len(unknown), used, present, load), tables, unknown)


def inspect_json(
    parsed: ParsedBin,
    *,
    config: Config | None = None,
    resolver: NameResolver | None = None,
    load: LoadResult | None = None,
    lists: tuple[str, ...] = LISTS,
) -> str:
    """``json.dumps(inspect_parsed(...).to_dict())`` (tables limited to ``lists``), built from cached
    JSON fragments: names, flags and types repeat across records, so a million rows stay fast."""
    with paused_gc():
        return _inspect_json(parsed, config, resolver, load, lists)


def _inspect_json(
    parsed: ParsedBin,
    config: Config | None,
    resolver: NameResolver | None,
    load: LoadResult | None,
    lists: tuple[str, ...],
) -> str:
    cfg = config or load_config()
    present, used = _usage(parsed)
    d = _Describer(cfg, resolver, present)
    rows: dict[str, list[str]] = {name: [] for name in LISTS}
    sizes = dict.fromkeys(LISTS, 0)
    unknown: list[Row] = []
    statics: dict[tuple[type, int, int], tuple[str, str, tuple[FieldRule | None, ...]]] = {}
    names: dict[tuple[int, int], str] = {}
    refs_cache: dict[int, str] = {}
    keep: list[object] = []  # objects whose id() keys a cache stay alive
    show = d.namer.show
    wanted = set(lists)

    def name_json(value: Name, rule: FieldRule | None) -> str:
        key = (value.value, id(rule))
        got = names.get(key) if value.text is None else None
        if got is None:
            got = _ENCODE(show(value, rule))
            if value.text is None:
                names[key] = got
        return got

    for record, offset in zip(parsed.model.records, parsed.offsets, strict=True):
        cls = type(record)
        name = _TABLE_OF.get(cls)
        if name is None:
            if isinstance(record, RawObject):
                unknown.append({"offset": offset, "type": record.type, "size": len(record.body)})
                continue
            sizes["signatures"] += 1
            if "signatures" in wanted:
                row = d.signature(record, offset, used.get(record.id, 0))  # type: ignore[arg-type, union-attr]
                rows["signatures"].append(_ENCODE(row))
            continue
        sizes[name] += 1
        if name not in wanted:
            continue
        exc: Any = record
        skey = (cls, exc.object_type, exc.flags.value)
        static = statics.get(skey)
        if static is None:
            kind, type_name, type_value, flags, flags_hex, rules = d._static(exc)
            keep.append(rules)
            static = statics[skey] = (
                f'"kind": {_ENCODE(kind)}',
                f'"object_type": {_ENCODE(type_name)}, "object_type_value": {type_value}, '
                f'"flags": {_ENCODE(flags)}, "flags_value": "{flags_hex}"',
                rules,
            )
        kind_text, static_text, rules = static
        if cls is GlobException:
            fields = (f'"originator": {_ENCODE(exc.originator)}, "victim": {_ENCODE(exc.victim)}, '
                      f'"process": {_ENCODE(exc.process)}')  # fmt: skip
        elif cls is KernelException:
            fields = f'"originator": {name_json(exc.originator, rules[0])}, "victim": {name_json(exc.victim, rules[1])}'
        else:
            fields = (f'"originator": {name_json(exc.originator, rules[0])}, '
                      f'"victim": {name_json(exc.victim, rules[1])}, "process": {name_json(exc.process, rules[2])}')  # fmt: skip
        refs = exc.signatures
        if refs:
            refs_text = refs_cache.get(id(refs))
            if refs_text is None:
                keep.append(refs)
                refs_text = refs_cache[id(refs)] = _ENCODE(d.refs(refs))
        else:
            refs_text = "[]"
        rows[name].append(f'{{"offset": {offset}, {kind_text}, {fields}, {static_text}, "signatures": {refs_text}}}')
    header = _header(parsed, sizes, len(unknown), used, present, load)
    parts = [f'{{"header": {_ENCODE(header)}']
    for name in LISTS:
        if name in wanted:
            parts.append(f', {_ENCODE(name)}: [' + ", ".join(rows[name]) + "]")
    parts.append(f', "unknown_objects": {_ENCODE(unknown)}}}')
    return "".join(parts)
