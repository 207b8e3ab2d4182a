"""What an exceptions.bin holds, decoded for people and scripts: header summary and one table per list.

Names are resolved from hashes with a :class:`~hvmiex.namedb.NameResolver` (bundled dictionary and
``--names`` sources) under the exact rule of each field; unresolved values are shown as hashes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hvmiex.binfile.reader import LoadResult, ParsedBin
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
        self.cache: dict[tuple[int, Any], str | None] = {}

    def show(self, name: Name, rule: FieldRule | None) -> str:
        if name.text is not None:
            return name.text
        if rule is None:
            return f"0x{name.value:08x}"
        key = (name.value, rule.rule)
        if key not in self.cache:
            text = None
            for t, v in rule.predefined.items():
                if v == name.value:
                    text = t
                    break
            if text is None and self.resolver is not None:
                text = self.resolver.resolve(name.value, rule.rule, rule.predefined)
            self.cache[key] = text
        found = self.cache[key]
        return found if found is not None else f"0x{name.value:08x}"


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

    def refs(self, refs: tuple[SignatureRef, ...]) -> list[dict[str, Any]]:
        return [
            {"id": f"0x{r.id:08x}", "label": signature_label(r.id, self.config), "present": r.id in self.present}
            for r in refs
        ]

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

    def exception(self, exc: Exception_, offset: int) -> Row:
        kind = exc.KIND
        row: Row = {"offset": offset, "kind": kind.value}
        value = exc.flags.value
        if isinstance(exc, GlobException):
            row.update(originator=exc.originator, victim=exc.victim, process=exc.process)
        else:
            cfg = self.config

            def show(fld: str, name: Name) -> str:
                return self.namer.show(name, exception_field_rule(kind, fld, exc.object_type, value, cfg))

            row["originator"] = show("originator", exc.originator)
            row["victim"] = show("victim", exc.victim)
            if not isinstance(exc, KernelException):
                row["process"] = show("process", exc.process)
        row["object_type"] = self.object_type(kind, exc.object_type)
        row["object_type_value"] = exc.object_type
        row["flags"] = self.flags(kind, value)
        row["flags_value"] = f"0x{value:08x}"
        row["signatures"] = self.refs(exc.signatures)
        return row

    def signature(self, sig: Signature, offset: int, used_by: int) -> Row:
        cfg = self.config
        row: Row = {
            "offset": offset,
            "id": f"0x{sig.id:08x}",
            "label": signature_label(sig.id, cfg),
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


def inspect_parsed(
    parsed: ParsedBin,
    *,
    config: Config | None = None,
    resolver: NameResolver | None = None,
    load: LoadResult | None = None,
) -> Inspection:
    """Decode every record of ``parsed`` into rows, grouped by list, in file order."""
    cfg = config or load_config()
    model = parsed.model
    present = {s.id for s in model.signatures}
    used: dict[int, int] = {}
    for exc in model.exceptions:
        for ref in exc.signatures:
            used[ref.id] = used.get(ref.id, 0) + 1
    describer = _Describer(cfg, resolver, present)
    tables: dict[str, list[Row]] = {name: [] for name in LISTS}
    unknown: list[Row] = []
    for record, offset in zip(model.records, parsed.offsets, strict=True):
        if isinstance(record, KernelException):
            tables["kernel"].append(describer.exception(record, offset))
        elif isinstance(record, UserException | UserApcException):
            tables["user"].append(describer.exception(record, offset))
        elif isinstance(record, KernelUserException):
            tables["kernel-user"].append(describer.exception(record, offset))
        elif isinstance(record, GlobException):
            tables["glob"].append(describer.exception(record, offset))
        elif isinstance(record, RawObject):
            unknown.append({"offset": offset, "type": record.type, "size": len(record.body)})
        else:
            tables["signatures"].append(describer.signature(record, offset, used.get(record.id, 0)))
    stored = parsed.header_counts
    actual = type(model)(model.records).header_counts()
    header: dict[str, Any] = {
        "path": parsed.path,
        "version": f"{model.major}.{model.minor}",
        "build": model.build,
        "counts": {
            "kernel": stored.kernel if stored else actual.kernel,
            "user": stored.user if stored else actual.user,
            "signatures": stored.signatures if stored else actual.signatures,
            "glob": stored.glob if stored else actual.glob,
            "kernel_user": stored.kernel_user if stored else actual.kernel_user,
        },
        "records": {
            "kernel": actual.kernel, "user": actual.user, "signatures": actual.signatures, "glob": actual.glob,
            "kernel_user": actual.kernel_user, "unknown": len(unknown),
        },
        "missing_signatures": sorted(f"0x{i:08x}" for i in set(used) - present),
        "unused_signatures": sorted(f"0x{i:08x}" for i in present - set(used)),
    }  # fmt: skip
    if load is not None:
        header["introcore"] = {
            "accepted": load.accepted,
            "status_name": load.status.status_name,
            "reasons": [d.render() for d in load.reasons],
            "windows": {"exceptions": load.windows.total_exceptions, "signatures": load.windows.total_signatures},
            "linux": {"exceptions": load.linux.total_exceptions, "signatures": load.linux.total_signatures},
        }
    return Inspection(header, tables, unknown)
