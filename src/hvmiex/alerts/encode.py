"""Encode serialized alert blobs from decoded objects, with the same declarations as the decoder.

``encode_alert(decode_alert(b)) == b`` for every blob the decoder accepts: strings keep their raw bytes
(and any stale bytes the producer wrote after them), tails and extra payload bytes are written back, and
a truncated object (header without payload, spec 05 §8.5) is written as a size-0 header.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from typing import Any

from hvmiex.alerts.layout import (
    HEADER,
    LAYOUTS,
    LAYOUTS_BY_KEY,
    OBJECT_HEADER,
    STRING_HEADER,
    ObjectLayout,
    Section,
    Tail,
)
from hvmiex.alerts.model import Alert, AlertFormatError, AlertHeader, AlertObject, BlobString, alert_error

MAX_PAYLOAD = 0xFFFF


def encode_header(header: AlertHeader) -> bytes:
    try:
        return HEADER.pack(header.alert_class, header.guest, header.event, header.size, header.arch)
    except struct.error as exc:
        raise alert_error(f"header value out of range: {exc}", offset=0, code="ALERT100") from None


def _string(value: BlobString | None, index: int, type_id: int, name: str) -> bytes:
    if value is None:
        return b""
    if not isinstance(value, BlobString):
        raise alert_error(
            f"expected a BlobString, got {type(value).__name__}", index=index, type_id=type_id,
            field_name=name, code="ALERT101",
        )
    return STRING_HEADER.pack(len(value.raw), value.encoding) + value.raw + value.stale


def encode_payload(obj: AlertObject) -> bytes:
    """The payload bytes of one object (without its 8-byte header)."""
    layout = LAYOUTS.get(obj.type_id)
    if layout is None:
        raise alert_error(f"unknown object type {obj.type_id}", index=obj.number, code="ALERT102")
    if obj.truncated:
        return b""
    if obj.type_id == 46 and "process" in obj.values:
        return _encode_sd_defect(obj)
    values = obj.values
    if layout.marker:
        return obj.extra
    parts: list[bytes] = []
    try:
        parts.append(layout.fixed.pack(*[values[f] for f in layout.fields]))
    except (KeyError, struct.error) as exc:
        raise alert_error(
            f"cannot pack fixed fields: {exc}", index=obj.number, type_id=obj.type_id, code="ALERT103"
        ) from None
    for name in layout.strings:
        parts.append(_string(values.get(name), obj.number, obj.type_id, name))
    tail = layout.tail
    if tail is not Tail.NONE:
        name = layout.tail_name or "tail"
        data = values.get(name, b"" if tail in (Tail.RAW, Tail.BYTES) else ())
        if tail is not Tail.RAW and layout.count_field is not None and values[layout.count_field] != len(data):
            raise alert_error(
                f"'{layout.count_field}' is {values[layout.count_field]} but '{name}' has {len(data)} item(s)",
                index=obj.number, type_id=obj.type_id, field_name=layout.count_field, code="ALERT104",
            )
        if tail is Tail.U32_ARRAY:
            parts.append(struct.pack(f"<{len(data)}I", *data))
        elif tail is Tail.COUNTED_STRINGS:
            parts.extend(_string(s, obj.number, obj.type_id, name) for s in data)
        else:
            parts.append(bytes(data))
    parts.append(obj.extra)
    return b"".join(parts)


def _encode_sd_defect(obj: AlertObject) -> bytes:
    # upstream producer defect (spec 05 §8.4), reproduced so that decode -> encode is lossless
    inner: AlertObject = obj.values["process"]
    inner_payload = encode_payload(inner)
    stale: bytes = obj.values["stale"]
    return OBJECT_HEADER.pack(1, 46, len(inner_payload)) + inner_payload + stale


def encode_object(obj: AlertObject) -> bytes:
    payload = encode_payload(obj)
    size = len(payload)
    if obj.type_id == 46 and "process" in obj.values:
        size = int(obj.values["declared_size"])
    if size > MAX_PAYLOAD:
        raise alert_error(
            f"payload of {size} bytes exceeds the u16 size field", index=obj.number, type_id=obj.type_id,
            code="ALERT105",
        )
    return OBJECT_HEADER.pack(obj.version, obj.type_id, size) + payload


def encode_alert(alert: Alert | tuple[AlertHeader, Iterable[AlertObject]]) -> bytes:
    """Bytes of a blob: header then every object, in order."""
    objects: Iterable[AlertObject]
    if isinstance(alert, Alert):
        header, objects = alert.header, alert.objects
    else:
        header, objects = alert
    return encode_header(header) + b"".join(encode_object(o) for o in objects)


def make_object(key: str | int, **fields: Any) -> AlertObject:
    """Build an object from field values; counts/lengths of tails are filled in, strings may be ``str``.

    Missing fixed fields default to 0 (bytes fields to zero bytes of their size).
    """
    layout = LAYOUTS_BY_KEY[key] if isinstance(key, str) else LAYOUTS[key]
    values: dict[str, Any] = {}
    defaults = layout.fixed.unpack(bytes(layout.fixed.size))
    for name, default in zip(layout.fields, defaults, strict=True):
        values[name] = fields.pop(name, default)
    for name in layout.strings:
        values[name] = _as_blob_string(fields.pop(name, ""))
    if layout.tail is not Tail.NONE:
        name = layout.tail_name or "tail"
        data = fields.pop(name, b"" if layout.tail in (Tail.RAW, Tail.BYTES) else ())
        if layout.tail is Tail.COUNTED_STRINGS:
            data = tuple(_as_blob_string(s) for s in data)
        elif layout.tail is Tail.U32_ARRAY:
            data = tuple(data)
        else:
            data = bytes(data)
        values[name] = data
        if layout.count_field is not None:
            values[layout.count_field] = len(data)
    if fields:
        raise alert_error(
            f"unknown field(s) {sorted(fields)} for object {layout.key}", type_id=layout.type_id,
            code="ALERT106",
        )
    return AlertObject(layout.type_id, values)


def _as_blob_string(value: Any) -> BlobString:
    if isinstance(value, BlobString):
        return value
    if isinstance(value, str):
        return BlobString.of(value)
    raise AlertFormatError(f"expected str or BlobString for a string field, got {type(value).__name__}")


def marker(section: Section, start: bool) -> AlertObject:
    """A section marker object."""
    type_id = {Section.ORIGINATOR: 1, Section.VICTIM: 3, Section.MISC: 5}[section] + (0 if start else 1)
    return AlertObject(type_id, {})


def build_alert(header: AlertHeader, sections: Mapping[Section, Iterable[AlertObject]]) -> bytes:
    """Blob with the three sections, each bracketed by its markers (spec 05 §8.1)."""
    objects: list[AlertObject] = []
    for section in (Section.ORIGINATOR, Section.VICTIM, Section.MISC):
        objects.append(marker(section, True))
        objects.extend(sections.get(section, ()))
        objects.append(marker(section, False))
    return encode_alert((header, objects))


def layout_of(key: str) -> ObjectLayout:
    return LAYOUTS_BY_KEY[key]


# ------------------------------------------------------------------------------------------------------
# violation -> blob, in the producer's object order and string conventions (spec 05 §6.3, §8.2)


def _narrowed(text: str | None, drop_last: bool) -> BlobString:
    """A wide producer string narrowed to 8 bits: L = characters, last slot NUL (spec 05 §6.3)."""
    if not text:
        return BlobString(b"", 1)
    if any(ord(c) > 0x7F for c in text):
        data = text.encode("utf-16-le", "surrogatepass")
        # upstream producer defect: L = S bytes but 2*S bytes copied (stale copy: zeros here)
        return BlobString(data, 1, bytes(len(data)))
    raw = text.encode("ascii")
    if drop_last:
        return BlobString(raw[:-1] + b"\0", 0)
    return BlobString(raw + b"\0", 0)


def _c_string(text: str | None, nul: bool) -> BlobString:
    if not text:
        return BlobString(b"", 0)
    return BlobString(text.encode("utf-8", "surrogateescape") + (b"\0" if nul else b""), 0)


def encode_violation(violation: Any, event: int | None = None) -> bytes:
    """A blob describing ``violation`` as Introcore's serializer would write it."""
    return encode_alert(violation_to_alert(violation, event))


