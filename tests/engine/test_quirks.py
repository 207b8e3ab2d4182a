"""Each upstream quirk of spec 03 §13 the engine reproduces (named ``upstream quirk §13.N`` in code), plus the
engine API (update / not loaded / alert exceptions)."""

from __future__ import annotations

import zlib
from dataclasses import replace

from hvmiex.binfile.writer import write_bytes
from hvmiex.engine import Action, Engine, Reason, UpdateStatus
from hvmiex.model import (
    ExceptionSet,
    ExportHash,
    ExportSignature,
    FlagSet,
    GlobException,
    KernelException,
    KernelUserException,
    Name,
    SignatureRef,
    UserException,
    ValueCodeSignature,
    ValueHash,
    ValueSignature,
)
from hvmiex.violation import (
    NONAME,
    Export,
    GuestMemory,
    MemoryRange,
    Module,
    ObjectType,
    Process,
    ReadInfo,
    Victim,
    ZoneFlags,
    ZoneType,
    hash_kernel_module,
    hash_process,
    hash_user_module,
)
from tests.engine.builders import WIN64, km, kum, um_module, um_process

W64 = 0x20000004  # write | 64
V = Name.verbatim


def _engine(*records: object) -> Engine:
    engine = Engine()
    result = engine.update_exceptions(ExceptionSet(tuple(records)))  # type: ignore[arg-type]
    assert result.status is UpdateStatus.LOADED
    return engine


def _um(orig: int, victim: int, process: int, flags: int, obj: int, *sigs: int) -> UserException:
    return UserException(V(orig), V(victim), V(process), FlagSet(flags), obj, tuple(SignatureRef(s) for s in sigs))


def _km(orig: int, victim: int, flags: int, obj: int, *sigs: int) -> KernelException:
    return KernelException(V(orig), V(victim), FlagSet(flags), obj, tuple(SignatureRef(s) for s in sigs))


def _kum(orig: int, victim: int, process: int, flags: int, obj: int, *sigs: int) -> KernelUserException:
    return KernelUserException(V(orig), V(victim), V(process), FlagSet(flags), obj, tuple(SignatureRef(s) for s in sigs))


def test_quirk_13_2_kum_value_code_reads_return_bit_from_process_hash() -> None:
    rip_orig, rip_ret = 0xFFFFF800_00001000, 0xFFFFF800_00002000
    sig = ValueCodeSignature(500 << 22 | 1, FlagSet(3), 0, (0x90, 0x90))
    mem = GuestMemory((MemoryRange(rip_orig, b"\xcc\xcc"), MemoryRange(rip_ret, b"\x90\x90")))
    base = kum("kmod.sys")
    k = base.km
    v = replace(
        base,
        originator=replace(k, original=replace(k.original, rip=rip_orig), return_=replace(k.return_, rip=rip_ret)),
        env=replace(WIN64, memory=mem),
    )
    orig = hash_kernel_module("kmod.sys")
    # process hash without bit 0x200: the original RIP is used (cc cc) -> value-code fails
    e1 = _engine(sig, _kum(orig, 0, 0x0, W64, 2, sig.id))
    assert e1.decide(v).reason is Reason.VALUE_CODE_NOT_MATCHED
    # a process hash with bit 0x200 set makes it read the return RIP (90 90) -> passes (if the process matched)
    e2 = _engine(sig, _kum(orig, 0, 0x200, W64, 2, sig.id))
    assert v.victim.process is not None
    v2 = replace(v, victim=replace(v.victim, process=replace(v.victim.process, name_hash=0x200)))
    assert e2.decide(v2).allowed


def _ntdll(export_directory: bool = True) -> Module:
    return Module(
        "ntdll.dll", hash_user_module("ntdll.dll"), 0x10000, export_directory=export_directory,
        exports=(Export.of(0x1000, "NtCreateKey"),),
    )  # fmt: skip


def test_quirk_13_3_export_dash_entry_read_at_signature_index() -> None:
    # two export signatures in one group; the second has entries ['x', '-']: with no export at the address,
    # upstream tests entry i (= 1, the ID's index in the group), which is '-', and passes
    s1 = ExportSignature(100 << 22 | 1, FlagSet(3), V(0), (ExportHash(0, V(0x1234)),))
    s2 = ExportSignature(100 << 22 | 2, FlagSet(3), V(0), (ExportHash(0, V(0x1234)), ExportHash(0, V(4))))
    inj = um_process("a.exe", "b.exe", gva=0x10000 + 0x5000, length=4, module=_ntdll())  # no export near
    e = _engine(s1, s2, _um(hash_process("a.exe"), hash_process("b.exe"), 0, W64, 2, s1.id, s2.id))
    assert e.decide(inj).allowed
    # the same '-' entry in the first signature (index 0 vs i = 0 ... entry 0 is 'x') does not pass
    s3 = ExportSignature(100 << 22 | 3, FlagSet(3), V(0), (ExportHash(0, V(0x1234)), ExportHash(0, V(4))))
    e2 = _engine(s3, _um(hash_process("a.exe"), hash_process("b.exe"), 0, W64, 2, s3.id))
    assert e2.decide(inj).reason is Reason.EXPORT_NOT_MATCHED


