"""Violation blocks → the toolkit's violation model (spec 04 §10.0, spec 03 §4.6).

:func:`parse_log` streams a log and yields :class:`LogViolation` objects (a :class:`~hvmiex.violation.Violation`
plus what only the log knows: the verdict line, line numbers, the code-block dumps, export names) and
:class:`~hvmiex.logs.blocks.SkippedBlock` reports. The function never raises for bad log text; it raises
only for I/O errors. Replay (and anything else) can consume the stream lazily.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hvmiex.errors import HvmiexError
from hvmiex.logs.blocks import (
    Emitted,
    LogSource,
    LogStats,
    RawBlock,
    SkippedBlock,
    iter_blocks,
    iter_text_blocks,
    open_log,
)
from hvmiex.logs.lines import (
    CodeBlockDump,
    LineError,
    ModuleGroup,
    OriginatorLine,
    ProcessGroup,
    VictimLine,
    base_name,
)
from hvmiex.violation import (
    HASH_HAL,
    HASH_KERNEL,
    NONAME,
    WINDOWS_HAL_IMAGES,
    WINDOWS_KERNEL_IMAGES,
    CodeBlocks,
    CrInfo,
    DriverFrame,
    DriverObjectInfo,
    Environment,
    ExecInfo,
    Export,
    GuestMemory,
    GuestOS,
    InitState,
    InjectionInfo,
    IntegrityInfo,
    KernelOriginator,
    KumInjection,
    MemoryRange,
    Module,
    MsrInfo,
    ObjectType,
    Origin,
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
    fast_slots_init,
    hash_user_module,
)

if TYPE_CHECKING:
    from hvmiex.alerts.convert import DecodedViolation


class Mode(enum.Enum):
    """Exception file type a block belongs to (verdict mode, else emitter, else structure)."""

    KERNEL = "kernel"
    USER = "user"
    KERNEL_USER = "kernel-user"

    @property
    def kind(self) -> ViolationKind:
        return {Mode.KERNEL: ViolationKind.KM, Mode.USER: ViolationKind.UM, Mode.KERNEL_USER: ViolationKind.KUM}[
            self
        ]


# ``Enum.X`` is a slow lookup on 3.11 (~0.1 us, dozens per violation): the code below uses these aliases
_OS_LINUX = GuestOS.LINUX
_OS_WINDOWS = GuestOS.WINDOWS
_IS_INITIALIZED = InitState.INITIALIZED
_IS_IN_PROGRESS = InitState.IN_PROGRESS
_IS_NOT_STARTED = InitState.NOT_STARTED
_MODE_KERNEL = Mode.KERNEL
_MODE_KERNEL_USER = Mode.KERNEL_USER
_MODE_USER = Mode.USER
_OT_ACL = ObjectType.ACL
_OT_CR = ObjectType.CR
_OT_DRIVER_OBJECT = ObjectType.DRIVER_OBJECT
_OT_FAST_IO_DISPATCH = ObjectType.FAST_IO_DISPATCH
_OT_GDTR = ObjectType.GDTR
_OT_HAL_HEAP = ObjectType.HAL_HEAP
_OT_HAL_INT_CONTROLLER = ObjectType.HAL_INT_CONTROLLER
_OT_HAL_PERF_COUNTER = ObjectType.HAL_PERF_COUNTER
_OT_IDT = ObjectType.IDT
_OT_IDTR = ObjectType.IDTR
_OT_INTERRUPT_OBJECT = ObjectType.INTERRUPT_OBJECT
_OT_KM_LOGGER_CONTEXT = ObjectType.KM_LOGGER_CONTEXT
_OT_KM_MODULE = ObjectType.KM_MODULE
_OT_NONE = ObjectType.NONE
_OT_PROCESS_CREATION = ObjectType.PROCESS_CREATION
_OT_PROCESS_CREATION_DPI = ObjectType.PROCESS_CREATION_DPI
_OT_SEC_DESC = ObjectType.SEC_DESC
_OT_SELF_MAP_ENTRY = ObjectType.SELF_MAP_ENTRY
_OT_SUD_EXEC = ObjectType.SUD_EXEC
_OT_SUD_INTEGRITY = ObjectType.SUD_INTEGRITY
_OT_TOKEN_PRIVS = ObjectType.TOKEN_PRIVS
_OT_UM_GENERIC_NX_ZONE = ObjectType.UM_GENERIC_NX_ZONE
_OT_UM_MODULE = ObjectType.UM_MODULE
_OT_VDSO = ObjectType.VDSO
_OT_VSYSCALL = ObjectType.VSYSCALL
_VK_KM = ViolationKind.KM
_VK_KUM = ViolationKind.KUM
_VK_UM = ViolationKind.UM
_ZF_EXECUTE = ZoneFlags.EXECUTE
_ZF_INTEGRITY = ZoneFlags.INTEGRITY
_ZF_MODULE_LOAD = ZoneFlags.MODULE_LOAD
_ZF_NONE = ZoneFlags.NONE
_ZF_PROC_INSTRUMENT = ZoneFlags.PROC_INSTRUMENT
_ZF_PROC_THREAD_APC = ZoneFlags.PROC_THREAD_APC
_ZF_PROC_THREAD_CTX = ZoneFlags.PROC_THREAD_CTX
_ZF_READ = ZoneFlags.READ
_ZF_WRITE = ZoneFlags.WRITE
_ZT_CR = ZoneType.CR
_ZT_DTR = ZoneType.DTR
_ZT_EPT = ZoneType.EPT
_ZT_INTEGRITY = ZoneType.INTEGRITY
_ZT_MSR = ZoneType.MSR
_ZT_PC = ZoneType.PC
_ZT_PROCESS = ZoneType.PROCESS


# printed reason keyword -> engine reason name (spec 04 §6, spec 03 §3.8)
REASONS: dict[str, str] = {
    "no exc": "no-exception",
    "no sig": "signature-not-matched",
    "extra": "extra-checks-failed",
    "error": "internal-error",
    "value": "value-not-matched",
    "value code": "value-code-not-matched",
    "export": "export-not-matched",
    "idt": "idt-not-matched",
    "version os": "version-os-not-matched",
    "version intro": "version-intro-not-matched",
    "process creation": "process-creation-not-matched",
    "unknown": "unknown",
}
FEEDBACK = "allowed-feedback"  # a block without a verdict line (§2)


@dataclass(frozen=True, slots=True)
class LogViolation:
    """One violation read from a log, with what only the log knows about it."""

    violation: Violation
    mode: Mode
    source: str
    guest: str | None
    first_line: int
    last_line: int
    reason: str  # engine reason name ("no-exception", ...; "allowed-feedback" without a verdict line)
    reason_text: str | None  # as printed; None without a verdict line
    beta: bool
    verdict_line: int
    codeblocks: CodeBlockDump | None  # dump at the original RIP
    return_codeblocks: CodeBlockDump | None  # dump at the return RIP (kernel, kernel-user)
    exports: tuple[str, ...]  # export names at the victim address (module victims, injections into a DLL)
    delta: int | None
    process: str | None  # display names (already base names)
    originator: str | None
    victim: str | None
    hints: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    serialized: tuple[str, ...] = ()

    @property
    def blocked(self) -> bool:
        return self.reason != FEEDBACK


fast_slots_init(LogViolation)  # one per violation of a log: a cheaper __init__, same behaviour


def decode_serialized(lv: LogViolation) -> list[DecodedViolation]:
    """The block's ``[SERIALIZER]`` alerts decoded through the alert decoder (undecodable ones left out)."""
    from hvmiex.alerts.convert import alert_to_violation
    from hvmiex.alerts.decode import decode_alert
    from hvmiex.alerts.transport import decode_base64

    out: list[DecodedViolation] = []
    for text in lv.serialized:
        try:
            out.append(alert_to_violation(decode_alert(decode_base64(text, lv.source), lv.source), lv.source))
        except HvmiexError:
            continue
    return out


