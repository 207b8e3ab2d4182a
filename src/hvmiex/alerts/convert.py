"""Decoded alert objects -> the toolkit's violation model (spec 03 §4, what a blob carries: §4.6).

A blob does not carry everything a violation holds (environment versions, system-process flags, KUM
injection direction, ...): those keep the model's defaults. Where the producer damaged a value (spec 05
§6.3: paths losing their last character, halved driver-object names; integrity IDT entries), the
conversion repairs what can be repaired and says so in ``notes``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hvmiex.alerts.layout import Section
from hvmiex.alerts.model import Alert, AlertObject, BlobString, alert_error
from hvmiex.violation import (
    HASH_HAL,
    HASH_KERNEL,
    NONAME,
    AlertCodeBlocks,
    CrInfo,
    DriverFrame,
    DriverObjectInfo,
    Environment,
    ExecInfo,
    Export,
    GuestMemory,
    GuestOS,
    InjectionInfo,
    IntegrityInfo,
    KernelOriginator,
    MemoryRange,
    Module,
    MsrInfo,
    ObjectType,
    Origin,
    PcType,
    Process,
    ReadInfo,
    UserOriginator,
    UserReturn,
    Victim,
    Violation,
    ViolationKind,
    WriteInfo,
    ZoneFlags,
    ZoneType,
    hash_driver_object,
    hash_export,
    hash_kernel_module,
    hash_process,
    hash_user_module,
)

ORIG, VIC, MISC = Section.ORIGINATOR, Section.VICTIM, Section.MISC

# Extensions whose last letter the producer's narrowing drops (spec 05 §6.3): "ntdll.dl" -> "ntdll.dll".
_EXTENSION_REPAIR = {
    ".dl": "l",
    ".ex": "e",
    ".sy": "s",
    ".dr": "v",
    ".oc": "x",
    ".cp": "l",
    ".mu": "i",
    ".tl": "b",
    ".ef": "i",
    ".sc": "r",
    ".co": "m",
}

_KM_MODULE_VICTIMS = frozenset({ObjectType.KM_MODULE, ObjectType.SSDT, ObjectType.VE_AGENT})


@dataclass(frozen=True, slots=True)
class DecodedViolation:
    """What one blob yields: the violation (with the alert-time code blocks) and the conversion notes."""

    violation: Violation
    alert: Alert
    event: int = 0
    notes: tuple[str, ...] = ()

    @property
    def alert_codeblocks(self) -> AlertCodeBlocks | None:
        return self.violation.alert_codeblocks


def _section_code(section: Section | None) -> int:
    if section is ORIG:
        return 1
    if section is VIC:
        return 2
    if section is MISC:
        return 3
    return 0


class _Index:
    """First object of each type (per section and overall), built in one pass over the stream."""

    __slots__ = ("by_section", "by_type", "header", "misc_blocks")

    def __init__(self, alert: Alert) -> None:
        self.header = alert.header
        # keys are type_id * 4 + section code: enum hashing is slow on this hot path
        by_section: dict[int, AlertObject] = {}
        by_type: dict[int, AlertObject] = {}
        blocks: list[AlertObject] = []
        for obj in alert.objects:
            if obj.truncated:
                continue
            type_id = obj.type_id
            key = type_id * 4 + _section_code(obj.section)
            if key not in by_section:
                by_section[key] = obj
            if type_id not in by_type:
                by_type[type_id] = obj
            if type_id == 35 and obj.section is MISC:
                blocks.append(obj)
        self.by_section = by_section
        self.by_type = by_type
        self.misc_blocks = tuple(blocks)

    def first(self, type_id: int, section: Section | None = None) -> AlertObject | None:
        if section is None:
            return self.by_type.get(type_id)
        return self.by_section.get(type_id * 4 + _section_code(section))

    def all(self, type_id: int, section: Section) -> tuple[AlertObject, ...]:
        assert type_id == 35 and section is MISC
        return self.misc_blocks


class _Notes:
    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, text: str) -> None:
        if text not in self.items:
            self.items.append(text)


def _basename(path: str) -> str:
    return path.rsplit("\\", 1)[-1].rsplit("/", 1)[-1] if path else path


def _lost_last_char(value: BlobString | None) -> bool:
    # narrowed producer string: the last slot is the NUL that replaced the last character
    return value is not None and value.encoding == 0 and value.raw.endswith(b"\0") and b"\0" not in value.raw[:-1]


def _repair_path(obj: AlertObject, field: str, notes: _Notes, hint: str | None = None) -> str | None:
    """The path of ``field``, with the producer's dropped last character put back when it can be known."""
    value = obj.values.get(field)
    if not isinstance(value, BlobString):
        return None
    text = value.value
    if not _lost_last_char(value) or not text:
        return text
    base = _basename(text)
    if hint and hint.lower().startswith(base.lower()) and len(hint) == len(base) + 1:
        return text + hint[-1]
    dot = base.rfind(".")
    if dot >= 0:
        fix = _EXTENSION_REPAIR.get(base[dot:].lower())
        if fix is not None:
            return text + (fix.upper() if base[dot + 1 :].isupper() else fix)
    notes.add(
        f"object #{obj.number} ({obj.key}) {field} {text!r}: the producer dropped its last character and it "
        "cannot be recovered; the name and its hash are incomplete"
    )
    return text