def test_quirk_13_4_export_always_passes_on_km_and_without_export_directory() -> None:
    sig = ExportSignature(100 << 22 | 1, FlagSet(3), V(0x1111), (ExportHash(1, V(0x2222)),))
    e = _engine(sig, _km(hash_kernel_module("foo.sys"), 0, W64, 1, sig.id))
    assert e.decide(km("foo.sys")).allowed
    inj = um_process("a.exe", "b.exe", gva=0x11002, length=6, module=_ntdll(export_directory=False))
    e2 = _engine(sig, _um(hash_process("a.exe"), hash_process("b.exe"), 0, W64, 2, sig.id))
    assert e2.decide(inj).allowed


def test_quirk_13_5_value_scratch_capacity_after_first_verification() -> None:
    src = 0x5000
    data = b"ABCD"
    # entry at offset 8 size 4: outside the 4-byte injection for the first candidate, inside the 8 KiB
    # scratch bound afterwards (bytes past the injection are modelled as zeros)
    h = zlib.crc32(b"\0\0\0\0", 0xFFFFFFFF)
    sig = ValueSignature(200 << 22 | 1, FlagSet(3), 1, (ValueHash(8, 4, h),))
    orig, vict = hash_process("a.exe"), hash_process("b.exe")
    e = _engine(sig, _um(0, vict, 0, W64, 2, sig.id), _um(orig, vict, 0, W64, 2, sig.id))
    v = um_process("a.exe", "b.exe", length=4, source=src)
    v = replace(v, env=replace(v.env, memory=GuestMemory((MemoryRange(src, data),))))
    verdict = e.decide(v)
    assert [c.result.value for c in verdict.candidates] == ["not-matched", "allow"]


def test_quirk_13_6_one_time_consumed_even_when_signatures_fail() -> None:
    sig = ValueSignature(200 << 22 | 1, FlagSet(3), 1, (ValueHash(0, 4, 0xDEADBEEF),))
    orig, vict = hash_process("a.exe"), hash_process("b.exe")
    e = _engine(sig, _um(orig, vict, 0, W64 | 0x800, 2, sig.id))
    v = um_process("a.exe", "b.exe", length=4, source=0x5000)
    v = replace(v, env=replace(v.env, memory=GuestMemory((MemoryRange(0x5000, b"ABCD"),))))
    assert e.decide(v).reason is Reason.VALUE_NOT_MATCHED
    assert e.decide(v).reason is Reason.NO_EXCEPTION  # one-time already consumed


def test_quirk_13_7_generic_user_list_is_mru() -> None:
    a = _um(0, hash_user_module("x.dll"), 0, W64, 3)
    b = _um(0, hash_user_module("y.dll"), 0, W64, 3)
    e = _engine(a, b)
    assert [x.victim for x in e.store.lists["GenericUser"]] == [a.victim.value, b.victim.value]
    assert e.decide(um_module("any.dll", victim="y.dll")).allowed
    assert [x.victim for x in e.store.lists["GenericUser"]] == [b.victim.value, a.victim.value]


def test_quirk_13_12_read_aliases_write_info() -> None:
    # a value signature on a read sees the read value in old[] and the size in new[0]: access_size 0
    base = km("foo.sys", flags=ZoneFlags.READ | ZoneFlags.LIB_DATA, write=None)
    v = replace(base, victim=replace(base.victim, read=ReadInfo(b"\x01" * 8, 8)))
    w = v.victim.effective_write()
    assert w.access_size == 0 and w.old == b"\x01" * 8 and w.new_qword(0) == 8


def test_quirk_13_14_glob_first_character_filter_is_case_sensitive() -> None:
    g = GlobException("Chrome*", "*", "*", FlagSet(W64), 3)
    e = _engine(g)
    assert not e.decide(um_module("chrome.dll", process="app.exe")).allowed  # 'c' > 'C': skipped... then stop
    assert e.decide(um_module("Chrome.dll", process="app.exe")).allowed


