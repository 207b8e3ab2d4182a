"""Table-driven tests: every object type and flag rule of spec 03 §3.5-§7, over exceptions compiled by
hvmiex's compiler from our own JSON fixtures (tests/data/engine/table)."""

from __future__ import annotations

from typing import Any

import pytest

from hvmiex.engine import Action, Engine, Reason
from hvmiex.violation import (
    NONAME,
    CrInfo,
    DriverFrame,
    IntegrityInfo,
    KernelOriginator,
    Module,
    ObjectType,
    PcType,
    Process,
    Violation,
    ViolationKind,
    WriteInfo,
    ZoneFlags,
    ZoneType,
    hash_kernel_module,
)
from tests.engine.builders import DATA, LIX64, WIN32, WIN64, compiled_engine, km, kum, um_module, um_process

Z = ZoneFlags
OT = ObjectType
W = Z.WRITE


@pytest.fixture(scope="module")
def engine() -> Engine:
    return compiled_engine(DATA / "table")


def _noname(v: Violation) -> Violation:
    """The same KM violation from code outside any driver (integrity-style dummy originator)."""
    k = v.originator
    assert isinstance(k, KernelOriginator)
    return Violation(v.kind, v.victim, KernelOriginator(DriverFrame.none(), DriverFrame.none()), v.env)


# (object type value, originator, positive victim kwargs, negative victim kwargs or None)
KM_TYPES: list[tuple[int, dict[str, Any], dict[str, Any] | None]] = [
    (1, {"zone": ZoneType.MSR, "flags": W, "obj": OT.NONE, "victim": None}, None),
    (2, {"flags": W | Z.LIB_DATA}, {"obj": OT.DRIVER_OBJECT, "victim": "\\driver\\x"}),
    (3, {"flags": W | Z.LIB_DATA | Z.LIB_IMPORTS}, {"flags": W | Z.LIB_DATA}),
    (4, {"flags": W | Z.LIB_CODE}, {"flags": W | Z.LIB_DATA}),
    (5, {"flags": W | Z.LIB_DATA}, {"flags": W | Z.LIB_CODE}),
    (6, {"flags": W | Z.LIB_DATA | Z.LIB_RESOURCES}, {"flags": W | Z.LIB_DATA}),
    (7, {"flags": W, "obj": OT.SSDT, "victim": "ntoskrnl.exe"}, {"flags": W | Z.LIB_DATA}),
    (8, {"flags": W, "obj": OT.DRIVER_OBJECT, "victim": "\\driver\\disk"}, {"obj": OT.FAST_IO_DISPATCH, "victim": "\\driver\\disk"}),
    (9, {"flags": W, "obj": OT.FAST_IO_DISPATCH, "victim": "\\driver\\disk"}, {"obj": OT.DRIVER_OBJECT, "victim": "\\driver\\disk"}),
    (10, {"zone": ZoneType.MSR, "flags": W, "obj": OT.NONE, "victim": None}, {"zone": ZoneType.CR, "flags": W, "obj": OT.CR, "victim": None}),
    (11, {"zone": ZoneType.CR, "flags": W, "obj": OT.CR, "victim": None, "cr": CrInfo(4, False, True)},
         {"zone": ZoneType.CR, "flags": W, "obj": OT.CR, "victim": None, "cr": CrInfo(4, True, False)}),
    (12, {"flags": W, "obj": OT.HAL_INT_CONTROLLER, "victim_hash": 3, "victim": None}, {"zone": ZoneType.INTEGRITY, "flags": W | Z.INTEGRITY, "obj": OT.HAL_INT_CONTROLLER, "victim": None}),
    (13, {"flags": W, "obj": OT.SELF_MAP_ENTRY, "victim": "app.exe"}, {"zone": ZoneType.INTEGRITY, "flags": W | Z.INTEGRITY, "obj": OT.SELF_MAP_ENTRY, "victim": "app.exe"}),
    (14, {"flags": W, "obj": OT.IDT, "victim": None}, {"zone": ZoneType.DTR, "flags": W, "obj": OT.IDTR, "victim": None}),
    (15, {"zone": ZoneType.DTR, "flags": W, "obj": OT.IDTR, "victim": None}, {"zone": ZoneType.DTR, "flags": W, "obj": OT.GDTR, "victim": None}),
    (16, {"zone": ZoneType.DTR, "flags": W, "obj": OT.GDTR, "victim": None}, {"zone": ZoneType.DTR, "flags": W, "obj": OT.IDTR, "victim": None}),
    (17, {"flags": W, "obj": OT.KM_LOGGER_CONTEXT, "victim": None}, {"flags": W, "obj": OT.IDT, "victim": None}),
    (18, {"flags": W | Z.LIB_DATA | Z.LIB_EXPORTS}, {"flags": W | Z.LIB_DATA | Z.LIB_IMPORTS}),
    (19, {"flags": W, "obj": OT.TOKEN_PRIVS, "victim": "app.exe"}, {"flags": W, "obj": OT.SEC_DESC, "victim": "app.exe"}),
    (20, {"flags": Z.EXECUTE, "obj": OT.SUD_EXEC, "victim": None, "write": None}, {"zone": ZoneType.INTEGRITY, "flags": Z.EXECUTE, "obj": OT.SUD_EXEC, "victim": None, "write": None}),
    (21, {"zone": ZoneType.INTEGRITY, "flags": W | Z.INTEGRITY, "obj": OT.HAL_PERF_COUNTER, "victim": None}, {"flags": W, "obj": OT.HAL_DISPATCH_TABLE, "victim": None}),
    (24, {"zone": ZoneType.INTEGRITY, "flags": W | Z.INTEGRITY, "obj": OT.SUD_INTEGRITY, "victim": None, "victim_hash": 0}, {"zone": ZoneType.INTEGRITY, "flags": W | Z.INTEGRITY, "obj": OT.SUD_EXEC, "victim": None}),
    (25, {"zone": ZoneType.INTEGRITY, "flags": W | Z.INTEGRITY, "obj": OT.INTERRUPT_OBJECT, "victim": None}, {"zone": ZoneType.INTEGRITY, "flags": W | Z.INTEGRITY, "obj": OT.IDT, "victim": None}),
]