def _env(ix: _Index) -> Environment:
    header = ix.header
    os = GuestOS.LINUX if header.guest == 2 else GuestOS.WINDOWS
    code = ix.first(36, MISC)
    cs64: bool | None = None
    ranges: tuple[MemoryRange, ...] = ()
    if code is not None:
        cs = code.values["cs_type"]
        cs64 = True if cs == 3 else (False if cs in (1, 2) else None)
        rip = _rips(ix)[0]
        data: bytes = code.values["code"]
        if data and rip:
            ranges = (MemoryRange(rip & ~0xFFF, data),)
    return Environment(
        os=os, guest_64=header.arch == 1, code_segment_64=cs64, memory=GuestMemory(ranges)
    )


def _rips(ix: _Index) -> tuple[int, int]:
    """(original RIP, return RIP): the two misc code-block objects, else the instruction, else the registers."""
    blocks = ix.all(35, MISC)
    rip = 0
    if blocks:
        rip = blocks[0].values["rip"]
    else:
        instr = ix.first(30)
        regs = ix.first(34, MISC)
        if instr is not None:
            rip = instr.values["rip"]
        elif regs is not None:
            rip = regs.values["rip"]
    ret = blocks[1].values["rip"] if len(blocks) > 1 else rip
    return rip, ret


def _win_process(obj: AlertObject | None, os: GuestOS, guest_64: bool, notes: _Notes) -> Process | None:
    if obj is None:
        return None
    values = obj.values
    if obj.type_id in (17, 18):
        comm = obj.string("name") or ""
        path = obj.string("path") or None
        return Process(
            name=comm[:15],
            name_hash=hash_process(comm, GuestOS.LINUX),
            os=GuestOS.LINUX,
            pid=values["pid"],
            address=values["task"],
            parent_address=values["actual_parent"],
            cr3=values["cr3"],
            path=path,
            path_name=_basename(path) if path else None,
            command_line=obj.string("command_line") or None,
        )
    name = obj.string("name") or ""
    path = _repair_path(obj, "path", notes, hint=name)
    peb32 = values["peb32"]
    return Process(
        name=name,
        name_hash=hash_process(name, os),
        os=os,
        wow64=bool(guest_64 and peb32),
        pid=values["pid"],
        address=values["eprocess"],
        parent_address=values["parent"],
        cr3=values["cr3"],
        path=path or None,
        command_line=obj.string("command_line") or None,
        peb32_address=peb32,
        peb64_address=values["peb64"],
    )


def _module(obj: AlertObject | None, notes: _Notes, export: AlertObject | None = None,
            address: int = 0) -> Module | None:
    if obj is None:
        return None
    path = _repair_path(obj, "path", notes) or ""
    name = _basename(path)
    exports: tuple[Export, ...] = ()
    base = obj.values["base"]
    if export is not None and address:
        names = tuple(s.value for s in export.values["names"])
        rva = address - base - export.values["delta"]
        exports = (Export(rva, names, tuple(hash_export(n) for n in names)),)
    return Module(
        name=name or None,
        name_hash=hash_user_module(name) if name else NONAME,
        base=base,
        size=obj.values["size"],
        path=path or None,
        exports=exports,
    )


