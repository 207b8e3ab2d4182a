"""Proposer rules per event kind (spec 03 §12.4), quirks 13.8/13.9/13.16, dedup (§12.3), JSON-route names."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from hvmiex.engine.codeblocks import AlertBlock, AlertCodeblocks, CodeClass
from hvmiex.engine.propose import AlertList, ProposalError, is_duplicate, propose, type_name
from hvmiex.model import (
    CodeBlocksSignature,
    ExportSignature,
    IdtSignature,
    KernelException,
    KernelUserException,
    NameOrigin,
    ProcessCreationSignature,
    UserException,
)
from hvmiex.violation import (
    NONAME,
    AlertCodeBlocks,
    DriverFrame,
    Environment,
    Export,
    GuestMemory,
    GuestOS,
    InjectionInfo,
    IntegrityInfo,
    KernelOriginator,
    KumInjection,
    MemoryRange,
    Module,
    ObjectType,
    PcType,
    Process,
    UserOriginator,
    Victim,
    Violation,
    ViolationKind,
    ZoneFlags,
    ZoneType,
    crc32_narrow,
    hash_kernel_module,
    violation_from_dict,
)
from tests.conftest import DATA
from tests.engine.test_propose_oracle import as_oracle

KRIP = 0xFFFFF80000101020  # kernel RIP (offset 0x20 in its page)
URIP = 0x7FF600001020
CODE = bytes.fromhex("e810000000eb03e8200000007405c3e900010000e80000000075f0c3eb00e830000000c3") * 3
WIN = Environment(os=GuestOS.WINDOWS, guest_64=True)
LIX = Environment(os=GuestOS.LINUX, guest_64=True)


def _mem(env: Environment, rip: int) -> Environment:
    page = rip & ~0xFFF
    data = CODE + bytes(0x1000 - len(CODE))
    return Environment(env.os, env.guest_64, memory=GuestMemory((MemoryRange(page, data),)))


def _drv(name: str, os: GuestOS = GuestOS.WINDOWS) -> DriverFrame:
    return DriverFrame.of(name, KRIP, os)


def km(victim: Victim, env: Environment = WIN, original: DriverFrame | None = None,
       ret: DriverFrame | None = None, memory: bool = True) -> Violation:  # fmt: skip
    orig = original if original is not None else _drv("evil.sys", env.os)
    origin = KernelOriginator(original=orig, return_=ret if ret is not None else orig)
    return Violation(ViolationKind.KM, victim, origin, _mem(env, KRIP) if memory else env)


def test_km_driver_code_write() -> None:
    victim = Victim(ZoneType.EPT, ZoneFlags.WRITE | ZoneFlags.LIB_CODE, ObjectType.KM_MODULE,
                    hash_kernel_module("bar.sys"), "bar.sys")  # fmt: skip
    p = propose(km(victim))
    e = p.exception
    assert isinstance(e, KernelException) and p.list is AlertList.KERNEL
    assert (e.originator.text, e.victim.text, e.flags.value, e.object_type) == ("evil.sys", "bar.sys", 0x20000006, 4)
    assert type_name(p) == "driver code"
    (sig,) = p.signatures
    assert isinstance(sig, CodeBlocksSignature)
    assert sig.id == (600 << 22) | 0x200001 and sig.flags.value == 3 and len(sig.lists[0]) == 6 and sig.score == 5
    assert [r.id for r in e.signatures] == [sig.id]


@pytest.mark.parametrize(
    ("zone_flags", "object_type"),
    [(ZoneFlags.LIB_IMPORTS | ZoneFlags.LIB_CODE, 3), (ZoneFlags.LIB_EXPORTS | ZoneFlags.LIB_DATA, 18),
     (ZoneFlags.LIB_DATA, 5), (ZoneFlags.LIB_RESOURCES, 6)],
)  # fmt: skip
def test_km_object_type_priority(zone_flags: ZoneFlags, object_type: int) -> None:
    victim = Victim(ZoneType.EPT, ZoneFlags.WRITE | zone_flags, ObjectType.KM_MODULE, 0x1234, None)
    assert propose(km(victim)).exception.object_type == object_type


def test_km_ept_unsupported_victims() -> None:
    for ot in (ObjectType.HAL_HEAP, ObjectType.SELF_MAP_ENTRY, ObjectType.HAL_INT_CONTROLLER):
        with pytest.raises(ProposalError):
            propose(km(Victim(ZoneType.EPT, ZoneFlags.WRITE, ot)))


def test_quirk_13_16_vdso_write_refused() -> None:
    # upstream quirk 13.16: vDSO victims carry only the write zone flag, so no alert exception is built
    with pytest.raises(ProposalError):
        propose(km(Victim(ZoneType.EPT, ZoneFlags.WRITE, ObjectType.VDSO), env=LIX))
    # with a library flag the victim would be 5
    p = propose(km(Victim(ZoneType.EPT, ZoneFlags.WRITE | ZoneFlags.LIB_CODE, ObjectType.VDSO), env=LIX))
    assert p.exception.victim.value == 5


def test_quirk_13_9_return_driver_stands_in() -> None:
    victim = Victim(ZoneType.EPT, ZoneFlags.WRITE | ZoneFlags.LIB_CODE, ObjectType.KM_MODULE, 0x1234)
    p = propose(km(victim, original=DriverFrame.none(KRIP), ret=_drv("caller.sys")))
    assert p.exception.originator.value == hash_kernel_module("caller.sys")
    assert any("13.9" in n for n in p.notes)
    # neither driver known: "-"
    p = propose(km(victim, original=DriverFrame.none(KRIP), ret=DriverFrame.none(0)))
    assert p.exception.originator.value == 4 and p.exception.originator.text == "-"


def test_km_ept_idt_has_idt_then_codeblocks() -> None:
    victim = Victim(ZoneType.EPT, ZoneFlags.WRITE, ObjectType.IDT, base_address=0xFFFFF80000200000,
                    gva=0xFFFFF80000200000 + 16 * 0x2E)  # fmt: skip
    p = propose(km(victim))
    idt, cb = p.signatures
    assert isinstance(idt, IdtSignature) and idt.entry == 0x2E and idt.flags.value == 2
    assert idt.id == (300 << 22) | 0x200001
    assert isinstance(cb, CodeBlocksSignature) and cb.id == (600 << 22) | 0x200002
    assert p.exception.victim.value == 0 and p.exception.object_type == 14


def test_msr_cr_dtr() -> None:
    no_driver = DriverFrame.none(KRIP)
    msr = propose(km(Victim(ZoneType.MSR, ZoneFlags.WRITE), original=no_driver, ret=_drv("caller.sys")))
    assert msr.exception.object_type == 10 and msr.exception.flags.value == 0x20000006
    assert msr.exception.originator.value == 4  # no return fallback for MSR
    cr = propose(km(Victim(ZoneType.CR, ZoneFlags.WRITE, ObjectType.CR)))
    assert cr.exception.object_type == 11 and cr.exception.flags.value == 0x20000C06
    assert set(cr.exception.flags.names) == {"32", "64", "smap", "smep", "write"}
    env32 = Environment(GuestOS.WINDOWS, guest_64=False)
    dtr = propose(km(Victim(ZoneType.DTR, ZoneFlags.WRITE, ObjectType.GDTR), env=env32))
    assert dtr.exception.object_type == 16 and dtr.exception.flags.value == 0x20000002


@pytest.mark.parametrize(
    ("object_type", "expected_type", "victim_is_name"),
    [(ObjectType.TOKEN_PRIVS, 19, True), (ObjectType.SEC_DESC, 22, True), (ObjectType.ACL, 23, True),
     (ObjectType.SUD_INTEGRITY, 24, True), (ObjectType.DRIVER_OBJECT, 8, True), (ObjectType.HAL_PERF_COUNTER, 21, False)],
)  # fmt: skip
def test_integrity(object_type: ObjectType, expected_type: int, victim_is_name: bool) -> None:
    victim = Victim(ZoneType.INTEGRITY, ZoneFlags.WRITE | ZoneFlags.INTEGRITY, object_type, 0xABCD)
    p = propose(km(victim))
    e = p.exception
    assert e.object_type == expected_type and e.flags.value == 0x20001006
    assert e.victim.value == (0xABCD if victim_is_name else 0)
    dummy = expected_type in (19, 22, 23, 24)
    assert (e.originator.value == 4) is dummy
    assert p.signatures == ()  # integrity alerts carry no code blocks


def test_integrity_interrupt_object_idt_signature() -> None:
    victim = Victim(ZoneType.INTEGRITY, ZoneFlags.WRITE | ZoneFlags.INTEGRITY, ObjectType.INTERRUPT_OBJECT,
                    integrity=IntegrityInfo(interrupt_obj_index=0x41))  # fmt: skip
    (sig,) = propose(km(victim)).signatures
    assert isinstance(sig, IdtSignature) and sig.entry == 0x41


def test_linux_km_names_are_hash_only() -> None:
    victim = Victim(ZoneType.EPT, ZoneFlags.WRITE | ZoneFlags.LIB_CODE, ObjectType.KM_MODULE,
                    hash_kernel_module("ext4", GuestOS.LINUX), "ext4")  # fmt: skip
    p = propose(km(victim, env=LIX, original=_drv("evil", GuestOS.LINUX)))
    e = p.exception
    assert e.flags.value == 0x20000086
    # the compiler hashes KM names wide, Linux hashes them narrow: only {"hash": ...} can express them
    assert e.originator.origin is NameOrigin.VERBATIM and e.originator.value == crc32_narrow("evil")
    assert e.victim.origin is NameOrigin.VERBATIM
    assert p.signatures[0].flags.value == 0x83


def test_missing_code_is_noted() -> None:
    victim = Victim(ZoneType.EPT, ZoneFlags.WRITE | ZoneFlags.LIB_CODE, ObjectType.KM_MODULE, 0x1234)
    p = propose(km(victim, memory=False))
    assert p.signatures == () and p.notes
    # explicit "the alert carries none"
    assert propose(km(victim), codeblocks=None).signatures == ()


def test_given_codeblocks_are_used() -> None:
    blocks = tuple(AlertBlock(0x10 * i, CodeClass.CALL, 1000 - i) for i in range(10))
    cbs = AlertCodeblocks(True, 0, 5, blocks, False)
    victim = Victim(ZoneType.EPT, ZoneFlags.WRITE | ZoneFlags.LIB_CODE, ObjectType.KM_MODULE, 0x1234)
    (sig,) = propose(km(victim, memory=False), codeblocks=cbs).signatures
    assert isinstance(sig, CodeBlocksSignature) and sig.lists == (tuple(sorted(1000 - i for i in range(2, 8))),)


# ---------------------------------------------------------------------------------------------- kernel-user


def _kum(injection: KumInjection, process: Process | None = None, ret: DriverFrame | None = None,
         zone: ZoneFlags = ZoneFlags.WRITE | ZoneFlags.LIB_IMPORTS) -> Violation:  # fmt: skip
    chrome = Process.named("chrome.exe")
    victim = Victim(ZoneType.EPT, zone, ObjectType.UM_MODULE, Module.named("ntdll.dll").name_hash, "ntdll.dll",
                    process=chrome)  # fmt: skip
    orig = _drv("ntoskrnl.exe")
    origin = KernelOriginator(original=orig, return_=ret or orig, injection=injection, process=process)
    return Violation(ViolationKind.KUM, victim, origin, _mem(WIN, KRIP))


def test_kum_user_injection() -> None:
    p = propose(_kum(KumInjection(user=True), process=Process.named("broker.exe")))
    e = p.exception
    assert isinstance(e, KernelUserException) and p.list is AlertList.KERNEL_USER
    assert e.originator.text == "broker.exe" and e.originator.value == crc32_narrow("broker.exe")
    assert e.flags.value == 0x20008006 and "user" in e.flags.names and e.object_type == 3
    assert e.process.text == "chrome.exe"


def test_kum_kernel_injection_substitutes_kernel_name() -> None:
    # the runtime keeps the raw hash of the Zw* caller; the alert side maps ntoskrnl.exe to [kernel] = 2
    ret = DriverFrame(name_hash=hash_kernel_module("ntoskrnl.exe", substitute=False), rip=KRIP, driver=True,
                      name="ntoskrnl.exe")  # fmt: skip
    e = propose(_kum(KumInjection(kernel=True), ret=ret)).exception
    assert e.originator.value == 2 and e.flags.value & 0x10000


def test_kum_plain_write_uses_original_driver() -> None:
    e = propose(_kum(KumInjection())).exception
    assert e.originator.value == 2 and e.originator.text == "[kernel]"


# ---------------------------------------------------------------------------------------------- user mode


def _um_write(execute: bool = False, env: Environment = WIN) -> Violation:
    chrome = Process.named("chrome.exe", os=env.os)
    if execute:
        victim = Victim(ZoneType.EPT, ZoneFlags.EXECUTE, ObjectType.UM_GENERIC_NX_ZONE, process=chrome)
        origin = UserOriginator(name_hash=NONAME, rip=URIP, execute=True, process=chrome)
    else:
        victim = Victim(ZoneType.EPT, ZoneFlags.WRITE | ZoneFlags.LIB_EXPORTS, ObjectType.UM_MODULE,
                        Module.named("kernel32.dll").name_hash, "kernel32.dll", process=chrome)  # fmt: skip
        lib = Module.named("evil.dll")
        origin = UserOriginator(name_hash=lib.name_hash, name="evil.dll", name_wide=True, library=lib, rip=URIP,
                                process=chrome)  # fmt: skip
    return Violation(ViolationKind.UM, victim, origin, _mem(env, URIP))


def test_um_module_write() -> None:
    p = propose(_um_write())
    e = p.exception
    assert isinstance(e, UserException) and p.list is AlertList.USER
    assert (e.originator.text, e.victim.text, e.process.text) == ("evil.dll", "kernel32.dll", "chrome.exe")
    assert e.object_type == 6 and e.flags.value == 0x20000006
    (sig,) = p.signatures
    assert isinstance(sig, CodeBlocksSignature) and not sig.flags.value & 0x4  # no "medium" flag


def test_um_execution() -> None:
    p = propose(_um_write(execute=True))
    e = p.exception
    assert (e.originator.value, e.victim.value, e.object_type, e.flags.value) == (4, 0, 5, 0x40000006)
    assert len(p.signatures) == 1
    assert p.codeblocks is not None and p.codeblocks.execute and p.codeblocks.rip_cb_index == 0


def test_linux_um_execution_has_no_codeblocks() -> None:
    p = propose(_um_write(execute=True, env=LIX))
    assert p.signatures == () and p.exception.flags.value == 0x40000086


def _injection(zone_flags: ZoneFlags, module: Module | None, gva: int = 0, length: int = 0) -> Violation:
    victim_proc = Process.named("b.exe")
    victim = Victim(ZoneType.PROCESS, zone_flags, ObjectType.NONE, victim_proc.name_hash, "b.exe", gva=gva,
                    injection=InjectionInfo(length), module=module, process=victim_proc)  # fmt: skip
    src = Process.named("a.exe")
    origin = UserOriginator(name_hash=src.name_hash, name="a.exe", rip=0x1000, process=src)
    return Violation(ViolationKind.UM, victim, origin, WIN)


def test_injection_into_dll_gets_export_signature() -> None:
    ntdll = Module.named("ntdll.dll", base=0x7FF800000000, exports=(Export.of(0x1000, "NtCreateKey", "ZwCreateKey"),))
    p = propose(_injection(ZoneFlags.WRITE, ntdll, gva=0x7FF800001002, length=6))
    e = p.exception
    assert isinstance(e, UserException)
    assert (e.originator.text, e.victim.text, e.process.value, e.object_type) == ("a.exe", "b.exe", 0, 2)
    assert e.flags.value == 0x20000006
    (sig,) = p.signatures
    assert isinstance(sig, ExportSignature) and sig.id == (100 << 22) | 0x200001
    assert sig.library.text == "ntdll.dll"
    (entry,) = sig.entries
    assert (entry.name.text, entry.delta) == ("NtCreateKey", 8)
    assert p.export_offset == 2


def test_injection_delta_parts_truncated_to_a_byte() -> None:
    ntdll = Module.named("ntdll.dll", base=0x10000, exports=(Export.of(0x1000, "A"),))
    (sig,) = propose(_injection(ZoneFlags.WRITE, ntdll, gva=0x11001, length=0x1FF)).signatures
    assert isinstance(sig, ExportSignature) and sig.entries[0].delta == 1 + 0xFF


@pytest.mark.parametrize(
    ("flags", "object_type"),
    [(ZoneFlags.WRITE | ZoneFlags.PROC_THREAD_CTX, 7), (ZoneFlags.WRITE | ZoneFlags.PROC_THREAD_APC, 10),
     (ZoneFlags.WRITE | ZoneFlags.PROC_INSTRUMENT, 15), (ZoneFlags.READ, 2)],
)  # fmt: skip
def test_injection_object_types(flags: ZoneFlags, object_type: int) -> None:
    p = propose(_injection(flags, None))
    assert p.exception.object_type == object_type and p.signatures == ()
    assert p.exception.flags.value & (0x10000000 if flags & ZoneFlags.READ else 0x20000000)


def test_module_load() -> None:
    victim_proc = Process.named("b.exe")
    victim = Victim(ZoneType.PROCESS, ZoneFlags.WRITE | ZoneFlags.MODULE_LOAD, ObjectType.NONE,
                    victim_proc.name_hash, "b.exe", process=victim_proc)  # fmt: skip
    dll = Module.named("agent.dll")
    origin = UserOriginator(name_hash=dll.name_hash, name="agent.dll", name_wide=True, rip=0x1000)
    p = propose(Violation(ViolationKind.UM, victim, origin, WIN))
    e = p.exception
    assert isinstance(e, UserException)
    assert (e.object_type, e.flags.value, p.signatures) == (12, 0x20000006, ())
    assert e.process.value == victim_proc.name_hash and e.originator.text == "agent.dll"


def _pc(pc_type: PcType) -> Violation:
    parent = Process.named("winword.exe")
    child = Process.named("x.exe")
    victim = Victim(ZoneType.PC, ZoneFlags.EXECUTE,
                    ObjectType.PROCESS_CREATION_DPI if pc_type else ObjectType.PROCESS_CREATION,
                    parent.name_hash, "winword.exe", process=parent)  # fmt: skip
    origin = UserOriginator(name_hash=child.name_hash, name="x.exe", pc_type=pc_type, execute=True, process=child)
    return Violation(ViolationKind.UM, victim, origin, WIN)


def test_quirk_13_8_process_creation_types_are_inverted() -> None:
    plain = propose(_pc(PcType.NONE))
    assert plain.exception.object_type == 13 and plain.list is AlertList.USER and plain.signatures == ()
    dpi = propose(_pc(PcType.HEAP_SPRAY | PcType.THREAD_START))
    assert dpi.exception.object_type == 11 and dpi.list is AlertList.PROCESS_CREATION
    (sig,) = dpi.signatures
    assert isinstance(sig, ProcessCreationSignature) and sig.create_mask.value == 0x28 and sig.flags.value == 3
    assert dpi.exception.flags.value == 0x40000006


def test_dpi_process_creation_is_never_a_duplicate() -> None:
    first = propose(_pc(PcType.DEBUG))
    assert not is_duplicate(first, propose(_pc(PcType.DEBUG), first_counter=0x200002))


# ---------------------------------------------------------------------------------------------- dedup


def test_dedup_km_codeblocks_and_idt() -> None:
    victim = Victim(ZoneType.EPT, ZoneFlags.WRITE | ZoneFlags.LIB_CODE, ObjectType.KM_MODULE, 0x1234)
    a = propose(km(victim))
    assert is_duplicate(a, propose(km(victim)))
    assert not is_duplicate(a, propose(km(victim), codeblocks=None))  # existing has sigs, new has none
    other = Victim(ZoneType.EPT, ZoneFlags.WRITE | ZoneFlags.LIB_CODE, ObjectType.KM_MODULE, 0x9999)
    assert not is_duplicate(a, propose(km(other)))
    bare = propose(km(victim), codeblocks=None)
    assert is_duplicate(bare, propose(km(victim), codeblocks=None))


def test_dedup_um_ignores_flags_and_compares_export_delta() -> None:
    ntdll = Module.named("ntdll.dll", base=0x10000, exports=(Export.of(0x1000, "A"),))
    big = propose(_injection(ZoneFlags.WRITE, ntdll, gva=0x11004, length=4))  # delta 8
    near = propose(_injection(ZoneFlags.WRITE, ntdll, gva=0x11002, length=30))  # raw offset 2 <= 8
    far = propose(_injection(ZoneFlags.WRITE, ntdll, gva=0x11010, length=1))  # raw offset 16 > 8
    assert is_duplicate(big, near)
    assert not is_duplicate(big, far)
    # UM dedup does not compare flags: a read of the same kind is a duplicate
    read = propose(_injection(ZoneFlags.READ, ntdll, gva=0x11002, length=1))
    assert is_duplicate(big, read)


def test_renumbered() -> None:
    victim = Victim(ZoneType.EPT, ZoneFlags.WRITE, ObjectType.IDT, base_address=0, gva=16)
    p = propose(km(victim)).renumbered(0x200010)
    assert [s.id & 0x3FFFFF for s in p.signatures] == [0x200010, 0x200011]
    assert [r.id for r in p.exception.signatures] == [s.id for s in p.signatures]
    assert [r.name for r in p.exception.signatures] == [s.name for s in p.signatures]


# ---------------------------------------------------------------------------------------------- fixtures

_FIXTURES = sorted((DATA / "propose").glob("*.json"))


@pytest.mark.parametrize("path", _FIXTURES, ids=lambda p: p.stem)
def test_fixture_violations(path: Path) -> None:
    """Hand-checked violations in the JSON form (tests/data/propose) and the exception Introcore makes."""
    doc = json.loads(path.read_text())
    proposal = propose(violation_from_dict(doc["violation"], where=str(path)))
    assert as_oracle(proposal) == doc["expected"]


def test_carried_alert_codeblocks_take_precedence() -> None:
    """Decoded alerts carry their code blocks (code order + RIP index): the signature is made from them."""
    victim = Victim(ZoneType.EPT, ZoneFlags.WRITE | ZoneFlags.LIB_CODE, ObjectType.KM_MODULE, 0x1234)
    carried = AlertCodeBlocks(rip=KRIP, start=KRIP & ~0xFFF, rip_index=4, hashes=tuple(range(100, 90, -1)))
    v = replace(km(victim), alert_codeblocks=carried)
    (sig,) = propose(v).signatures
    assert isinstance(sig, CodeBlocksSignature)
    assert sig.lists == ((94, 95, 96, 97, 98, 99),) and sig.score == 5  # indexes 1..6 around index 4