@pytest.mark.parametrize(("obj_type", "pos", "neg"), KM_TYPES, ids=[str(t[0]) for t in KM_TYPES])
def test_km_object_types(engine: Engine, obj_type: int, pos: dict[str, Any], neg: dict[str, Any] | None) -> None:
    originator = f"o{obj_type}.sys"
    verdict = engine.decide(km(originator, **pos))
    assert verdict.action is Action.ALLOWED, verdict.to_dict()
    assert verdict.matched is not None and verdict.matched.object_type == obj_type
    if neg is not None:
        blocked = engine.decide(km(originator, **neg))
        assert blocked.action is Action.NOT_ALLOWED
        assert blocked.reason is Reason.NO_EXCEPTION


@pytest.mark.parametrize("obj", [OT.SEC_DESC, OT.ACL])
def test_km_integrity_process_types_need_dash_originator(engine: Engine, obj: ObjectType) -> None:
    v = km(None, zone=ZoneType.INTEGRITY, flags=W | Z.INTEGRITY, obj=obj, victim="app.exe")
    verdict = engine.decide(v)
    assert verdict.allowed and verdict.matched is not None
    assert verdict.matched.list_name == "NoNameKernel"
    # the same change seen by EPT (not integrity) fails the exception's 'integrity' flag
    eptv = km(None, flags=W, obj=obj, victim="app.exe")
    assert engine.decide(eptv).reason is Reason.NO_EXCEPTION


def test_km_vdso_counts_as_driver_code(engine: Engine) -> None:
    v = km("o4.sys", flags=W | Z.LIB_CODE, obj=OT.VDSO, victim=None, victim_hash=0)
    assert engine.decide(v).allowed


# ----------------------------------------------------------------------------------------------- KM flags


def test_km_arch(engine: Engine) -> None:
    assert not engine.decide(km("arch32.sys", flags=W | Z.LIB_DATA)).allowed
    assert engine.decide(km("arch32.sys", flags=W | Z.LIB_DATA, env=WIN32)).allowed
    assert engine.decide(km("arch64.sys", flags=W | Z.LIB_DATA)).allowed
    assert not engine.decide(km("arch64.sys", flags=W | Z.LIB_DATA, env=WIN32)).allowed