def _driver_frame(
    generic: AlertObject | None, specific: AlertObject | None, rip: int, os: GuestOS, notes: _Notes
) -> DriverFrame:
    if generic is None and specific is None:
        return DriverFrame.none(rip)
    name: str | None = None
    path: str | None = None
    core_base: int | None = None
    if specific is not None:
        if specific.type_id in (23, 24):
            name = specific.string("name") or ""
            core_base = specific.values["core_base"]
        else:
            path = specific.string("path") or ""
            name = _basename(path)
    name_hash = hash_kernel_module(name, os) if name else NONAME
    section = None
    base, size, entry = 0, None, None
    if generic is not None:
        section = generic.string("section") or None
        base, size, entry = generic.values["base"], generic.values["size"], generic.values["entry_point"]
    return DriverFrame(
        name_hash=name_hash,
        rip=rip,
        driver=True,
        name=name or None,
        section=section,
        base=base,
        size=size,
        path=path or None,
        entry_point=entry,
        core_base=core_base,
    )


def _pair(ix: _Index, section: Section, generic_id: int, ids: tuple[int, int]) -> tuple[
    AlertObject | None, AlertObject | None
]:
    generic = ix.first(generic_id, section)
    specific = ix.first(ids[0], section) or ix.first(ids[1], section)
    return generic, specific


def _write_info(ix: _Index) -> tuple[WriteInfo | None, ReadInfo | None]:
    write = ix.first(31, MISC)
    read = ix.first(32, MISC)
    w = WriteInfo(write.values["old"], write.values["new"], write.values["access_size"]) if write else None
    r = ReadInfo(read.values["value"], read.values["access_size"]) if read else None
    return w, r


def _qword(data: bytes) -> int:
    return int(struct.unpack_from("<Q", data.ljust(8, b"\0"))[0])