# ---------------------------------------------------------------------------------------------------------
# Streaming entry points


def parse_lines(
    lines: Iterable[str], source: str = "<log>", stats: LogStats | None = None
) -> Iterator[LogViolation | SkippedBlock]:
    """Parse already-read lines (tests, stdin wrappers)."""
    yield from _convert(iter_blocks(iter(lines), source, stats))


def parse_log(
    path: str | Path, stats: LogStats | None = None, progress: Callable[[int], None] | None = None
) -> Iterator[LogViolation | SkippedBlock]:
    """Stream a log file (plain or gzip; ``-`` = stdin) into violations and skipped-block reports.

    ``progress(bytes_read)`` is called now and then with the number of (compressed) bytes consumed.
    """
    log = open_log(path)
    try:
        chunks = log.chunks if progress is None else _ticking(log.chunks, log, progress)
        yield from _convert(iter_text_blocks(chunks, log.name, stats))
        if stats is not None:
            stats.bytes += log.bytes_read
        if progress is not None:
            progress(log.bytes_read)
    finally:
        log.close()


def _ticking(chunks: Iterator[str], log: LogSource, progress: Callable[[int], None]) -> Iterator[str]:
    for chunk in chunks:
        yield chunk
        progress(log.bytes_read)


def _convert(items: Iterator[Emitted]) -> Iterator[LogViolation | SkippedBlock]:
    for item in items:
        if isinstance(item, SkippedBlock):
            yield item
            continue
        try:
            yield block_to_violation(item)
        except LineError as exc:
            yield SkippedBlock(item.source, item.guest, item.first_line, item.first_line, exc.message)


# ---------------------------------------------------------------------------------------------------------
# Block -> violation