def test_km_access_bits(engine: Engine) -> None:
    read = km("rd.sys", flags=Z.READ | Z.LIB_DATA, write=None)
    assert engine.decide(read).allowed
    assert engine.decide(km("rd.sys", flags=W | Z.LIB_DATA)).reason is Reason.NO_EXCEPTION


def test_km_integrity_flag(engine: Engine) -> None:
    integ = km("integ.sys", zone=ZoneType.INTEGRITY, flags=W | Z.INTEGRITY, obj=OT.IDT, victim=None)
    assert engine.decide(integ).allowed
    ept = km("integ.sys", flags=W, obj=OT.IDT, victim=None)
    assert engine.decide(ept).reason is Reason.NO_EXCEPTION


def test_km_init_rules(engine: Engine) -> None:
    zero_old = WriteInfo(old=b"\0" * 8, new=b"\x22" * 8, access_size=8)
    assert engine.decide(km("init.sys", flags=W | Z.LIB_DATA, write=zero_old)).allowed  # branch e
    assert not engine.decide(km("init.sys", flags=W | Z.LIB_DATA)).allowed  # branch f
    kv = km("ntoskrnl.exe", flags=W | Z.LIB_DATA)  # [kernel] originator, section .text -> c fails
    assert not engine.decide(kv).allowed
    k = kv.originator
    assert isinstance(k, KernelOriginator)
    in_init = Violation(
        kv.kind, kv.victim,
        KernelOriginator(DriverFrame(2, k.original.rip, True, "ntoskrnl.exe", "INIT"), k.return_), kv.env,
    )  # fmt: skip
    assert engine.decide(in_init).allowed  # branch c
    ep = Violation(kv.kind, kv.victim, KernelOriginator(k.original, k.return_, is_entry_point=True), kv.env)
    assert not engine.decide(ep).allowed  # branch c decides before d for the kernel


def test_km_non_driver_never_matches_via_buckets(engine: Engine) -> None:
    """upstream quirk §13.10: 'non-driver' alone (compiled as non-driver|return-drv) cannot match."""
    v = _noname(km("nd.sys", flags=W | Z.LIB_DATA))
    assert engine.decide(v).reason is Reason.NO_EXCEPTION
    assert engine.decide(km("nd.sys", flags=W | Z.LIB_DATA)).reason is Reason.NO_EXCEPTION


def test_km_return_pass(engine: Engine) -> None:
    # same RIP: the return exception is reached through the originator's bucket
    assert engine.decide(km("ret.sys", flags=W | Z.LIB_DATA)).allowed
    # return driver ret.sys, original other.sys at a different RIP: the return pass finds it
    v = km("other.sys", flags=W | Z.LIB_DATA, ret="ret.sys", ret_rip=0xFFFFF800_00202000)
    verdict = engine.decide(v)
    assert verdict.allowed and verdict.candidates[-1].phase == "return"
    # original ret.sys but a different return driver: return exceptions are skipped
    v2 = km("ret.sys", flags=W | Z.LIB_DATA, ret="x.sys", ret_rip=0xFFFFF800_00202000)
    assert not engine.decide(v2).allowed


def test_km_own(engine: Engine) -> None:
    v = km("own.sys", flags=W | Z.LIB_DATA, victim="own.sys")
    k = v.originator
    assert isinstance(k, KernelOriginator)
    same_base = Violation(
        v.kind,
        victim_with(v, base_address=0x1000),
        KernelOriginator(DriverFrame(k.original.name_hash, k.original.rip, True, "own.sys", base=0x1000), k.return_),
        v.env,
    )
    assert engine.decide(same_base).allowed
    other = Violation(
        v.kind,
        victim_with(v, base_address=0x2000),
        KernelOriginator(DriverFrame(k.original.name_hash, k.original.rip, True, "own.sys", base=0x1000), k.return_),
        v.env,
    )
    assert not engine.decide(other).allowed