def alert_to_violation(alert: Alert, source: str | None = None) -> DecodedViolation:
    """Build the violation a blob describes (plus the alert-time code blocks and notes)."""
    header = alert.header
    ix = _Index(alert)
    notes = _Notes()
    if header.alert_class == 0:
        kind = ViolationKind.KM
    elif header.alert_class == 1:
        kind = ViolationKind.UM
    else:
        kind = ViolationKind.KUM
    env = _env(ix)
    os = env.os
    vic = ix.first(7, VIC)
    where = source or "<alert>"
    if vic is None:
        raise alert_error("no victim object (type 7) in the victim section: nothing to convert", source=where,
                          code="ALERT200")
    try:
        zone_type = ZoneType(vic.values["zone_type"])
    except ValueError:
        raise alert_error(
            f"victim zone type {vic.values['zone_type']} is unknown", offset=vic.offset, index=vic.number,
            type_id=7, field_name="zone_type", hint="zone types 1-7 exist", source=where, code="ALERT201",
        ) from None
    zone_flags = ZoneFlags(vic.values["zone_flags"])
    object_type = ObjectType(vic.values["object_type"])
    rip, ret_rip = _rips(ix)
    write, read = _write_info(ix)
    # Windows kernel misc always carries an EPT object, meaningful only for EPT zones (spec 05 §8.2)
    ept = (ix.first(8, VIC) or ix.first(8, MISC)) if zone_type is ZoneType.EPT else None
    gva, gpa = (ept.values["gva"], ept.values["gpa"]) if ept else (0, 0)
    regs = ix.first(34, MISC)

    # -------- victim --------
    name_hash = 0
    name: str | None = None
    name_wide = False
    base_address = 0
    module: Module | None = None
    process: Process | None = None
    driver_object: DriverObjectInfo | None = None
    msr = cr = integrity = injection = exec_info = None
    if kind is not ViolationKind.KM:
        pobj = ix.first(15, VIC) or ix.first(17, VIC)
        if zone_type is ZoneType.PC:
            # the process-creation victim is the parent of the created process (originator section)
            pobj = ix.first(16, ORIG) or ix.first(18, ORIG)
        process = _win_process(pobj, os, env.guest_64, notes)
        mod_obj = ix.first(28, VIC)
        module = _module(mod_obj, notes, ix.first(38, MISC), gva)
    if object_type in _KM_MODULE_VICTIMS and kind is ViolationKind.KM:
        generic, specific = _pair(ix, VIC, 19, (21, 23))
        frame = _driver_frame(generic, specific, 0, os, notes)
        name_hash, name, name_wide, base_address = frame.name_hash, frame.name, True, frame.base
    elif object_type in (ObjectType.DRIVER_OBJECT, ObjectType.FAST_IO_DISPATCH):
        dobj = ix.first(25, VIC)
        if dobj is not None:
            dname = dobj.string("name") or ""
            notes.add(
                "driver-object name is incomplete in blobs (the producer keeps about half of it): "
                "the victim name hash is computed from what is there"
            )
            driver_object = DriverObjectInfo(
                gpa=dobj.values["gpa"], gva=dobj.values["gva"], name=dname or None,
                fast_io=dobj.values["fast_io"],
            )
            name, name_wide = dname or None, True
            name_hash = hash_driver_object(dname) if dname else 0
            base_address = dobj.values["gva"]
    elif object_type is ObjectType.IDT:
        base_address = regs.values["idt_base"] if regs else 0
    elif object_type in (ObjectType.VDSO, ObjectType.VSYSCALL):
        if kind is ViolationKind.UM:
            name_hash = HASH_KERNEL if object_type is ObjectType.VDSO else HASH_HAL
    elif object_type in (ObjectType.HAL_INT_CONTROLLER, ObjectType.HAL_HEAP):
        name_hash = HASH_HAL
    elif object_type is ObjectType.UM_MODULE and module is not None:
        name_hash, name, name_wide, base_address = module.name_hash, module.name, True, module.base
    elif process is not None and (
        zone_type in (ZoneType.PROCESS, ZoneType.PC)
        or object_type in (ObjectType.UM_GENERIC_NX_ZONE, ObjectType.SUD_EXEC)
    ):
        name_hash, name = process.name_hash, process.name
        if zone_type is ZoneType.PROCESS and module is not None:
            base_address = module.base
    if zone_type is ZoneType.MSR:
        m = ix.first(9, VIC)
        msr = MsrInfo(index=m.values["msr"]) if m else MsrInfo()
    elif zone_type is ZoneType.CR:
        c = ix.first(10, VIC)
        old = _qword(write.old) if write else 0
        new = _qword(write.new) if write else 0
        cr = CrInfo(
            index=c.values["cr"] if c else 4,
            smap_cleared=bool(old & (1 << 21) and not new & (1 << 21)),
            smep_cleared=bool(old & (1 << 20) and not new & (1 << 20)),
        )
    elif zone_type is ZoneType.INTEGRITY:
        # upstream producer quirk: integrity victims share storage with the EPT fields, so the misc EPT
        # object holds (region start, offset | total length << 32); the IDT object (12) is computed from
        # that start and reads entry 0. The region fields are therefore taken from the EPT object.
        raw_ept = ix.first(8, MISC)
        if raw_ept is not None:
            packed = raw_ept.values["gpa"]
            integrity = IntegrityInfo(
                start=raw_ept.values["gva"], offset=packed & 0xFFFFFFFF, total_length=packed >> 32
            )
        else:
            idt = ix.first(12, VIC)
            entry_size = 16 if header.arch == 1 else 8
            start = regs.values["idt_base"] if (regs and object_type is ObjectType.IDT) else 0
            integrity = IntegrityInfo(start=start, offset=idt.values["entry"] * entry_size if idt else 0)
            notes.add("integrity alert without its EPT object: region offset taken from the IDT object")
    elif zone_type is ZoneType.PROCESS:
        inj = ix.first(14, MISC)
        if inj is not None:
            gva = inj.values["gva"]
            injection = InjectionInfo(length=inj.values["length"])
    exe = ix.first(33, MISC)
    if exe is not None:
        exec_info = ExecInfo(
            exe.values["rsp"], exe.values["stack_base"], exe.values["stack_limit"], exe.values["length"]
        )
    if object_type is ObjectType.IDT and zone_type is ZoneType.EPT:
        idt = ix.first(12, VIC)
        if idt is not None and regs is not None:
            gva = gva or regs.values["idt_base"] + idt.values["entry"] * (16 if header.arch == 1 else 8)
    victim = Victim(
        zone_type=zone_type,
        zone_flags=zone_flags,
        object_type=object_type,
        name_hash=name_hash,
        name=name,
        name_wide=name_wide,
        base_address=base_address,
        gva=gva,
        gpa=gpa,
        write=write if read is None else None,
        read=read,
        msr=msr,
        cr=cr,
        integrity=integrity,
        injection=injection,
        driver_object=driver_object,
        module=module,
        process=process,
        exec_info=exec_info,
    )

    # -------- originator --------
    originator: KernelOriginator | UserOriginator
    instr = ix.first(30)
    instruction = instr.values["bytes"] if instr is not None else None
    if kind is ViolationKind.UM:
        originator = _user_originator(ix, zone_type, object_type, zone_flags, os, env.guest_64, rip, notes)
    else:
        g1, s1 = _pair(ix, ORIG, 19, (21, 23))
        g2, s2 = _pair(ix, ORIG, 20, (22, 24))
        original = _driver_frame(g1, s1, rip, os, notes)
        ret = _driver_frame(g2, s2, ret_rip, os, notes)
        is_entry = bool(
            ret.driver
            and ret.entry_point is not None
            and ret.entry_point <= ret.rip < ret.entry_point + 0x1000
            and (ret.section or "").upper().startswith("INIT")
        )
        if kind is ViolationKind.KUM:
            notes.add("kernel-user alerts do not carry the injection direction (user/kernel) nor its process")
        originator = KernelOriginator(
            original=original,
            return_=ret,
            is_entry_point=is_entry,
            is_integrity=zone_type is ZoneType.INTEGRITY,
            instruction=instruction,
        )
    blocks = ix.first(35, MISC) or ix.first(35)
    acb = None
    if blocks is not None:
        acb = AlertCodeBlocks(
            rip=blocks.values["rip"], start=blocks.values["start_address"],
            rip_index=blocks.values["rip_index"], hashes=tuple(blocks.values["hashes"]),
        )
    violation = Violation(
        kind=kind, victim=victim, originator=originator, env=env, alert_codeblocks=acb,
        origin=Origin(path=source, label=f"alert event {header.event}") if source else None,
    )
    return DecodedViolation(violation, alert, header.event, tuple(notes.items))