_EMITTERS = {
    "exceptions_kern.c": _MODE_KERNEL,
    "exceptions_user.c": _MODE_USER,
    "exceptions_krnusr.c": _MODE_KERNEL_USER,
}
_MODES = {"kernel-mode": _MODE_KERNEL, "user-mode": _MODE_USER, "kernel-user mode": _MODE_KERNEL_USER}
_LINUX_SECTIONS = frozenset({"text", "text_ro", "text_rw", "init", "init_ro", "init_rw", "unknown"})


def block_mode(block: RawBlock) -> Mode:
    if block.verdict is not None and block.verdict.mode is not None:
        return _MODES[block.verdict.mode]
    by_file = _EMITTERS.get(base_name(block.emitter))
    if by_file is not None:
        return by_file
    # structural fall-back (a build that logs one constant file name and no verdict)
    if block.kum_process is not None or (block.originator and block.originator.is_injection is not None):
        return _MODE_KERNEL_USER
    orig = block.originator
    victim = block.victim
    if orig is not None and (orig.form == "process" or (orig.process is not None and not orig.process.linux)):
        return _MODE_USER
    if victim is not None and victim.kind in ("process", "injection", "nx", "vdso-write"):
        return _MODE_USER
    return _MODE_KERNEL


def _is_linux(block: RawBlock) -> bool:
    groups: list[ProcessGroup | None] = [block.kum_injector, block.kum_process]
    orig = block.originator
    if orig is not None:
        groups += [orig.process, orig.parent]
        if orig.section in _LINUX_SECTIONS or orig.symbol is not None:
            return True
    for _, v in block.victims:
        groups += [v.process, v.parent]
        if v.name in ("[vdso]", "[vsyscall]") or v.kind == "vdso-write":
            return True
    for g in groups:  # loops, not any()/all() over generators: this runs for every violation
        if g is not None and g.linux:
            return True
    # Linux kernel module names have no extension and no path (Windows drivers always have both)
    seen = False
    for m in _modules(block):
        n = m.path
        if n is not None:
            if "." in n or "\\" in n:
                return False
            seen = True
    return seen


def _modules(block: RawBlock) -> list[ModuleGroup]:
    out = []
    for line in (block.originator, block.return_):
        if line is not None and line.module is not None:
            out.append(line.module)
    for _, v in block.victims:
        if v.module is not None and v.kind == "module":
            out.append(v.module)
    return out


def _guest_64(block: RawBlock, linux: bool) -> bool:
    """64-bit guest: some printed address is wider than 8 digits (or nothing printed one)."""
    if linux:
        return True
    # the first wide address decides (most blocks: the originator module's base)
    seen = False
    for line in (block.originator, block.return_):
        if line is not None:
            if line.module is not None and line.module.base_digits:
                if line.module.base_digits > 8:
                    return True
                seen = True
            if line.rip_digits:
                if line.rip_digits > 8:
                    return True
                seen = True
            for g in (line.process, line.parent):
                if g is not None:
                    if g.digits > 8:
                        return True
                    seen = True
    for g in (block.kum_injector, block.kum_process):
        if g is not None:
            if g.digits > 8:
                return True
            seen = True
    for _, v in block.victims:
        if v.module is not None and v.module.base_digits:
            if v.module.base_digits > 8:
                return True
            seen = True
        if v.addr_digits:
            if v.addr_digits > 8:
                return True
            seen = True
        if v.process is not None:
            if v.process.digits > 8:
                return True
            seen = True
    return not seen


def _le(value: int, size: int) -> bytes:
    return (value & ((1 << 64) - 1)).to_bytes(8, "little")[: max(0, min(size, 8))]


def _process(group: ProcessGroup | None, os: GuestOS, parent: ProcessGroup | None = None) -> Process | None:
    if group is None:
        return None
    path_name = None
    if group.linux:
        path_name = base_name(group.image) if group.image and group.image != "(null)" else group.comm
    return Process(  # positional (field order of Process): one per violation or two, keywords cost
        group.name,
        group.hash,
        os,
        group.wow64,
        group.system,
        group.pid,
        group.eprocess,
        parent.eprocess if parent is not None else 0,
        group.cr3,
        group.image if group.linux and group.image != "(null)" else None,
        path_name,
        group.cli,
        False,
        None,
        group.peb32,
        group.peb64,
    )


def _kernel_hash(module: ModuleGroup, linux: bool, substitute: bool = True) -> int:
    """Runtime hash of a printed kernel module: the log prints the raw CRC; kernel/HAL are substituted (§9.2)."""
    name = module.name or ""
    if substitute:
        if linux:
            if name == "kernel":
                return HASH_KERNEL
        else:
            folded = name.lower()
            if folded in WINDOWS_KERNEL_IMAGES:
                return HASH_KERNEL
            if folded in WINDOWS_HAL_IMAGES:
                return HASH_HAL
    return module.hash if module.hash is not None else NONAME