def victim_with(v: Violation, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(v.victim, **changes)


def test_km_named_victim_and_generic(engine: Engine) -> None:
    assert engine.decide(km("named.sys", flags=W | Z.LIB_DATA, victim="bar.sys")).allowed
    assert not engine.decide(km("named.sys", flags=W | Z.LIB_DATA, victim="baz.sys")).allowed
    generic = engine.decide(km("whoever.sys", flags=W | Z.LIB_DATA, victim="generic.sys"))
    assert generic.allowed and generic.matched is not None and generic.matched.list_name == "GenericKernel"
    # '*' does not cover nameless code (spec 03 §2.3)
    assert not engine.decide(_noname(km(None, flags=W | Z.LIB_DATA, victim="generic.sys"))).allowed


def test_km_feedback(engine: Engine) -> None:
    verdict = engine.decide(km("fb.sys", flags=W | Z.LIB_DATA))
    assert verdict.action is Action.ALLOWED and verdict.reason is Reason.ALLOWED_FEEDBACK
    assert verdict.matched is not None and verdict.matched.list_name == "KernelFeedback"


def test_km_cr4_smap_smep(engine: Engine) -> None:
    def cr(name: str, smap: bool, smep: bool) -> Violation:
        return km(name, zone=ZoneType.CR, flags=W, obj=OT.CR, victim=None, cr=CrInfo(4, smap, smep))

    assert engine.decide(cr("crboth.sys", False, False)).allowed  # both flags: always
    assert engine.decide(cr("crsmap.sys", True, False)).allowed
    assert not engine.decide(cr("crsmap.sys", False, True)).allowed


def test_km_dash_originator_for_nameless(engine: Engine) -> None:
    v = _noname(km(None, zone=ZoneType.MSR, flags=W, obj=OT.NONE, victim=None))
    verdict = engine.decide(v)
    assert verdict.allowed and verdict.matched is not None and verdict.matched.list_name == "NoNameKernel"


def test_linux_exceptions_dropped_on_windows_and_kept_on_linux() -> None:
    win = compiled_engine(DATA / "table")
    assert not win.decide(km("lin.sys", flags=W | Z.LIB_DATA)).allowed
    lix = compiled_engine(DATA / "table", os=LIX64.os)
    # the compiler hashes KM names wide even for Linux (spec 02 §6.8): the runtime narrow hash never matches
    v = km("lin.sys", flags=W | Z.LIB_DATA, env=LIX64)
    assert v.km.original.name_hash == hash_kernel_module("lin.sys", LIX64.os)
    assert not lix.decide(v).allowed
    wide = km("lin.sys", flags=W | Z.LIB_DATA, env=LIX64)
    wide = Violation(
        wide.kind, wide.victim,
        KernelOriginator(DriverFrame(hash_kernel_module("lin.sys"), 1, True), DriverFrame(hash_kernel_module("lin.sys"), 1, True)),
        wide.env,
    )  # fmt: skip
    assert lix.decide(wide).allowed


# ----------------------------------------------------------------------------------------------- UM


UM_TYPES: list[tuple[str, Any, Any]] = [
    ("any", lambda: um_module("any.dll"), None),
    ("process", lambda: um_process("inj.exe"), lambda: um_process("inj.exe", flags=W | Z.PROC_THREAD_CTX)),
    ("process-read", lambda: um_process("inj.exe", flags=Z.READ), None),
    ("module", lambda: um_module("mod.dll"), lambda: um_process("mod.dll")),
    ("module imports", lambda: um_module("imp.dll", flags=W | Z.LIB_IMPORTS), lambda: um_module("imp.dll")),
    ("module exports", lambda: um_module("exp.dll", flags=W | Z.LIB_EXPORTS), lambda: um_module("exp.dll")),
    ("thread-context", lambda: um_process("ctx.exe", flags=W | Z.PROC_THREAD_CTX), lambda: um_process("ctx.exe")),
    ("apc-thread", lambda: um_process("apc.exe", flags=W | Z.PROC_THREAD_APC), lambda: um_process("apc.exe")),
    (
        "double-agent",
        lambda: um_process("agent.dll", flags=W | Z.MODULE_LOAD, module_originator=True),
        lambda: um_process("agent.dll", module_originator=True),
    ),
    ("instrumentation-callback", lambda: um_process("instr.exe", flags=W | Z.PROC_INSTRUMENT), lambda: um_process("instr.exe")),
    (
        "process-creation",
        lambda: um_process("child.exe", "parent.exe", zone=ZoneType.PC, flags=Z.EXECUTE, obj=OT.PROCESS_CREATION),
        lambda: um_process("child.exe", "parent.exe", zone=ZoneType.PC, flags=Z.EXECUTE, obj=OT.PROCESS_CREATION_DPI, pc_type=PcType.DEBUG),
    ),
    (
        "process-creation-dpi",
        lambda: um_process("dpi.exe", "p.exe", zone=ZoneType.PC, flags=Z.EXECUTE, obj=OT.PROCESS_CREATION_DPI, pc_type=PcType.DEBUG),
        lambda: um_process("dpi.exe", "p.exe", zone=ZoneType.PC, flags=Z.EXECUTE, obj=OT.PROCESS_CREATION),
    ),
    (
        "peb64",
        lambda: um_process("peb64.exe", victim_process=Process.named("v.exe", peb64_address=0x10000 - 0x10)),
        lambda: um_process("peb64.exe", victim_process=Process.named("v.exe", peb64_address=0x20000)),
    ),
    (
        "peb32",
        lambda: um_process("peb32.exe", victim_process=Process.named("v.exe", peb32_address=0x10000)),
        lambda: um_process("peb32.exe", victim_process=Process.named("v.exe", peb32_address=0x10000 + 0x480)),
    ),
]


@pytest.mark.parametrize(("name", "pos", "neg"), UM_TYPES, ids=[t[0] for t in UM_TYPES])
def test_um_object_types(engine: Engine, name: str, pos: Any, neg: Any) -> None:
    verdict = engine.decide(pos())
    assert verdict.allowed, verdict.to_dict()
    if neg is not None:
        assert not engine.decide(neg()).allowed


def test_um_nx_zone_and_sud_exec(engine: Engine) -> None:
    from hvmiex.violation import UserOriginator, Victim

    p = Process.named("app.exe")
    nx = Violation(
        ViolationKind.UM, Victim(ZoneType.EPT, Z.EXECUTE, OT.UM_GENERIC_NX_ZONE, p.name_hash, p.name, process=p),
        UserOriginator(NONAME, rip=0x1000, execute=True, process=p), WIN64,
    )  # fmt: skip
    verdict = engine.decide(nx)
    assert verdict.allowed and verdict.matched is not None and verdict.matched.list_name == "NoNameUser"
    sud = Violation(
        ViolationKind.UM, Victim(ZoneType.EPT, Z.EXECUTE, OT.SUD_EXEC, p.name_hash, p.name, process=p),
        UserOriginator(hash_user_module("sud.exe"), "sud.exe", True, rip=0x1000, execute=True, process=p), WIN64,
    )  # fmt: skip
    assert engine.decide(sud).allowed


def hash_user_module(name: str) -> int:
    from hvmiex.violation import hash_user_module as h

    return h(name)


def test_um_process_field_and_wow64(engine: Engine) -> None:
    assert engine.decide(um_module("proc.dll", process="app.exe")).allowed
    assert not engine.decide(um_module("proc.dll", process="other.exe")).allowed
    assert engine.decide(um_module("wow.dll", wow64=True)).allowed  # '32' covers WoW64 on a 64-bit guest
    assert not engine.decide(um_module("wow.dll")).allowed
    assert not engine.decide(um_module("mod.dll", wow64=True)).allowed  # '64' excludes WoW64


def test_um_system_process_child_one_time(engine: Engine) -> None:
    assert not engine.decide(um_process("sys.exe")).allowed
    sysp = Process.named("sys.exe", system_process=True, address=0x1000)
    assert engine.decide(um_process("sys.exe", orig_process=sysp)).allowed
    parent = Process.named("par.exe", address=0x1000)
    kid = Process.named("kid.exe", address=0x2000, parent_address=0x1000)
    assert engine.decide(um_process("par.exe", orig_process=parent, victim_process=kid)).allowed
    stranger = Process.named("kid.exe", address=0x2000, parent_address=0x3000)
    assert not engine.decide(um_process("par.exe", orig_process=parent, victim_process=stranger)).allowed
    # one-time: allowed once per victim process (stateful)
    assert engine.decide(um_process("once.exe", "t1.exe")).allowed
    assert not engine.decide(um_process("once.exe", "t1.exe")).allowed
    assert engine.decide(um_process("once.exe", "t2.exe")).allowed


def test_um_return_module_and_feedback(engine: Engine) -> None:
    v = um_module("writer.dll", ret="retmod.dll")
    verdict = engine.decide(v)
    assert verdict.allowed and verdict.candidates[-1].phase == "return"
    fb = engine.decide(um_module("fbu.dll"))
    assert fb.allowed and fb.reason is Reason.ALLOWED_FEEDBACK


def test_um_injection_into_dll_needs_export_signature(engine: Engine) -> None:
    mod = Module.named("ntdll.dll", 0x10000)
    verdict = engine.decide(um_process("inj.exe", module=mod))
    assert verdict.reason is Reason.EXPORT_NOT_MATCHED
    loadv = um_process("agent.dll", flags=W | Z.MODULE_LOAD, module=mod, module_originator=True)
    assert engine.decide(loadv).allowed  # module loads are exempt


# ----------------------------------------------------------------------------------------------- KUM


def test_kum_object_types(engine: Engine) -> None:
    assert engine.decide(kum("kany.sys")).allowed
    assert engine.decide(kum("kmod.sys")).allowed
    assert engine.decide(kum("kimp.sys", flags=W | Z.LIB_IMPORTS)).allowed
    assert not engine.decide(kum("kimp.sys")).allowed
    assert engine.decide(kum("kexp.sys", flags=W | Z.LIB_EXPORTS)).allowed
    assert not engine.decide(kum("kexp.sys")).allowed


def test_kum_direction_and_process(engine: Engine) -> None:
    assert engine.decide(kum(None, user=True, injector="uinj.exe")).allowed
    assert not engine.decide(kum("uinj.exe")).allowed  # not an injection: 'user' exceptions do not apply
    assert engine.decide(kum("kernel32.dll", kernel=True, ret="zw.sys")).allowed
    assert not engine.decide(kum(None, user=True, injector="zw.sys")).allowed
    assert engine.decide(kum("kproc.sys", process="app.exe")).allowed
    assert not engine.decide(kum("kproc.sys", process="x.exe")).allowed


def test_kum_dash_quirk(engine: Engine) -> None:
    """upstream quirk §13.1: a KUM '-' exception lands in the KM no-name list and never matches."""
    v = kum(None)
    assert engine.decide(v).reason is Reason.NO_EXCEPTION
    assert any(e.quirk_kum_as_km for e in engine.store.lists["NoNameKernel"])
    assert engine.store.lists["NoNameKernelUser"] == []


# ----------------------------------------------------------------------------------------------- globs


def test_glob_prefix_and_class(engine: Engine) -> None:
    v = um_module("chrome_elf.dll", process="chrome.exe")
    assert engine.decide(v).allowed
    assert not engine.decide(um_module("chrome_elf.dll", process="edge.exe")).allowed
    # upstream quirk §13.14: 'fire' (no star) acts as a prefix
    fire = engine.decide(um_module("firefox.dll"))
    assert fire.allowed and fire.matched is not None and fire.matched.kind.value == "umg"
    assert engine.decide(um_process("bar.exe")).allowed
    assert engine.decide(um_process("aar.exe")).allowed
    assert not engine.decide(um_process("car.exe")).allowed


def test_integrity_values_for_idt_signature_entries() -> None:
    """IDT entry computation for integrity victims (spec 03 §9.7) used by idt signatures."""
    v = km("i.sys", zone=ZoneType.INTEGRITY, flags=W | Z.INTEGRITY, obj=OT.IDT, victim=None,
           integrity=IntegrityInfo(offset=0x30))  # fmt: skip
    from hvmiex.engine.signatures import Context, _verify_idt
    from hvmiex.engine.store import ExceptionStore
    from hvmiex.model import FlagSet, IdtSignature

    ok, _ = _verify_idt(Context(v, ExceptionStore()), IdtSignature(300 << 22 | 1, FlagSet(2), 3))
    assert ok