def _user_originator(
    ix: _Index,
    zone_type: ZoneType,
    object_type: ObjectType,
    zone_flags: ZoneFlags,
    os: GuestOS,
    guest_64: bool,
    rip: int,
    notes: _Notes,
) -> UserOriginator:
    pobj = ix.first(15, ORIG) or ix.first(17, ORIG)
    process = _win_process(pobj, os, guest_64, notes)
    library = _module(ix.first(28, ORIG), notes)
    ret_mod = _module(ix.first(29, ORIG), notes)
    ret = UserReturn()
    if ret_mod is not None:
        ret = UserReturn(name_hash=ret_mod.name_hash, name=ret_mod.name, library=ret_mod)
    dpi = ix.first(39, MISC)
    pc_type = PcType(dpi.values["flags"] & 0xFF) if dpi is not None else PcType.NONE
    execute = bool(zone_flags & ZoneFlags.EXECUTE)
    if zone_type is ZoneType.EPT and execute:
        return UserOriginator(name_hash=NONAME, rip=rip, return_=ret, execute=True, process=process)
    if zone_type is ZoneType.EPT:
        if library is not None:
            return UserOriginator(
                name_hash=library.name_hash, name=library.name, name_wide=True, library=library, rip=rip,
                return_=ret, process=process,
            )
        return UserOriginator(name_hash=NONAME, rip=rip, return_=ret, process=process)
    if zone_type is ZoneType.PROCESS and zone_flags & ZoneFlags.MODULE_LOAD and library is not None:
        return UserOriginator(
            name_hash=library.name_hash, name=library.name, name_wide=True, library=library, rip=library.base,
            return_=ret, process=process,
        )
    if process is None:
        return UserOriginator(name_hash=NONAME, pc_type=pc_type, execute=execute, return_=ret)
    source_rip = 0 if zone_type in (ZoneType.PROCESS, ZoneType.PC) else rip
    return UserOriginator(
        name_hash=process.name_hash, name=process.name, rip=source_rip, return_=ret, pc_type=pc_type,
        execute=execute, process=process,
    )