def _frame(line: OriginatorLine | None, linux: bool, substitute: bool = True) -> DriverFrame:
    if line is None:
        return DriverFrame.none()
    module = line.module
    rip = line.rip or 0
    if module is None or module.path is None:
        return DriverFrame.none(rip)
    return DriverFrame(  # positional (name_hash, rip, driver, name, section, base, size, path): keywords cost
        _kernel_hash(module, linux, substitute),
        rip,
        True,
        module.name,
        line.section,
        module.base or 0,
        module.image_size,
        module.path,
        core_base=module.base if linux else None,
    )


def _user_module(group: ModuleGroup | None) -> Module | None:
    if group is None or group.path is None:
        return None
    return Module(group.name, group.hash if group.hash is not None else NONAME, group.base or 0, group.image_size,
                  group.path)  # fmt: skip


def _with_export(module: Module | None, address: int, victim: VictimLine) -> Module | None:
    if module is None or victim.delta is None:
        return module
    rva = address - module.base - victim.delta
    export = Export.of(rva, *victim.exports)
    return Module(module.name, module.name_hash, module.base, module.size, module.path, True, (export,))


def _access(victim: VictimLine) -> tuple[WriteInfo | None, ReadInfo | None, ZoneFlags]:
    acc = victim.access
    if acc is None:
        return None, None, _ZF_NONE
    if acc.kind == "read":
        size = acc.size or 0
        return None, ReadInfo(_le(acc.old, size), size), _ZF_READ
    if acc.chunks:
        size = acc.size if acc.size is not None else 8 * len(acc.chunks)
        old = b"".join(_le(o, 8) for o, _ in acc.chunks)[:size]
        new = b"".join(_le(n, 8) for _, n in acc.chunks)[:size]
        return WriteInfo(old, new, size), None, _ZF_WRITE
    size = acc.size if acc.size is not None else 8
    return WriteInfo(_le(acc.old, size), _le(acc.new, size), size), None, _ZF_WRITE


def _memory(block: RawBlock) -> GuestMemory:
    ranges = []
    for d in block.buffers:  # a loop, not a generator: one per violation
        if d.complete and d.size:
            ranges.append(MemoryRange(d.gva, bytes(d.data)))
    return GuestMemory(tuple(ranges))


def _codeblocks(dumps: Iterable[CodeBlockDump | None]) -> tuple[CodeBlocks, ...]:
    first, second = dumps if isinstance(dumps, tuple) and len(dumps) == 2 else (None, None)
    if second is None and first is not None:  # the usual block: one dump (at the original RIP)
        return (CodeBlocks(first.rip, tuple(sorted(first.hashes))),)
    seen: set[int] = set()
    out = []
    for dump in dumps:
        if dump is not None and dump.rip not in seen:
            seen.add(dump.rip)
            out.append(CodeBlocks(dump.rip, tuple(sorted(dump.hashes))))
    return tuple(out)


_CALLER_FLAGS = (
    ("[THREAD HIJACK]", _ZF_PROC_THREAD_CTX),
    ("[APC HIJACKING]", _ZF_PROC_THREAD_APC),
    ("[INSTRUMENTATION]", _ZF_PROC_INSTRUMENT),
    ("[MODULE] Suspicious DLL", _ZF_MODULE_LOAD),
)


