"""Proposals through the engine and through the JSON route (writer → ``hvmiex build`` → engine).

* oracle: added to the engine like Introcore's AddExceptionFromAlert, the violation gets Introcore's verdict_after;
* JSON route: the proposal's JSON compiles to the same exception fields and signature contents (only the
  signature ids change: the compiler numbers signatures itself);
* property: for generated violations of every kind, the compiled proposal allows the violation, and the same
  violation with another process, originator or code is not allowed by it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hvmiex.compiler import compile_set
from hvmiex.engine import Engine
from hvmiex.engine.codeblocks import Level as CbLevel
from hvmiex.engine.codeblocks import list_passes, match_hashes, match_window
from hvmiex.engine.propose import Proposal, ProposalError, proposal_documents, propose
from hvmiex.model import (
    CodeBlocksSignature,
    ExportSignature,
    GlobException,
    IdtSignature,
    KernelException,
    ProcessCreationSignature,
    Signature,
)
from hvmiex.source.writer import write_documents
from hvmiex.violation import (
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
    Process,
    UserOriginator,
    Victim,
    Violation,
    ViolationKind,
    WriteInfo,
    ZoneFlags,
    ZoneType,
    hash_driver_object,
    hash_kernel_module,
)
from tests.conftest import shared_path
from tests.engine.test_propose_oracle import CASE_NAMES, load_case


def _content(sig: Signature) -> tuple[Any, ...]:
    """A signature's values, without its id and names."""
    if isinstance(sig, CodeBlocksSignature):
        body: tuple[Any, ...] = (sig.score, sig.lists)
    elif isinstance(sig, ExportSignature):
        body = (sig.library.value, tuple((e.name.value, e.delta) for e in sig.entries))
    elif isinstance(sig, IdtSignature):
        body = (sig.entry,)
    elif isinstance(sig, ProcessCreationSignature):
        body = (sig.create_mask.value,)
    else:
        body = (repr(sig),)
    return (type(sig).__name__, sig.flags.value, *body)


def compile_proposals(proposals: list[Proposal], directory: Path) -> bytes:
    write_documents(directory, proposal_documents(proposals))
    return compile_set([directory]).data


# ------------------------------------------------------------------------------------------------- oracle


@pytest.mark.parametrize("name", CASE_NAMES)
def test_oracle_verdict_after_add(name: str) -> None:
    case, violation = load_case(name)
    base = shared_path("oracle", "alerts-real", "exceptions", "alerts_base", "exceptions.bin")
    engine = Engine(violation.env.os)
    engine.update_exceptions(base.read_bytes())
    assert engine.decide(violation).reason.value == case["verdict_before"]["reason"]
    engine.add_exception_from_alert(violation, context=0x1234)
    verdict = engine.decide(violation)
    expected = case["verdict_after"]
    assert (verdict.action.value, verdict.reason.value) == (expected["action"], expected["reason"])


@pytest.mark.parametrize("name", CASE_NAMES)
def test_oracle_json_route_keeps_every_field(name: str, tmp_path: Path) -> None:
    _case, violation = load_case(name)
    try:
        proposal = propose(violation)
    except ProposalError:
        pytest.skip("Introcore creates no exception")
    write_documents(tmp_path, proposal_documents([proposal]))
    compiled = compile_set([tmp_path]).exception_set
    (exc,) = compiled.exceptions
    want = proposal.exception
    assert type(exc) is type(want)
    assert not isinstance(exc, GlobException)
    assert (exc.originator.value, exc.victim.value, exc.flags.value, exc.object_type) == (
        want.originator.value, want.victim.value, want.flags.value, want.object_type
    )
    if not isinstance(want, KernelException):
        assert exc.process is not None and exc.process.value == want.process.value
    assert sorted(_content(s) for s in compiled.signatures) == sorted(_content(s) for s in proposal.signatures)
    assert len(exc.signatures) == len(proposal.signatures)


# ------------------------------------------------------------------------------------------------- property

KRIP_PAGE = 0xFFFFF80000100000
URIP_PAGE = 0x00007FF600010000
# instruction palette (64-bit): at least one pivot per few instructions so that windows have blocks
PALETTE = [
    bytes.fromhex("e800000000"), bytes.fromhex("e900000000"), bytes.fromhex("7405"), bytes.fromhex("c3"),
    bytes.fromhex("89c0"), bytes.fromhex("894c2408"), bytes.fromhex("50"), bytes.fromhex("ab"),
    bytes.fromhex("87c1"), bytes.fromhex("0fa3c1"), bytes.fromhex("9c"), bytes.fromhex("b801000000"),
    bytes.fromhex("ff1500000000"), bytes.fromhex("eb00"),
]  # fmt: skip
NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=10)


