"""Small builders for violations and engines used by the engine tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hvmiex.engine import Engine
from hvmiex.violation import (
    NONAME,
    CrInfo,
    DriverFrame,
    DriverObjectInfo,
    Environment,
    GuestOS,
    InjectionInfo,
    IntegrityInfo,
    KernelOriginator,
    KumInjection,
    Module,
    ObjectType,
    PcType,
    Process,
    UserOriginator,
    UserReturn,
    Victim,
    Violation,
    ViolationKind,
    WriteInfo,
    ZoneFlags,
    ZoneType,
    hash_kernel_module,
    hash_process,
    hash_user_module,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "engine"

WIN64 = Environment(GuestOS.WINDOWS, True, os_version=19041, introcore_version=(1, 133, 0, 186))
WIN32 = Environment(GuestOS.WINDOWS, False, os_version=19041, introcore_version=(1, 133, 0, 186))
LIX64 = Environment(GuestOS.LINUX, True, linux_version=(5, 4, 0, 42), introcore_version=(1, 133, 0, 186))

DIFF_WRITE = WriteInfo(old=b"\x11" * 8, new=b"\x22" * 8, access_size=8)


def compiled_engine(*paths: Path | str, os: GuestOS = GuestOS.WINDOWS) -> Engine:
    """An engine loaded with JSON compiled by hvmiex's compiler (H1)."""
    from hvmiex.compiler import compile_set

    result = compile_set([str(p) for p in paths])
    engine = Engine(os)
    engine.update_exceptions(result.exception_set)
    assert engine.loaded
    return engine


def km(
    originator: str | None = "foo.sys",
    *,
    zone: ZoneType = ZoneType.EPT,
    flags: ZoneFlags = ZoneFlags.WRITE | ZoneFlags.LIB_CODE,
    obj: ObjectType = ObjectType.KM_MODULE,
    victim: str | None = "bar.sys",
    victim_hash: int | None = None,
    ret: str | None = None,
    rip: int = 0xFFFFF800_00101000,
    ret_rip: int | None = None,
    env: Environment = WIN64,
    write: WriteInfo | None = DIFF_WRITE,
    kind: ViolationKind = ViolationKind.KM,
    **victim_extra: Any,
) -> Violation:
    os = env.os
    orig = DriverFrame.of(originator, rip, os, section=".text") if originator else DriverFrame.none(rip)
    ret_name = ret if ret is not None else originator
    rrip = rip if ret_rip is None else ret_rip
    retf = DriverFrame.of(ret_name, rrip, os, section=".text") if ret_name else DriverFrame.none(rrip)
    vhash = victim_hash
    if vhash is None:
        if victim is None:
            vhash = 0
        elif obj in (ObjectType.DRIVER_OBJECT, ObjectType.FAST_IO_DISPATCH):
            from hvmiex.violation import hash_driver_object

            vhash = hash_driver_object(victim)
        elif obj == ObjectType.UM_MODULE:
            vhash = hash_user_module(victim)
        elif obj in (ObjectType.KM_MODULE, ObjectType.SSDT):
            vhash = hash_kernel_module(victim, os)
        else:
            vhash = hash_process(victim, os)
    vic = Victim(zone, flags, obj, vhash, victim, write=write, **victim_extra)
    korig = KernelOriginator(original=orig, return_=retf)
    return Violation(kind, vic, korig, env)


def kum(
    originator: str | None = "kmod.sys",
    *,
    user: bool = False,
    kernel: bool = False,
    injector: str | None = None,
    flags: ZoneFlags = ZoneFlags.WRITE | ZoneFlags.LIB_CODE,
    victim: str = "ntdll.dll",
    process: str = "app.exe",
    env: Environment = WIN64,
    ret: str | None = None,
) -> Violation:
    rip = 0xFFFFF800_00101000
    orig = DriverFrame.of(originator, rip, env.os) if originator else DriverFrame.none(rip)
    ret_name = ret or originator
    retf = DriverFrame.of(ret_name, rip, env.os) if ret_name else DriverFrame.none(rip)
    vic = Victim(
        ZoneType.EPT, flags, ObjectType.UM_MODULE, hash_user_module(victim), victim, True,
        write=DIFF_WRITE, process=Process.named(process), module=Module.named(victim, 0x7FF000000000),
    )  # fmt: skip
    k = KernelOriginator(
        original=orig, return_=retf, injection=KumInjection(user, kernel),
        process=Process.named(injector) if injector else None,
    )  # fmt: skip
    return Violation(ViolationKind.KUM, vic, k, env)


def um_module(
    originator: str | None = "mod.dll",
    *,
    victim: str = "ntdll.dll",
    process: str = "app.exe",
    flags: ZoneFlags = ZoneFlags.WRITE | ZoneFlags.LIB_CODE,
    env: Environment = WIN64,
    wow64: bool = False,
    ret: str | None = None,
    rip: int = 0x7FF6_0000_1000,
) -> Violation:
    p = Process.named(process, wow64=wow64)
    lib = Module.named(originator, 0x7FF6_0000_0000) if originator else None
    rlib = Module.named(ret, 0x7FF7_0000_0000) if ret else None
    u = UserOriginator(
        name_hash=hash_user_module(originator) if originator else NONAME,
        name=originator,
        name_wide=True,
        library=lib,
        rip=rip,
        return_=UserReturn(hash_user_module(ret), 0x7FF7_0000_1000, ret, rlib) if ret else UserReturn(),
        process=p,
    )
    vic = Victim(
        ZoneType.EPT, flags, ObjectType.UM_MODULE, hash_user_module(victim), victim, True,
        gva=0x7FFA_0000_2000, write=DIFF_WRITE, process=p, module=Module.named(victim, 0x7FFA_0000_0000),
    )  # fmt: skip
    return Violation(ViolationKind.UM, vic, u, env)


def um_process(
    originator: str = "inj.exe",
    victim: str = "victim.exe",
    *,
    flags: ZoneFlags = ZoneFlags.WRITE,
    zone: ZoneType = ZoneType.PROCESS,
    obj: ObjectType = ObjectType.NONE,
    env: Environment = WIN64,
    orig_process: Process | None = None,
    victim_process: Process | None = None,
    pc_type: PcType = PcType.NONE,
    gva: int = 0x10000,
    length: int = 8,
    module: Module | None = None,
    source: int = 0,
    module_originator: bool = False,
) -> Violation:
    op = orig_process or Process.named(originator, env.os, address=0x1000)
    vp = victim_process or Process.named(victim, env.os, address=0x2000)
    if module_originator:  # double agent: the originator is the loaded module (wide name)
        u = UserOriginator(hash_user_module(originator), originator, True, rip=source, process=op)
    else:
        u = UserOriginator(name_hash=op.name_hash, name=op.name, rip=source, pc_type=pc_type, process=op)
    vic = Victim(
        zone, flags, obj, vp.name_hash, vp.name, gva=gva, injection=InjectionInfo(length), process=vp, module=module
    )
    return Violation(ViolationKind.UM, vic, u, env)


__all__ = [
    "DATA",
    "LIX64",
    "WIN32",
    "WIN64",
    "CrInfo",
    "DriverObjectInfo",
    "IntegrityInfo",
    "compiled_engine",
    "km",
    "kum",
    "um_module",
    "um_process",
]