def block_to_violation(block: RawBlock) -> LogViolation:
    """Map one block to a :class:`LogViolation`; raises :class:`LineError` when the lines do not fit."""
    mode = block_mode(block)
    linux = _is_linux(block)
    os = _OS_LINUX if linux else _OS_WINDOWS
    guest_64 = _guest_64(block, linux)
    env = Environment(os, guest_64, memory=_memory(block))
    orig = block.originator
    victim_line = block.victim
    display_process: str | None = None
    display_victim: str | None = None
    display_orig: str | None = None
    exports: tuple[str, ...] = ()
    delta: int | None = None
    ret_dump: CodeBlockDump | None = None
    originator: UserOriginator | KernelOriginator

    if mode is _MODE_USER:
        if orig is None or victim_line is None:
            raise LineError("a user-mode block needs an originator and a victim line")
        oproc = _process(orig.process, os, orig.parent)
        secondary = [v for _, v in block.victims[1:] if v.kind == "module"]
        ret_line = block.return_
        ret = UserReturn()
        if ret_line is not None and ret_line.module is not None:
            rlib = _user_module(ret_line.module)
            ret = UserReturn(
                name_hash=ret_line.module.hash if ret_line.module.hash is not None else NONAME,
                rip=ret_line.rip or 0,
                name=ret_line.module.name,
                library=rlib,
            )
        if orig.form == "module":
            mod = orig.module
            lib = _user_module(mod)
            originator = UserOriginator(
                name_hash=mod.hash if mod is not None and mod.hash is not None else NONAME,
                name=lib.name if lib else None,
                name_wide=lib is not None,
                library=lib,
                rip=orig.rip or 0,
                return_=ret,
                process=oproc,
            )
            display_orig = lib.name if lib else "-"
        else:
            assert orig.process is not None
            execute = orig.rip is not None or (orig.pc_type is not None and False)
            if orig.rip is not None:  # executions: the originator is nameless (§9.4)
                originator = UserOriginator(
                    name_hash=NONAME, rip=orig.rip, return_=ret, execute=True, process=oproc
                )
                display_orig = "-"
            else:
                originator = UserOriginator(
                    name_hash=orig.process.hash,
                    name=orig.process.name,
                    rip=orig.va or 0,
                    return_=ret,
                    pc_type=PcType(orig.pc_mask or 0),
                    execute=execute,
                    process=oproc,
                )
                display_orig = orig.process.name
        v = victim_line
        if v.kind == "module":
            if v.module is None and v.name in ("[vdso]", "[vsyscall]"):
                raise LineError("a user-mode vDSO victim needs a process victim line")
            module = _with_export(_user_module(v.module), v.gva or 0, v)
            write, read, access = _access(v)
            zone = ZoneFlags(v.zone_flags) if v.zone_flags is not None else access
            victim = Victim(  # positional: the most common victim, keywords cost
                _ZT_EPT,
                zone,
                _OT_UM_MODULE,
                module.name_hash if module else NONAME,  # name_hash
                module.name if module else None,  # name
                True,  # name_wide
                module.base if module else 0,  # base_address
                v.gva or 0,
                v.gpa or 0,
                write,
                read,
                module=module,
                process=oproc,
            )
            display_victim = module.name if module else "-"
            display_process = oproc.name if oproc else None
            exports, delta = v.exports, v.delta
        elif v.kind in ("injection", "process", "nx", "vdso-write"):
            assert v.process is not None
            vproc = _process(v.process, os, v.parent)
            assert vproc is not None
            if v.init is not None:
                state = (
                    _IS_INITIALIZED
                    if v.init[1]
                    else _IS_IN_PROGRESS
                    if v.init[0]
                    else _IS_NOT_STARTED
                )
                vproc = Process(
                    vproc.name, vproc.name_hash, vproc.os, vproc.wow64, vproc.system_process, vproc.pid,
                    vproc.address, vproc.parent_address, vproc.cr3, vproc.path, vproc.path_name,
                    vproc.command_line, vproc.one_time_done, vproc.apphelp, vproc.peb32_address,
                    vproc.peb64_address, state,
                )  # fmt: skip
            display_victim = vproc.name
            if orig.pc_type is not None:
                mask = orig.pc_mask or 0
                victim = Victim(
                    zone_type=_ZT_PC,
                    zone_flags=_ZF_EXECUTE,
                    object_type=_OT_PROCESS_CREATION_DPI if mask else _OT_PROCESS_CREATION,
                    name_hash=vproc.name_hash,
                    name=vproc.name,
                    base_address=vproc.cr3,
                    process=vproc,
                )
            elif v.kind == "injection":
                zone = _ZF_WRITE
                for hint in block.hints:
                    if "IsRead: yes" in hint or hint.startswith("[WINPROCESS] Suspicious read"):
                        zone = _ZF_READ
                    for tag, bit in _CALLER_FLAGS:
                        if hint.startswith(tag):
                            zone |= bit
                dll = None
                for s in secondary:
                    dll = _with_export(_user_module(s.module), v.gva or 0, s)
                    exports, delta = s.exports, s.delta
                if zone & _ZF_MODULE_LOAD:
                    # double agent: the originator is the loaded DLL itself (spec 03 §4.4)
                    dll_name = _quoted_dll(block.hints)
                    if dll_name is not None:
                        lib = Module(base_name(dll_name), hash_user_module(dll_name), orig.va or 0, path=dll_name)
                        originator = UserOriginator(
                            name_hash=lib.name_hash,
                            name=lib.name,
                            name_wide=True,
                            library=lib,
                            rip=orig.va or 0,
                            process=oproc,
                        )
                        display_orig = lib.name
                victim = Victim(
                    zone_type=_ZT_PROCESS,
                    zone_flags=zone,
                    object_type=_OT_NONE,
                    name_hash=vproc.name_hash,
                    name=vproc.name,
                    base_address=vproc.cr3,
                    gva=v.gva or 0,
                    injection=InjectionInfo(v.length or 0),
                    module=dll,
                    process=vproc,
                )
            elif v.kind == "nx":
                victim = Victim(
                    zone_type=_ZT_EPT,
                    zone_flags=_ZF_EXECUTE,
                    object_type=_OT_UM_GENERIC_NX_ZONE,
                    name_hash=vproc.name_hash,
                    name=vproc.name,
                    gva=v.gva or 0,
                    gpa=v.gpa or 0,
                    process=vproc,
                    exec_info=ExecInfo(
                        int(v.get("sp") or 0), int(v.get("stack_base") or 0), int(v.get("stack_limit") or 0)
                    ),
                )
                display_process = vproc.name
                display_victim = "*"
            elif v.kind == "vdso-write":
                write, _, _ = _access(v)
                victim = Victim(
                    zone_type=_ZT_EPT,
                    zone_flags=_ZF_WRITE,
                    object_type=_OT_VDSO if v.name == "[vdso]" else _OT_VSYSCALL,
                    name_hash=HASH_KERNEL if v.name == "[vdso]" else HASH_HAL,
                    name=v.name,
                    gva=v.gva or 0,
                    gpa=v.gpa or 0,
                    write=write,
                    process=vproc,
                )
                originator = UserOriginator(name_hash=NONAME, rip=orig.rip or 0, process=oproc)
                display_process, display_victim, display_orig = vproc.name, v.name, "-"
            else:  # a bare process line: SharedUserData execution (user)
                victim = Victim(
                    zone_type=_ZT_EPT,
                    zone_flags=_ZF_EXECUTE,
                    object_type=_OT_SUD_EXEC,
                    name_hash=vproc.name_hash,
                    name=vproc.name,
                    process=vproc,
                )
                display_process = vproc.name
                display_victim = "*"
        else:
            raise LineError(f"line {block.victims[0][0]}: victim kind {v.kind!r} does not belong to a user-mode block")
        kind = _VK_UM
        cb = _original_dump(block, orig.rip)
    elif mode is _MODE_KERNEL_USER:
        if orig is None or victim_line is None or victim_line.kind != "module":
            raise LineError("a kernel-user block needs an originator line and a module victim line")
        inj = orig.is_injection
        original = _frame(orig, linux)
        ret_frame = _frame(block.return_, linux, substitute=inj != "kernel") if block.return_ else original
        injector = _process(block.kum_injector, os)
        originator_k = KernelOriginator(
            original=original,
            return_=ret_frame,
            injection=KumInjection(user=inj == "user", kernel=inj == "kernel"),
            process=injector,
        )
        vproc = _process(block.kum_process, os)
        v = victim_line
        module = _with_export(_user_module(v.module), v.gva or 0, v)
        write, read, access = _access(v)
        victim = Victim(
            zone_type=_ZT_EPT,
            zone_flags=ZoneFlags(v.zone_flags) if v.zone_flags is not None else access,
            object_type=_OT_UM_MODULE,
            name_hash=module.name_hash if module else NONAME,
            name=module.name if module else None,
            name_wide=True,
            base_address=module.base if module else 0,
            gva=v.gva or 0,
            gpa=v.gpa or 0,
            write=write,
            read=read,
            module=module,
            process=vproc,
        )
        originator = originator_k
        kind = _VK_KUM
        exports, delta = v.exports, v.delta
        display_process = vproc.name if vproc else None
        display_victim = module.name if module else "-"
        if inj == "user" and injector is not None:
            display_orig = injector.name
        elif inj == "kernel" and block.return_ is not None:
            display_orig = _display_kernel(ret_frame)
        else:
            display_orig = _display_kernel(original)
        cb = _original_dump(block, orig.rip)
        ret_dump = block.dump_for(block.return_.rip) if block.return_ else None
    else:
        victim, originator, display_victim = _kernel_victim(block, linux, guest_64)
        kind = _VK_KM
        display_orig = _display_kernel(originator.original) if orig is not None else "-"
        cb = _original_dump(block, orig.rip) if orig is not None else None
        ret_dump = block.dump_for(block.return_.rip) if block.return_ else None

    violation = Violation(kind, victim, originator, env, _codeblocks((cb, ret_dump)), Origin(block.source, block.first_line))
    verdict = block.verdict
    if verdict is None:
        reason, text, beta = FEEDBACK, None, False
    else:
        text = verdict.reason
        reason = REASONS.get(text, text if text.isdigit() else "unknown")
        beta = verdict.beta
    return LogViolation(  # positional, in field order (one per violation: keywords cost)
        violation,
        mode,
        block.source,
        block.guest,
        block.first_line,
        block.last_line,
        reason,
        text,
        beta,
        block.verdict_line,
        cb,
        ret_dump,
        exports,
        delta,
        display_process,
        display_orig,
        display_victim,
        tuple(block.hints),
        tuple(block.problems),
        tuple(block.serialized),
    )


