"""The decision procedure (spec 03 §6-§8): candidate order, step-1 predicates, extra checks.

One :class:`Decision` object per violation; it walks Introcore's lists in Introcore's order, evaluates each
candidate in three steps and records what happened. Bucket scans use the store's reach indexes, so a
decision never walks a bucket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hvmiex.engine.glob import glob_match, narrow_units, wide_units
from hvmiex.engine.signatures import Context, Step3, cached_step3, step3
from hvmiex.engine.store import (
    EF_32,
    EF_64,
    EF_CHILD,
    EF_EXEC,
    EF_FEEDBACK,
    EF_INIT,
    EF_INTEGRITY,
    EF_KERNEL,
    EF_LIKE_APPHELP,
    EF_LINUX,
    EF_NON_DRIVER,
    EF_ONE_TIME,
    EF_READ,
    EF_RETURN,
    EF_RETURN_DRV,
    EF_SMAP,
    EF_SMEP,
    EF_SYSTEM_PROCESS,
    EF_USER,
    EF_WRITE,
    GENERIC_KERNEL,
    GENERIC_KERNEL_USER,
    GENERIC_USER,
    GLOB_USER,
    KERNEL,
    KERNEL_ALERT,
    KERNEL_FEEDBACK,
    KERNEL_USER,
    KERNEL_USER_ALERT,
    KERNEL_USER_FEEDBACK,
    NONAME_KERNEL,
    NONAME_KERNEL_USER,
    NONAME_USER,
    PROCESS_CREATION,
    PROCESS_CREATION_ALERT,
    PROCESS_CREATION_FEEDBACK,
    USER,
    USER_ALERT,
    USER_FEEDBACK,
    ExceptionStore,
    Kind,
    LoadedException,
    bucket,
)
from hvmiex.engine.verdict import (
    Action,
    CandidateResult,
    CandidateTrace,
    ExceptionInfo,
    ExceptionKindTag,
    Reason,
    Step,
    Verdict,
)
from hvmiex.model import STOCK_KERNEL_TYPE_NAMES, STOCK_KERNEL_USER_TYPE_NAMES, STOCK_USER_TYPE_NAMES
from hvmiex.violation import (
    NONAME,
    GuestOS,
    KernelOriginator,
    ObjectType,
    Process,
    UserOriginator,
    Violation,
    ViolationKind,
    WriteInfo,
    ZoneFlags,
    ZoneType,
)

Z_READ = int(ZoneFlags.READ)
Z_WRITE = int(ZoneFlags.WRITE)
Z_EXEC = int(ZoneFlags.EXECUTE)
Z_IMPORTS = int(ZoneFlags.LIB_IMPORTS)
Z_EXPORTS = int(ZoneFlags.LIB_EXPORTS)
Z_CODE = int(ZoneFlags.LIB_CODE)
Z_DATA = int(ZoneFlags.LIB_DATA)
Z_RESOURCES = int(ZoneFlags.LIB_RESOURCES)
Z_CTX = int(ZoneFlags.PROC_THREAD_CTX)
Z_APC = int(ZoneFlags.PROC_THREAD_APC)
Z_INSTRUMENT = int(ZoneFlags.PROC_INSTRUMENT)
Z_MODULE_LOAD = int(ZoneFlags.MODULE_LOAD)
Z_LIB_NAMED = Z_CODE | Z_EXPORTS | Z_IMPORTS | Z_DATA

PEB32_SIZE = 0x480  # sizeof(PEB32) as Introcore uses it for the peb32 object type
PEB64_SIZE = 0x7C8
WIN7_LAST_BUILD = 7602

_OT = ObjectType
_EPT = ZoneType.EPT
_KM_MOD = _OT.KM_MODULE
_UM_MOD = _OT.UM_MODULE


def _km_object_matches(t: int, zone: int, obj: int, zf: int) -> bool:
    """KM exception object type vs victim (spec 03 §3.5)."""
    if t == 1:
        return True
    if t == 2:
        return obj == _KM_MOD
    if t == 3:
        return obj == _KM_MOD and bool(zf & Z_IMPORTS)
    if t == 4:
        return (obj == _KM_MOD and bool(zf & Z_CODE)) or obj in (_OT.VSYSCALL, _OT.VDSO)
    if t == 5:
        return obj == _KM_MOD and bool(zf & Z_DATA)
    if t == 6:
        return obj == _KM_MOD and bool(zf & Z_RESOURCES)
    if t == 18:
        return obj == _KM_MOD and bool(zf & Z_EXPORTS)
    if t == 7:
        return obj == _OT.SSDT
    if t == 8:
        return obj == _OT.DRIVER_OBJECT
    if t == 9:
        return obj == _OT.FAST_IO_DISPATCH
    if t == 10:
        return zone == ZoneType.MSR
    if t == 11:
        return zone == ZoneType.CR
    if t == 12:
        return zone == _EPT and obj in (_OT.HAL_INT_CONTROLLER, _OT.HAL_HEAP)
    if t == 13:
        return zone == _EPT and obj == _OT.SELF_MAP_ENTRY
    if t == 14:
        return zone in (_EPT, ZoneType.INTEGRITY) and obj == _OT.IDT
    if t == 15:
        return zone == ZoneType.DTR and obj == _OT.IDTR
    if t == 16:
        return zone == ZoneType.DTR and obj == _OT.GDTR
    simple = {17: _OT.KM_LOGGER_CONTEXT, 19: _OT.TOKEN_PRIVS, 21: _OT.HAL_PERF_COUNTER, 22: _OT.SEC_DESC,
              23: _OT.ACL, 24: _OT.SUD_INTEGRITY, 25: _OT.INTERRUPT_OBJECT}  # fmt: skip
    if t == 20:
        return zone == _EPT and obj == _OT.SUD_EXEC
    want = simple.get(t)
    return want is not None and obj == want


def _kum_object_matches(t: int, obj: int, zf: int) -> bool:
    if t == 1:
        return True
    if t == 2:
        return obj == _UM_MOD
    if t == 3:
        return obj == _UM_MOD and bool(zf & Z_IMPORTS)
    if t == 4:
        return obj == _UM_MOD and bool(zf & Z_EXPORTS)
    return False


def _type_name(kind: Kind, t: int) -> str:
    table = {Kind.KM: STOCK_KERNEL_TYPE_NAMES, Kind.KUM: STOCK_KERNEL_USER_TYPE_NAMES}.get(kind, STOCK_USER_TYPE_NAMES)
    return str(table.get(t, t))


def _signed(c: int) -> int:
    return c - 256 if c >= 128 else c


_GLOB_EXEMPT = frozenset(b"*?[]/")


@dataclass(slots=True)
class EngineState:
    """Engine-wide mutable state that outlives one decision (one-time flags, init checks, codeblock cache)."""

    one_time_done: set[tuple[str, str | None, int]] = field(default_factory=set)
    win7_context_accepted: set[tuple[str, str | None, int]] = field(default_factory=set)
    cb_cache: object = None
    window_cache: dict[object, Any] = field(default_factory=dict)
    object_masks: dict[tuple[Kind, int, int, int], int] = field(default_factory=dict)


_PROCESS_CREATION = int(ObjectType.PROCESS_CREATION)
_VK_KM = ViolationKind.KM
_VK_UM = ViolationKind.UM
_KIND_KM = Kind.KM
_KIND_UM = Kind.UM
_KIND_UMG = Kind.UMG
_KIND_KUM = Kind.KUM
_ZONE_PROCESS = int(ZoneType.PROCESS)
_ZONE_INTEGRITY = int(ZoneType.INTEGRITY)
_MEMO_LIMIT = 50_000  # bound of the shared trace / verdict memos (cleared when exceeded: caps memory)
_UM_STEP1_RARE = EF_CHILD | EF_SYSTEM_PROCESS | EF_LIKE_APPHELP | EF_ONE_TIME  # UM flags with later step-1 tests  # bound of the shared trace / verdict memos (cleared when exceeded)
# exception access bits (EF_*) that a violation's zone access bits (Z_*) accept
_Z_ACCESS = Z_READ | Z_WRITE | Z_EXEC
_ACCESS_BITS = {
    z: (EF_READ if z & Z_READ else 0) | (EF_WRITE if z & Z_WRITE else 0) | (EF_EXEC if z & Z_EXEC else 0)
    for z in (a | b | c for a in (0, Z_READ) for b in (0, Z_WRITE) for c in (0, Z_EXEC))
}
_KB = tuple(f"{KERNEL}[{b:X}]" for b in range(16))
_UB = tuple(f"{USER}[{b:X}]" for b in range(16))
_KUB = tuple(f"{KERNEL_USER}[{b:X}]" for b in range(16))
_NO_EXCEPTION_VERDICT = Verdict(Action.NOT_ALLOWED, Reason.NO_EXCEPTION)


def _named(e: LoadedException) -> bool:
    return e.originator != NONAME


def _named_not_return_drv(e: LoadedException) -> bool:
    return e.originator != NONAME and not e.flags & EF_RETURN_DRV


def _named_return_drv(e: LoadedException) -> bool:
    return e.originator != NONAME and bool(e.flags & EF_RETURN_DRV)


def _everything(e: LoadedException) -> bool:
    return True


class Decision:
    """One run of Introcore's matcher for one violation.

    Hot path notes: per-violation facts (access bits, architecture bit, object-type masks) are computed
    once here so that a candidate costs a few integer tests; candidate traces and verdicts that do not
    depend on anything decision-specific are memoised in the store (they are immutable) and shared.
    """

    __slots__ = (
        "_ctx", "_write", "acc", "action", "all_memo", "arch", "candidates", "deciding", "env", "is_linux",
        "linux_bit", "matched", "memo_deciding", "obj", "objmask", "reason", "state", "store", "trace", "v",
        "vhash", "vic", "zf", "zone",
    )  # fmt: skip

    def __init__(self, store: ExceptionStore, state: EngineState, v: Violation, trace: bool = True) -> None:
        vic = v.victim
        env = v.env
        self.store = store
        self.state = state
        self.v = v
        self.vic = vic
        self.env = env
        is_linux = env.os is GuestOS.LINUX
        self.is_linux = is_linux
        self.linux_bit = EF_LINUX if is_linux else 0
        self.trace = trace
        self.action = Action.NOT_ALLOWED
        self.reason = Reason.NO_EXCEPTION
        self.candidates: list[CandidateTrace] = []
        self.deciding: CandidateTrace | None = None
        self.matched: ExceptionInfo | None = None
        self.memo_deciding: Verdict | None = None  # shared verdict when the deciding trace is memoised
        self.all_memo = True  # every recorded candidate is a shared object
        self._ctx: Context | None = None
        zf = int(vic.zone_flags)
        self.zf = zf
        self.zone = int(vic.zone_type)
        self.obj = int(vic.object_type)
        self.vhash = vic.name_hash
        self.acc = _ACCESS_BITS[zf & _Z_ACCESS]
        self.arch = EF_64 if env.guest_64 else EF_32  # KM/KUM; UM scans refine it per originator process
        self.objmask = -1
        self._write: WriteInfo | None = None

    @property
    def ctx(self) -> Context:
        if self._ctx is None:
            self._ctx = Context(self.v, self.store, self.state.cb_cache, window_cache=self.state.window_cache)
        return self._ctx

    @property
    def write(self) -> WriteInfo:
        if self._write is None:
            self._write = self.vic.effective_write()
        return self._write

    # ------------------------------------------------------------------ driver

    def run(self) -> Verdict:
        kind = self.v.kind
        if kind is _VK_KM:
            self._scan_km()
        elif kind is _VK_UM:
            self._scan_um()
        else:
            self._scan_kum()
        ctx = self._ctx
        warnings = tuple(ctx.warnings) if ctx is not None and ctx.warnings else ()
        if warnings:
            return Verdict(self.action, self.reason, self.matched, tuple(self.candidates), self.deciding, "", warnings)
        cands = self.candidates
        d = self.deciding
        if not cands:
            if d is None:
                if self.reason is Reason.NO_EXCEPTION:
                    return _NO_EXCEPTION_VERDICT
            elif self.memo_deciding is not None:
                # nothing decision-specific to carry: the verdict object stored with the deciding trace
                # (final action/reason are the deciding candidate's; matched is its exception if it allowed)
                return self.memo_deciding
        elif self.all_memo:
            # every candidate is a shared trace: the verdict is a function of the candidate sequence
            key = tuple(map(id, cands))
            vcache = self.store.verdict_cache
            vhit = vcache.get(key)
            ctuple = tuple(cands)
            if vhit is None or vhit[0] != ctuple:
                if len(vcache) > _MEMO_LIMIT:
                    vcache.clear()
                vhit = (ctuple, Verdict(self.action, self.reason, self.matched, ctuple, d))
                vcache[key] = vhit
            verdict = vhit[1]
            return verdict
        return Verdict(self.action, self.reason, self.matched, tuple(cands), d, "", warnings)

    def _info(self, e: LoadedException, list_name: str, index: int, as_kind: Kind) -> ExceptionInfo:
        key = (id(e), list_name, index, as_kind)
        cache = self.store.info_cache
        info = cache.get(key)
        if info is None or info[0] is not e:
            info = (e, self._make_info(e, list_name, index, as_kind))
            cache[key] = info
        return info[1]

    def _make_info(self, e: LoadedException, list_name: str, index: int, as_kind: Kind) -> ExceptionInfo:
        rec = e.record
        loc = getattr(rec, "location", None) if rec is not None else None
        source = self.store.sources.get(e.record_index) if e.record_index is not None else None
        if source is None and loc is not None:
            source = f"{loc.path}:{loc.line}" if loc.line is not None else str(loc.path)
        names = tuple(getattr(getattr(rec, "flags", None), "names", ()) or ())
        if as_kind is Kind.UMG:
            return ExceptionInfo(
                ExceptionKindTag.UMG,
                e.glob_originator.decode("utf-8", "surrogateescape"),
                e.glob_victim.decode("utf-8", "surrogateescape"),
                e.glob_process.decode("utf-8", "surrogateescape"),
                e.flags, e.object_type, e.signatures, list_name, index, e.record_index, e.alert, source, names,
            )  # fmt: skip
        tag = {Kind.KM: ExceptionKindTag.KM, Kind.UM: ExceptionKindTag.UM, Kind.KUM: ExceptionKindTag.KUM}[as_kind]
        return ExceptionInfo(
            tag, e.originator, e.victim, None if as_kind is Kind.KM else e.process, e.flags, e.object_type,
            e.signatures, list_name, index, e.record_index, e.alert, source, names,
        )  # fmt: skip

    def _record(
        self, e: LoadedException, kind: Kind, list_name: str, index: int, phase: str,
        result: CandidateResult, step: Step, why: str, checks: tuple = (),  # type: ignore[type-arg]
        decides: bool = False,
    ) -> None:  # fmt: skip
        if not (self.trace or decides):
            return
        t = CandidateTrace(
            self._info(e, list_name, index, kind), result, step, self.action, self.reason, why, checks, phase
        )
        self.all_memo = False
        if self.trace:
            self.candidates.append(t)
        if decides:
            self.deciding = t
            self.memo_deciding = None
            if result is CandidateResult.ALLOW:
                self.matched = t.exception

    def _record_step1(self, e: LoadedException, kind: Kind, list_name: str, index: int, phase: str, step: Step,
                      why: str) -> None:  # fmt: skip
        """A candidate that failed before changing the state (trace mode only): shared trace objects."""
        key = (id(e), index, phase, step, why, self.action, self.reason)
        cache = self.store.trace_cache
        hit = cache.get(key)
        if hit is None or hit[0] is not e:
            if len(cache) > _MEMO_LIMIT:
                cache.clear()
            t = CandidateTrace(
                self._info(e, list_name, index, kind), CandidateResult.NOT_MATCHED, step, self.action, self.reason,
                why, (), phase,
            )  # fmt: skip
            hit = (e, t)
            cache[key] = hit
        self.candidates.append(hit[1])

    def _record_step3(self, e: LoadedException, kind: Kind, list_name: str, index: int, phase: str, s3: Step3,
                      ok_reason: Reason) -> None:  # fmt: skip
        """The deciding trace of a memoised signature outcome (shared while the outcome is)."""
        key = (id(e), index, phase, id(s3), ok_reason)
        cache = self.store.trace_cache
        hit = cache.get(key)
        if hit is None or hit[0] is not e or hit[1] is not s3:
            if len(cache) > _MEMO_LIMIT:
                cache.clear()
            info = self._info(e, list_name, index, kind)
            if s3.status == "match":
                why = "matched on names and flags" + (f"; {s3.why}" if e.signatures else "")
                t = CandidateTrace(info, CandidateResult.ALLOW, Step.MATCHED, Action.ALLOWED, ok_reason, why,
                                   tuple(s3.checks), phase)  # fmt: skip
            else:
                result = CandidateResult.ERROR if s3.status == "error" else CandidateResult.NOT_MATCHED
                t = CandidateTrace(info, result, Step.SIGNATURES, Action.NOT_ALLOWED, s3.reason, s3.why,
                                   tuple(s3.checks), phase)  # fmt: skip
            matched = t.exception if t.result is CandidateResult.ALLOW else None
            hit = (e, s3, t, Verdict(t.action, t.reason, matched, (), t))
            cache[key] = hit
        t = hit[2]
        if self.trace:
            self.candidates.append(t)
        self.deciding = t
        self.memo_deciding = hit[3]
        if t.result is CandidateResult.ALLOW:
            self.matched = t.exception

    def evaluate(self, e: LoadedException, kind: Kind, list_name: str, index: int, phase: str) -> bool:
        """spec 03 §6.4; True when the candidate allows (scan stops)."""
        f = e.flags
        if (f & EF_LINUX) != self.linux_bit:
            if self.trace:
                self._record_step1(e, kind, list_name, index, phase, Step.OS_GATE,
                                   "OS gate: the linux flag does not match the guest")  # fmt: skip
            return False
        if kind is _KIND_KM:
            fail = self._step1_km(e)
        elif kind is _KIND_UM:
            fail = self._step1_um(e, False)
        elif kind is _KIND_KUM:
            fail = self._step1_kum(e)
        else:
            fail = self._step1_um(e, True)
        if fail is not None:
            if self.trace:
                self._record_step1(e, kind, list_name, index, phase, Step.STEP1, fail)
            return False
        ok_reason = Reason.ALLOWED_FEEDBACK if f & EF_FEEDBACK else Reason.ALLOWED
        self.action, self.reason = Action.ALLOWED, ok_reason
        um_kind = kind is _KIND_UM or kind is _KIND_UMG
        if not e.signatures and not (um_kind and (e.object_type == 2 or self.zone == _ZONE_PROCESS)):
            # fast path: nothing left to check (no extra check, no signature, no injection-into-DLL rule)
            self._allow(e, kind, list_name, index, phase, ok_reason)
            return True
        if um_kind and e.object_type == 2 and f & EF_INIT and not self.is_linux:  # else _extra_um is "ok"
            extra, why = self._extra_um(e)
            if extra != "ok":
                self.action = Action.NOT_ALLOWED
                self.reason = Reason.EXTRA_CHECKS_FAILED if extra == "failed" else Reason.INTERNAL_ERROR
                result = CandidateResult.NOT_MATCHED if extra == "failed" else CandidateResult.ERROR
                self._record(e, kind, list_name, index, phase, result, Step.EXTRA, why, decides=True)
                return False
        s3 = cached_step3(self.store, self.state.window_cache, self.v, e) if e.signatures else None
        if s3 is None:
            s3 = step3(self.ctx, e)
        if s3.memo:
            self._record_step3(e, kind, list_name, index, phase, s3, ok_reason)
            if s3.status != "match":
                self.action, self.reason = Action.NOT_ALLOWED, s3.reason
                return False
            self.action, self.reason = Action.ALLOWED, ok_reason
            return True
        if s3.status != "match":
            self.action, self.reason = Action.NOT_ALLOWED, s3.reason
            result = CandidateResult.ERROR if s3.status == "error" else CandidateResult.NOT_MATCHED
            self._record(e, kind, list_name, index, phase, result, Step.SIGNATURES, s3.why, tuple(s3.checks), True)
            return False
        self.action, self.reason = Action.ALLOWED, ok_reason
        why = "matched on names and flags" + (f"; {s3.why}" if e.signatures else "")
        self._record(e, kind, list_name, index, phase, CandidateResult.ALLOW, Step.MATCHED, why, tuple(s3.checks), True)
        return True

    def _allow(self, e: LoadedException, kind: Kind, list_name: str, index: int, phase: str, ok: Reason) -> None:
        key = (id(e), index, phase, ok)  # an entry lives in one list and is evaluated as one kind
        cache = self.store.trace_cache
        hit = cache.get(key)
        if hit is None or hit[0] is not e:
            if len(cache) > _MEMO_LIMIT:
                cache.clear()
            t = CandidateTrace(
                self._info(e, list_name, index, kind), CandidateResult.ALLOW, Step.MATCHED, Action.ALLOWED, ok,
                "matched on names and flags", (), phase,
            )  # fmt: skip
            hit = (e, t, Verdict(Action.ALLOWED, ok, t.exception, (), t))
            cache[key] = hit
        t = hit[1]
        if self.trace:
            self.candidates.append(t)
        self.deciding = t
        self.memo_deciding = hit[2]
        self.matched = t.exception

    # ------------------------------------------------------------------ step 1 (spec 03 §7)

    def _access_why(self, f: int) -> str:
        have = [n for b, n in ((EF_READ, "read"), (EF_WRITE, "write"), (EF_EXEC, "exec")) if f & b]
        got = [n for b, n in ((Z_READ, "read"), (Z_WRITE, "write"), (Z_EXEC, "execute")) if self.zf & b]
        return f"access: exception allows {'/'.join(have) or 'nothing'}, violation is {'/'.join(got) or 'none'}"

    def _init_rule(self, e: LoadedException, k: KernelOriginator) -> bool:
        old0 = self.write.old_qword(0)
        prefix = "init" if self.is_linux else "INIT"
        if self.zone == ZoneType.INTEGRITY and old0 == 0:
            return True
        if e.flags & EF_RETURN_DRV and k.return_.name_hash == 2:
            return (k.return_.section or "").startswith(prefix)
        if k.original.name_hash == 2:
            return (k.original.section or "").startswith(prefix)
        if k.is_entry_point:
            return True
        return old0 == 0

    def _step1_km(self, e: LoadedException) -> str | None:
        f = e.flags
        if not f & self.acc:
            return self._access_why(f)
        if f & EF_INTEGRITY and self.zone != _ZONE_INTEGRITY:
            return "integrity: the victim is not an integrity violation"
        k: KernelOriginator = self.v.originator  # type: ignore[assignment]
        if f & EF_NON_DRIVER and k.original.driver:
            return "non-driver: the original RIP is inside a driver"
        if not f & self.arch:
            return f"architecture: flags 32/64 do not allow a {64 if self.env.guest_64 else 32}-bit guest"
        ev = e.victim
        if ev != 0 and ev != self.vhash:
            if ev != 1:
                return f"victim: 0x{ev:08x} != 0x{self.vhash:08x}"
            if not self._own(e, k):
                return "victim [own]: the victim does not belong to the originator driver"
        t = e.object_type
        mask = self.objmask
        if mask < 0:
            mask = self.objmask = self._object_mask(Kind.KM)
        if not (mask >> t) & 1:
            return f"object type: {_type_name(Kind.KM, t)} does not cover {self.vic.object_type.json_name}"
        if f & EF_INIT and not self._init_rule(e, k):
            return "init: not an initialisation write"
        if t == 11:
            cr = self.vic.cr
            smap = bool(cr and cr.smap_cleared)
            smep = bool(cr and cr.smep_cleared)
            if not ((f & EF_SMAP and f & EF_SMEP) or (f & EF_SMAP and smap) or (f & EF_SMEP and smep)):
                return "cr4: the exception's smap/smep flags do not cover the cleared bits"
        return None

    def _object_mask(self, kind: Kind) -> int:
        """Bit t set when exception object type t covers this victim (KM, or UM without the PEB types 8/9,
        which depend on addresses); memoised engine-wide per (kind, zone, object, zone flags)."""
        key = (kind, self.zone, self.obj, self.zf)
        masks = self.state.object_masks
        mask = masks.get(key)
        if mask is None:
            mask = 0
            for t in range(64):  # higher types never match (both predicates return False)
                if kind is Kind.KM:
                    ok = _km_object_matches(t, self.zone, self.obj, self.zf)
                else:
                    ok = t not in (8, 9) and self._um_object_matches(t)
                if ok:
                    mask |= 1 << t
            if len(masks) > 4096:
                masks.clear()
            masks[key] = mask
        return mask

    def _own(self, e: LoadedException, k: KernelOriginator) -> bool:
        d = k.return_ if e.flags & EF_RETURN_DRV else k.original
        if not d.driver:
            return False
        vic = self.vic
        if self.is_linux:
            return self.obj == _KM_MOD and d.core_base is not None and vic.base_address == d.core_base
        if self.obj == _KM_MOD:
            return vic.base_address == d.base
        if self.obj in (_OT.DRIVER_OBJECT, _OT.FAST_IO_DISPATCH):
            return vic.driver_object is not None and d.driver_object_gpa is not None and (
                vic.driver_object.gpa == d.driver_object_gpa
            )
        return False

    def _step1_kum(self, e: LoadedException) -> str | None:
        f = e.flags
        vic = self.vic
        k = self.v.originator
        assert isinstance(k, KernelOriginator)
        u, kk = k.injection.user, k.injection.kernel
        if u or kk:
            if not f & (EF_USER | EF_KERNEL):
                return "direction: the write is an injection, the exception has neither user nor kernel"
        elif f & (EF_USER | EF_KERNEL):
            return "direction: the exception needs an injection (user/kernel), the write is not one"
        if (f & EF_KERNEL and u) or (f & EF_USER and kk):
            return "direction: user/kernel flag does not match the injection"
        if not f & self.acc:
            return self._access_why(f)
        if not f & self.arch:
            return f"architecture: flags 32/64 do not allow a {64 if self.env.guest_64 else 32}-bit guest"
        if not (e.victim == 0 or e.victim == vic.name_hash):
            return f"victim: 0x{e.victim:08x} != 0x{vic.name_hash:08x}"
        if e.process != 0:
            if self.is_linux:
                return "process: a non-zero process never matches on Linux"
            owner = vic.process
            if owner is None or owner.name_hash != e.process:
                return f"process: 0x{e.process:08x} is not the victim module's process"
        if not _kum_object_matches(e.object_type, self.obj, self.zf):
            return f"object type: {_type_name(Kind.KUM, e.object_type)} does not cover {vic.object_type.json_name}"
        if f & EF_NON_DRIVER and k.original.driver:
            return "non-driver: the original RIP is inside a driver"
        if f & EF_INIT and not self._init_rule(e, k):
            return "init: not an initialisation write"
        return None

    def _um_object_matches(self, t: int) -> bool:
        zone, obj, zf = self.zone, self.obj, self.zf
        proc_zone = zone == ZoneType.PROCESS
        if t == 1:
            return True
        if t == 2:
            return proc_zone and not zf & (Z_CTX | Z_APC | Z_INSTRUMENT)
        if t == 3:
            return obj == _UM_MOD
        if t == 4:
            return obj == _UM_MOD and bool(zf & Z_IMPORTS)
        if t == 5:
            return obj == _OT.UM_GENERIC_NX_ZONE
        if t == 6:
            return obj == _UM_MOD and bool(zf & Z_EXPORTS)
        if t == 7:
            return proc_zone and bool(zf & Z_CTX)
        if t in (8, 9):
            p = self.vic.process
            base = None if p is None else (p.peb32_address if t == 8 else p.peb64_address)
            size = PEB32_SIZE if t == 8 else PEB64_SIZE
            return base is not None and base <= self.vic.gva < base + size
        if t == 10:
            return proc_zone and bool(zf & Z_APC)
        if t == 11:
            return obj == _OT.PROCESS_CREATION and zone == ZoneType.PC
        if t == 12:
            return proc_zone and bool(zf & Z_MODULE_LOAD)
        if t == 13:
            return obj == _OT.PROCESS_CREATION_DPI and zone == ZoneType.PC
        if t == 14:
            return obj == _OT.SUD_EXEC
        if t == 15:
            return proc_zone and bool(zf & Z_INSTRUMENT)
        return False

    def _step1_um(self, e: LoadedException, glob: bool) -> str | None:
        f = e.flags
        if not f & self.acc:
            return self._access_why(f)
        vic = self.vic
        u: UserOriginator = self.v.originator  # type: ignore[assignment]
        op = u.process
        if glob:
            name = vic.name or ""
            units = wide_units(name) if self.zf & Z_LIB_NAMED else narrow_units(name)
            if not glob_match(e.glob_victim, units):
                return f"victim: glob {e.glob_victim.decode('utf-8', 'replace')!r} does not match {name!r}"
            if self.is_linux:
                pname = op.path_name if op is not None else None
            else:
                pname = op.name if op is not None else None
            if pname is None:
                return "process: the originator process name is unknown"
            if not glob_match(e.glob_process, narrow_units(pname)):
                return f"process: glob {e.glob_process.decode('utf-8', 'replace')!r} does not match {pname!r}"
        else:
            ev = e.victim
            if ev != 0 and ev != self.vhash:
                return f"victim: 0x{ev:08x} != 0x{self.vhash:08x}"
            if e.process != 0 and (op is None or op.name_hash != e.process):
                got = f"0x{op.name_hash:08x}" if op is not None else "unknown"
                return f"process: 0x{e.process:08x} != originator process {got}"
        t = e.object_type
        if t == 8 or t == 9:
            obj_ok = self._um_object_matches(t)
        else:
            mask = self.objmask
            if mask < 0:
                mask = self.objmask = self._object_mask(Kind.UM)
            obj_ok = bool((mask >> t) & 1)
        if not obj_ok:
            return f"object type: {_type_name(Kind.UM, t)} does not cover this victim"
        if not f & self.arch:  # self.arch is the UM architecture bit (see _um_arch_bit)
            return "architecture: flags 32/64 do not allow this guest/process"
        if not f & _UM_STEP1_RARE:
            return None
        vp = vic.process
        if f & EF_CHILD and self.zone in (ZoneType.PROCESS, ZoneType.PC) and (
            vp is None or op is None or vp.parent_address != op.address
        ):
            return "child: the victim process is not a child of the originator"
        if not self.is_linux:
            pc = self.obj == _OT.PROCESS_CREATION
            if f & EF_SYSTEM_PROCESS:
                who = vp if pc else op
                if who is None or not who.system_process:
                    return f"system-process: the {'victim' if pc else 'originator'} is not a system process"
            if f & EF_LIKE_APPHELP:
                rec = vp.apphelp if vp is not None else None
                length = vic.injection.length if vic.injection else 0
                if rec is None or rec != (vic.gva, length):
                    return "like-apphelp: the injection differs from the recorded apphelp injection"
            if f & EF_ONE_TIME:
                who = op if pc else vp
                if who is None:
                    return "one-time: no process"
                key = who.key
                if who.one_time_done or key in self.state.one_time_done:
                    return "one-time: already used for this process"
                # upstream quirk §13.6: the flag is consumed in step 1 even if steps 2-3 fail later
                self.state.one_time_done.add(key)
        return None

    def _um_arch_bit(self, op: Process | None) -> int:
        """The one architecture flag a UM exception needs (both flags always pass): 64 for a 64-bit guest
        and (Windows) a native originator process, else 32."""
        g64 = self.env.guest_64
        if self.is_linux:
            return EF_64 if g64 else EF_32
        wow = op.wow64 if op is not None else False
        return EF_32 if (not g64 or wow) else EF_64

    # ------------------------------------------------------------------ step 2 (spec 03 §8)

    def _extra_um(self, e: LoadedException) -> tuple[str, str]:
        if self.is_linux or e.object_type != 2 or not e.flags & EF_INIT:
            return "ok", ""
        p = self.vic.process
        if p is None:
            return "error", "init extra check: no victim process"
        from hvmiex.violation import InitState

        if p.init_state is InitState.NOT_STARTED:
            return "failed", "init extra check: the victim process has not started initialising"
        if p.init_state is InitState.INITIALIZED:
            build = self.env.os_version or 0
            if build <= WIN7_LAST_BUILD and p.wow64 and p.key not in self.state.win7_context_accepted:
                size = self.vic.injection.length if self.vic.injection else 0
                gva = self.vic.gva
                ok = (p.peb64_address is not None and gva == p.peb64_address + 0x368 and size == 8) or (
                    p.peb32_address is not None and gva == p.peb32_address + 0x238 and size == 4
                )
                if ok:
                    self.state.win7_context_accepted.add(p.key)
                    return "ok", ""
            return "failed", "init extra check: the victim process is already initialised"
        return "ok", ""

    # ------------------------------------------------------------------ candidate order (spec 03 §6.3)

    def _alert_scan(self, list_name: str, o: int, kind: Kind) -> bool:
        lst = self.store.lists[list_name]
        if not lst:
            return False
        for i, e in enumerate(lst):
            if e.originator == 0 or (o == NONAME and e.originator == 4):
                pass
            elif e.originator > o:
                break
            elif e.originator != o:
                continue
            if self.evaluate(e, kind, list_name, i, "alert"):
                return True
        return False

    def _all(self, list_name: str, kind: Kind, phase: str, mru: bool = False) -> bool:
        lst = self.store.lists[list_name]
        if not lst:
            return False
        for i, e in enumerate(lst):
            if self.evaluate(e, kind, list_name, i, phase):
                if mru and i:
                    # upstream quirk §13.7: generic/no-name UM lists are reordered on every full match
                    del lst[i]
                    lst.insert(0, e)
                return True
        return False

    def _feedback(self, list_name: str, o: int, r: int, kind: Kind) -> bool:
        if not self.store.lists[list_name]:
            return False
        idx = self.store.positions(list_name)
        picked: dict[int, LoadedException] = {}
        for pos, e in idx.get(0, ()):
            picked[pos] = e
        if o == NONAME:
            for pos, e in idx.get(4, ()):
                picked[pos] = e
        for pos, e in idx.get(r, ()):
            if e.flags & EF_RETURN:
                picked[pos] = e
        for pos, e in idx.get(o, ()):
            if not e.flags & EF_RETURN:
                picked[pos] = e
        return any(self.evaluate(picked[pos], kind, list_name, pos, "feedback") for pos in sorted(picked))

    def _scan_km(self) -> None:
        k = self.v.originator
        assert isinstance(k, KernelOriginator)
        store = self.store
        o = k.original.name_hash
        r = k.return_.name_hash
        lists = store.lists
        if lists[KERNEL_ALERT] and self._alert_scan(KERNEL_ALERT, o, Kind.KM):
            return
        if o == NONAME:
            if lists[NONAME_KERNEL] and self._all(NONAME_KERNEL, Kind.KM, "no-name"):
                return
        elif lists[GENERIC_KERNEL] and self._all(GENERIC_KERNEL, Kind.KM, "generic"):
            return
        orig = k.original
        same_rip = orig.driver and k.return_.driver and orig.rip == k.return_.rip
        skip_return_pass = False
        tables = store.reach_tables
        if o != NONAME:
            b = (o >> 28) & 0xF
            variant = "km4-same" if same_rip else "km4"
            tab = tables.get(variant)
            reach = tab[b] if tab is not None else None
            if reach is None:
                reach = store.reach_in(KERNEL, b, variant, _named if same_rip else _named_not_return_drv)
            found = reach.get(o)
            if found is not None:
                for pos, e in found:
                    if e.flags & EF_RETURN and not same_rip:
                        continue
                    if self.evaluate(e, _KIND_KM, _KB[b], pos, "bucket"):
                        return
            skip_return_pass = bool(same_rip)
        if not skip_return_pass and r != NONAME:
            b = (r >> 28) & 0xF
            # upstream quirk §13.10: the return pass needs both return and return-drv
            tab = tables.get("km5")
            reach = tab[b] if tab is not None else None
            if reach is None:
                reach = store.reach_in(KERNEL, b, "km5", _named_return_drv)
            for pos, e in reach.get(r, ()):
                if not e.flags & EF_RETURN:
                    continue
                if self.evaluate(e, Kind.KM, _KB[b], pos, "return"):
                    return
        if lists[KERNEL_FEEDBACK]:
            self._feedback(KERNEL_FEEDBACK, o, r, Kind.KM)

    def _scan_um(self) -> None:
        u = self.v.originator
        assert isinstance(u, UserOriginator)
        store = self.store
        o = u.name_hash
        r = u.return_.name_hash
        lists = store.lists
        p = u.process
        if self.is_linux or not self.env.guest_64:
            self.arch = self._um_arch_bit(p)
        else:  # 64-bit Windows guest: 32-bit exceptions for WoW64 originator processes, else 64-bit
            self.arch = EF_32 if p is not None and p.wow64 else EF_64
        if lists[USER_ALERT] and self._alert_scan(USER_ALERT, o, Kind.UM):
            return
        if self.obj == _PROCESS_CREATION:
            for list_name in (PROCESS_CREATION_ALERT, PROCESS_CREATION):
                for i, e in enumerate(store.lists[list_name]):
                    if e.originator != 0:
                        if e.originator > o:
                            break
                        if e.originator < o:
                            continue
                    if self.evaluate(e, Kind.UM, list_name, i, "process-creation"):
                        return
        if o == NONAME:
            if lists[NONAME_USER] and self._all(NONAME_USER, Kind.UM, "no-name", mru=True):
                return
        elif lists[GENERIC_USER] and self._all(GENERIC_USER, Kind.UM, "generic", mru=True):
            return
        if u.name is not None and lists[GLOB_USER] and self._glob_scan(u):
            return
        tab = store.reach_tables.get("um")
        if o != NONAME:
            b = (o >> 28) & 0xF
            reach = tab[b] if tab is not None else None
            if reach is None:
                reach = store.reach_in(USER, b, "um", _everything)
                tab = store.reach_tables.get("um")
            found = reach.get(o)
            if found is not None:
                for pos, e in found:
                    if e.flags & EF_RETURN:
                        continue
                    if self.evaluate(e, _KIND_UM, _UB[b], pos, "bucket"):
                        return
        ret = u.return_
        same = u.library is not None and ret.library is not None and u.rip == ret.rip
        # r == 0 (no return computed) can reach nothing: originator-0 exceptions never live in buckets
        if not same and r != 0:
            b = (r >> 28) & 0xF
            reach = tab[b] if tab is not None else None
            if reach is None:
                reach = store.reach_in(USER, b, "um", _everything)
            for pos, e in reach.get(r, ()):
                if not e.flags & EF_RETURN:
                    continue
                if self.evaluate(e, Kind.UM, _UB[b], pos, "return"):
                    return
        if lists[USER_FEEDBACK] and self._feedback(USER_FEEDBACK, o, r, Kind.UM):
            return
        if lists[PROCESS_CREATION_FEEDBACK]:
            self._feedback(PROCESS_CREATION_FEEDBACK, o, r, Kind.UM)

    def _glob_scan(self, u: UserOriginator) -> bool:
        name = u.name or ""
        units = wide_units(name) if u.name_wide else narrow_units(name)
        c = _signed(units[0]) if units else 0
        for i, e in enumerate(self.store.lists[GLOB_USER]):
            g_raw = e.glob_originator[0] if e.glob_originator else 0
            exempt = g_raw in _GLOB_EXEMPT
            g = _signed(g_raw)
            # upstream quirk §13.14: case-sensitive first-character filter relying on the list order
            if c < g and not exempt:
                break
            if c != g and not exempt:
                continue
            if not glob_match(e.glob_originator, units):
                continue
            if self.evaluate(e, Kind.UMG, GLOB_USER, i, "glob"):
                return True
        return False

    def _scan_kum(self) -> None:
        k = self.v.originator
        assert isinstance(k, KernelOriginator)
        store = self.store
        u, kk = k.injection.user, k.injection.kernel
        o = k.original.name_hash
        r = k.return_.name_hash
        if u:
            h = k.process.name_hash if k.process is not None else NONAME
        elif kk:
            h = r
        else:
            h = o

        def mismatch(e: LoadedException) -> bool:
            return bool((e.flags & EF_KERNEL and u) or (e.flags & EF_USER and kk))

        for i, e in enumerate(store.lists[KERNEL_USER_ALERT]):
            if mismatch(e):
                continue
            if e.originator == 0 or (not u and o == NONAME and e.originator == 4):
                pass
            elif e.originator > h:
                break
            elif e.originator != h:
                continue
            if self.evaluate(e, Kind.KUM, KERNEL_USER_ALERT, i, "alert"):
                return
        if not u and o == NONAME:
            if self._all(NONAME_KERNEL_USER, Kind.KUM, "no-name"):
                return
        elif self._all(GENERIC_KERNEL_USER, Kind.KUM, "generic"):
            return
        same_rip = bool(kk and k.original.driver and k.return_.driver and k.original.rip == k.return_.rip)
        skip_return_pass = False
        if h != NONAME:
            b = bucket(h)

            def include4(e: LoadedException) -> bool:
                if mismatch(e):
                    return False
                return not (e.flags & EF_KERNEL and (e.originator == NONAME or (e.flags & EF_RETURN_DRV and not same_rip)))

            reach = store.reach_in(KERNEL_USER, b, ("kum4", u, kk, same_rip), include4)
            for pos, e in reach.get(h, ()):
                if e.flags & EF_RETURN and not same_rip:
                    continue
                if self.evaluate(e, Kind.KUM, _KUB[b], pos, "bucket"):
                    return
            skip_return_pass = same_rip
        if not skip_return_pass and not u and r != NONAME:
            b = bucket(r)
            reach = store.reach_in(
                KERNEL_USER, b, "kum5",
                lambda e: not e.flags & EF_USER and e.originator != NONAME and bool(e.flags & EF_RETURN_DRV),
            )  # fmt: skip
            for pos, e in reach.get(r, ()):
                if not e.flags & EF_RETURN:
                    continue
                if self.evaluate(e, Kind.KUM, _KUB[b], pos, "return"):
                    return
        for i, e in enumerate(store.lists[KERNEL_USER_FEEDBACK]):
            if mismatch(e):
                continue
            if e.originator == 0 or (not u and o == NONAME and e.originator == 4):
                pass
            elif e.flags & EF_RETURN:
                if not u and e.originator != r:
                    continue
            elif (not u and e.originator != o) or (u and e.originator != h):
                continue
            if self.evaluate(e, Kind.KUM, KERNEL_USER_FEEDBACK, i, "feedback"):
                return