def violation_to_alert(violation: Any, event: int | None = None) -> tuple[AlertHeader, list[AlertObject]]:
    """Header and objects (producer order, spec 05 §8.2) for a :class:`hvmiex.violation.Violation`."""
    from hvmiex.violation import GuestOS, KernelOriginator, ObjectType, ViolationKind, ZoneType

    v = violation
    linux = v.env.os is GuestOS.LINUX
    victim = v.victim
    zone = ZoneType(victim.zone_type)
    flags = int(victim.zone_flags)
    alert_class = {ViolationKind.KM: 0, ViolationKind.UM: 1, ViolationKind.KUM: 2}[v.kind]
    if event is None:
        event = {ZoneType.EPT: 1, ZoneType.MSR: 2, ZoneType.CR: 3, ZoneType.INTEGRITY: 5, ZoneType.PROCESS: 7,
                 ZoneType.DTR: 8, ZoneType.PC: 16}[zone]
        if zone is ZoneType.PROCESS and flags & 0x100:
            event = 17
    header = AlertHeader(alert_class, 2 if linux else 1, event, 0, 1 if v.env.guest_64 else 0)
    orig: list[AlertObject] = []
    vic: list[AlertObject] = []
    misc: list[AlertObject] = []
    acb = v.alert_codeblocks
    otype = int(victim.object_type)

    def kernel_pair(frame: Any, generic: str, specific_win: str, specific_lix: str) -> list[AlertObject]:
        if not frame.driver:
            return []
        section = BlobString(b"", 0)
        if frame.section:
            section = BlobString(frame.section.encode("latin-1")[:8].ljust(8, b"\0") + b"\0", 0)
        first = make_object(generic, base=frame.base, size=frame.size or 0, entry_point=frame.entry_point or 0,
                            section=section)
        if linux:
            second = make_object(specific_lix, core_base=frame.core_base or 0, name=_c_string(frame.name, False))
        else:
            second = make_object(specific_win, path=_c_string(frame.path or frame.name, True))
        return [first, second]

    def win_process(proc: Any, key: str) -> AlertObject:
        if proc.os is GuestOS.LINUX:
            return make_object(
                "linux_task" if key == "windows_process" else "linux_parent_task",
                task=proc.address, actual_parent=proc.parent_address, cr3=proc.cr3, pid=proc.pid or 0,
                name=_c_string(proc.name, False), path=_c_string(proc.path, False),
                command_line=_c_string(proc.command_line, True),
            )
        name = (proc.name or "").encode("latin-1", "replace")[:15].ljust(16, b"\0")
        return make_object(
            key, eprocess=proc.address, parent=proc.parent_address, real_parent=proc.parent_address, cr3=proc.cr3,
            pid=proc.pid or 0, peb64=proc.peb64_address or 0, peb32=proc.peb32_address or 0,
            name=BlobString(name, 0), path=_narrowed(proc.path, True),
            command_line=_c_string(proc.command_line, True),
        )

    def module(mod: Any, key: str = "windows_module") -> AlertObject:
        return make_object(key, base=mod.base, size=mod.size or 0, path=_narrowed(mod.path or mod.name, True))

    def blocks(rip: int) -> AlertObject:
        assert acb is not None
        return make_object("code_blocks", start_address=acb.start, rip=rip, rip_index=acb.rip_index,
                           hashes=acb.hashes)

    def access_info() -> list[AlertObject]:
        if flags & 0x10000000 and victim.write is not None:
            w = victim.write
            return [make_object("write_info", access_size=w.access_size, old=w.old.ljust(64, b"\0")[:64],
                                new=w.new.ljust(64, b"\0")[:64])]
        if flags & 0x20000000 and victim.read is not None:
            r = victim.read
            return [make_object("read_info", access_size=r.size, value=r.value.ljust(64, b"\0")[:64])]
        if flags & 0x40000000 and victim.exec_info is not None:
            e = victim.exec_info
            return [make_object("exec_info", rsp=e.rsp, stack_base=e.stack_base, stack_limit=e.stack_limit,
                                length=e.length)]
        return []

    def ept() -> AlertObject:
        access = 2 if flags & 0x10000000 else 1 if flags & 0x20000000 else 4 if flags & 0x40000000 else 0
        return make_object("ept", gva=victim.gva, gpa=victim.gpa, access=access)

    def rip_code(rip: int) -> list[AlertObject]:
        page = v.env.memory.read(rip & ~0xFFF, 0x1000) if rip else None
        cs = v.env.code_segment_64
        if page is None and not rip and cs is not None:
            page = bytes(0x1000)  # the producer dumps a page even for RIP 0 (process creation)
        if page is None:
            return []
        return [make_object("rip_code", cs_type=3 if cs else (2 if cs is False else 0), code=page)]

    vic.append(make_object("victim", object_type=otype, zone_type=int(zone), zone_flags=flags))
    if isinstance(v.originator, KernelOriginator):
        o = v.originator
        orig += kernel_pair(o.original, "kernel_driver", "windows_kernel_driver", "linux_kernel_module")
        orig += kernel_pair(o.return_, "kernel_driver_return", "windows_kernel_driver_return",
                            "linux_kernel_module_return")
        instr = make_object("instruction", rip=o.original.rip, bytes=(o.instruction or b"").ljust(16, b"\0")[:16])
        if linux and o.instruction is not None:
            orig.append(instr)
        rip = o.original.rip
        idt_base = 0
        if v.kind is ViolationKind.KM:
            if zone is ZoneType.CR:
                vic.append(make_object("cr", cr=victim.cr.index if victim.cr else 4))
            elif zone is ZoneType.MSR:
                vic.append(make_object("msr", msr=victim.msr.index if victim.msr else 0))
            elif zone is ZoneType.DTR:
                vic.append(make_object("dtr", dtr_type=otype))
            elif zone is ZoneType.EPT:
                vic.append(ept())
            if otype == ObjectType.IDT and not linux:
                idt_base = victim.base_address
                if zone is ZoneType.INTEGRITY and victim.integrity is not None:
                    idt_base = victim.integrity.start
                entry = (victim.gva - idt_base) // (16 if v.env.guest_64 else 8) if zone is ZoneType.EPT else 0
                vic.append(make_object("idt", entry=entry & 0xFFFFFFFF))
            elif otype in (ObjectType.KM_MODULE, ObjectType.SSDT, ObjectType.VE_AGENT, ObjectType.VDSO,
                           ObjectType.VSYSCALL):
                if otype in (ObjectType.KM_MODULE, ObjectType.SSDT, ObjectType.VE_AGENT) and victim.name:
                    from hvmiex.violation import DriverFrame

                    frame = DriverFrame(driver=True, name=victim.name, base=victim.base_address, path=victim.name)
                    vic.extend(kernel_pair(frame, "kernel_driver", "windows_kernel_driver", "linux_kernel_module"))
            elif otype in (ObjectType.DRIVER_OBJECT, ObjectType.FAST_IO_DISPATCH) and victim.driver_object:
                d = victim.driver_object
                vic.append(make_object("windows_driver_object", gva=d.gva, gpa=d.gpa, fast_io=d.fast_io or 0,
                                       name=_narrowed(d.name, False)))
        else:
            vic.extend(_user_victim(v, win_process, module))
        if acb is not None:
            misc += [blocks(rip), blocks(o.return_.rip)]
        if not linux and o.instruction is not None:
            misc.append(instr)
        misc += access_info()
        if not linux:
            if zone is ZoneType.INTEGRITY and victim.integrity is not None:
                i = victim.integrity
                misc.append(make_object("ept", gva=i.start, gpa=(i.offset & 0xFFFFFFFF) | (i.total_length << 32),
                                        access=2))
            elif zone is ZoneType.EPT:
                misc.append(ept())
            else:
                misc.append(make_object("ept"))
        misc.append(make_object("arch_regs", rip=rip, idt_base=idt_base))
        misc += rip_code(rip)
        if v.kind is ViolationKind.KUM and victim.module is not None:
            misc += _export(victim)
    else:
        u = v.originator
        if u.process is not None:
            orig.append(win_process(u.process, "windows_process"))
        if zone is ZoneType.PC and victim.process is not None:
            orig.append(win_process(victim.process, "windows_parent_process"))
        if u.library is not None and not linux:
            orig.append(module(u.library))
        if u.return_.library is not None and not linux:
            orig.append(module(u.return_.library, "windows_module_return"))
        vic.extend(_user_victim(v, win_process, module))
        if zone is ZoneType.PROCESS:
            misc.append(make_object("injection", gva=victim.gva,
                                    length=victim.injection.length if victim.injection else 0,
                                    kind=injection_kind_from_flags(flags)))
        elif otype == ObjectType.UM_MODULE:
            misc.append(make_object("instruction", rip=u.rip))
            misc += _export(victim)
            misc += access_info()
            misc.append(ept())
        elif zone is ZoneType.EPT:
            misc.append(ept())
            misc += access_info()
        if int(u.pc_type):
            misc.append(make_object("dpi", flags=int(u.pc_type)))
        if acb is not None:
            misc.append(blocks(acb.rip))
        misc += rip_code(u.rip if zone is ZoneType.EPT else 0)
    return header, [*_bracket(Section.ORIGINATOR, orig), *_bracket(Section.VICTIM, vic), *_bracket(Section.MISC, misc)]