def _original_dump(block: RawBlock, rip: int | None) -> CodeBlockDump | None:
    """The dump at the original RIP; else this block's own ``RIP`` dump with another marker value (the
    blog's listing pairs a block with such a dump, spec 04 §11.1), noted as a problem."""
    found = block.dump_for(rip)
    if found is not None or rip is None:
        return found
    for dump in block.dumps:
        if dump.marker == "RIP":
            block.problems.append(
                f"line {dump.first_line}: code-block marker RIP {dump.rip:016x} differs from the block's RIP "
                f"{rip:016x}; used anyway"
            )
            return dump
    return None


def _quoted_dll(hints: Iterable[str]) -> str | None:
    for hint in hints:
        if hint.startswith("[MODULE] Suspicious DLL '"):
            start = len("[MODULE] Suspicious DLL '")
            end = hint.find("'", start)
            if end > start:
                return hint[start:end]
    return None


def _display_kernel(frame: DriverFrame) -> str:
    if not frame.driver:
        return "-"
    if frame.name_hash == HASH_KERNEL:
        return "[kernel]"
    if frame.name_hash == HASH_HAL:
        return "[hal]"
    return frame.name or "-"


_SIMPLE_KM = {
    "hal-ic": (_OT_HAL_INT_CONTROLLER, _ZF_WRITE, HASH_HAL),
    "hal-heap": (_OT_HAL_HEAP, _ZF_EXECUTE, HASH_HAL),
    "sud-exec": (_OT_SUD_EXEC, _ZF_EXECUTE, 0),
}


