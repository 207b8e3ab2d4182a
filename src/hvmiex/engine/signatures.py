"""Step 3: signature groups and the eight verifiers (spec 03 §9, §10.5)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

from hvmiex.engine.codeblocks import list_hits
from hvmiex.engine.store import (
    EF_RETURN_DRV,
    SF_32,
    SF_64,
    SF_CLI,
    SF_LINUX,
    SF_MEDIUM,
    SIGNATURE_TYPES,
    ST_CODEBLOCKS,
    ST_EXPORT,
    ST_IDT,
    ST_PROCESS_CREATION,
    ST_VALUE,
    ST_VALUE_CODE,
    ST_VERSION_INTRO,
    ST_VERSION_OS,
    ExceptionStore,
    Kind,
    LoadedException,
    LoadedSignature,
)
from hvmiex.engine.verdict import Reason, SignatureCheck
from hvmiex.model import (
    CodeBlocksSignature,
    ExportSignature,
    IdtSignature,
    LinuxVersion,
    ProcessCreationSignature,
    ValueCodeSignature,
    ValueSignature,
    VersionIntroSignature,
    VersionOsSignature,
)
from hvmiex.violation import (
    GuestOS,
    KernelOriginator,
    ObjectType,
    PcType,
    Process,
    UserOriginator,
    Violation,
    ViolationKind,
    ZoneFlags,
    ZoneType,
    command_line_bytes,
)

FAIL_REASON = {
    ST_VERSION_OS: Reason.VERSION_OS_NOT_MATCHED,
    ST_VERSION_INTRO: Reason.VERSION_INTRO_NOT_MATCHED,
    ST_PROCESS_CREATION: Reason.PROCESS_CREATION_NOT_MATCHED,
    ST_EXPORT: Reason.EXPORT_NOT_MATCHED,
    ST_VALUE: Reason.VALUE_NOT_MATCHED,
    ST_IDT: Reason.IDT_NOT_MATCHED,
    ST_VALUE_CODE: Reason.VALUE_CODE_NOT_MATCHED,
    ST_CODEBLOCKS: Reason.SIGNATURE_NOT_MATCHED,
}
TYPE_NAMES = {
    ST_VERSION_OS: "version-os",
    ST_VERSION_INTRO: "version-intro",
    ST_PROCESS_CREATION: "process-creation",
    ST_EXPORT: "export",
    ST_VALUE: "value",
    ST_IDT: "idt",
    ST_VALUE_CODE: "value-code",
    ST_CODEBLOCKS: "codeblocks",
}

WINDOW_CACHE_SIZE = 4096
SCRATCH_CAPACITY = 8192  # Introcore's injection scratch buffer (upstream quirk §13.5)


class SignatureError(Exception):
    """An error inside a verifier: the candidate ends in InternalError."""


@dataclass(slots=True)
class Context:
    """Per-decision state shared by the verifiers (caches live for one decision only, except the
    engine-wide codeblock cache)."""

    v: Violation
    store: ExceptionStore
    cb_cache: object = None  # hvmiex.engine.codeblocks.CodeblockCache, when available
    extracted: dict[tuple[int, int, bool], tuple[str, tuple[int, ...]]] = field(default_factory=dict)
    injected: bytes | None = None  # upstream quirk §13.5: bytes cached after the first value verification
    injected_bound: int = 0
    warnings: list[str] = field(default_factory=list)
    window_cache: dict[object, Any] | None = None  # engine-wide: (memory id, rip, level, exec, mode) -> result

    @property
    def is_linux(self) -> bool:
        return self.v.env.is_linux


@dataclass(slots=True)
class GroupOutcome:
    status: str  # "match", "fail", "error"
    checks: list[SignatureCheck]
    why: str


def _requires64(ctx: Context, e: LoadedException, sig_type: int) -> bool:
    """spec 03 §9.2."""
    v = ctx.v
    g64 = v.env.guest_64
    if e.kind in (Kind.KM, Kind.KUM) or ctx.is_linux:
        return g64
    if sig_type in (ST_IDT, ST_PROCESS_CREATION, ST_VERSION_OS, ST_VERSION_INTRO):
        return g64
    um = v.originator
    assert isinstance(um, UserOriginator)
    orig_wow = um.process.wow64 if um.process is not None else False
    if sig_type == ST_EXPORT and v.victim.zone_type == ZoneType.PROCESS:
        vp = v.victim.process
        return g64 and not (vp.wow64 if vp is not None else False)
    if sig_type == ST_VALUE_CODE and um.pc_type & (PcType.HEAP_SPRAY | PcType.THREAD_START):
        vp = v.victim.process
        return g64 and not (vp.wow64 if vp is not None else False)
    return g64 and not orig_wow


def _usable(ctx: Context, e: LoadedException, s: LoadedSignature) -> str | None:
    """None when usable, else why not."""
    flags = s.flags
    req64 = _requires64(ctx, e, s.type)
    if req64 and not flags & SF_64:
        return "needs a 64-bit signature (flag 64 missing)"
    if not req64 and not flags & SF_32:
        return "needs a 32-bit signature (flag 32 missing)"
    if s.type in (ST_CODEBLOCKS, ST_VALUE_CODE) and flags & SF_MEDIUM:
        medium = e.kind in (Kind.UM, Kind.UMG) or (s.type == ST_VALUE_CODE and e.kind is Kind.KUM)
        if not medium:
            return "'medium' signature unusable at normal extraction level"
    return None


def _group_candidates(
    ctx: Context, sig_type: int, ids: tuple[int, ...]
) -> list[tuple[LoadedSignature, int | None]]:
    """Stored signatures of the group in global-list order, with the group cursor algorithm's view.

    Returns (signature, index of its ID in the group) for each stored signature the walk reaches with an
    ID among ``ids``; the cursor itself is applied by the caller.
    """
    pos_index = ctx.store.signature_positions(sig_type)
    if len(ids) == 1:  # the common case: no merge needed
        return [(s, None) for _, s in pos_index.get(ids[0], ())]
    hits: list[tuple[int, LoadedSignature]] = []
    seen: set[int] = set()
    for sid in ids:
        if sid in seen:
            continue
        seen.add(sid)
        hits.extend(pos_index.get(sid, ()))
    hits.sort(key=lambda x: x[0])
    return [(s, None) for _, s in hits]


def run_group(ctx: Context, e: LoadedException, sig_type: int, ids: tuple[int, ...]) -> GroupOutcome:
    """Evaluate one group of consecutive same-type IDs: OR within the group (spec 03 §9.1)."""
    checks: list[SignatureCheck] = []
    tname = TYPE_NAMES[sig_type]
    # group-level preconditions (verifiers that decide before looking at the signatures)
    try:
        pre = _group_pre(ctx, e, sig_type)
    except SignatureError as exc:
        return GroupOutcome("error", checks, f"{tname}: {exc}")
    if pre is not None:
        status, why = pre
        checks.append(SignatureCheck(sig_type, None, status == "match", why))
        return GroupOutcome(status, checks, f"{tname}: {why}")
    cursor = 0
    is_linux = ctx.is_linux
    for s, _ in _group_candidates(ctx, sig_type, ids):
        if bool(s.flags & SF_LINUX) != is_linux:
            continue
        i = cursor
        found = -1
        while i < len(ids):
            if ids[i] == s.id:
                found = i
                break
            i += 1
        if found < 0:
            continue
        name = getattr(s.sig, "name", None) or ctx.store.signature_names.get(s.id)
        why_not = _usable(ctx, e, s)
        if why_not is not None:
            checks.append(SignatureCheck(sig_type, s.id, False, f"unusable: {why_not}", name))
            continue  # abandon, cursor unchanged
        try:
            outcome = _verify(ctx, e, s, found)
        except SignatureError as exc:
            checks.append(SignatureCheck(sig_type, s.id, False, f"error: {exc}", name))
            return GroupOutcome("error", checks, f"{tname} signature 0x{s.id:08x}: {exc}")
        if outcome is None:  # skipped without moving the cursor (export library mismatch, unreadable code)
            continue
        passed, why = outcome
        checks.append(SignatureCheck(sig_type, s.id, passed, why, name))
        if passed:
            return GroupOutcome("match", checks, f"{tname} signature {name or hex(s.id)} passed: {why}")
        cursor = found + 1
    if not checks:
        return GroupOutcome("fail", checks, f"{tname}: no usable signature among {', '.join(hex(i) for i in ids)}")
    parts = [f"{c.name or hex(c.sig_id or 0)} {c.why}" for c in checks if c.sig_id is not None]
    return GroupOutcome("fail", checks, f"{tname} signature " + "; ".join(parts))


# ------------------------------------------------------------------------------------------------ preconditions


def _group_pre(ctx: Context, e: LoadedException, sig_type: int) -> tuple[str, str] | None:
    if sig_type == ST_CODEBLOCKS:
        return _codeblocks_pre(ctx, e)
    if sig_type == ST_EXPORT:
        return _export_pre(ctx, e)
    if sig_type == ST_IDT and e.kind is not Kind.KM:
        return ("fail", "idt signatures only pass on kernel-mode exceptions")
    if sig_type == ST_VALUE:
        return _value_pre(ctx)
    if sig_type == ST_VALUE_CODE:
        rip = _value_code_rip(ctx, e)
        if rip == 0:
            return ("match", "RIP is 0: the group passes")
    if sig_type == ST_PROCESS_CREATION:
        if e.kind is Kind.KM:
            raise SignatureError("process-creation signature on a kernel-mode exception")
        if e.kind is Kind.KUM:
            ctx.warnings.append("process-creation signature on a kernel-user exception: upstream result undefined")
            raise SignatureError("process-creation signature on a kernel-user exception (undefined upstream)")
    if sig_type == ST_VERSION_OS:
        env = ctx.v.env
        if env.is_linux and env.linux_version is None:
            raise SignatureError("the guest's Linux version is unknown (set env.linux_version)")
        if not env.is_linux and env.os_version is None:
            raise SignatureError("the guest's Windows build is unknown (set env.os_version)")
    if sig_type == ST_VERSION_INTRO and ctx.v.env.introcore_version is None:
        raise SignatureError("the Introcore version is unknown (set env.introcore_version)")
    return None


# ------------------------------------------------------------------------------------------------ codeblocks


def codeblocks_rip(ctx: Context, e: LoadedException) -> int:
    o = ctx.v.originator
    if isinstance(o, KernelOriginator):
        return o.return_.rip if e.flags & EF_RETURN_DRV else o.original.rip
    return o.rip


def _window_entry(ctx: Context, rip: int, medium: bool, execute: bool) -> list[Any] | None:
    """The engine-wide cache entry ``[memory, result, memo, generation]`` of one code window (None when
    the violation carries precomputed codeblocks, which are never shared)."""
    shared = ctx.window_cache
    if shared is None or ctx.v.codeblocks:
        return None
    env = ctx.v.env
    memory = env.memory
    mode64 = env.decode_64
    # engine-wide cache per code window (Introcore caches per RIP, upstream quirk §13.17: transparent)
    wkey = (id(memory), rip, medium, execute, mode64)
    hit = shared.get(wkey)
    if hit is not None and hit[0] is memory:
        return hit  # type: ignore[no-any-return]
    result = _extract_uncached(ctx, rip, medium, execute, mode64)
    if len(shared) >= WINDOW_CACHE_SIZE:
        shared.clear()
    entry: list[Any] = [memory, result, {}, ctx.store.generation]
    shared[wkey] = entry  # the entry keeps ``memory`` alive, so its id cannot be reused meanwhile
    return entry


def _extract(ctx: Context, rip: int, medium: bool, execute: bool) -> tuple[str, tuple[int, ...]]:
    key = (rip, int(medium), execute)
    got = ctx.extracted.get(key)
    if got is not None:
        return got
    entry = _window_entry(ctx, rip, medium, execute)
    result: tuple[str, tuple[int, ...]]
    if entry is not None:
        result = entry[1]
    else:
        result = _extract_uncached(ctx, rip, medium, execute, ctx.v.env.decode_64)
    ctx.extracted[key] = result
    return result


def _extract_uncached(
    ctx: Context, rip: int, medium: bool, execute: bool, mode64: bool
) -> tuple[str, tuple[int, ...]]:
    from hvmiex.engine import codeblocks as cb

    level = cb.Level.MEDIUM if medium else cb.Level.NORMAL
    window, data = cb.match_window_bytes(ctx.v.env.memory.read, rip, execute)
    if data is None:
        pre = ctx.v.precomputed_codeblocks(rip)
        return ("error", ()) if pre is None else ("ok" if pre else "none", pre)
    cache = ctx.cb_cache
    if isinstance(cache, cb.CodeblockCache):
        m = cache.get(data, mode64, level, window.max_hashes)
    else:
        m = cb.match_hashes(data, mode64, level, window.max_hashes)
    if m.status is cb.MatchStatus.INVALID_PARAMETER:
        return ("error", ())
    if m.status is cb.MatchStatus.NOT_FOUND:
        return ("none", ())
    return ("ok", m.hashes)


def _codeblocks_pre(ctx: Context, e: LoadedException) -> tuple[str, str] | None:
    rip = codeblocks_rip(ctx, e)
    if rip == 0:
        return ("match", "RIP is 0: the group passes")
    medium = e.kind in (Kind.UM, Kind.UMG)
    execute = medium and isinstance(ctx.v.originator, UserOriginator) and ctx.v.originator.execute
    status, _ = _extract(ctx, rip, medium, execute)
    if status == "error":
        raise SignatureError(f"code around RIP 0x{rip:x} is not readable")
    if status == "none":
        return ("fail", f"no codeblock extracted around RIP 0x{rip:x}")
    return None


def _list_passes(sig_hashes: tuple[int, ...], score: int, extracted: tuple[int, ...]) -> tuple[bool, int]:
    hits = list_hits(sig_hashes, extracted)
    return hits >= score, hits


def _verify_codeblocks(ctx: Context, e: LoadedException, sig: CodeBlocksSignature) -> tuple[bool, str]:
    rip = codeblocks_rip(ctx, e)
    medium = e.kind in (Kind.UM, Kind.UMG)
    execute = medium and isinstance(ctx.v.originator, UserOriginator) and ctx.v.originator.execute
    _, extracted = _extract(ctx, rip, medium, execute)
    parts = []
    for n, lst in enumerate(sig.lists):
        ok, found = _list_passes(lst, sig.score, extracted)
        if ok:
            return True, f"list {n} found {found} of score {sig.score} ({len(lst)} hashes)"
        parts.append(f"list {n} needed {sig.score} of {len(lst)} hashes, found {found}")
    return False, "; ".join(parts) or "no hash lists"


# ------------------------------------------------------------------------------------------------ export


def _export_addr(ctx: Context) -> tuple[int, int]:
    vic = ctx.v.victim
    if vic.zone_type == ZoneType.EPT:
        return vic.gva, vic.effective_write().access_size
    if vic.zone_type == ZoneType.PROCESS:
        return vic.gva, vic.injection.length if vic.injection else 0
    raise SignatureError(f"export signatures need an EPT or process victim, not {vic.zone_type.json_name}")


def _export_pre(ctx: Context, e: LoadedException) -> tuple[str, str] | None:
    if e.kind in (Kind.KM, Kind.UMG):
        # upstream quirk §13.4: only UM and KUM are implemented; others always match
        return ("match", f"export signatures always pass on {e.kind.tag} exceptions (upstream quirk §13.4)")
    _export_addr(ctx)
    mod = ctx.v.victim.module
    if mod is None:
        return ("fail", "the victim has no module")
    if not mod.export_directory:
        return ("match", f"module {mod.name or hex(mod.name_hash)} has no export directory (upstream quirk §13.4)")
    return None


def _verify_export(ctx: Context, sig: ExportSignature, group_index: int) -> tuple[bool, str] | None:
    mod = ctx.v.victim.module
    assert mod is not None
    lib = sig.library.value
    if lib != 0 and lib != mod.name_hash:
        return None  # skipped without moving the cursor
    _, size = _export_addr(ctx)
    found = ctx.v.victim.export_at_address()
    export = found[0] if found is not None else None
    offset = found[1] if found is not None else 0
    for j, entry in enumerate(sig.entries):
        fn = entry.name.value
        if fn == 0:
            return True, f"entry {j} is '*'"
        # upstream quirk §13.3: the "no export and name '-'" test reads entry i (the ID's group index), not j
        if export is None and group_index < len(sig.entries) and sig.entries[group_index].name.value == 4:
            return True, "no export at the address and the entry is '-' (upstream quirk §13.3 index)"
        if export is None:
            continue
        if fn not in export.name_hashes:
            continue
        if entry.delta == 0 or offset + size - 1 <= entry.delta:
            return True, f"{'/'.join(export.names) or hex(fn)}+{offset} size {size} within delta {entry.delta}"
    if export is None:
        return False, "no export within 32 bytes before the address"
    return False, f"export {'/'.join(export.names)}: no entry matches name and delta (offset {offset}, size {size})"


# ------------------------------------------------------------------------------------------------ value


def _value_pre(ctx: Context) -> tuple[str, str] | None:
    vic = ctx.v.victim
    z = vic.zone_type
    if z == ZoneType.PROCESS and ctx.injected is None:
        um = ctx.v.originator
        src = um.rip if isinstance(um, UserOriginator) else 0
        length = vic.injection.length if vic.injection else 0
        data = ctx.v.env.memory.read(src, length)
        if data is None:
            raise SignatureError(f"injected bytes at 0x{src:x} ({length} bytes) are not readable")
        ctx.injected = data
        ctx.injected_bound = length
    return None


def _value_buffer(ctx: Context) -> tuple[bytes | None, int]:
    vic = ctx.v.victim
    z = vic.zone_type
    if z in (ZoneType.EPT, ZoneType.MSR):
        w = vic.effective_write()
        if w.access_size > 64:
            raise SignatureError(f"access size {w.access_size} exceeds 64")
        return w.new, w.access_size
    if z == ZoneType.PROCESS:
        return ctx.injected, ctx.injected_bound
    if z == ZoneType.INTEGRITY:
        if vic.object_type in (ObjectType.IDT, ObjectType.SUD_INTEGRITY):
            w = vic.effective_write()
            return w.new, w.access_size
        if vic.object_type in (ObjectType.SEC_DESC, ObjectType.ACL):
            buf = vic.integrity.buffer if vic.integrity else None
            return buf, len(buf) if buf is not None else 0
        raise SignatureError(f"no value buffer for integrity victims of type {vic.object_type.json_name}")
    if z == ZoneType.PC:
        return None, 0
    raise SignatureError(f"no value buffer for {z.json_name} victims")


def _verify_value(ctx: Context, sig: ValueSignature) -> tuple[bool, str]:
    need = max(sig.score, 1)
    count = 0
    if sig.flags.value & SF_CLI:
        proc = _originator_process(ctx)
        cl = proc.command_line if proc is not None else None
        if cl is None:
            return True, "no command line: cli signatures pass"
        data = command_line_bytes(cl, ctx.v.env.os)
        for ent in sig.entries:
            if ent.offset + ent.size > len(data):
                continue
            if zlib.crc32(data[ent.offset : ent.offset + ent.size], 0xFFFFFFFF) == ent.hash:
                count += 1
                if count >= need:
                    return True, f"{count} command-line hash(es) matched"
        return False, f"{count} of {need} command-line hash(es) matched"
    buf, size = _value_buffer(ctx)
    if buf is None or ctx.v.victim.zone_type == ZoneType.PC:
        return False, "no value buffer"
    for ent in sig.entries:
        if ent.offset + ent.size > size:
            continue
        chunk = buf[ent.offset : ent.offset + ent.size].ljust(ent.size, b"\0")
        if zlib.crc32(chunk, 0xFFFFFFFF) == ent.hash:
            count += 1
            if count >= need:
                return True, f"{count} value hash(es) matched"
    return False, f"{count} of {need} value hash(es) matched (buffer {size} bytes)"


def _after_value_group(ctx: Context) -> None:
    # upstream quirk §13.5: later value verifications of this violation see the scratch buffer's capacity
    if ctx.injected is not None:
        ctx.injected_bound = max(SCRATCH_CAPACITY, ctx.injected_bound)


def _originator_process(ctx: Context) -> Process | None:
    return ctx.v.originator.process


# ------------------------------------------------------------------------------------------------ value-code


def _value_code_rip(ctx: Context, e: LoadedException) -> int:
    o = ctx.v.originator
    if isinstance(o, KernelOriginator):
        if e.kind is Kind.KUM:
            # upstream quirk §13.2: KUM reads the "return-drv" bit from the victim-process hash field
            return o.return_.rip if e.process & 0x200 else o.original.rip
        return o.return_.rip if e.flags & EF_RETURN_DRV else o.original.rip
    return o.rip


def _verify_value_code(ctx: Context, e: LoadedException, sig: ValueCodeSignature) -> tuple[bool, str] | None:
    rip = _value_code_rip(ctx, e)
    n = len(sig.pattern)
    data = ctx.v.env.memory.read((rip + sig.offset) & 0xFFFFFFFFFFFFFFFF, n)
    if data is None:
        return None  # unreadable: skipped without moving the cursor
    for k, p in enumerate(sig.pattern):
        if p != 0x100 and p != data[k]:
            return False, f"byte {k} is 0x{data[k]:02x}, pattern wants 0x{p:02x}"
    return True, f"{n} bytes at RIP{sig.offset:+d} match"


# ------------------------------------------------------------------------------------------------ idt


def _verify_idt(ctx: Context, sig: IdtSignature) -> tuple[bool, str]:
    vic = ctx.v.victim
    d = 16 if ctx.v.env.guest_64 else 8
    if vic.object_type == ObjectType.IDT and vic.zone_type == ZoneType.INTEGRITY:
        entry = (vic.integrity.offset if vic.integrity else 0) // d
    elif vic.object_type == ObjectType.IDT and vic.zone_type == ZoneType.EPT:
        entry = (vic.gva - vic.base_address) // d
    elif vic.object_type == ObjectType.INTERRUPT_OBJECT:
        entry = vic.integrity.interrupt_obj_index if vic.integrity else 0
    else:
        raise SignatureError(f"idt signatures need an IDT or interrupt-object victim, not {vic.object_type.json_name}")
    entry &= 0xFF
    ok = sig.entry == entry
    return ok, f"entry {entry} {'==' if ok else '!='} signature entry {sig.entry}"


# ------------------------------------------------------------------------------------------------ versions, pc


def _verify_version_os(ctx: Context, sig: VersionOsSignature) -> tuple[bool, str]:
    env = ctx.v.env
    if env.is_linux:
        assert env.linux_version is not None
        lo = LinuxVersion.unpack(sig.minimum)
        hi = LinuxVersion.unpack(sig.maximum)
        lo_t = (lo.version, lo.patch, lo.sublevel, lo.backport)
        hi_t = (hi.version, hi.patch, hi.sublevel, hi.backport)
        ok = lo_t <= env.linux_version <= hi_t
        return ok, f"Linux {'.'.join(map(str, env.linux_version))} {'in' if ok else 'outside'} [{lo_t}, {hi_t}]"
    assert env.os_version is not None
    ok = sig.minimum <= env.os_version <= sig.maximum
    return ok, f"build {env.os_version} {'in' if ok else 'outside'} [{sig.minimum}, {sig.maximum}]"


def _verify_version_intro(ctx: Context, sig: VersionIntroSignature) -> tuple[bool, str]:
    ver = ctx.v.env.introcore_version
    assert ver is not None
    lo = (sig.minimum.major, sig.minimum.minor, sig.minimum.revision, sig.minimum.build)
    hi = (sig.maximum.major, sig.maximum.minor, sig.maximum.revision, sig.maximum.build)
    ok = lo <= ver <= hi
    return ok, f"introcore {'.'.join(map(str, ver))} {'in' if ok else 'outside'} [{lo}, {hi}]"


def _verify_pc(ctx: Context, sig: ProcessCreationSignature) -> tuple[bool, str]:
    o = ctx.v.originator
    assert isinstance(o, UserOriginator)
    mask = int(o.pc_type)
    allowed = sig.create_mask.value
    ok = mask & ~allowed & 0xFFFFFFFF == 0
    return ok, f"DPI bits 0x{mask:x} {'within' if ok else 'not within'} create mask 0x{allowed:x}"


# ------------------------------------------------------------------------------------------------ dispatch


def _verify(ctx: Context, e: LoadedException, s: LoadedSignature, group_index: int) -> tuple[bool, str] | None:
    sig = s.sig
    if isinstance(sig, CodeBlocksSignature):
        return _verify_codeblocks(ctx, e, sig)
    if isinstance(sig, ExportSignature):
        return _verify_export(ctx, sig, group_index)
    if isinstance(sig, ValueSignature):
        return _verify_value(ctx, sig)
    if isinstance(sig, ValueCodeSignature):
        return _verify_value_code(ctx, e, sig)
    if isinstance(sig, IdtSignature):
        return _verify_idt(ctx, sig)
    if isinstance(sig, VersionOsSignature):
        return _verify_version_os(ctx, sig)
    if isinstance(sig, VersionIntroSignature):
        return _verify_version_intro(ctx, sig)
    return _verify_pc(ctx, sig)


def split_groups(ids: tuple[int, ...]) -> list[tuple[int, tuple[int, ...]]]:
    """Consecutive IDs of the same type form one group (spec 03 §9.1)."""
    groups: list[tuple[int, tuple[int, ...]]] = []
    start = 0
    for i in range(1, len(ids) + 1):
        if i == len(ids) or (ids[i] >> 22) != (ids[start] >> 22):
            groups.append(((ids[start] >> 22) & 0x3FF, ids[start:i]))
            start = i
    return groups


@dataclass(slots=True)
class Step3:
    status: str  # "match", "fail", "error"
    reason: Reason
    checks: list[SignatureCheck]
    why: str
    memo: bool = False  # shared by every decision with the same code window (treat as immutable)


def cached_step3(store: ExceptionStore, window_cache: dict[object, Any], v: Violation, e: LoadedException) -> Step3 | None:
    """The memoised step-3 outcome of a codeblocks-only signature list for this violation's code window,
    or None when :func:`step3` must run (not memoisable, or not computed yet). No per-decision state."""
    sigs = e.signatures
    if not store.cb_only.get(sigs) or v.codeblocks:
        return None
    kind = e.kind
    medium = kind is Kind.UM or kind is Kind.UMG
    o = v.originator
    if medium and v.kind is ViolationKind.UM:
        vic = v.victim
        if vic.zone_type == ZoneType.PROCESS and vic.module is not None:
            return None  # the injection-into-module rule may apply: let step3 decide
    env = v.env
    g64 = env.guest_64
    if isinstance(o, KernelOriginator):
        rip = o.return_.rip if e.flags & EF_RETURN_DRV else o.original.rip
        execute = False
        req64 = g64
    else:
        rip = o.rip
        execute = medium and o.execute
        if kind is Kind.KM or kind is Kind.KUM or env.os is GuestOS.LINUX:
            req64 = g64
        else:
            p = o.process
            req64 = g64 and not (p.wow64 if p is not None else False)
    memory = env.memory
    entry = window_cache.get((id(memory), rip, medium, execute, env.decode_64))
    if entry is None or entry[0] is not memory or entry[3] != store.generation:
        return None
    hit: Step3 | None = entry[2].get((sigs, kind, req64))
    return hit


def step3(ctx: Context, e: LoadedException) -> Step3:
    """All groups must pass (AND across types); the first failing group decides the reason."""
    v = ctx.v
    checks: list[SignatureCheck] = []
    if e.kind in (Kind.UM, Kind.UMG) and v.kind is ViolationKind.UM:
        vic = v.victim
        if (
            vic.zone_type == ZoneType.PROCESS
            and vic.module is not None
            and not vic.zone_flags & ZoneFlags.MODULE_LOAD
            and not any((i >> 22) == ST_EXPORT for i in e.signatures)
        ):
            why = f"injection into module {vic.module.name or hex(vic.module.name_hash)} needs an export signature"
            checks.append(SignatureCheck(ST_EXPORT, None, False, why))
            return Step3("fail", Reason.EXPORT_NOT_MATCHED, checks, why)
    if not e.signatures:
        return Step3("match", Reason.ALLOWED, checks, "no signatures")
    store = ctx.store
    sigs = e.signatures
    cb_only = store.cb_only.get(sigs)
    if cb_only is None:
        cb_only = all((i >> 22) & 0x3FF == ST_CODEBLOCKS for i in sigs)
        if len(store.cb_only) > 65536:
            store.cb_only.clear()
        store.cb_only[sigs] = cb_only
    if cb_only:
        # a codeblocks-only list decides the same way for every violation with the same code window,
        # exception kind and 32/64 requirement: memoised per window (the "list passes" tests run once)
        rip = codeblocks_rip(ctx, e)
        if rip != 0:
            medium = e.kind is Kind.UM or e.kind is Kind.UMG
            o = v.originator
            execute = medium and isinstance(o, UserOriginator) and o.execute
            entry = _window_entry(ctx, rip, medium, execute)
            if entry is not None:
                if entry[3] != store.generation:
                    entry[2] = {}
                    entry[3] = store.generation
                memo = entry[2]
                key = (sigs, e.kind, _requires64(ctx, e, ST_CODEBLOCKS))
                hit: Step3 | None = memo.get(key)
                if hit is None:
                    hit = _step3_groups(ctx, e, checks)
                    hit.memo = True
                    memo[key] = hit
                return hit
    return _step3_groups(ctx, e, checks)


def _step3_groups(ctx: Context, e: LoadedException, checks: list[SignatureCheck]) -> Step3:
    whys = []
    memo = ctx.store.group_cache
    groups = memo.get(e.signatures)
    if groups is None:
        groups = split_groups(e.signatures)
        if len(memo) > 65536:
            memo.clear()
        memo[e.signatures] = groups
    for sig_type, ids in groups:
        if sig_type not in SIGNATURE_TYPES:
            why = f"signature ID 0x{ids[0]:08x} has unknown type {sig_type}"
            checks.append(SignatureCheck(sig_type, ids[0], False, why))
            return Step3("error", Reason.INTERNAL_ERROR, checks, why)
        out = run_group(ctx, e, sig_type, ids)
        checks.extend(out.checks)
        if sig_type == ST_VALUE:
            _after_value_group(ctx)
        if out.status == "error":
            return Step3("error", Reason.INTERNAL_ERROR, checks, out.why)
        if out.status == "fail":
            return Step3("fail", FAIL_REASON[sig_type], checks, out.why)
        whys.append(out.why)
    return Step3("match", Reason.ALLOWED, checks, "; ".join(whys))