def injection_kind_from_flags(flags: int) -> int:
    from hvmiex.alerts.layout import injection_kind_from_zone_flags

    return injection_kind_from_zone_flags(flags)


def _bracket(section: Section, objects: list[AlertObject]) -> list[AlertObject]:
    return [marker(section, True), *objects, marker(section, False)]


def _export(victim: Any) -> list[AlertObject]:
    mod = victim.module
    if mod is None or not mod.exports:
        return []
    exp = mod.export_at(victim.gva)
    if exp is None:
        return []
    delta = victim.gva - mod.base - exp.rva
    return [make_object("export", delta=delta, names=tuple(exp.names))]


def _user_victim(v: Any, win_process: Any, module: Any) -> list[AlertObject]:
    from hvmiex.violation import ObjectType, ZoneType

    victim = v.victim
    out: list[AlertObject] = []
    zone = ZoneType(victim.zone_type)
    otype = int(victim.object_type)
    if zone is ZoneType.PC:
        return out
    proc = victim.process
    if proc is not None:
        out.append(win_process(proc, "windows_process"))
    if (zone is ZoneType.PROCESS or otype in (ObjectType.UM_GENERIC_NX_ZONE, ObjectType.SUD_EXEC,
                                              ObjectType.UM_MODULE)) and victim.module is not None:
        out.append(module(victim.module))
    return out