def _kernel_victim(block: RawBlock, linux: bool, guest_64: bool) -> tuple[Victim, KernelOriginator, str | None]:
    orig = block.originator
    v = block.victim
    integrity_kind = v is not None and (
        v.integrity or v.kind in ("security-descriptor", "acl-edit", "sud-modification", "interrupt-obj")
    )
    original = _frame(orig, linux)
    ret = _frame(block.return_, linux) if block.return_ is not None else original
    originator = KernelOriginator(original=original, return_=ret, is_integrity=bool(integrity_kind))
    if v is None:
        # Linux IDTR/GDTR: no victim line at all (spec 04 §5.3); the log cannot tell which register
        if not linux:
            raise LineError("a Windows kernel-mode block without a victim line")
        return (
            Victim(_ZT_DTR, _ZF_WRITE, _OT_IDTR),
            originator,
            None,
        )
    write, read, access = _access(v)
    zone_type = _ZT_INTEGRITY if integrity_kind else _ZT_EPT
    integrity_bit = _ZF_INTEGRITY if integrity_kind else _ZF_NONE
    if v.kind == "module":
        if v.module is None:  # Linux [vdso] / [vsyscall] without a module object
            obj = _OT_VDSO if v.name == "[vdso]" else _OT_VSYSCALL
            zone = ZoneFlags(v.zone_flags) if v.zone_flags is not None else access or _ZF_EXECUTE
            return (
                Victim(_ZT_EPT, zone, obj, 0, v.name, gva=v.gva or 0, gpa=v.gpa or 0, write=write, read=read),
                originator,
                "*",
            )
        module = v.module
        name_hash = _kernel_hash(module, linux)
        zone = ZoneFlags(v.zone_flags) if v.zone_flags is not None else access if access else _ZF_EXECUTE
        victim = Victim(
            zone_type=_ZT_EPT,
            zone_flags=zone,
            object_type=_OT_KM_MODULE,
            name_hash=name_hash,
            name=module.name,
            name_wide=not linux,
            base_address=module.base or 0,
            gva=v.gva or 0,
            gpa=v.gpa or 0,
            write=write,
            read=read,
        )
        return victim, originator, _display_kernel(DriverFrame(name_hash, 0, True, module.name))
    if v.kind == "msr":
        base = v.module.base if v.module is not None and v.module.base is not None else 0
        return (
            Victim(
                _ZT_MSR, _ZF_WRITE, _OT_NONE, write=write, msr=MsrInfo(v.index or 0, base)
            ),
            originator,
            None,
        )
    if v.kind == "cr":
        old = v.access.old if v.access else 0
        new = v.access.new if v.access else 0
        smep = bool(old & 0x100000 and not new & 0x100000)
        smap = bool(old & 0x200000 and not new & 0x200000)
        return (
            Victim(_ZT_CR, _ZF_WRITE, _OT_CR, write=write, cr=CrInfo(v.index or 4, smap, smep)),
            originator,
            None,
        )
    if v.kind == "idt":
        entry = v.index or 0
        base = int(v.get("idt_base") or 0)
        address = int(v.get("entry_address") or 0)
        zt = _ZT_INTEGRITY if v.integrity else _ZT_EPT
        integ = IntegrityInfo(start=base, offset=entry * (16 if guest_64 else 8)) if v.integrity else None
        return (
            Victim(
                zt,
                _ZF_WRITE | (_ZF_INTEGRITY if v.integrity else _ZF_NONE),
                _OT_IDT,
                base_address=base,
                gva=address,
                write=write,
                integrity=integ,
            ),
            KernelOriginator(original=original, return_=ret, is_integrity=v.integrity),
            None,
        )
    if v.kind == "dtr":
        width = 8 if guest_64 else 4
        acc = v.access
        lold = int(v.get("limit_old") or 0)
        lnew = int(v.get("limit_new") or 0)
        old_b = (acc.old if acc else 0).to_bytes(8, "little")[:width] + lold.to_bytes(2, "little")
        new_b = (acc.new if acc else 0).to_bytes(8, "little")[:width] + lnew.to_bytes(2, "little")
        obj = _OT_GDTR if v.name == "GDTR" else _OT_IDTR
        return (
            Victim(_ZT_DTR, _ZF_WRITE, obj, write=WriteInfo(old_b, new_b, width + 2)),
            originator,
            None,
        )
    if v.kind in ("drvobj", "fastio"):
        obj = _OT_DRIVER_OBJECT if v.kind == "drvobj" else _OT_FAST_IO_DISPATCH
        fio = v.get("fastio_table")
        return (
            Victim(
                zone_type,
                _ZF_WRITE | integrity_bit,
                obj,
                name_hash=v.name_hash if v.name_hash is not None else NONAME,
                name=v.name,
                name_wide=True,
                base_address=v.gva or 0,
                write=write,
                driver_object=DriverObjectInfo(
                    v.gpa or 0, v.gva or 0, v.name, int(fio) if fio is not None else None
                ),
            ),
            originator,
            v.name,
        )
    if v.kind in _SIMPLE_KM:
        obj, access_bit, name_hash = _SIMPLE_KM[v.kind]
        return (
            Victim(
                _ZT_EPT, access_bit, obj, name_hash=name_hash, gva=v.gva or 0, gpa=v.gpa or 0, write=write
            ),
            originator,
            "[hal]" if name_hash == HASH_HAL else None,
        )
    if v.kind == "selfmap":
        return (
            Victim(
                _ZT_EPT,
                _ZF_WRITE,
                _OT_SELF_MAP_ENTRY,
                name_hash=v.name_hash or 0,
                name=v.name,
                gva=v.gva or 0,
                gpa=v.gpa or 0,
                write=write,
            ),
            originator,
            "*",
        )
    if v.kind in ("infinity-hook", "hal-perf-counter"):
        obj = _OT_KM_LOGGER_CONTEXT if v.kind == "infinity-hook" else _OT_HAL_PERF_COUNTER
        integ = None
        if v.integrity:
            integ = IntegrityInfo(start=v.gva or 0, total_length=max(0, (v.gpa or 0) - (v.gva or 0)))
        return (
            Victim(
                _ZT_INTEGRITY if v.integrity else _ZT_EPT,
                _ZF_WRITE | (_ZF_INTEGRITY if v.integrity else _ZF_NONE),
                obj,
                gva=0 if v.integrity else v.gva or 0,
                gpa=0 if v.integrity else v.gpa or 0,
                write=write,
                integrity=integ,
            ),
            KernelOriginator(original=original, return_=ret, is_integrity=v.integrity),
            None,
        )
    if v.kind in ("token-privs", "security-descriptor", "acl-edit", "sud-modification"):
        obj = {
            "token-privs": _OT_TOKEN_PRIVS,
            "security-descriptor": _OT_SEC_DESC,
            "acl-edit": _OT_ACL,
            "sud-modification": _OT_SUD_INTEGRITY,
        }[v.kind]
        integ = None
        if v.kind == "sud-modification":
            integ = IntegrityInfo(start=int(v.get("start") or 0), offset=int(v.get("offset") or 0))
        elif v.integrity:
            integ = IntegrityInfo()
        if orig is None:  # dummy originator: both hashes NONAME (spec 03 §4.3)
            originator = KernelOriginator(is_integrity=bool(v.integrity))
        return (
            Victim(
                zone_type,
                _ZF_WRITE | integrity_bit,
                obj,
                name_hash=v.name_hash or 0,
                name=v.name,
                write=write,
                integrity=integ,
            ),
            originator,
            v.name,
        )
    if v.kind == "interrupt-obj":
        acc = v.access
        old_b = new_b = b""
        if acc is not None and len(acc.chunks) == 2:
            old_b = _le(acc.chunks[0][0], 8) + _le(acc.chunks[1][0], 8)
            new_b = _le(acc.chunks[0][1], 8) + _le(acc.chunks[1][1], 8)
        return (
            Victim(
                _ZT_INTEGRITY,
                _ZF_WRITE | _ZF_INTEGRITY,
                _OT_INTERRUPT_OBJECT,
                write=WriteInfo(old_b, new_b, 16),
                integrity=IntegrityInfo(start=int(v.get("start") or 0), interrupt_obj_index=v.index or 0),
            ),
            originator,
            None,
        )
    raise LineError(f"line {block.victims[0][0]}: victim kind {v.kind!r} does not belong to a kernel-mode block")
