"""Project a violation onto the fields an introspection log carries (spec 03 §4.6), for comparisons."""

from __future__ import annotations

from typing import Any

from hvmiex.violation import (
    NONAME,
    DriverFrame,
    KernelOriginator,
    ObjectType,
    Process,
    UserOriginator,
    Violation,
    ZoneFlags,
    ZoneType,
)

# zone bits a log shows: access bits, INTEGRITY, and the library bits when a "Flags:" hex is printed
_ACCESS = ZoneFlags.WRITE | ZoneFlags.READ | ZoneFlags.EXECUTE | ZoneFlags.INTEGRITY
_LIB = ZoneFlags.LIB_IMPORTS | ZoneFlags.LIB_EXPORTS | ZoneFlags.LIB_CODE | ZoneFlags.LIB_DATA | ZoneFlags.LIB_RESOURCES


def _proc(p: Process | None) -> Any:
    if p is None:
        return None
    return {"name": p.name, "hash": p.name_hash, "wow64": p.wow64, "cli": p.command_line}


def _frame(f: DriverFrame, rip: bool = True) -> Any:
    out: dict[str, Any] = {"driver": f.driver, "hash": f.name_hash}
    if f.driver:
        out["name"] = (f.name or "").lower()
        out["base"] = f.base
    if rip:
        out["rip"] = f.rip
        if f.driver:
            out["section"] = f.section
    return out


def project(v: Violation) -> dict[str, Any]:
    vic = v.victim
    zone = vic.zone_flags & _ACCESS
    if vic.object_type in (ObjectType.KM_MODULE, ObjectType.UM_MODULE):
        zone |= vic.zone_flags & _LIB
    out: dict[str, Any] = {
        "kind": v.kind.value,
        "os": v.env.os.value,
        "zone_type": vic.zone_type,
        "zone_flags": int(zone),
        "name_hash": vic.name_hash,
    }
    if not (v.env.os.value == "linux" and vic.zone_type is ZoneType.DTR):
        out["object_type"] = int(vic.object_type)  # Linux DTR blocks have no victim line (spec 04 §5.3)
    # driver-object and IDT lines print no accessed address (spec 04 §5.3, §5.4)
    unprinted = (ObjectType.UM_GENERIC_NX_ZONE, ObjectType.DRIVER_OBJECT, ObjectType.FAST_IO_DISPATCH)
    if vic.zone_type in (ZoneType.EPT, ZoneType.PROCESS) and vic.object_type not in unprinted:
        out["gva"] = vic.gva
    if vic.object_type in (ObjectType.KM_MODULE, ObjectType.UM_MODULE, ObjectType.DRIVER_OBJECT):
        out["base"] = vic.base_address
    if vic.zone_type is ZoneType.EPT and vic.object_type not in (*unprinted, ObjectType.IDT):
        out["gpa"] = vic.gpa
    if vic.object_type is ObjectType.UM_GENERIC_NX_ZONE:
        out["gva"], out["gpa"] = vic.gva, vic.gpa
        if vic.exec_info is not None and vic.exec_info.rsp:
            out["exec"] = (vic.exec_info.rsp, vic.exec_info.stack_base, vic.exec_info.stack_limit)
    w = vic.write
    if w is not None and not (v.env.os.value == "linux" and vic.zone_type is ZoneType.DTR):
        n = min(w.access_size, 8) if vic.zone_type is not ZoneType.DTR else w.access_size
        out["write"] = (w.old[:n].hex(), w.new[:n].hex(), w.access_size)
    if vic.read is not None:
        out["read"] = (vic.read.value[: min(vic.read.size, 8)].hex(), vic.read.size)
    if vic.cr is not None:
        out["cr"] = (vic.cr.smap_cleared, vic.cr.smep_cleared)
    if vic.msr is not None:
        out["msr"] = vic.msr.index
    if vic.injection is not None:
        out["injection"] = vic.injection.length
    if vic.driver_object is not None and vic.driver_object.gpa:
        out["drvobj_gpa"] = vic.driver_object.gpa
    if vic.module is not None:
        out["module"] = (vic.module.name, vic.module.name_hash, vic.module.base)
    if vic.object_type is not ObjectType.KM_MODULE:
        out["process"] = _proc(vic.process)
    o = v.originator
    if isinstance(o, KernelOriginator):
        integrity = vic.zone_type is ZoneType.INTEGRITY
        out["original"] = _frame(o.original, rip=not integrity)
        if o.return_.name_hash != o.original.name_hash or o.return_.rip != o.original.rip:
            out["return"] = _frame(o.return_, rip=not integrity)
        out["injection_kind"] = (o.injection.user, o.injection.kernel)
        out["injector"] = _proc(o.process)
    else:
        assert isinstance(o, UserOriginator)
        if not o.execute:  # executions: the log names no originator module (spec 04 §9.4)
            out["o_hash"] = o.name_hash
            out["o_lib"] = (o.library.name_hash, o.library.base) if o.library is not None else None
        out["o_rip"] = o.rip
        out["o_exec"] = o.execute
        out["o_pc"] = int(o.pc_type)
        out["o_process"] = _proc(o.process)
        out["o_return"] = o.return_.name_hash if o.return_.name_hash not in (0, NONAME) else 0
    return out