def _code(indices: list[int]) -> bytes:
    out = b"".join(PALETTE[i] for i in indices)
    return (out * (0x1000 // max(1, len(out)) + 1))[:0x1000]


CODE = st.lists(st.integers(0, len(PALETTE) - 1), min_size=20, max_size=60)
WRITE = WriteInfo(old=b"\x11" * 8, new=b"\x22" * 8, access_size=8)  # not the same-value shortcut
KINDS = ["km_ept", "km_msr", "km_cr", "km_dtr", "km_idt", "km_integrity_drvobj", "kum", "kum_user", "um_write",
         "um_exec", "um_inject", "um_inject_dll", "um_module_load"]  # fmt: skip


def _env(os: GuestOS, page: int, code: bytes) -> Environment:
    return Environment(os, True, memory=GuestMemory((MemoryRange(page, code), MemoryRange(page + 0x1000, code))))


def _build(kind: str, os: GuestOS, orig: str, proc: str, victim_name: str, code: bytes, rip_off: int) -> Violation:
    """One violation of ``kind`` with originator ``orig``, process ``proc`` and the code page ``code``."""
    suffix = "" if os is GuestOS.LINUX else ".sys"
    krip = KRIP_PAGE + rip_off
    urip = URIP_PAGE + rip_off
    kenv = _env(os, KRIP_PAGE, code)
    uenv = _env(os, URIP_PAGE, code)
    drv = DriverFrame.of(orig + suffix, krip, os)
    kor = KernelOriginator(original=drv, return_=drv)
    process = Process.named(proc + ".exe", os)
    if kind == "km_ept":
        name = victim_name + suffix
        v = Victim(ZoneType.EPT, ZoneFlags.WRITE | ZoneFlags.LIB_CODE, ObjectType.KM_MODULE,
                   hash_kernel_module(name, os), name, write=WRITE)  # fmt: skip
        return Violation(ViolationKind.KM, v, kor, kenv)
    if kind == "km_msr":
        return Violation(ViolationKind.KM, Victim(ZoneType.MSR, ZoneFlags.WRITE), kor, kenv)
    if kind == "km_cr":
        return Violation(ViolationKind.KM, Victim(ZoneType.CR, ZoneFlags.WRITE, ObjectType.CR), kor, kenv)
    if kind == "km_dtr":
        return Violation(ViolationKind.KM, Victim(ZoneType.DTR, ZoneFlags.WRITE, ObjectType.IDTR), kor, kenv)
    if kind == "km_idt":
        v = Victim(ZoneType.EPT, ZoneFlags.WRITE, ObjectType.IDT, base_address=0xFFFFF80000200000,
                   gva=0xFFFFF80000200000 + 16 * 3, write=WRITE)  # fmt: skip
        return Violation(ViolationKind.KM, v, kor, kenv)
    if kind == "km_integrity_drvobj":
        dname = "\\driver\\" + victim_name
        v = Victim(ZoneType.INTEGRITY, ZoneFlags.WRITE | ZoneFlags.INTEGRITY, ObjectType.DRIVER_OBJECT,
                   hash_driver_object(dname), dname, integrity=IntegrityInfo())  # fmt: skip
        return Violation(ViolationKind.KM, v, replace(kor, is_integrity=True), kenv)
    if kind in ("kum", "kum_user"):
        dll = Module.named(victim_name + ".dll")
        v = Victim(ZoneType.EPT, ZoneFlags.WRITE | ZoneFlags.LIB_CODE, ObjectType.UM_MODULE, dll.name_hash, dll.name,
                   module=dll, process=process, write=WRITE)  # fmt: skip
        if kind == "kum_user":
            kor = replace(kor, injection=KumInjection(user=True), process=Process.named(orig + ".exe", os))
        return Violation(ViolationKind.KUM, v, kor, kenv)
    if kind in ("um_write", "um_exec"):
        dll = Module.named(victim_name + ".dll")
        if kind == "um_exec":
            v = Victim(ZoneType.EPT, ZoneFlags.EXECUTE, ObjectType.UM_GENERIC_NX_ZONE, process=process)
            o = UserOriginator(rip=urip, execute=True, process=process)
        else:
            v = Victim(ZoneType.EPT, ZoneFlags.WRITE | ZoneFlags.LIB_CODE, ObjectType.UM_MODULE, dll.name_hash,
                       dll.name, module=dll, process=process, write=WRITE)  # fmt: skip
            lib = Module.named(orig + ".dll")
            o = UserOriginator(name_hash=lib.name_hash, name=lib.name, name_wide=True, library=lib, rip=urip,
                               process=process)  # fmt: skip
        return Violation(ViolationKind.UM, v, o, uenv)
    victim_proc = Process.named(victim_name + ".exe", os)
    src = Process.named(orig + ".exe", os)
    if kind == "um_module_load":
        v = Victim(ZoneType.PROCESS, ZoneFlags.WRITE | ZoneFlags.MODULE_LOAD, ObjectType.NONE,
                   victim_proc.name_hash, victim_proc.name, process=victim_proc)  # fmt: skip
        lib = Module.named(orig + ".dll")
        # the module loads inside the victim process
        o = UserOriginator(name_hash=lib.name_hash, name=lib.name, name_wide=True, rip=0x10000, process=victim_proc)
        return Violation(ViolationKind.UM, v, o, uenv)
    module = None
    gva = 0x5000
    if kind == "um_inject_dll":
        module = Module.named("ntdll.dll", base=0x7FF800000000, exports=(Export.of(0x1000, "NtCreateKey"),))
        gva = 0x7FF800001000 + rip_off % 16
    v = Victim(ZoneType.PROCESS, ZoneFlags.WRITE, ObjectType.NONE, victim_proc.name_hash, victim_proc.name,
               gva=gva, injection=InjectionInfo(8), module=module, process=victim_proc)  # fmt: skip
    o = UserOriginator(name_hash=src.name_hash, name=src.name, rip=0x10000, process=src)
    return Violation(ViolationKind.UM, v, o, uenv)


def _has_codeblocks(p: Proposal) -> bool:
    return any(isinstance(s, CodeBlocksSignature) for s in p.signatures)


def _hashes(v: Violation, code: bytes, rip_off: int) -> list[int]:
    level = CbLevel.NORMAL if v.kind is not ViolationKind.UM else CbLevel.MEDIUM
    execute = isinstance(v.originator, UserOriginator) and v.originator.execute
    win = match_window(rip_off, execute)
    data = (code + code)[win.page_offset : win.page_offset + win.size]
    return list(match_hashes(data, True, level, win.max_hashes).hashes)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(KINDS),
    linux=st.booleans(),
    orig=NAMES,
    other=NAMES,
    proc=NAMES,
    victim_name=NAMES,
    code_ops=CODE,
    other_ops=CODE,
    rip_off=st.integers(0, 0xFFF),
)
def test_compiled_proposal_allows_its_violation_only(
    tmp_path_factory: pytest.TempPathFactory, kind: str, linux: bool, orig: str, other: str, proc: str,
    victim_name: str, code_ops: list[int], other_ops: list[int], rip_off: int,
) -> None:  # fmt: skip
    assume(orig != other)
    code, other_code = _code(code_ops), _code(other_ops)
    os = GuestOS.LINUX if linux and kind.startswith(("km_ept", "km_msr", "km_dtr", "um_exec", "um_inject")) else (
        GuestOS.WINDOWS
    )
    if kind == "um_exec" and os is GuestOS.LINUX:
        os = GuestOS.WINDOWS  # Linux NX alerts carry no code blocks: nothing to vary
    make: Callable[..., Violation] = _build
    violation = make(kind, os, orig, proc, victim_name, code, rip_off)
    proposal = propose(violation)
    data = compile_proposals([proposal], tmp_path_factory.mktemp("p"))
    engine = Engine(os)
    engine.update_exceptions(data)
    verdict = engine.decide(violation)
    assert verdict.allowed, verdict.to_dict()

    # another originator (execution alerts name none: originator "-")
    if kind != "um_exec":
        assert not engine.decide(make(kind, os, other, proc, victim_name, code, rip_off)).allowed
    # another process (where the exception names one)
    if kind in ("kum", "kum_user", "um_write", "um_exec"):
        assume(proc != other)
        assert not engine.decide(make(kind, os, orig, other, victim_name, code, rip_off)).allowed
    # other code around the RIP (where a codeblocks signature was made)
    if _has_codeblocks(proposal):
        sig = next(s for s in proposal.signatures if isinstance(s, CodeBlocksSignature))
        new_hashes = sorted(_hashes(violation, other_code, rip_off))
        assume(not list_passes(sig.lists[0], sig.score, new_hashes))
        assert not engine.decide(make(kind, os, orig, proc, victim_name, other_code, rip_off)).allowed
        nops = b"\x90" * 0x1000
        assert not engine.decide(make(kind, os, orig, proc, victim_name, nops, rip_off)).allowed
