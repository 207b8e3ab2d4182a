"""The worked examples of spec 03 §14, as tests (exceptions compiled from tests/data/engine/examples*)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hvmiex.engine import Action, Engine, Reason
from hvmiex.violation import (
    Environment,
    Export,
    GuestMemory,
    GuestOS,
    MemoryRange,
    Module,
    ObjectType,
    PcType,
    Process,
    ZoneFlags,
    ZoneType,
    bucket_of,
    hash_process,
    hash_user_module,
)
from tests.engine.builders import DATA, LIX64, WIN64, compiled_engine, km, um_module, um_process

# §14.2: the code sequence of the worked example, at the start of a page, the rest of the window zero
CODE_14_2 = bytes.fromhex("E810000000 7405 E820000000 EB03 C3 E830000000 75F0 C3 E900010000 C3".replace(" ", ""))
UM_PAGE = 0x7FF6_1234_0000
KM_PAGE = 0xFFFF_F800_1234_0000


def _memory(page: int) -> GuestMemory:
    return GuestMemory((MemoryRange(page, CODE_14_2.ljust(0x1000, b"\0")),))


@pytest.fixture(scope="module")
def engine() -> Engine:
    return compiled_engine(DATA / "examples")


def test_14_1_hashes() -> None:
    ntdll = hash_user_module("\\windows\\system32\\NTDLL.DLL")
    assert ntdll == 0xBE9D4EC5 and bucket_of(ntdll) == 0xB
    assert hash_process("notepad.exe") == 0x7F484B8C
    assert hash_process("SearchProtocolHost.exe") == 0x1F1D3493


def test_14_2_codeblocks_user_passes_kernel_unusable(engine: Engine) -> None:
    env = replace(WIN64, memory=_memory(UM_PAGE))
    v = replace(um_module("cbum.dll", rip=UM_PAGE + 0x10), env=env)
    verdict = engine.decide(v)
    assert verdict.action is Action.ALLOWED and verdict.reason is Reason.ALLOWED
    kenv = replace(WIN64, memory=_memory(KM_PAGE))
    kv = replace(km("cbkm.sys", rip=KM_PAGE + 0x10), env=kenv)
    kverdict = engine.decide(kv)
    assert kverdict.reason is Reason.SIGNATURE_NOT_MATCHED
    assert kverdict.deciding is not None and "medium" in kverdict.deciding.why


def test_14_3_km_driver_write(engine: Engine) -> None:
    env = replace(WIN64, memory=_memory(KM_PAGE))
    v = replace(km("foo.sys", victim="bar.sys", rip=KM_PAGE + 0x10), env=env)
    verdict = engine.decide(v)
    assert (verdict.action, verdict.reason) == (Action.NOT_ALLOWED, Reason.SIGNATURE_NOT_MATCHED)
    phases = [(c.exception.object_type, c.step.value) for c in verdict.candidates]
    # compiler order puts E2 (driver code) before E1 (driver data): E2 fails its codeblocks, then E1 fails
    # step 1 on the object type and does not overwrite the reason (spec 03 §6.5)
    assert phases == [(4, "signatures"), (5, "step1")]
    assert verdict.deciding is not None and verdict.deciding.exception.object_type == 4
    # with a version-os group [10240, 19045] on build 22000 the version group decides first
    v2 = replace(km("foo2.sys", victim="bar.sys", rip=KM_PAGE + 0x10), env=replace(env, os_version=22000))
    assert engine.decide(v2).reason is Reason.VERSION_OS_NOT_MATCHED
    # and codeblocks are never extracted then: an unreadable code page does not matter
    v3 = replace(v2, env=replace(v2.env, memory=GuestMemory()))
    assert engine.decide(v3).reason is Reason.VERSION_OS_NOT_MATCHED


def _injection(originator: str) -> object:
    ntdll = Module(
        "ntdll.dll", hash_user_module("ntdll.dll"), base=0x7FFA_0000_0000,
        exports=(Export.of(0x1000, "NtCreateKey"),),
    )  # fmt: skip
    return um_process(originator, "b.exe", gva=0x7FFA_0000_1002, length=6, module=ntdll)


def test_14_4_um_injection_into_dll(engine: Engine) -> None:
    assert engine.decide(_injection("a.exe")).reason is Reason.EXPORT_NOT_MATCHED  # type: ignore[arg-type]
    ok = engine.decide(_injection("a8.exe"))  # type: ignore[arg-type]
    assert (ok.action, ok.reason) == (Action.ALLOWED, Reason.ALLOWED)
    assert engine.decide(_injection("a6.exe")).reason is Reason.EXPORT_NOT_MATCHED  # type: ignore[arg-type]


def test_14_5_glob(engine: Engine) -> None:
    verdict = engine.decide(um_module("chrome_elf.dll", process="chrome.exe"))
    assert verdict.allowed and verdict.matched is not None and verdict.matched.originator == "chrome*"
    prefix = engine.decide(um_module("opera_elf.dll", process="opera.exe"))
    assert prefix.allowed and prefix.matched is not None and prefix.matched.originator == "opera"


def test_14_6_process_creation_dpi(engine: Engine) -> None:
    def pc(child: str) -> object:
        return um_process(
            child, "winword.exe", zone=ZoneType.PC, flags=ZoneFlags.EXECUTE,
            obj=ObjectType.PROCESS_CREATION_DPI, pc_type=PcType.HEAP_SPRAY,
        )  # fmt: skip

    assert engine.decide(pc("x.exe")).allowed  # type: ignore[arg-type]
    assert engine.decide(pc("y.exe")).reason is Reason.PROCESS_CREATION_NOT_MATCHED  # type: ignore[arg-type]


def test_14_7_linux_version() -> None:
    engine = compiled_engine(DATA / "examples_lix", os=GuestOS.LINUX)
    code = km("ext4", flags=ZoneFlags.WRITE | ZoneFlags.LIB_CODE, victim="bar", env=LIX64)
    assert engine.decide(code).allowed  # 5.4.0-42 within [5.4.0, 5.4.*]
    data = km("ext4", flags=ZoneFlags.WRITE | ZoneFlags.LIB_DATA, victim="bar", env=LIX64)
    assert engine.decide(data).reason is Reason.VERSION_OS_NOT_MATCHED  # maximum 5.3.* fails at patch


def test_version_os_needs_a_known_build(engine: Engine) -> None:
    env = Environment(GuestOS.WINDOWS, True)  # no os_version: the engine cannot decide the group
    v = replace(km("foo2.sys", victim="bar.sys"), env=env)
    verdict = engine.decide(v)
    assert verdict.reason is Reason.INTERNAL_ERROR
    assert verdict.deciding is not None and "unknown" in verdict.deciding.why


def test_process_named_helper_matches_runtime_rules() -> None:
    p = Process.named("SearchProtocolHost.exe")
    assert p.name == "searchprotocol" and p.name_hash == 0x1F1D3493


def test_14_4_with_export_reported_by_a_log(engine: Engine) -> None:
    """A log gives only the export at the address and its delta (no export table): same verdicts."""
    ntdll = Module("ntdll.dll", hash_user_module("ntdll.dll"), base=0x7FFA_0000_0000)
    base = um_process("a8.exe", "b.exe", gva=0x7FFA_0000_1002, length=6, module=ntdll)
    v = replace(base, victim=replace(base.victim, export=Export.of(0, "NtCreateKey"), export_delta=2))
    assert engine.decide(v).allowed
    v6 = replace(v, originator=replace(v.um, name_hash=hash_process("a6.exe"), name="a6.exe",
                                       process=Process.named("a6.exe", address=0x1000)))  # fmt: skip
    assert engine.decide(v6).reason is Reason.EXPORT_NOT_MATCHED