def test_quirk_13_15_no_default_access_for_kum_and_glob() -> None:
    g = GlobException("chrome*", "*", "*", FlagSet(4), 3)  # no access bit
    k = _kum(hash_kernel_module("kmod.sys"), 0, 0, 4, 2)
    u = _um(hash_user_module("mod.dll"), 0, 0, 4, 3)  # UM gets 'write' by default
    e = _engine(g, k, u)
    assert not e.decide(um_module("chrome.dll")).allowed
    assert not e.decide(kum("kmod.sys")).allowed
    assert e.decide(um_module("mod.dll")).allowed


def test_quirk_13_11_own_only_for_km_victims() -> None:
    e = _engine(_um(hash_user_module("mod.dll"), 1, 0, W64, 3))
    assert not e.decide(um_module("mod.dll")).allowed


# ------------------------------------------------------------------------------------------------ API


def test_not_loaded_is_log_only() -> None:
    e = Engine()
    verdict = e.decide(km("foo.sys"))
    assert (verdict.action, verdict.reason) == (Action.ALLOWED, Reason.EXCEPTIONS_NOT_LOADED)


def test_same_value_shortcut() -> None:
    e = _engine(_km(hash_kernel_module("zzz.sys"), 0, W64, 1))
    same = km("foo.sys", write=replace(km("foo.sys").victim.write, new=b"\x11" * 8))  # type: ignore[type-var]
    assert e.decide(same).reason is Reason.SAME_VALUE


def test_blocked_originator() -> None:
    e = _engine(_km(0, 0, W64, 1))
    v = km("foo.sys")
    v = replace(v, originator=replace(v.km, blocked=True))
    assert (e.decide(v).action, e.decide(v).reason) == (Action.NOT_ALLOWED, Reason.NO_EXCEPTION)


def test_update_from_bytes_rejected_and_failed() -> None:
    good = write_bytes(ExceptionSet((_km(0, 0, W64, 1),)))
    e = Engine()
    assert e.update_exceptions(good).status is UpdateStatus.LOADED
    assert e.decide(km("foo.sys")).allowed
    # header refused (bad magic): the old set stays loaded
    assert e.update_exceptions(b"XXXX" + good[4:]).status is UpdateStatus.REJECTED
    assert e.loaded and e.decide(km("foo.sys")).allowed
    # truncated in the middle of a record: everything is gone and nothing is loaded
    assert e.update_exceptions(good[:-3]).status is UpdateStatus.FAILED
    assert not e.loaded
    assert e.decide(km("foo.sys")).reason is Reason.EXCEPTIONS_NOT_LOADED


def test_alert_exceptions_survive_reload_and_can_be_removed() -> None:
    e = _engine(_km(hash_kernel_module("zzz.sys"), 0, W64, 1))
    v = km("foo.sys", flags=ZoneFlags.WRITE | ZoneFlags.LIB_DATA)
    assert not e.decide(v).allowed
    added = e.add_exception_from_alert(v, context="ctx-1")
    assert added.status.value == "added" and added.list_name == "KernelAlert"
    verdict = e.decide(v)
    assert verdict.allowed and verdict.matched is not None and verdict.matched.alert
    assert e.add_exception_from_alert(v, context="ctx-2").status.value == "duplicate"
    e.update_exceptions(ExceptionSet((_km(hash_kernel_module("yyy.sys"), 0, W64, 1),)))
    assert e.decide(v).allowed  # alert exceptions survive a reload
    assert e.remove_exception("ctx-1")
    assert not e.decide(v).allowed
    e.add_exception_from_alert(v)
    e.flush_alert_exceptions()
    assert not e.decide(v).allowed
    assert all(not s.alert for sigs in e.store.signatures.values() for s in sigs)


def test_alert_exceptions_not_consulted_when_not_loaded() -> None:
    e = Engine()
    v = km("foo.sys", flags=ZoneFlags.WRITE | ZoneFlags.LIB_DATA)
    e.add_exception_from_alert(v)
    assert e.decide(v).reason is Reason.EXCEPTIONS_NOT_LOADED


def test_nameless_um_victim_process() -> None:
    """A UM victim without process info cannot satisfy a named 'process' field."""
    e = _engine(_um(hash_user_module("mod.dll"), 0, hash_process("app.exe"), W64, 3))
    v = um_module("mod.dll")
    v = replace(v, originator=replace(v.um, process=None))
    assert not e.decide(v).allowed
    assert Victim(ZoneType.EPT, ZoneFlags.WRITE, ObjectType.UM_MODULE).name_hash == 0
    assert Process.named("x.exe").key[1] == "x.exe"
    assert NONAME == 0xFFFFFFFF
