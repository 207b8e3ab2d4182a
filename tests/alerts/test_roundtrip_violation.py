"""Round trip: encode(violation) -> decode -> the same violation, for generated violations of every kind
(restricted to what a serialized alert carries, spec 03 §4.6)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hvmiex.alerts.convert import alert_to_violation
from hvmiex.alerts.decode import decode_alert
from hvmiex.alerts.encode import encode_alert, encode_violation, violation_to_alert
from hvmiex.violation import (
    NONAME,
    AlertCodeBlocks,
    CrInfo,
    DriverFrame,
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
    hash_export,
    hash_kernel_module,
    hash_process,
    hash_user_module,
)

u64 = st.integers(0, 2**64 - 1)
u32 = st.integers(0, 2**32 - 1)
KRIP = st.integers(0xFFFFF80000000000, 0xFFFFF8FFFFFFFFFF)
URIP = st.integers(0x10000, 0x7FFFFFFF0000)
W = ZoneFlags.WRITE
R = ZoneFlags.READ
X = ZoneFlags.EXECUTE


def _bytes64(draw: Any) -> bytes:
    return draw(st.binary(min_size=64, max_size=64))


@st.composite
def env_and_code(draw: Any, os: GuestOS, rip: int) -> Environment:
    guest_64 = True if os is GuestOS.LINUX else draw(st.booleans())
    page = draw(st.binary(min_size=16, max_size=16)) * 256
    return Environment(os=os, guest_64=guest_64, code_segment_64=draw(st.booleans()),
                       memory=GuestMemory((MemoryRange(rip & ~0xFFF, page),)))


@st.composite
def driver_frame(draw: Any, os: GuestOS, rip: int) -> DriverFrame:
    if draw(st.integers(0, 5)) == 0:
        return DriverFrame.none(rip)
    if os is GuestOS.LINUX:
        name = draw(st.sampled_from(["kernel", "ext4", "evil", "nf_tables"]))
        return DriverFrame(name_hash=hash_kernel_module(name, os), rip=rip, driver=True, name=name,
                           section=draw(st.sampled_from([".text", None])), base=draw(u64), size=draw(u64),
                           entry_point=draw(u64), core_base=draw(u64))
    name = draw(st.sampled_from(["evil.sys", "ntoskrnl.exe", "hal.dll", "ndis.sys", "Tcpip.SYS"]))
    path = draw(st.sampled_from(["\\SystemRoot\\system32\\drivers\\", "\\??\\C:\\x\\"])) + name
    section = draw(st.sampled_from([".text", "PAGE", "INIT", None]))
    base = draw(u64)
    entry = draw(u64)
    return DriverFrame(name_hash=hash_kernel_module(name, os), rip=rip, driver=True, name=name, section=section,
                       base=base, size=draw(u64), path=path, entry_point=entry)


@st.composite
def win_process(draw: Any, guest_64: bool) -> Process:
    name = draw(st.sampled_from(["chrome.exe", "explorer.exe", "cmd.exe", "lsass.exe", "a.exe"]))
    peb32 = draw(st.sampled_from([0, 0x7EFDE000]))
    return Process(
        name=name, name_hash=hash_process(name), os=GuestOS.WINDOWS, wow64=bool(guest_64 and peb32),
        pid=draw(u32), address=draw(u64), parent_address=draw(u64), cr3=draw(u64),
        path="\\device\\harddiskvolume3\\x\\" + name,
        command_line=draw(st.sampled_from([None, name + " --x", "c:\\windows\\" + name])),
        peb32_address=peb32, peb64_address=draw(u64),
    )


@st.composite
def lix_process(draw: Any) -> Process:
    comm = draw(st.sampled_from(["bash", "sshd", "a-very-long-name"]))[:15]
    return Process(name=comm, name_hash=hash_process(comm, GuestOS.LINUX), os=GuestOS.LINUX, pid=draw(u32),
                   address=draw(u64), parent_address=draw(u64), cr3=draw(u64), path="/usr/bin/" + comm,
                   path_name=comm, command_line=draw(st.sampled_from([None, comm + " -i"])))


@st.composite
def user_module(draw: Any, gva: int | None = None) -> Module:
    name = draw(st.sampled_from(["ntdll.dll", "kernel32.dll", "chrome_elf.dll", "app.exe", "x.sys"]))
    base = draw(st.integers(0x10000, 0x7FF000000000)) & ~0xFFF
    exports: tuple[Export, ...] = ()
    if gva is not None and draw(st.booleans()):
        names = tuple(draw(st.lists(st.sampled_from(["NtOpenProcess", "ZwOpenProcess", "memcpy"]), min_size=1,
                                    max_size=2, unique=True)))
        delta = draw(st.integers(0, 0x1F))
        rva = gva - base - delta
        if rva >= 0:
            exports = (Export(rva, names, tuple(hash_export(n) for n in names)),)
    return Module(name=name, name_hash=hash_user_module(name), base=base, size=draw(u32),
                  path="\\device\\harddiskvolume3\\windows\\system32\\" + name, exports=exports)


@st.composite
def codeblocks(draw: Any, rip: int) -> AlertCodeBlocks:
    hashes = tuple(draw(st.lists(u32, min_size=0, max_size=20)))
    return AlertCodeBlocks(rip=rip, start=rip & ~0xF, rip_index=draw(st.integers(0, 20)), hashes=hashes)


@st.composite
def km_violation(draw: Any) -> Violation:
    os = draw(st.sampled_from([GuestOS.WINDOWS, GuestOS.LINUX]))
    rip = draw(KRIP)
    env = draw(env_and_code(os, rip))
    original = draw(driver_frame(os, rip))
    ret = draw(st.one_of(st.just(original), driver_frame(os, draw(KRIP))))
    is_entry = bool(ret.driver and ret.entry_point is not None and ret.entry_point <= ret.rip < ret.entry_point + 0x1000
                    and (ret.section or "").upper().startswith("INIT"))
    shape = draw(st.sampled_from(["module-write", "module-read", "idt", "msr", "cr", "dtr", "integrity-idt"]
                                 if os is GuestOS.WINDOWS else ["module-write", "msr", "dtr"]))
    write = WriteInfo(_bytes64(draw), _bytes64(draw), draw(st.integers(1, 64)))
    victim: Victim
    if shape in ("module-write", "module-read"):
        names = ["ntoskrnl.exe", "bar.sys", "hal.dll"] if os is GuestOS.WINDOWS else ["kernel", "ext4"]
        name = draw(st.sampled_from(names))
        read = shape == "module-read"
        flags = (R if read else W) | draw(st.sampled_from([ZoneFlags.LIB_CODE, ZoneFlags.LIB_DATA, ZoneFlags.LIB_EXPORTS]))
        victim = Victim(ZoneType.EPT, flags, ObjectType.KM_MODULE, name_hash=hash_kernel_module(name, os), name=name,
                        name_wide=True, base_address=draw(u64), gva=draw(u64), gpa=draw(u64),
                        write=None if read else write,
                        read=ReadInfo(_bytes64(draw), draw(st.integers(1, 8))) if read else None)
    elif shape == "idt":
        base = draw(KRIP) & ~0xFFF
        entry = draw(st.integers(0, 255))
        victim = Victim(ZoneType.EPT, W, ObjectType.IDT, base_address=base,
                        gva=base + entry * (16 if env.guest_64 else 8), gpa=draw(u64), write=write)
    elif shape == "msr":
        victim = Victim(ZoneType.MSR, W, ObjectType.NONE, write=write, msr=MsrInfo(index=draw(u32)))
    elif shape == "cr":
        old, new = int.from_bytes(write.old[:8], "little"), int.from_bytes(write.new[:8], "little")
        cr = CrInfo(4, bool(old & 1 << 21 and not new & 1 << 21), bool(old & 1 << 20 and not new & 1 << 20))
        victim = Victim(ZoneType.CR, W, ObjectType.CR, write=write, cr=cr)
    elif shape == "dtr":
        victim = Victim(ZoneType.DTR, W, draw(st.sampled_from([ObjectType.IDTR, ObjectType.GDTR])), write=write)
    else:
        start = draw(KRIP)
        integrity = IntegrityInfo(start=start, offset=draw(st.integers(0, 0xFFF)), total_length=draw(u32))
        victim = Victim(ZoneType.INTEGRITY, W | ZoneFlags.INTEGRITY, ObjectType.IDT, base_address=start,
                        write=write, integrity=integrity)
    instruction = draw(st.one_of(st.none(), st.binary(min_size=16, max_size=16)))
    origin = KernelOriginator(original=original, return_=ret, is_entry_point=is_entry,
                              is_integrity=victim.zone_type is ZoneType.INTEGRITY, instruction=instruction)
    return Violation(ViolationKind.KM, victim, origin, env, alert_codeblocks=draw(codeblocks(rip)))


@st.composite
def kum_violation(draw: Any) -> Violation:
    rip = draw(KRIP)
    env = draw(env_and_code(GuestOS.WINDOWS, rip))
    gva = draw(URIP)
    module = draw(user_module(gva))
    process = draw(win_process(env.guest_64))
    write = WriteInfo(_bytes64(draw), _bytes64(draw), 8)
    victim = Victim(ZoneType.EPT, W | ZoneFlags.LIB_CODE, ObjectType.UM_MODULE, name_hash=module.name_hash,
                    name=module.name, name_wide=True, base_address=module.base, gva=gva, gpa=draw(u64), write=write,
                    module=module, process=process)
    original = draw(driver_frame(GuestOS.WINDOWS, rip))
    origin = KernelOriginator(original=original, return_=original,
                              instruction=draw(st.binary(min_size=16, max_size=16)))
    return Violation(ViolationKind.KUM, victim, origin, env, alert_codeblocks=draw(codeblocks(rip)))


@st.composite
def um_violation(draw: Any) -> Violation:
    os = draw(st.sampled_from([GuestOS.WINDOWS, GuestOS.LINUX]))
    rip = draw(URIP)
    env = draw(env_and_code(os, rip))
    shapes = ["module-write", "nx-exec", "injection", "process-creation"] if os is GuestOS.WINDOWS else \
        ["nx-exec", "injection"]
    shape = draw(st.sampled_from(shapes))
    proc = draw(win_process(env.guest_64)) if os is GuestOS.WINDOWS else draw(lix_process())
    victim_proc = draw(st.one_of(st.just(proc), win_process(env.guest_64))) if os is GuestOS.WINDOWS else proc
    if shape == "module-write":
        gva = draw(URIP)
        module = draw(user_module(gva))
        library = draw(user_module())
        ret_lib = draw(st.one_of(st.none(), user_module()))
        victim = Victim(ZoneType.EPT, W | ZoneFlags.LIB_CODE, ObjectType.UM_MODULE, name_hash=module.name_hash,
                        name=module.name, name_wide=True, base_address=module.base, gva=gva, gpa=draw(u64),
                        write=WriteInfo(_bytes64(draw), _bytes64(draw), 8), module=module, process=victim_proc)
        ret = UserReturn(name_hash=ret_lib.name_hash, name=ret_lib.name, library=ret_lib) if ret_lib else UserReturn()
        origin = UserOriginator(name_hash=library.name_hash, name=library.name, name_wide=True, library=library,
                                rip=rip, return_=ret, process=proc)
        return Violation(ViolationKind.UM, victim, origin, env, alert_codeblocks=draw(codeblocks(rip)))
    if shape == "nx-exec":
        victim = Victim(ZoneType.EPT, X, ObjectType.UM_GENERIC_NX_ZONE, name_hash=victim_proc.name_hash,
                        name=victim_proc.name, gva=draw(u64), gpa=draw(u64), process=victim_proc,
                        exec_info=ExecInfo(draw(u64), draw(u64), draw(u64), draw(st.integers(1, 15))))
        origin = UserOriginator(name_hash=NONAME, rip=rip, execute=True, process=proc)
        # the RIP of an execution is carried only by the code blocks object
        return Violation(ViolationKind.UM, victim, origin, env, alert_codeblocks=draw(codeblocks(rip)))
    if shape == "injection":
        extra = draw(st.sampled_from([ZoneFlags(0), ZoneFlags.PROC_THREAD_CTX, ZoneFlags.PROC_THREAD_APC]))
        access = draw(st.sampled_from([W, R]))
        module = draw(st.one_of(st.none(), user_module())) if os is GuestOS.WINDOWS else None
        victim = Victim(ZoneType.PROCESS, access | extra, ObjectType.NONE, name_hash=victim_proc.name_hash,
                        name=victim_proc.name, base_address=module.base if module else 0, gva=draw(u64),
                        injection=InjectionInfo(draw(u32)), module=module, process=victim_proc)
        origin = UserOriginator(name_hash=proc.name_hash, name=proc.name, process=proc)
        env = Environment(os=env.os, guest_64=env.guest_64)
        return Violation(ViolationKind.UM, victim, origin, env)
    pc_type = PcType(draw(st.sampled_from([0, 1, 4, 0x40])))
    otype = ObjectType.PROCESS_CREATION_DPI if pc_type else ObjectType.PROCESS_CREATION
    victim = Victim(ZoneType.PC, X, otype, name_hash=victim_proc.name_hash, name=victim_proc.name,
                    process=victim_proc)
    origin = UserOriginator(name_hash=proc.name_hash, name=proc.name, pc_type=pc_type, execute=True, process=proc)
    env = Environment(os=env.os, guest_64=env.guest_64, code_segment_64=env.code_segment_64)
    return Violation(ViolationKind.UM, victim, origin, env)


def _round_trip(v: Violation) -> None:
    blob = encode_violation(v)
    decoded = alert_to_violation(decode_alert(blob))
    assert decoded.violation == v
    assert encode_alert(violation_to_alert(decoded.violation)) == blob


@settings(max_examples=80, deadline=None)
@given(km_violation())
def test_round_trip_kernel_mode(v: Violation) -> None:
    _round_trip(v)


@settings(max_examples=40, deadline=None)
@given(kum_violation())
def test_round_trip_kernel_user(v: Violation) -> None:
    _round_trip(v)


@settings(max_examples=80, deadline=None)
@given(um_violation())
def test_round_trip_user_mode(v: Violation) -> None:
    _round_trip(v)
