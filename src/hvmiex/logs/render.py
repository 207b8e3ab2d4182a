"""Violation → introspection-log text, in Introcore's V2 formats (spec 04 §3–§7).

For tests (render → parse → same violation) and benchmarks (realistic logs of any size). Fields the model
does not hold (module flag words, version info, EPROCESS flags) are printed with neutral values.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from hvmiex.logs.lines import CodeBlock, CodeBlockDump
from hvmiex.violation import (
    HASH_HAL,
    HASH_KERNEL,
    NONAME,
    DriverFrame,
    Environment,
    Export,
    GuestMemory,
    GuestOS,
    InjectionInfo,
    KernelOriginator,
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
    hash_kernel_module,
    hash_process,
    hash_user_module,
)

CARETS = "^" * 40
_REASON_TEXT = {
    "no-exception": "no exc",
    "signature-not-matched": "no sig",
    "extra-checks-failed": "extra",
    "internal-error": "error",
    "value-not-matched": "value",
    "value-code-not-matched": "value code",
    "export-not-matched": "export",
    "idt-not-matched": "idt",
    "version-os-not-matched": "version os",
    "version-intro-not-matched": "version intro",
    "process-creation-not-matched": "process creation",
    "unknown": "unknown",
}
_LIB_NAMES = (
    (ZoneFlags.LIB_IMPORTS, "IMPORTS"),
    (ZoneFlags.LIB_EXPORTS, "EXPORTS"),
    (ZoneFlags.LIB_CODE, "CODE"),
    (ZoneFlags.LIB_DATA, "DATA"),
    (ZoneFlags.LIB_RESOURCES, "RSRC"),
)
_MSR_NAMES = {0x174: "SYSENTER_CS", 0x175: "SYSENTER_ESP", 0x176: "SYSENTER_EIP", 0xC0000081: "STAR", 0xC0000082: "LSTAR"}
_PC_NAMES = {
    0: "Normal",
    0x1: "Debug",
    0x2: "Pivoted Stack",
    0x4: "Stolen token",
    0x8: "Heap spray",
    0x10: "Token Privs",
    0x20: "Thread Start",
    0x40: "Security Descriptor",
    0x80: "ACL Edit",
}


@dataclass(frozen=True, slots=True)
class RenderOptions:
    guest: str | None = "0c1f7a2e-5b7d-4e0a-9d3c-6a1b2c3d4e5f"  # domain uuid prefix; None = no prefix
    reason: str | None = "no-exception"  # engine reason name; None = feedback (no verdict line)
    beta: bool = False
    dumps: bool = True  # [DUMPER] rows for env.memory ranges


class _Out:
    __slots__ = ("lines", "prefix")

    def __init__(self, guest: str | None) -> None:
        self.prefix = f"[{guest}] " if guest else ""
        self.lines: list[str] = []

    def add(self, file: str, line: int, message: str) -> None:
        self.lines.append(f"{self.prefix}{file} : {line} {message.rstrip()}")


def _hw(value: int, wide: bool) -> str:
    return f"{value:016x}" if wide else f"{value:08x}"


def _le_int(data: bytes) -> int:
    return int.from_bytes(data[:8].ljust(8, b"\0"), "little")


def _kmod(frame: DriverFrame | None, os: GuestOS, wide: bool) -> str:
    if frame is None or not frame.driver:
        return "(<no name>)"
    name = frame.path or frame.name or "<no name>"
    printed = frame.name_hash
    if os is GuestOS.LINUX:
        return f"({name} [0x{printed:08x}], {frame.base:016x})"
    return f"({name.lower()} [0x{printed:08x}], {_hw(frame.base, wide)})"


def _umod(module: Module | None, wide: bool) -> str:
    if module is None:
        return "(<no name>)"
    name = (module.path or module.name or "<no name>").lower()
    return f"({name} [0x{module.name_hash:08x}], {_hw(module.base, wide)}, F{0x8 if wide else 0:x})"


def _proc(p: Process | None, wide: bool, pad: bool = False) -> str:
    if p is None:
        return "((null) [0xffffffff], 0, 0, 0, F0)"
    if p.os is GuestOS.LINUX:
        procname = p.path or "(null)"
        text = (
            f"({procname} '{p.name or ''}' [0x{p.name_hash:08x}], {p.address:016x}, {p.cr3:016x}, "
            f"{0:016x}, {p.pid or 0}/{p.pid or 0}"
        )
    else:
        name = p.name or ""
        if pad:
            name = name.ljust(14)
        text = f"({name} [0x{p.name_hash:08x}], {_hw(p.address, wide)}, {_hw(p.cr3, wide)}, {p.pid or 0}, F100000"
        if p.wow64:
            text += ", WOW64"
        if p.system_process:
            text += ", SYS"
        if p.peb64_address:
            text += f", PEB64: {_hw(p.peb64_address, wide)}"
        if p.peb32_address:
            text += f", PEB32: {_hw(p.peb32_address, wide)}"
    if p.command_line is not None:
        text += f", CLI:`{p.command_line}`"
    return text + ")"


def _flags(zone: ZoneFlags) -> str:
    names = "".join(f" {n}" for bit, n in _LIB_NAMES if zone & bit)
    return f", Flags:{names} (0x{int(zone):x})"


def _access(victim: Victim) -> str:
    if victim.write is not None:
        w = victim.write
        return f", WriteInfo: ({w.access_size}, {_le_int(w.old):016x} -> {_le_int(w.new):016x})"
    if victim.read is not None:
        r = victim.read
        return f", ReadInfo: ({r.size}, {_le_int(r.value):016x})"
    return ""


def _exports(module: Module | None, address: int) -> str:
    if module is None or not module.exports:
        return ""
    export = module.exports[0]
    delta = address - module.base - export.rva
    names = ",".join(f"'{n}'" for n in export.names)
    return f", Exports ({len(export.names)}) : [{names}], Delta: +{delta:02x}, "


def render_codeblocks(dump: CodeBlockDump, out: _Out | None = None) -> list[str]:
    """``[CODEBLOCKS]`` lines of a dump: 8 entries per line, the marker before entry ``rip_index``."""
    target = out or _Out(None)
    items: list[str] = []
    for i, (h, off, pivot) in enumerate(zip(dump.hashes, dump.offsets, dump.pivots, strict=True)):
        if i == dump.rip_index:
            items.append(f"({dump.marker.rjust(7)}->0x{dump.rip:016x})")
        items.append(f"0x{h:08x} (0x{off:03x}, {pivot.rjust(9)})")
    if dump.rip_index >= len(dump.hashes):
        items.append(f"({dump.marker.rjust(7)}->0x{dump.rip:016x})")
    lines: list[list[str]] = [[]]
    count = 0
    for item in items:
        if count == 8 and not item.startswith("("):
            lines.append([])
            count = 0
        lines[-1].append(item)
        if not item.startswith("("):
            count += 1
    start = len(target.lines)
    for i, chunk in enumerate(lines):
        target.add("codeblocks.c", 1288 if i == len(lines) - 1 else 1226, "[CODEBLOCKS] " + ", ".join(chunk))
    return target.lines[start:]


def synthetic_dump(rip: int, hashes: Sequence[int], marker: str = "RIP") -> CodeBlockDump:
    """A dump for precomputed hashes whose order is unknown: offsets spread over the window, marker mid-way."""
    n = len(hashes)
    base = (rip & 0xFFF) - 4 * (n // 2)
    blocks = tuple(
        CodeBlock(h, max(0, min(0xFFF, base + 4 * i)), "CALL" if i % 2 == 0 else "JMP") for i, h in enumerate(hashes)
    )
    return CodeBlockDump.of(marker, rip, blocks, n // 2)


def _dumper(out: _Out, gva: int, data: bytes) -> None:
    out.add("dumper.c", 109, f"[DUMPER] Dumping buffer from GVA {gva:016x} with size {len(data)}")
    for off in range(0, len(data), 16):
        row = data[off : off + 16]
        hexes = " ".join(f"{b:02x}" for b in row) + " 78" * (16 - len(row))
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in row) + "x" * (16 - len(row))
        out.add("dumper.c", 198, f"{gva + off:016x}: {hexes} {text}")


def render_violation(
    v: Violation,
    options: RenderOptions | None = None,
    codeblocks: CodeBlockDump | None = None,
    return_codeblocks: CodeBlockDump | None = None,
) -> list[str]:
    """The log lines Introcore (V2) prints for ``v``."""
    opts = options or RenderOptions()
    out = _Out(opts.guest)
    wide = v.env.guest_64
    linux = v.env.os is GuestOS.LINUX
    hints: list[str] = []
    if v.kind is ViolationKind.UM:
        hints = _render_user(out, v, wide, linux)
        category, mode_text, file, vline = "MALWARE", "user-mode", "exceptions_user.c", 449 if linux else 1364
    elif v.kind is ViolationKind.KUM:
        _render_kum(out, v, wide)
        category, mode_text, file, vline = "ROOTKIT", "kernel-user mode", "exceptions_krnusr.c", 394
    else:
        _render_kernel(out, v, wide, linux)
        category, mode_text, file, vline = "ROOTKIT", "kernel-mode", "exceptions_kern.c", 1215 if linux else 2012
    if opts.reason is not None:
        reason = _REASON_TEXT.get(opts.reason, opts.reason)
        beta = "(B) " if opts.beta else ""
        out.add(file, vline, f"{CARETS} {beta}{category} ({mode_text}) ({reason}) {CARETS}")
    for hint in hints:
        out.add("winprocess.c", 100, hint)
    dumps: list[CodeBlockDump] = []
    for dump in (codeblocks, return_codeblocks):
        if dump is not None:
            dumps.append(dump)
    if not dumps:
        for i, cb in enumerate(v.codeblocks):
            dumps.append(synthetic_dump(cb.rip, cb.hashes, "RIP" if i == 0 else "Ret RIP"))
    for dump in dumps:
        render_codeblocks(dump, out)
    if opts.dumps:
        for rng in v.env.memory.ranges:
            _dumper(out, rng.gva, rng.data)
    return out.lines


def _render_kernel(out: _Out, v: Violation, wide: bool, linux: bool) -> None:
    o = v.originator
    assert isinstance(o, KernelOriginator)
    vic = v.victim
    os = v.env.os
    file = "exceptions_kern.c"
    hw = 16 if (wide or linux) else 8
    if vic.object_type in (ObjectType.TOKEN_PRIVS, ObjectType.SEC_DESC, ObjectType.ACL, ObjectType.SUD_INTEGRITY) and (
        vic.zone_type is ZoneType.INTEGRITY and not o.original.driver
    ):
        pass  # no originator line for these integrity kinds (spec 04 §4.1)
    elif vic.zone_type is ZoneType.INTEGRITY:
        out.add(file, 1414, f"Originator-> Module: {_kmod(o.original, os, wide)}")
    else:
        section = f" ({o.original.section})" if o.original.section else ""
        out.add(
            file,
            874 if linux else 1488,
            f"Originator-> Module: {_kmod(o.original, os, wide)}, RIP {o.original.rip:0{hw}x}{section}, "
            "Instr: <generic>",
        )
        if o.return_.rip != o.original.rip or o.return_.name_hash != o.original.name_hash:
            rsec = f"({o.return_.section})" if o.return_.section else ""
            out.add(
                file, 1534, f"Return    -> Module: {_kmod(o.return_, os, wide)}, RIP {o.return_.rip:0{hw}x}{rsec}"
            )
    text = _kernel_victim_text(v, wide, linux)
    if text is not None:
        out.add(file, 1629, "Victim    -> " + text)


def _kernel_victim_text(v: Violation, wide: bool, linux: bool) -> str | None:
    vic = v.victim
    obj = vic.object_type
    integrity = vic.zone_type is ZoneType.INTEGRITY
    w = vic.write
    old = _le_int(w.old) if w else 0
    new = _le_int(w.new) if w else 0
    if obj is ObjectType.KM_MODULE:
        frame = DriverFrame(vic.name_hash, 0, True, vic.name, base=vic.base_address)
        if vic.name_hash == HASH_KERNEL:
            frame = DriverFrame(vic.name_hash, 0, True, "kernel" if linux else "ntoskrnl.exe", base=vic.base_address)
        elif vic.name_hash == HASH_HAL:
            frame = DriverFrame(vic.name_hash, 0, True, "hal.dll", base=vic.base_address)
        text = f"Module: {_kmod(frame, v.env.os, wide)}, "
        if linux:
            text += f"Address: ({vic.gva:x}, {vic.gpa:x})" + _access(vic) + _flags(vic.zone_flags)
            return text
        text += f"Address: ({_hw(vic.gva, wide)}, {_hw(vic.gpa, wide)})"
        if vic.write is None and vic.read is None:
            return text
        return text + _access(vic) + _flags(vic.zone_flags)
    if obj in (ObjectType.VDSO, ObjectType.VSYSCALL):
        lib = "[vdso]" if obj is ObjectType.VDSO else "[vsyscall]"
        return f"Module: {lib}, Address: ({vic.gva:x}, {vic.gpa:x})" + _access(vic) + _flags(vic.zone_flags)
    if vic.zone_type is ZoneType.MSR and vic.msr is not None:
        name = _MSR_NAMES.get(vic.msr.index)
        label = f", {name}" if name else ""
        return f"Msr: : ({vic.msr.index:08x}{label}), WriteInfo: ({old:016x} -> {new:016x})"
    if vic.zone_type is ZoneType.CR and vic.cr is not None:
        # upstream quirk: the single-bit labels are swapped (spec 04 §5.3)
        label = ""
        if vic.cr.smap_cleared and vic.cr.smep_cleared:
            label = ", (SMAP, SMEP)"
        elif vic.cr.smap_cleared:
            label = ", (SMEP)"
        elif vic.cr.smep_cleared:
            label = ", (SMAP)"
        size = w.access_size if w else 8
        return f"Cr{vic.cr.index}{label}, WriteInfo: ({size}, {old:016x} -> {new:016x})"
    if obj is ObjectType.IDT:
        entry_size = 16 if wide else 8
        entry = (vic.integrity.offset // entry_size) if integrity and vic.integrity else 0
        if not integrity:
            entry = (vic.gva - vic.base_address) // entry_size if vic.gva >= vic.base_address else 0
        size = w.access_size if w else 8
        pairs = []
        for i in range(max(1, (size + 7) // 8)):
            o_ = w.old_qword(i) if w else 0
            n_ = w.new_qword(i) if w else 0
            pairs.append(f"{o_:016x} -> 0x{n_:016x}")
        src = "INTEGRITY" if integrity else "EPT"
        address = vic.gva if not integrity else vic.base_address + entry * entry_size
        return (
            f"Idt:  (IDT Base Address: {vic.base_address:x}, IDT Entry modified: {entry} (0x{address:016x}) ({src}), "
            f"WriteInfo: ({size}, {', '.join(pairs)})"
        )
    if vic.zone_type is ZoneType.DTR:
        if linux:
            return None  # the Linux printer has no DTR case (spec 04 §5.3)
        width = 8 if wide else 4
        wo = w.old if w else b""
        wn = w.new if w else b""
        bo = int.from_bytes(wo[:width], "little")
        bn = int.from_bytes(wn[:width], "little")
        lo = int.from_bytes(wo[width : width + 2], "little")
        ln = int.from_bytes(wn[width : width + 2], "little")
        kind = "GDTR" if obj is ObjectType.GDTR else "IDTR"
        return f"Dtr: ({kind}), WriteInfo: ({bo:016x} -> {bn:016x}), DtrLimit: ({lo:04x} -> {ln:04x})"
    if obj in (ObjectType.DRIVER_OBJECT, ObjectType.FAST_IO_DISPATCH):
        d = vic.driver_object
        label = "DrvObj" if obj is ObjectType.DRIVER_OBJECT else "FastIo"
        name = (d.name if d else vic.name) or "<no name>"
        gpa = d.gpa if d else 0
        fio = f", {_hw(d.fast_io, wide)}" if d is not None and d.fast_io is not None else ""
        text = f"{label}: ({name} [0x{vic.name_hash:08x}], {_hw(vic.base_address, wide)}, {gpa:x}{fio})"
        text += f", WriteInfo: ({w.access_size if w else 8}, {old:016x} -> {new:016x})"
        return text + (", INTEGRITY" if integrity else "")
    if obj is ObjectType.HAL_INT_CONTROLLER:
        return (
            f"Hal interrupt controller: ({_hw(vic.gva, wide)}, {_hw(vic.gpa, wide)}), "
            f"WriteInfo: ({w.access_size if w else 8}, {old:016x} -> {new:016x})"
        )
    if obj is ObjectType.HAL_HEAP:
        return f"Hal heap execute: ({_hw(vic.gva, wide)}, {_hw(vic.gpa, wide)})"
    if obj is ObjectType.SUD_EXEC:
        return f"SharedUserData execute: ({_hw(vic.gva, wide)}, {_hw(vic.gpa, wide)})"
    if obj is ObjectType.SELF_MAP_ENTRY:
        return (
            f"Self map entry: {vic.name or ''} [0x{vic.name_hash:08x}] ({vic.gva:016x}, {vic.gpa:016x}), "
            f"WriteInfo: ({w.access_size if w else 8}, {old:016x} -> {new:016x}), Index: {0:08x}"
        )
    if obj in (ObjectType.KM_LOGGER_CONTEXT, ObjectType.HAL_PERF_COUNTER):
        label = "Circular Kernel Context Logger" if obj is ObjectType.KM_LOGGER_CONTEXT else "HalPerformanceCounter"
        if integrity and vic.integrity is not None:
            a, b = vic.integrity.start, vic.integrity.start + vic.integrity.total_length
        else:
            a, b = vic.gva, vic.gpa
        tail = ", INTEGRITY" if integrity else ", EPT"
        return f"{label} ({a:016x}, {b:016x}), WriteInfo: ({w.access_size if w else 8}, {old:016x} -> {new:016x}){tail}"
    ref = f"({vic.name or ''} [0x{vic.name_hash:08x}] 0)"
    if obj is ObjectType.TOKEN_PRIVS:
        if integrity:
            return (
                f"Token privileges {ref}, WriteInfo: (Present: 0x{old:016x}, Enabled: 0x{0:016x} -> "
                f"Present: 0x{new:016x}, Enabled: 0x{0:016x}), INTEGRITY"
            )
        return f"Token privileges {ref}, WriteInfo: ({w.access_size if w else 8}, {old:016x} -> {new:016x}), EPT"
    acls = " ".join(
        f"{which} {acl} AclSize:0x0, AceCount:0x0, AclRevision:0x0"
        for which, acl in (("Old", "SACL"), ("New", "SACL"), ("Old", "DACL"), ("New", "DACL"))
    )
    if obj is ObjectType.SEC_DESC:
        return (
            f"Security descriptor pointer was modified for process {ref}, WriteInfo: (NewSdSize:0, "
            f"0x{old:016x} -> 0x{new:016x}) New SD Hash:0x0 {acls}"
        )
    if obj is ObjectType.ACL:
        return f"ACL edited for process {ref} NewSdSize:0 New SD Hash:0x0 {acls}"
    if obj is ObjectType.SUD_INTEGRITY:
        g = vic.integrity
        return (
            f"SharedUserData ({vic.name or ''} [0x{vic.name_hash:08x}] 0x{g.start if g else 0:016x} + "
            f"0x{g.offset if g else 0:08x}), WriteInfo: (0x{old:016x} -> 0x{new:016x} 0x{w.access_size if w else 8:08x})"
        )
    if obj is ObjectType.INTERRUPT_OBJECT:
        g = vic.integrity
        return (
            f"Interrupt Object (0x{g.start if g else 0:016x}, entry {g.interrupt_obj_index if g else 0}) "
            f"DispatchAddress: (0x{w.old_qword(0) if w else 0:016x} -> 0x{w.new_qword(0) if w else 0:016x}), "
            f"ServiceRoutine: (0x{w.old_qword(1) if w else 0:016x} -> 0x{w.new_qword(1) if w else 0:016x})"
        )
    return None


def _render_user(out: _Out, v: Violation, wide: bool, linux: bool) -> list[str]:
    """Lines for a user-mode block; returns the caller lines that follow the verdict (spec 04 §7.5)."""
    o = v.originator
    assert isinstance(o, UserOriginator)
    vic = v.victim
    file = "exceptions_user.c"
    aw = 16 if (wide or linux) else 8
    if vic.object_type is ObjectType.UM_MODULE:
        proc = f", Process: {_proc(o.process, wide)}" if o.process is not None else ""
        out.add(
            file,
            943,
            f"Originator-> Module: {_umod(o.library, wide)}, RIP {o.rip:0{aw}x}{proc}, Instr: <unknown>",
        )
        if o.return_.name_hash not in (0, NONAME) or o.return_.library is not None:
            out.add(file, 1000, f"Return    -> Module: {_umod(o.return_.library, wide)}, RIP {o.return_.rip:0{aw}x}")
        text = (
            f"Module: {_umod(vic.module, wide)}{_exports(vic.module, vic.gva)}"
            f", Address: ({_hw(vic.gva, wide)}, {_hw(vic.gpa, wide)})"
            + _access(vic)
            + _flags(vic.zone_flags)
        )
        out.add(file, 1278, "Victim    -> " + text)
        return []
    if vic.zone_type is ZoneType.PC:
        out.add(
            file,
            891,
            f"Originator-> Process: {_proc(o.process, wide, True)}, Type: {_PC_NAMES.get(int(o.pc_type), '<Unknown>')} "
            f"(0x{int(o.pc_type):08x})",
        )
        out.add(file, 1146, f"Victim    -> Process: {_proc(vic.process, wide, True)}")
        return []
    if vic.object_type in (ObjectType.UM_GENERIC_NX_ZONE, ObjectType.SUD_EXEC):
        out.add(file, 826, f"Originator-> Process: {_proc(o.process, wide, True)}, RIP: {o.rip:0{aw}x}")
        if o.return_.name_hash not in (0, NONAME) or o.return_.library is not None:
            out.add(file, 1000, f"Return    -> Module: {_umod(o.return_.library, wide)}, RIP {o.return_.rip:0{aw}x}")
        if vic.object_type is ObjectType.SUD_EXEC:
            out.add(file, 1024, f"Victim    -> Process: {_proc(vic.process, wide, True)}")
            return []
        x = vic.exec_info
        rsp, base, limit = (x.rsp, x.stack_base, x.stack_limit) if x else (0, 0, 0)
        out.add(
            file,
            1024,
            f"Victim    -> Process: {_proc(vic.process, wide, True)}, ExecInfo: (0x{_hw(vic.gva, wide)}, "
            f"0x{_hw(vic.gpa, wide)}), Stack: (0x{_hw(base, wide)}, 0x{_hw(limit, wide)}), SP = 0x{_hw(rsp, wide)}",
        )
        return []
    if vic.object_type in (ObjectType.VDSO, ObjectType.VSYSCALL):
        lib = "[vdso]" if vic.object_type is ObjectType.VDSO else "[vsyscall]"
        out.add(file, 232, f"Originator-> Process: {_proc(o.process, wide)}, RIP: {o.rip:016x}")
        out.add(
            file,
            323,
            f"Victim    -> Process: {_proc(vic.process, wide)}, Address: ({vic.gva:x}, {vic.gpa:x}), Lib: {lib}"
            + _access(vic),
        )
        return []
    # injections (process zone)
    out.add(file, 232 if linux else 826, f"Originator-> Process: {_proc(o.process, wide, True)}, VA: {o.rip:0{aw}x}")
    length = vic.injection.length if vic.injection else 0
    init = "" if linux else ", Init: (0, 0)"
    out.add(
        file,
        323 if linux else 1024,
        f"Victim    -> Process: {_proc(vic.process, wide, True)}, InjInfo: ({length}, {vic.gva:0{aw}x}){init}",
    )
    if vic.module is not None:
        out.add(file, 1131, f"Victim    -> Module: {_umod(vic.module, wide)}{_exports(vic.module, vic.gva)}")
    hints: list[str] = []
    for bit, tag in (
        (ZoneFlags.PROC_THREAD_CTX, "[THREAD HIJACK] Thread Hijack detected"),
        (ZoneFlags.PROC_THREAD_APC, "[APC HIJACKING] From process"),
        (ZoneFlags.PROC_INSTRUMENT, "[INSTRUMENTATION] From process"),
    ):
        if vic.zone_flags & bit:
            hints.append(tag)
    if vic.zone_flags & ZoneFlags.MODULE_LOAD:
        dll = (o.library.path or o.library.name) if o.library is not None else o.name
        hints.append(f"[MODULE] Suspicious DLL '{dll or ''}' loaded BEFORE kernel32 at 0x{o.rip:016x}")
    if vic.zone_flags & ZoneFlags.READ:
        hints.append("[ALERT] [INJECTION DETECTED] Injection took place, IsRead: yes")
    return hints


def _render_kum(out: _Out, v: Violation, wide: bool) -> None:
    o = v.originator
    assert isinstance(o, KernelOriginator)
    vic = v.victim
    file = "exceptions_krnusr.c"
    inj = "yes (user-mode)" if o.injection.user else "yes (kernel-mode)" if o.injection.kernel else "no"
    section = f" ({o.original.section})" if o.original.section else ""
    out.add(
        file,
        125,
        f"Originator-> Module: {_kmod(o.original, GuestOS.WINDOWS, wide)}, RIP {_hw(o.original.rip, wide)}{section}, "
        f"Instr: <generic>, IsInjection: {inj}",
    )
    if o.return_.rip != o.original.rip or o.return_.name_hash != o.original.name_hash:
        rsec = f"({o.return_.section})" if o.return_.section else ""
        out.add(
            file, 161, f"Return    -> Module: {_kmod(o.return_, GuestOS.WINDOWS, wide)}, RIP {_hw(o.return_.rip, wide)}{rsec}"
        )
    if o.process is not None:
        out.add(file, 183, f"Originator Process:  {_proc(o.process, wide)}")
    out.add(file, 196, f"Process:             {_proc(vic.process, wide)}")
    text = (
        f"Module: {_umod(vic.module, wide)}{_exports(vic.module, vic.gva)}"
        f", Address: ({_hw(vic.gva, wide)}, {_hw(vic.gpa, wide)})" + _access(vic) + _flags(vic.zone_flags)
    )
    out.add(file, 319, "Victim    -> " + text)


def render_log(violations: Sequence[Violation], options: RenderOptions | None = None) -> Iterator[str]:
    """Lines of a whole log for ``violations`` (one block each)."""
    for v in violations:
        yield from render_violation(v, options)


# ---------------------------------------------------------------------------------------------------------
# Realistic synthetic logs (benchmarks, property tests)

_DRIVERS = ("acmefilt.sys", "ndis.sys", "tcpip.sys", "fltmgr.sys", "vendor av.sys", "wdf01000.sys", "disk.sys")
_DLLS = ("ntdll.dll", "kernel32.dll", "kernelbase.dll", "user32.dll", "chrome_elf.dll", "msvcrt.dll")
_PROCS = ("chrome.exe", "firefox.exe", "svchost.exe", "explorer.exe", "winword.exe", "lsass.exe", "powershell.exe")
_EXPORTS = ("CreateFileA", "NtClose", "NtCreateFile", "LoadLibraryW", "VirtualProtect", "RtlCopyMemory")
_PIVOTS = ("CALL", "JMP", "MOV MEM")


def sample_violation(rng: random.Random, guest_64: bool = True) -> tuple[Violation, RenderOptions, CodeBlockDump | None]:
    """One plausible violation with its code-block dump, drawn from ``rng`` (deterministic per seed)."""
    wide = guest_64
    kind = rng.choice(("um-module", "um-module", "injection", "km-module", "km-module", "kum", "nx"))
    reason = rng.choice(("no-exception", "no-exception", "signature-not-matched", "export-not-matched", None))
    proc_name = rng.choice(_PROCS)
    proc = Process(
        name=proc_name,
        name_hash=hash_process(proc_name),
        pid=rng.randrange(4, 40000, 4),
        address=0xFFFFDF0F40000000 + rng.randrange(1 << 24) * 0x80 if wide else 0x85000000 + rng.randrange(1 << 20),
        cr3=rng.randrange(1 << 20) << 12,
        command_line=f'"c:\\program files\\{proc_name}" --type=renderer --id={rng.randrange(1 << 30)}',
    )
    rip = (0x00007FF800000000 if wide else 0x77000000) + rng.randrange(1 << 24)
    if kind.startswith("km") or kind == "kum":
        rip = (0xFFFFF80260000000 if wide else 0x82000000) + rng.randrange(1 << 24)
    size = rng.choice((1, 2, 4, 8))
    write = WriteInfo(rng.randbytes(size), rng.randbytes(size), size)
    page = rip & ~0xFFF
    window = min(max(0, (rip & 0xFFF) - 0x250), 0xB60)
    memory = GuestMemory((MemoryRange(page + window, rng.randbytes(0x49F)),))
    n = rng.randrange(9, 90)
    offsets = sorted(rng.sample(range(window, window + 0x49F), n))
    blocks = [CodeBlock(rng.getrandbits(32), off, rng.choice(_PIVOTS)) for off in offsets]
    r = next((i for i, b in enumerate(blocks) if b.offset >= (rip & 0xFFF)), n - 1)
    dump: CodeBlockDump | None = CodeBlockDump.of("RIP", rip, blocks, r)
    env = Environment(os=GuestOS.WINDOWS, guest_64=guest_64, memory=memory)
    dll_name = rng.choice(_DLLS)
    dll_base = (0x00007FF900000000 if wide else 0x76000000) + (rng.randrange(1 << 12) << 16)
    gva = dll_base + rng.randrange(0x1000, 0x80000)
    export = Export.of(gva - dll_base - rng.randrange(0, 0x20), rng.choice(_EXPORTS))
    dll = Module(
        dll_name,
        hash_user_module(dll_name),
        dll_base,
        path=f"\\windows\\system32\\{dll_name}",
        exports=(export,) if rng.random() < 0.5 else (),
    )
    zone = ZoneFlags.WRITE | rng.choice((ZoneFlags.LIB_CODE, ZoneFlags.LIB_DATA, ZoneFlags.LIB_IMPORTS))
    module_victim = Victim(
        ZoneType.EPT, zone, ObjectType.UM_MODULE, dll.name_hash, dll.name, True, dll.base, gva, gva & 0xFFFFFFFFF,
        write=write, module=dll, process=proc,
    )  # fmt: skip
    v: Violation
    if kind == "um-module":
        lib_name = rng.choice(_DLLS)
        lib = Module(lib_name, hash_user_module(lib_name), rip & ~0xFFFFF, path=f"\\windows\\system32\\{lib_name}")
        v = Violation(ViolationKind.UM, module_victim, UserOriginator(lib.name_hash, lib.name, True, lib, rip, process=proc), env)
    elif kind == "injection":
        victim_name = rng.choice(_PROCS)
        victim_proc = Process(
            name=victim_name, name_hash=hash_process(victim_name), pid=rng.randrange(4, 40000, 4),
            address=proc.address + 0x1000, cr3=rng.randrange(1 << 20) << 12,
        )  # fmt: skip
        length = rng.choice((8, 16, 64, 512))
        src = 0x20000 + rng.randrange(1 << 16) * 16
        victim = Victim(
            ZoneType.PROCESS, ZoneFlags.WRITE, ObjectType.NONE, victim_proc.name_hash, victim_proc.name,
            base_address=victim_proc.cr3, gva=gva, injection=InjectionInfo(length),
            module=dll if dll.exports else None, process=victim_proc,
        )  # fmt: skip
        inj_env = Environment(GuestOS.WINDOWS, guest_64, memory=GuestMemory((MemoryRange(src, rng.randbytes(length)),)))
        v = Violation(ViolationKind.UM, victim, UserOriginator(proc.name_hash, proc.name, False, None, src, process=proc), inj_env)
        dump = None
    elif kind == "nx":
        victim = Victim(
            ZoneType.EPT, ZoneFlags.EXECUTE, ObjectType.UM_GENERIC_NX_ZONE, proc.name_hash, proc.name,
            gva=rip, gpa=rip & 0xFFFFFFFF, process=proc,
        )  # fmt: skip
        v = Violation(ViolationKind.UM, victim, UserOriginator(rip=rip, execute=True, process=proc), env)
        dump = CodeBlockDump.of("RIP", rip, blocks, 0)
    else:
        drv = rng.choice(_DRIVERS)
        frame = DriverFrame(
            hash_kernel_module(drv), rip, True, drv, ".text", rip & ~0xFFFFF, path=f"\\systemroot\\system32\\drivers\\{drv}"
        )
        if kind == "kum":
            v = Violation(ViolationKind.KUM, module_victim, KernelOriginator(frame, frame), env)
        else:
            victim_drv = rng.choice(_DRIVERS)
            base = (0xFFFFF80270000000 if wide else 0x88000000) + (rng.randrange(1 << 8) << 20)
            victim = Victim(
                ZoneType.EPT, zone, ObjectType.KM_MODULE, hash_kernel_module(victim_drv), victim_drv, True, base,
                base + 0x1000, 0x1000, write=write,
            )  # fmt: skip
            v = Violation(ViolationKind.KM, victim, KernelOriginator(frame, frame), env)
    return v, RenderOptions(reason=reason), dump


_NOISE = (
    "winprocess.c : 1201 [INFO] Process 'chrome.exe' (1234) terminated",
    "guests.c : 410 [WARNING] Could not read the PEB of process 1234",
    "hvmidomainhandler.cpp : 88 something unrelated to violations",
)


def synthetic_log(seed: int = 0, guests: int = 3, noise: float = 0.2) -> Iterator[str]:
    """An endless realistic log: violation blocks of several guests interleaved by block, plus noise lines."""
    rng = random.Random(seed)
    uuids = [f"{rng.getrandbits(32):08x}-5b7d-4e0a-9d3c-{rng.getrandbits(48):012x}" for _ in range(guests)]
    while True:
        guest = rng.choice(uuids)
        v, opts, dump = sample_violation(rng, rng.random() < 0.9)
        yield from render_violation(v, RenderOptions(guest, opts.reason), dump)
        if rng.random() < noise:
            yield f"[{guest}] {rng.choice(_NOISE)}"
