"""Line grammar of the introspection log (spec 04 §1–§9): the envelope and one parser per line kind.

Everything here works on one already-decoded line and returns plain frozen records; grouping lines into
violation blocks is :mod:`hvmiex.logs.blocks`, turning a block into the violation model is
:mod:`hvmiex.logs.parse`. Parsers raise :class:`LineError` (a :class:`~hvmiex.errors.HvmiexError`) when a
line of a known kind does not follow its grammar; the block grouper turns that into a skipped block.
"""

from __future__ import annotations

import enum
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import NamedTuple

from hvmiex.errors import HvmiexError
from hvmiex.violation import fast_slots_init


class LineError(HvmiexError):
    """A line of a known kind that does not follow its grammar (the message says where and why)."""


class Kind(enum.Enum):
    """What a log line is, by its message text (never by the emitting file name, spec 04 §1.1)."""

    ORIGINATOR = "originator"
    RETURN = "return"
    KUM_INJECTOR = "kum-injector"  # "Originator Process:  "
    KUM_PROCESS = "kum-process"  # "Process:             "
    VICTIM = "victim"
    VERDICT = "verdict"
    STACK_TRACE = "stack-trace"
    CODEBLOCKS = "codeblocks"
    DUMPER = "dumper"
    DUMPER_ROW = "dumper-row"
    DPI = "dpi"
    SERIALIZER = "serializer"
    CALLER = "caller"  # [ALERT] / [THREAD HIJACK] / ... after a block (spec 04 §7.5)
    DIAGNOSTIC = "diagnostic"  # [ERROR] / [WARNING] / [INFO] and the like
    BANNER = "banner"  # "Exceptions are not loaded" asterisks
    OTHER = "other"  # enveloped line of no known kind
    NO_ENVELOPE = "no-envelope"  # not an Introcore line at all


# ---------------------------------------------------------------------------------------------------------
# Envelope (spec 04 §1.3)


class Envelope(NamedTuple):  # a tuple: built for every line, so as cheap as possible
    guest: str | None  # the [<domain uuid>] prefix, if any
    file: str  # emitter file token as printed (may be a path or compiler_depend.ts)
    source_line: int
    message: str


# Envelope.__new__ is Python code (a NamedTuple); tuple.__new__ builds the same object without that frame
_new_tuple = tuple.__new__


# the common shape "[<guest>] <file> : <digits> ": guest without "[", "]" or space, file without space or ":",
# so its " : " is the line's first one and the general search below would give the same four fields
_ENVELOPE_RE = re.compile(r"\[([^\[\] ]*)\] ([^ :]+) : ([0-9]+)(?: |\Z)")


def split_envelope(line: str) -> Envelope | None:
    """Split ``[<uuid>] <file> : <line> <message>``; ``None`` when the line has no envelope."""
    m = _ENVELOPE_RE.match(line)
    if m is not None:
        guest, file, number = m.groups()
        return _new_tuple(Envelope, (guest, file, int(number), line[m.end() :]))
    pos = line.find(" : ")
    while pos > 0:
        start = line.rfind(" ", 0, pos) + 1
        end = pos + 3
        stop = line.find(" ", end)
        if stop < 0:
            stop = len(line)
        number = line[end:stop]
        if number.isdigit() and number.isascii() and start < pos:
            guest = None
            if start >= 3 and line[start - 2] == "]":
                open_ = line.rfind("[", 0, start - 2)
                if open_ >= 0:
                    guest = line[open_ + 1 : start - 2]
            return _new_tuple(Envelope, (guest, line[start:pos], int(number), line[stop + 1 :]))
        pos = line.find(" : ", pos + 3)
    return None


_CALLER_TAGS = (
    "[ALERT]",
    "[WINPROCESS]",
    "[THREAD HIJACK]",
    "[APC HIJACKING]",
    "[INSTRUMENTATION]",
    "[MODULE]",
)
_HEX = frozenset("0123456789abcdef")


# ``Kind.X`` is a slow lookup on 3.11 enums (~0.1 us); classify runs for every line
_K_BANNER = Kind.BANNER
_K_CALLER = Kind.CALLER
_K_CODEBLOCKS = Kind.CODEBLOCKS
_K_DIAGNOSTIC = Kind.DIAGNOSTIC
_K_DPI = Kind.DPI
_K_DUMPER = Kind.DUMPER
_K_DUMPER_ROW = Kind.DUMPER_ROW
_K_KUM_INJECTOR = Kind.KUM_INJECTOR
_K_KUM_PROCESS = Kind.KUM_PROCESS
_K_ORIGINATOR = Kind.ORIGINATOR
_K_OTHER = Kind.OTHER
_K_RETURN = Kind.RETURN
_K_SERIALIZER = Kind.SERIALIZER
_K_STACK_TRACE = Kind.STACK_TRACE
_K_VERDICT = Kind.VERDICT
_K_VICTIM = Kind.VICTIM


def classify(message: str) -> Kind:
    """The kind of an enveloped message (spec 04 §9.1)."""
    if not message:
        return _K_OTHER
    c = message[0]
    if c == "[":
        if message.startswith("[CODEBLOCKS]"):
            return _K_CODEBLOCKS
        if message.startswith("[DUMPER]"):
            return _K_DUMPER
        if message.startswith("[STACK TRACE]"):
            return _K_STACK_TRACE
        if message.startswith("[DPI]"):
            return _K_DPI
        if message.startswith("[SERIALIZER]"):
            return _K_SERIALIZER
        if message.startswith(_CALLER_TAGS):
            return _K_CALLER
        return _K_DIAGNOSTIC
    if c == "V" and message.startswith("Victim    -> "):
        return _K_VICTIM
    if c == "O":
        if message.startswith("Originator-> "):
            return _K_ORIGINATOR
        if message.startswith("Originator Process:"):
            return _K_KUM_INJECTOR
        return _K_OTHER
    if c == "R" and message.startswith("Return    -> "):
        return _K_RETURN
    if c == "P" and message.startswith("Process:    "):
        return _K_KUM_PROCESS
    if c == "^" and message.startswith("^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^"):
        return _K_VERDICT
    if c == "*":
        return _K_BANNER
    if c in _HEX and len(message) > 18 and message[16] == ":" and message[17] == " ":
        return _K_DUMPER_ROW
    return _K_OTHER


# ---------------------------------------------------------------------------------------------------------
# Field groups (spec 04 §3)


@dataclass(frozen=True, slots=True)
class ModuleGroup:
    """A printed module / driver group (WKMOD, WUMOD, LKMOD); ``path is None`` for ``(<no name>)``."""

    path: str | None
    hash: int | None = None
    base: int | None = None
    base_digits: int = 0  # printed width of the base (8 or 16 on Windows)
    flags: int | None = None  # F<HX> of user modules
    timestamp: int | None = None
    image_size: int | None = None
    iat_rva: int | None = None
    iat_size: int | None = None

    @property
    def name(self) -> str | None:
        """Base name as exceptions compare it (spec 04 §10.2 step 3)."""
        return base_name(self.path) if self.path is not None else None


@dataclass(frozen=True, slots=True)
class ProcessGroup:
    """A printed Windows process (WPROC) or Linux task (LTASK) group."""

    image: str  # Windows image name / Linux path-or-comm as printed
    hash: int
    eprocess: int  # Windows EPROCESS / Linux task_struct
    cr3: int
    pid: int
    linux: bool = False
    comm: str | None = None  # Linux only
    mm: int | None = None  # Linux only
    tgid: int | None = None  # Linux only
    flags: int | None = None  # Windows F<HX>
    wow64: bool = False
    system: bool = False
    peb64: int | None = None
    peb32: int | None = None
    cli: str | None = None
    cli_cut: bool = False  # the command line ran into the end of the line (integrator cap, §1.4)
    digits: int = 16  # printed width of the EPROCESS (8 on 32-bit Windows)

    @property
    def name(self) -> str:
        """The name exceptions compare: the image (Windows) or the comm (Linux)."""
        return self.comm if self.linux and self.comm is not None else self.image


def base_name(path: str) -> str:
    cut = max(path.rfind("\\"), path.rfind("/"))
    return path[cut + 1 :] if cut >= 0 else path


_KMOD_RE = re.compile(
    r"\((?P<name>.*?) *\[0x(?P<hash>[0-9a-f]{8})\], (?P<base>[0-9a-f]+)"
    r"(?:, F(?P<flags>[0-9a-f]+))?"
    r"(?:, VerInfo: (?P<ts>[0-9a-f]+):(?P<size>[0-9a-f]+))?"
    r"(?:, IAT: (?P<iatrva>[0-9a-f]+):(?P<iatsize>[0-9a-f]+))?\)"
)
_KMOD_TAIL_RE = re.compile(_KMOD_RE.pattern.split(" *", 1)[1])  # _KMOD_RE after "(<name> *"
_NONAME = "(<no name>)"


def parse_module(text: str, pos: int) -> tuple[ModuleGroup, int]:
    """Parse a module group starting at ``text[pos] == '('``; returns the group and the end position."""
    if text.startswith(_NONAME, pos):
        return ModuleGroup(None), pos + len(_NONAME)
    # fast path, same result as _KMOD_RE: the lazy name ends where the first "[0x" (less the spaces before
    # it) starts, if the rest matches there; anything else (a name with "[0x" or a newline) takes the regex
    k = text.find("[0x", pos + 1)
    m = _KMOD_TAIL_RE.match(text, k) if k > pos and text.startswith("(", pos) else None
    if m is not None and "\n" not in (name := text[pos + 1 : k].rstrip(" ")):
        hash_, base, flags, ts, size, iat_rva, iat_size = m.groups()  # one call: this runs for every line
    else:
        m = _KMOD_RE.match(text, pos)
        if m is None:
            raise LineError(f"column {pos + 1}: expected a module group '(<name> [0x<hash>], <base>...)'")
        name, hash_, base, flags, ts, size, iat_rva, iat_size = m.groups()
    return (
        ModuleGroup(
            name,
            int(hash_, 16),
            int(base, 16),
            len(base),
            int(flags, 16) if flags is not None else None,
            int(ts, 16) if ts is not None else None,
            int(size, 16) if size is not None else None,
            int(iat_rva, 16) if iat_rva is not None else None,
            int(iat_size, 16) if iat_size is not None else None,
        ),
        m.end(),
    )


_WPROC_RE = re.compile(
    r"\((?P<image>[^\[]*?) *\[0x(?P<hash>[0-9a-f]{8})\], (?P<eproc>[0-9a-f]+), (?P<cr3>[0-9a-f]+), "
    r"(?P<pid>\d+), F(?P<flags>[0-9a-f]+)(?P<wow64>, WOW64)?(?P<sys>, SYS)?"
    r"(?:, PEB64: (?P<peb64>[0-9a-f]+))?(?:, PEB32: (?P<peb32>[0-9a-f]+))?"
)
_WPROC_TAIL_RE = re.compile(_WPROC_RE.pattern.split(" *", 1)[1])  # _WPROC_RE after "(<image> *"
_LTASK_RE = re.compile(
    r"\((?P<proc>.*?) *'(?P<comm>[^']*)' \[0x(?P<hash>[0-9a-f]{8})\], (?P<task>[0-9a-f]+), "
    r"(?P<cr3>[0-9a-f]+), (?P<mm>[0-9a-f]+), (?P<pid>-?\d+)/(?P<tgid>-?\d+)"
)
# labels that can follow a process group on the same line (spec 04 §3.3)
_AFTER_PROCESS = (
    ", VA: ",
    ", RIP: ",
    ", Type: ",
    ", InjInfo: ",
    ", ExecInfo: ",
    ", Parent: ",
    ", Instr: ",
    ", Address: ",
)


def parse_process(text: str, pos: int) -> tuple[ProcessGroup, int]:
    """Parse a WPROC or LTASK group at ``text[pos] == '('``."""
    # fast path, same match as _WPROC_RE: the image holds no "[", so it ends at the first "[" (less spaces)
    k = text.find("[", pos + 1)
    m = _WPROC_TAIL_RE.match(text, k) if k > pos and text.startswith("(", pos) else None
    linux = False
    if m is not None:
        image = text[pos + 1 : k].rstrip(" ")
        hash_, eproc, cr3, pid, flags, wow64, system, peb64, peb32 = m.groups()
    else:
        m = _WPROC_RE.match(text, pos)
        if m is not None:
            image, hash_, eproc, cr3, pid, flags, wow64, system, peb64, peb32 = m.groups()
    if m is None:
        m = _LTASK_RE.match(text, pos)
        linux = True
        if m is None:
            raise LineError(f"column {pos + 1}: expected a process group '(<name> [0x<hash>], ...)'")
    g = m.group
    end = m.end()
    cli: str | None = None
    cut = False
    if text.startswith(", CLI:`", end):
        start = end + 7
        close = _cli_end(text, start)
        if close < 0:
            cli, cut, end = text[start:], True, len(text)
        else:
            cli, end = text[start:close], close + 2
    elif text.startswith(")", end):
        end += 1
    elif end == len(text):
        cut = True
    else:
        raise LineError(f"column {end + 1}: unexpected text after a process group: {text[end:end + 20]!r}")
    if linux:
        return (
            ProcessGroup(
                image=g("proc"),
                hash=int(g("hash"), 16),
                eprocess=int(g("task"), 16),
                cr3=int(g("cr3"), 16),
                pid=int(g("pid")),
                linux=True,
                comm=g("comm"),
                mm=int(g("mm"), 16),
                tgid=int(g("tgid")),
                cli=cli,
                cli_cut=cut,
                digits=len(g("task")),
            ),
            end,
        )
    return (
        ProcessGroup(
            image,
            int(hash_, 16),
            int(eproc, 16),
            int(cr3, 16),
            int(pid),
            False,
            None,
            None,
            None,
            int(flags, 16),
            wow64 is not None,
            system is not None,
            int(peb64, 16) if peb64 is not None else None,
            int(peb32, 16) if peb32 is not None else None,
            cli,
            cut,
            len(eproc),
        ),
        end,
    )


def _cli_end(text: str, start: int) -> int:
    """Index of the back-quote closing a CLI: the first "`)" followed by a known label or the line end."""
    last = -1
    pos = text.find("`)", start)
    while pos >= 0:
        after = pos + 2
        if after == len(text) or text.startswith(_AFTER_PROCESS, after):
            return pos
        last = pos
        pos = text.find("`)", after)
    # V-blog: the unlabelled instruction follows the process group; take the last candidate
    return last


# ---------------------------------------------------------------------------------------------------------
# Originator-side lines (spec 04 §4)


@dataclass(frozen=True, slots=True)
class OriginatorLine:
    """``Originator-> Module:`` / ``Originator-> Process:`` / ``Return    -> Module:`` lines."""

    form: str  # "module" or "process"
    module: ModuleGroup | None = None
    rip: int | None = None  # RIP of a module line, or RIP: of a process line (executions)
    rip_digits: int = 0
    section: str | None = None
    symbol: str | None = None
    instruction: str | None = None
    is_injection: str | None = None  # KUM V2: "user" / "kernel" / "no"
    process: ProcessGroup | None = None
    parent: ProcessGroup | None = None
    va: int | None = None  # process originator: source address of an injection
    pc_type: str | None = None  # process creation: printed DPI kind
    pc_mask: int | None = None


_RIP_RE = re.compile(r", RIP (?P<rip>[0-9a-f]+)(?: ?\((?P<sec>[^)]*)\))?(?: \((?P<sym>[^)]*)\))?")
_PCTYPE_RE = re.compile(r", Type: (?P<type>.*?) \(0x(?P<mask>[0-9a-f]+)\)")
_HEXNUM_RE = re.compile(r"[0-9a-f]+")


def parse_originator(message: str) -> OriginatorLine:
    """Parse an ``Originator-> `` or ``Return    -> `` message."""
    body = 13  # len("Originator-> ") == len("Return    -> ")
    if message.startswith("Module: ", body):
        return _parse_module_originator(message, body + 8)
    if message.startswith("Process: ", body):
        return _parse_process_originator(message, body + 9)
    raise LineError("column 14: expected 'Module: ' or 'Process: ' after the originator label")


def _parse_module_originator(text: str, pos: int) -> OriginatorLine:
    module, pos = parse_module(text, pos)
    rip = section = symbol = instr = inj = None
    digits = 0
    process = parent = None
    m = _RIP_RE.match(text, pos)
    if m is not None:
        rip_text, section, symbol = m.groups()  # rip, sec, sym: one call
        rip, digits = int(rip_text, 16), len(rip_text)
        pos = m.end()
    if text.startswith(", Process: ", pos):
        process, pos = parse_process(text, pos + 11)
        if text.startswith(", Parent: ", pos):
            parent, pos = parse_process(text, pos + 10)
    if text.startswith(", Instr: ", pos):
        stop = text.find(", IsInjection: ", pos)
        if stop < 0:
            instr, pos = text[pos + 9 :], len(text)
        else:
            instr, pos = text[pos + 9 : stop], stop
    elif text.startswith(", ", pos) and process is not None:
        instr, pos = text[pos + 2 :], len(text)  # V-blog: no "Instr: " label
    if text.startswith(", IsInjection: ", pos):
        word = text[pos + 15 :].strip()
        inj = "user" if word.startswith("yes (user") else "kernel" if word.startswith("yes (kernel") else "no"
        pos = len(text)
    if text.startswith(", Process: ", pos):  # Linux: Process after the instruction
        process, pos = parse_process(text, pos + 11)
        if text.startswith(", Parent: ", pos):
            parent, pos = parse_process(text, pos + 10)
    if instr is not None and process is None and ", Process: (" in instr:
        # Linux kernel originator: "Instr: <instr>, Process: <LTASK>[, Parent: <LTASK>]"
        cut = instr.index(", Process: (")
        rest = instr[cut:]
        instr = instr[:cut]
        process, p2 = parse_process(rest, 11)
        if rest.startswith(", Parent: ", p2):
            parent, p2 = parse_process(rest, p2 + 10)
    return OriginatorLine(
        "module", module, rip, digits, section, symbol, instr, inj, process, parent
    )


def _parse_process_originator(text: str, pos: int) -> OriginatorLine:
    process, pos = parse_process(text, pos)
    va = rip = pc_mask = None
    pc_type = None
    digits = 0
    if text.startswith(", VA: ", pos):
        m = _HEXNUM_RE.match(text, pos + 6)
        if m is None:
            raise LineError(f"column {pos + 7}: expected a hex address after 'VA: '")
        va, pos = int(m.group(), 16), m.end()
        digits = len(m.group())
    elif text.startswith(", RIP: ", pos):
        m = _HEXNUM_RE.match(text, pos + 7)
        if m is None:
            raise LineError(f"column {pos + 8}: expected a hex address after 'RIP: '")
        rip, pos = int(m.group(), 16), m.end()
        digits = len(m.group())
    elif text.startswith(", Type: ", pos):
        m = _PCTYPE_RE.match(text, pos)
        if m is None:
            raise LineError(f"column {pos + 3}: expected 'Type: <kind> (0x<mask>)'")
        pc_type, pc_mask, pos = m.group("type"), int(m.group("mask"), 16), m.end()
    parent = None
    if text.startswith(", Parent: ", pos):
        parent, pos = parse_process(text, pos + 10)
    return OriginatorLine(  # positional in field order (keywords cost)
        "process", None, rip, digits, None, None, None, None, process, parent, va, pc_type, pc_mask
    )


def parse_kum_process(message: str) -> ProcessGroup:
    """``Originator Process:  <WPROC>`` or ``Process:             <WPROC>`` (kernel-user, spec 04 §4.5)."""
    pos = message.find("(")
    if pos < 0:
        raise LineError("expected a process group after the kernel-user process label")
    return parse_process(message, pos)[0]


# ---------------------------------------------------------------------------------------------------------
# Victim lines (spec 04 §5)


@dataclass(frozen=True, slots=True)
class Access:
    """An access-info group: ``WriteInfo``, ``ReadInfo`` (spec 04 §5.13)."""

    kind: str  # "write" or "read"
    size: int | None  # None where the form has no size (MSR, DTR)
    old: int = 0  # first 8 bytes, or the read value
    new: int = 0
    chunks: tuple[tuple[int, int], ...] = ()  # IDT: every (old, new) 8-byte pair


@dataclass(frozen=True, slots=True)
class VictimLine:
    """One ``Victim    -> `` line. ``kind`` names the sub-kind; only the fields it prints are set."""

    kind: str
    module: ModuleGroup | None = None  # module / msr target / drvobj owner / vad-less DLL
    process: ProcessGroup | None = None
    parent: ProcessGroup | None = None
    gva: int | None = None
    gpa: int | None = None
    addr_digits: int = 0
    access: Access | None = None
    zone_flags: int | None = None  # complete hex of "Flags: ... (0x...)"
    exports: tuple[str, ...] = ()
    delta: int | None = None
    symbol: str | None = None
    integrity: bool = False
    ept: bool = False
    # kind-specific values
    name: str | None = None  # drvobj/fastio object, token/SD/ACL process, SUD field, vdso/vsyscall, Dtr type
    name_hash: int | None = None
    index: int | None = None  # MSR number, CR number, IDT entry, self-map index, interrupt-object entry, pid
    extra: tuple[tuple[str, int | str], ...] = ()  # everything else the line prints, by label
    init: tuple[int, int] | None = None  # InjInfo victims: (started, finished)
    length: int | None = None  # InjInfo length

    def get(self, label: str) -> int | str | None:
        for key, value in self.extra:
            if key == label:
                return value
        return None


_ADDR_RE = re.compile(r", Address: \((?P<gva>[0-9a-f]+), (?P<gpa>[0-9a-f]+)\)")
_WRITE_RE = re.compile(r", WriteInfo: \((?P<size>\d+), (?P<old>[0-9a-f]+) -> (?P<new>[0-9a-f]+)\)")
_READ_RE = re.compile(r", ReadInfo: \((?P<size>\d+), (?P<val>[0-9a-f]+)\)")
_FLAGS_RE = re.compile(r", Flags:(?P<names>(?: (?:IMPORTS|EXPORTS|CODE|DATA|RSRC))*) \(0x(?P<zone>[0-9a-f]+)\)")
_EXPORTS_RE = re.compile(
    r", Exports \((?P<n>\d+)\) : \[(?P<names>(?:'[^']*'(?:,'[^']*')*)?)\], Delta: \+(?P<delta>[0-9a-f]+),"
)
# Address, WriteInfo, Flags one after the other (each part matches in one way only, so the joint match is the
# three successive matches of the general path); the names group is made non-capturing
_VMOD_FAST_RE = re.compile(
    _ADDR_RE.pattern + _WRITE_RE.pattern + _FLAGS_RE.pattern.replace("(?P<names>", "(?:")
)
_SYMBOL_RE = re.compile(r", (?P<sym>[^,()][^,]*?)(?=, WriteInfo|, ReadInfo|, Flags|$)")
_INJ_RE = re.compile(
    r", InjInfo: \((?P<len>\d+), (?P<dst>[0-9a-f]+)\)(?:, Init: \((?P<i0>\d+), (?P<i1>\d+)\))?"
)
_EXEC_RE = re.compile(
    r", ExecInfo: \((?:0x)?(?P<gva>[0-9a-f]+), (?:0x)?(?P<gpa>[0-9a-f]+)\), Stack: \(0x(?P<base>[0-9a-f]+), "
    r"0x *(?P<limit>[0-9a-f]+)\), R?SP = 0x(?P<sp>[0-9a-f]+)"
)
_LIB_RE = re.compile(
    r", Address: \((?P<gva>[0-9a-f]+), (?P<gpa>[0-9a-f]+)\), Lib: (?P<lib>\[vdso\]|\[vsyscall\])"
)
_VAD_RE = re.compile(
    r"\[(?P<start>[0-9a-f]+) - (?P<end>[0-9a-f]+)\], Prot: (?P<prot>[0-9a-f]+), VadProt: (?P<vprot>[0-9a-f]+), "
    r"Type: (?P<type>-?\d+), Name: (?P<name>.*)$"
)
_MSR_RE = re.compile(
    r"\((?P<msr>[0-9a-f]+)(?:, (?P<name>[A-Z_]+))?\), WriteInfo: \((?P<old>[0-9a-f]+) -> (?P<new>[0-9a-f]+)\)"
)
_CR_RE = re.compile(
    r"(?P<cr>\d+)(?:, \((?P<label>[A-Z, ]+)\))?, WriteInfo: \((?P<size>\d+), (?P<old>[0-9a-f]+) -> (?P<new>[0-9a-f]+)\)"
)
_IDT_RE = re.compile(
    r"\(IDT Base Address: (?P<base>[0-9a-f]+), IDT Entry modified: (?P<entry>\d+) \(0x(?P<addr>[0-9a-f]+)\) "
    r"\((?P<src>EPT|INTEGRITY)\), WriteInfo: \((?P<size>\d+), (?P<pairs>.*)\)$"
)
_IDT_PAIR_RE = re.compile(r"(?P<old>[0-9a-f]+) -> 0x(?P<new>[0-9a-f]+)")
_DTR_RE = re.compile(
    r"\((?P<type>IDTR|GDTR|Unknown)\), WriteInfo: \((?P<old>[0-9a-f]+) -> (?P<new>[0-9a-f]+)\), "
    r"DtrLimit: \((?P<lold>[0-9a-f]+) -> (?P<lnew>[0-9a-f]+)\)"
)
_DOBJ_RE = re.compile(
    r"\((?P<name>.*?) \[0x(?P<hash>[0-9a-f]{8})\], (?P<gva>[0-9a-f]+), (?P<gpa>[0-9a-f]+)"
    r"(?:, (?P<fio>[0-9a-f]+))?\)"
)
_PAIR_RE = re.compile(r"\((?P<a>[0-9a-f]+), (?P<b>[0-9a-f]+)\)")
_SIZED_WRITE_RE = re.compile(r", WriteInfo: \((?P<size>-?\d+), (?P<old>[0-9a-f]+) -> (?P<new>[0-9a-f]+)\)")
_SELFMAP_RE = re.compile(
    r"(?P<image>.*?) \[0x(?P<hash>[0-9a-f]{8})\] \((?P<gva>[0-9a-f]+), (?P<gpa>[0-9a-f]+)\), "
    r"WriteInfo: \((?P<size>-?\d+), (?P<old>[0-9a-f]+) -> (?P<new>[0-9a-f]+)\), Index: (?P<idx>[0-9a-f]+)"
)
_PROCREF_RE = re.compile(r"\((?P<image>.*?) \[0x(?P<hash>[0-9a-f]{8})\] (?P<pid>-?\d+)\)")
_TOKEN_INT_RE = re.compile(
    r", WriteInfo: \(Present: 0x(?P<p0>[0-9a-f]+), Enabled: 0x(?P<e0>[0-9a-f]+) -> "
    r"Present: 0x(?P<p1>[0-9a-f]+), Enabled: 0x(?P<e1>[0-9a-f]+)\), INTEGRITY"
)
_SD_RE = re.compile(
    r", WriteInfo: \(NewSdSize:(?P<size>-?\d+), 0x(?P<old>[0-9a-f]+) -> 0x(?P<new>[0-9a-f]+)\) "
    r"New SD Hash:0x(?P<hash>[0-9a-f]+)(?P<acls>.*)$"
)
_ACL_RE = re.compile(r" NewSdSize:(?P<size>-?\d+) New SD Hash:0x(?P<hash>[0-9a-f]+)(?P<acls>.*)$")
_SUD_RE = re.compile(
    r"\((?P<field>.*?) \[0x(?P<hash>[0-9a-f]{8})\] 0x(?P<start>[0-9a-f]+) \+ 0x(?P<off>[0-9a-f]+)\), "
    r"WriteInfo: \(0x(?P<old>[0-9a-f]+) -> 0x(?P<new>[0-9a-f]+) 0x(?P<size>[0-9a-f]+)\)"
)
_INTOBJ_RE = re.compile(
    r"\(0x(?P<start>[0-9a-f]+), entry (?P<entry>-?\d+)\) DispatchAddress: \(0x(?P<d0>[0-9a-f]+) -> "
    r"0x(?P<d1>[0-9a-f]+)\), ServiceRoutine: \(0x(?P<s0>[0-9a-f]+) -> 0x(?P<s1>[0-9a-f]+)\)"
)


def _write(m: re.Match[str]) -> Access:
    return Access("write", int(m.group("size")), int(m.group("old"), 16), int(m.group("new"), 16))


def _tail_access_flags(text: str, pos: int) -> tuple[Access | None, int | None, str | None, int]:
    """Optional symbol, ``WriteInfo``/``ReadInfo`` and ``Flags`` after an address group."""
    symbol = None
    access: Access | None = None
    zone = None
    if not text.startswith((", WriteInfo", ", ReadInfo", ", Flags"), pos) and text.startswith(", ", pos):
        m = _SYMBOL_RE.match(text, pos)
        if m is not None:
            symbol, pos = m.group("sym"), m.end()
    m = _WRITE_RE.match(text, pos)
    if m is not None:
        size, old, new = m.groups()  # as _write(m), one call
        access, pos = Access("write", int(size), int(old, 16), int(new, 16)), m.end()
    else:
        m = _READ_RE.match(text, pos)
        if m is not None:
            access = Access("read", int(m.group("size")), int(m.group("val"), 16))
            pos = m.end()
    m = _FLAGS_RE.match(text, pos)
    if m is not None:
        zone, pos = int(m.group(2), 16), m.end()  # group 2: zone
    return access, zone, symbol, pos


_SD_LABEL = "Security descriptor pointer was modified for process "
_ACL_LABEL = "ACL edited for process "


def parse_victim(message: str) -> VictimLine:
    """Parse a ``Victim    -> `` message into a :class:`VictimLine`."""
    text = message
    p = 13
    if text.startswith("Module: ", p):
        p += 8
        if text.startswith(("[vdso]", "[vsyscall]"), p):
            lib = "[vdso]" if text.startswith("[vdso]", p) else "[vsyscall]"
            p += len(lib)
            module = None
            kind = "module"
            name: str | None = lib
        else:
            module, p = parse_module(text, p)
            kind, name = "module", None
        exports: tuple[str, ...] = ()
        delta = None
        m = _VMOD_FAST_RE.match(text, p)
        if m is not None:  # the usual tail in one match: same fields as the general path below
            gva_text, gpa_text, size, old, new, zone_text = m.groups()
            return VictimLine(
                kind, module, None, None, int(gva_text, 16), int(gpa_text, 16), len(gva_text),
                Access("write", int(size), int(old, 16), int(new, 16)), int(zone_text, 16), exports, delta,
                None, name=name,
            )
        m = _EXPORTS_RE.match(text, p)
        if m is not None:
            names = m.group("names")
            exports = tuple(x[1:-1] for x in names.split(",")) if names else ()
            delta, p = int(m.group("delta"), 16), m.end()
            if text.startswith(" ", p):
                p += 1
        elif text.startswith(",", p) and p + 1 == len(text):
            p += 1
        m = _ADDR_RE.match(text, p)
        gva = gpa = None
        digits = 0
        access = zone = symbol = None
        if m is not None:
            gva_text, gpa_text = m.groups()
            gva, gpa = int(gva_text, 16), int(gpa_text, 16)
            digits = len(gva_text)
            access, zone, symbol, p = _tail_access_flags(text, m.end())
        elif p != len(text):
            raise LineError(f"column {p + 1}: expected ', Address: (<gva>, <gpa>)' after the module group")
        return VictimLine(  # positional in field order (the most common victim line; keywords cost)
            kind, module, None, None, gva, gpa, digits, access, zone, exports, delta, symbol, name=name
        )
    if text.startswith("Process: ", p):
        process, p = parse_process(text, p + 9)
        extra: list[tuple[str, int | str]] = []
        length = None
        init = None
        gva = gpa = None
        access = None
        kind = "process"
        digits = 0
        name = None
        m = _INJ_RE.match(text, p)
        if m is not None:
            kind = "injection"
            len_text, dst, i0, i1 = m.groups()
            length, gva = int(len_text), int(dst, 16)
            digits = len(dst)
            if i0 is not None:
                init = (int(i0), int(i1))
            p = m.end()
        else:
            m2 = _EXEC_RE.match(text, p)
            if m2 is not None:
                kind = "nx"
                gva_text, gpa_text, base, limit, sp = m2.groups()
                gva, gpa = int(gva_text, 16), int(gpa_text, 16)
                digits = len(gva_text)
                extra += [
                    ("stack_base", int(base, 16)),
                    ("stack_limit", int(limit, 16)),
                    ("sp", int(sp, 16)),
                ]
                p = m2.end()
            else:
                m3 = _LIB_RE.match(text, p)
                if m3 is not None:
                    kind = "vdso-write"
                    gva, gpa, name = int(m3.group("gva"), 16), int(m3.group("gpa"), 16), m3.group("lib")
                    p = m3.end()
                    m4 = _WRITE_RE.match(text, p)
                    if m4 is not None:
                        access, p = _write(m4), m4.end()
        parent = None
        if text.startswith(", Parent: ", p):
            parent, p = parse_process(text, p + 10)
        return VictimLine(  # positional in field order (keywords cost)
            kind, None, process, parent, gva, gpa, digits, access, None, (), None, None, False, False, name,
            None, None, tuple(extra), init, length,
        )
    if text.startswith("VAD: ", p):
        m = _VAD_RE.match(text, p + 5)
        if m is None:
            raise LineError(f"column {p + 6}: malformed VAD victim line")
        return VictimLine(
            "vad",
            name=m.group("name"),
            extra=(
                ("start", int(m.group("start"), 16)),
                ("end", int(m.group("end"), 16)),
                ("prot", int(m.group("prot"), 16)),
                ("vad_prot", int(m.group("vprot"), 16)),
                ("type", int(m.group("type"))),
            ),
        )
    if text.startswith("Msr: : ", p):
        m = _MSR_RE.match(text, p + 7)
        if m is None:
            raise LineError(f"column {p + 8}: malformed MSR victim line")
        module = None
        symbol = None
        q = m.end()
        if text.startswith(", Module: ", q):
            module, q = parse_module(text, q + 10)
            if text.startswith(", ", q):
                symbol = text[q + 2 :]
        return VictimLine(
            "msr",
            module=module,
            index=int(m.group("msr"), 16),
            name=m.group("name"),
            access=Access("write", None, int(m.group("old"), 16), int(m.group("new"), 16)),
            symbol=symbol,
        )
    if text.startswith("Cr", p):
        m = _CR_RE.match(text, p + 2)
        if m is None:
            raise LineError(f"column {p + 3}: malformed CR victim line")
        return VictimLine("cr", index=int(m.group("cr")), name=m.group("label"), access=_write(m))
    if text.startswith("Idt:", p):
        m = _IDT_RE.match(text, p + 6)
        if m is None:
            raise LineError(f"column {p + 7}: malformed IDT victim line")
        pairs = tuple((int(a, 16), int(b, 16)) for a, b in _IDT_PAIR_RE.findall(m.group("pairs")))
        old, new = pairs[0] if pairs else (0, 0)
        return VictimLine(
            "idt",
            index=int(m.group("entry")),
            integrity=m.group("src") == "INTEGRITY",
            ept=m.group("src") == "EPT",
            access=Access("write", int(m.group("size")), old, new, pairs),
            extra=(("idt_base", int(m.group("base"), 16)), ("entry_address", int(m.group("addr"), 16))),
        )
    if text.startswith("Dtr: ", p):
        m = _DTR_RE.match(text, p + 5)
        if m is None:
            raise LineError(f"column {p + 6}: malformed DTR victim line")
        return VictimLine(
            "dtr",
            name=m.group("type"),
            access=Access("write", None, int(m.group("old"), 16), int(m.group("new"), 16)),
            extra=(("limit_old", int(m.group("lold"), 16)), ("limit_new", int(m.group("lnew"), 16))),
        )
    for label, kind in (("DrvObj: ", "drvobj"), ("FastIo: ", "fastio")):
        if text.startswith(label, p):
            return _parse_drvobj(text, p + len(label), kind)
    for label, kind in (
        ("Hal interrupt controller: ", "hal-ic"),
        ("Hal heap execute: ", "hal-heap"),
        ("SharedUserData execute: ", "sud-exec"),
    ):
        if text.startswith(label, p):
            m = _PAIR_RE.match(text, p + len(label))
            if m is None:
                raise LineError(f"column {p + len(label) + 1}: expected '(<gva>, <gpa>)'")
            q = m.end()
            access = None
            m2 = _SIZED_WRITE_RE.match(text, q)
            if m2 is not None:
                access = _write(m2)
            return VictimLine(
                kind,
                gva=int(m.group("a"), 16),
                gpa=int(m.group("b"), 16),
                addr_digits=len(m.group("a")),
                access=access,
            )
    if text.startswith("Self map entry: ", p):
        m = _SELFMAP_RE.match(text, p + 16)
        if m is None:
            raise LineError(f"column {p + 17}: malformed self-map victim line")
        return VictimLine(
            "selfmap",
            name=m.group("image"),
            name_hash=int(m.group("hash"), 16),
            gva=int(m.group("gva"), 16),
            gpa=int(m.group("gpa"), 16),
            addr_digits=16,
            access=_write(m),
            index=int(m.group("idx"), 16),
        )
    for label, kind in (
        ("Circular Kernel Context Logger ", "infinity-hook"),
        ("HalPerformanceCounter ", "hal-perf-counter"),
    ):
        if text.startswith(label, p):
            m = _PAIR_RE.match(text, p + len(label))
            m2 = _SIZED_WRITE_RE.match(text, m.end()) if m is not None else None
            if m is None or m2 is None:
                raise LineError(f"column {p + len(label) + 1}: malformed {kind} victim line")
            integrity = text.endswith(", INTEGRITY")
            return VictimLine(
                kind,
                gva=int(m.group("a"), 16),
                gpa=int(m.group("b"), 16),
                addr_digits=len(m.group("a")),
                access=_write(m2),
                integrity=integrity,
                ept=text.endswith(", EPT"),
            )
    if text.startswith("Token privileges ", p):
        m = _PROCREF_RE.match(text, p + 17)
        if m is None:
            raise LineError(f"column {p + 18}: malformed token-privileges victim line")
        q = m.end()
        m2 = _TOKEN_INT_RE.match(text, q)
        if m2 is not None:
            access = Access("write", 16, int(m2.group("p0"), 16), int(m2.group("p1"), 16))
            extra2: tuple[tuple[str, int | str], ...] = (
                ("enabled_old", int(m2.group("e0"), 16)),
                ("enabled_new", int(m2.group("e1"), 16)),
            )
            integrity = True
        else:
            m3 = _SIZED_WRITE_RE.match(text, q)
            if m3 is None:
                raise LineError(f"column {q + 1}: malformed token-privileges WriteInfo")
            access, extra2, integrity = _write(m3), (), False
        return VictimLine(
            "token-privs",
            name=m.group("image"),
            name_hash=int(m.group("hash"), 16),
            index=int(m.group("pid")),
            access=access,
            integrity=integrity,
            ept=text.endswith(", EPT"),
            extra=extra2,
        )
    if text.startswith(_SD_LABEL, p):
        q = p + len(_SD_LABEL)
        m = _PROCREF_RE.match(text, q)
        m2 = _SD_RE.match(text, m.end()) if m is not None else None
        if m is None or m2 is None:
            raise LineError(f"column {q + 1}: malformed security-descriptor victim line")
        return VictimLine(
            "security-descriptor",
            name=m.group("image"),
            name_hash=int(m.group("hash"), 16),
            index=int(m.group("pid")),
            access=Access("write", 8, int(m2.group("old"), 16), int(m2.group("new"), 16)),
            integrity=True,
            extra=(("new_sd_size", int(m2.group("size"))), ("new_sd_hash", int(m2.group("hash"), 16)), *_acl_fields(m2.group("acls"))),
        )
    if text.startswith(_ACL_LABEL, p):
        q = p + len(_ACL_LABEL)
        m = _PROCREF_RE.match(text, q)
        m2 = _ACL_RE.match(text, m.end()) if m is not None else None
        if m is None or m2 is None:
            raise LineError(f"column {q + 1}: malformed ACL victim line")
        return VictimLine(
            "acl-edit",
            name=m.group("image"),
            name_hash=int(m.group("hash"), 16),
            index=int(m.group("pid")),
            integrity=True,
            extra=(("new_sd_size", int(m2.group("size"))), ("new_sd_hash", int(m2.group("hash"), 16)), *_acl_fields(m2.group("acls"))),
        )
    if text.startswith("SharedUserData (", p):
        m = _SUD_RE.match(text, p + 15)
        if m is None:
            raise LineError(f"column {p + 16}: malformed SharedUserData victim line")
        size = int(m.group("size"), 16)
        return VictimLine(
            "sud-modification",
            name=m.group("field"),
            name_hash=int(m.group("hash"), 16),
            access=Access("write", size, int(m.group("old"), 16), int(m.group("new"), 16)),
            integrity=True,
            extra=(("start", int(m.group("start"), 16)), ("offset", int(m.group("off"), 16))),
        )
    if text.startswith("Interrupt Object ", p):
        m = _INTOBJ_RE.match(text, p + 17)
        if m is None:
            raise LineError(f"column {p + 18}: malformed interrupt-object victim line")
        return VictimLine(
            "interrupt-obj",
            index=int(m.group("entry")),
            integrity=True,
            access=Access(
                "write",
                16,
                int(m.group("d0"), 16),
                int(m.group("d1"), 16),
                ((int(m.group("d0"), 16), int(m.group("d1"), 16)), (int(m.group("s0"), 16), int(m.group("s1"), 16))),
            ),
            extra=(("start", int(m.group("start"), 16)),),
        )
    raise LineError(f"column {p + 1}: unknown victim kind {text[p:p + 24]!r}")


_ACL_FIELD_RE = re.compile(r"(?P<which>Old|New) (?P<acl>SACL|DACL) AclSize:0x(?P<size>[0-9a-f]+), "
                           r"AceCount:0x(?P<count>[0-9a-f]+), AclRevision:0x(?P<rev>[0-9a-f]+)")


def _acl_fields(text: str) -> tuple[tuple[str, int | str], ...]:
    out: list[tuple[str, int | str]] = []
    for m in _ACL_FIELD_RE.finditer(text):
        key = f"{m.group('which').lower()}_{m.group('acl').lower()}"
        out += [
            (f"{key}_size", int(m.group("size"), 16)),
            (f"{key}_count", int(m.group("count"), 16)),
            (f"{key}_revision", int(m.group("rev"), 16)),
        ]
    return tuple(out)


def _parse_drvobj(text: str, p: int, kind: str) -> VictimLine:
    name = None
    name_hash = gva = gpa = None
    extra: tuple[tuple[str, int | str], ...] = ()
    if text.startswith(_NONAME, p):
        q = p + len(_NONAME)
    else:
        m = _DOBJ_RE.match(text, p)
        if m is None:
            raise LineError(f"column {p + 1}: malformed driver-object group")
        name, name_hash = m.group("name"), int(m.group("hash"), 16)
        gva, gpa = int(m.group("gva"), 16), int(m.group("gpa"), 16)
        if m.group("fio") is not None:
            extra = (("fastio_table", int(m.group("fio"), 16)),)
        q = m.end()
    owner = None
    if text.startswith(", Owner: ", q):
        owner, q = parse_module(text, q + 9)
    m2 = _SIZED_WRITE_RE.match(text, q)
    if m2 is None:
        raise LineError(f"column {q + 1}: expected ', WriteInfo: (<size>, <old> -> <new>)'")
    return VictimLine(
        kind,
        module=owner,
        name=name,
        name_hash=name_hash,
        gva=gva,
        gpa=gpa,
        access=_write(m2),
        integrity=text.endswith(", INTEGRITY"),
        extra=extra,
    )


# ---------------------------------------------------------------------------------------------------------
# Verdict (spec 04 §6)


@dataclass(frozen=True, slots=True)
class VerdictLine:
    category: str  # MALWARE / ROOTKIT
    mode: str | None  # kernel-mode / user-mode / kernel-user mode; None in V-blog
    reason: str  # the printed keyword (or a decimal)
    beta: bool


_VERDICT_RE = re.compile(
    r"^\^{40} (?P<beta>\(B\) )?(?P<cat>MALWARE|ROOTKIT)"
    r"(?: \((?P<mode>kernel-mode|user-mode|kernel-user mode)\))? \((?P<reason>[^)]*)\) ?\^{40}$"
)


def parse_verdict(message: str) -> VerdictLine | None:
    """The verdict, or ``None`` for other detectors' caret banners (spec 04 §6)."""
    m = _VERDICT_RE.match(message)
    if m is None:
        return None
    return VerdictLine(m.group("cat"), m.group("mode"), m.group("reason"), m.group("beta") is not None)


# ---------------------------------------------------------------------------------------------------------
# Code blocks (spec 04 §7.2)


class CodeBlock(NamedTuple):
    """One dumped code block (a named tuple: millions of them are made while reading big logs)."""

    hash: int
    offset: int
    pivot: str  # CALL / JMP / MOV MEM / MOV FS/GS / INVALID


@dataclass(frozen=True, slots=True)
class CodeBlockDump:
    """One flattened ``[CODEBLOCKS]`` list with its marker (kept as parallel tuples: cheap to build)."""

    marker: str  # "RIP" or "Ret RIP"
    rip: int
    hashes: tuple[int, ...]
    offsets: tuple[int, ...]
    pivots: tuple[str, ...]
    rip_index: int  # entries before the marker
    first_line: int = 0  # log line numbers of the list
    last_line: int = 0

    @staticmethod
    def of(marker: str, rip: int, blocks: Sequence[CodeBlock], rip_index: int) -> CodeBlockDump:
        return CodeBlockDump(
            marker,
            rip,
            tuple(b.hash for b in blocks),
            tuple(b.offset for b in blocks),
            tuple(b.pivot for b in blocks),
            rip_index,
        )

    @property
    def blocks(self) -> tuple[CodeBlock, ...]:
        return tuple(map(CodeBlock, self.hashes, self.offsets, self.pivots))

    def __len__(self) -> int:
        return len(self.hashes)


@dataclass(slots=True)
class CodeBlockLine:
    hashes: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    pivots: list[str] = field(default_factory=list)
    marker: tuple[str, int, int] | None = None  # (kind, rip, index within this line's entries)


_CB_ITEM_RE = re.compile(
    r"0x(?P<hash>[0-9a-f]{8}) \(0x(?P<off>[0-9a-f]{3,}), +(?P<type>CALL|JMP|MOV MEM|MOV FS/GS|INVALID)\)"
    r"|\( *(?P<kind>RIP|Ret RIP)->0x(?P<rip>[0-9a-f]+)\)"
)


_CB_FAST_RE = re.compile(r"0x([0-9a-f]{8}) \(0x([0-9a-f]{3,}), +(CALL|JMP|MOV MEM|MOV FS/GS|INVALID)\)|\( *(RIP|Ret RIP)->0x([0-9a-f]+)\)")


def parse_codeblocks(message: str) -> CodeBlockLine:
    """Parse one ``[CODEBLOCKS]`` line; unknown items are an error (the block keeps its violation)."""
    # fast path: one findall and bulk conversions in C; accepted only if the items cover the line exactly
    found = _CB_FAST_RE.findall(message, 13)
    if found:
        hashes, offsets, types, kinds, rips = zip(*found, strict=True)
        marker = None
        covered = 13 + 2 * (len(found) - 1)
        if any(kinds):
            at = next(i for i, k in enumerate(kinds) if k)
            marker = ("RIP" if kinds[at] == "RIP" else "Ret RIP", int(rips[at], 16), at)
            covered += 13 + len(rips[at])
            hashes, offsets, types = hashes[:at] + hashes[at + 1 :], offsets[:at] + offsets[at + 1 :], types[:at] + types[at + 1 :]
        covered += 26 * len(hashes) + sum(map(len, offsets))
        if covered == len(message) and all(hashes):
            values = _unpack_be(bytes.fromhex("".join(hashes)))
            return CodeBlockLine(list(values), list(map(int, offsets, repeat(16))), list(types), marker)
    return _parse_codeblocks_strict(message)


# Most lines of a list hold plain entries only (no RIP marker): one split by a regular expression checks and
# cuts such a line (every piece between entries must be empty, every pivot a known one), and the entries stay
# printed text until the grouper converts a whole list at once (:func:`codeblock_dump`).
CB_SPLIT_RE = re.compile(r"0x([0-9a-f]{8}) \(0x([0-9a-f]{3,}), +([A-Z][A-Z /]*[A-Z])\)(?:, |$)")
CB_PIVOTS = frozenset({"CALL", "JMP", "MOV MEM", "MOV FS/GS", "INVALID"})
# The same over several lines' entries at once, each line's text followed by "\n" (no entry can hold a line
# end): groups hash, offset, pivot | marker kind, marker RIP; a split has a stride of 6.
CB_RUN_RE = re.compile(
    r"(?:0x([0-9a-f]{8}) \(0x([0-9a-f]{3,}), +([A-Z][A-Z /]*[A-Z])\)|\( *(RIP|Ret RIP)->0x([0-9a-f]+)\))(?:, |\n)"
)
_PIVOT_NAMES = {name: name for name in CB_PIVOTS}  # one shared string per pivot in the dumps kept in memory
_CB_ITEM_ANY = (
    r"(?:0x[0-9a-f]{8} \(0x[0-9a-f]{3,}, +(?:CALL|JMP|MOV MEM|MOV FS/GS|INVALID)\)|\( *(?:RIP|Ret RIP)->0x[0-9a-f]+\))"
)
_CB_LINE_RE = re.compile(f"{_CB_ITEM_ANY}(?:, {_CB_ITEM_ANY})*")

# (hashes as 8 hex digits, offsets as hex digits, pivots, marker (kind, rip, index within the line) or None)
CbText = tuple[list[str], list[str], list[str], tuple[str, int, int] | None]


def scan_codeblocks(message: str) -> CbText:
    """:func:`parse_codeblocks` with the entries left as printed text; same acceptance, same errors
    (:class:`LineError`), same entries."""
    if "->" not in message:  # no RIP marker: one split (CB_SPLIT_RE)
        parts = CB_SPLIT_RE.split(message[13:])
        if not "".join(parts[::4]) and CB_PIVOTS.issuperset(parts[3::4]):
            return parts[1::4], parts[2::4], parts[3::4], None
    else:  # the line with the marker: one split too (CB_RUN_RE, stride 6); anything else goes on below
        parts = CB_RUN_RE.split(message[13:] + "\n")
        kinds = parts[4::6]
        if not "".join(parts[::6]) and len(kinds) - kinds.count(None) == 1:
            at = next(i for i, k in enumerate(kinds) if k is not None)
            hashes, offsets, pivots = parts[1::6], parts[2::6], parts[3::6]
            del hashes[at], offsets[at], pivots[at]
            if CB_PIVOTS.issuperset(pivots):
                kind = "RIP" if kinds[at] == "RIP" else "Ret RIP"
                return hashes, offsets, pivots, (kind, int(parts[6 * at + 5], 16), at)
    if _CB_LINE_RE.fullmatch(message, 13) is not None:
        found = _CB_FAST_RE.findall(message, 13)
        markers = [i for i, item in enumerate(found) if item[3]]
        if len(markers) == 1:  # the usual line with the RIP marker
            at = markers[0]
            kind, rip = found[at][3:]
            del found[at]
            marker = ("RIP" if kind == "RIP" else "Ret RIP", int(rip, 16), at)
            return [f[0] for f in found], [f[1] for f in found], [f[2] for f in found], marker
    line = parse_codeblocks(message)
    return [f"{h:08x}" for h in line.hashes], [f"{o:x}" for o in line.offsets], line.pivots, line.marker


def codeblock_dump(
    marker: str,
    rip: int,
    hashes: Sequence[str],
    offsets: Sequence[str],
    pivots: Sequence[str],
    rip_index: int,
    first_line: int = 0,
    last_line: int = 0,
) -> CodeBlockDump:
    """Build a :class:`CodeBlockDump` from the printed entries of a whole list, converted in bulk."""
    # offsets: zero-padded to 8 digits they convert in bulk like the hashes (any longer one: one by one)
    joined = "0".join(offsets)
    values: tuple[int, ...] | None = None
    # the usual: every offset 3 digits (total length and longest both say so) -> "0" + each = 2 bytes
    if len(joined) == 4 * len(offsets) - 1 and max(map(len, offsets)) == 3:
        try:
            data = bytes.fromhex("0" + joined)
        except ValueError:
            data = b""
        if len(data) == 2 * len(offsets):
            values = struct.unpack(f">{len(offsets)}H", data)
    if values is None:
        try:
            data = bytes.fromhex("".join(map(str.zfill, offsets, repeat(8))))
        except ValueError:
            data = b""
        # not all plain hex of up to 8 digits: int() decides (same values, same errors)
        values = _unpack_be(data) if len(data) == 4 * len(offsets) else tuple(map(int, offsets, repeat(16)))
    return CodeBlockDump(
        marker,
        rip,
        _unpack_be(bytes.fromhex("".join(hashes))),
        values,
        tuple(map(_PIVOT_NAMES.__getitem__, pivots)),
        rip_index,
        first_line,
        last_line,
    )


def _unpack_be(data: bytes) -> tuple[int, ...]:
    return struct.unpack(f">{len(data) // 4}I", data)


def _parse_codeblocks_strict(message: str) -> CodeBlockLine:
    out = CodeBlockLine()
    pos = 13
    n = len(message)
    while pos < n:
        m = _CB_ITEM_RE.match(message, pos)
        if m is None:
            raise LineError(f"column {pos + 1}: malformed code-block entry {message[pos:pos + 24]!r}")
        kind = m.group("kind")
        if kind is None:
            out.hashes.append(int(m.group("hash"), 16))
            out.offsets.append(int(m.group("off"), 16))
            out.pivots.append(m.group("type"))
        else:
            out.marker = ("RIP" if kind == "RIP" else "Ret RIP", int(m.group("rip"), 16), len(out.hashes))
        pos = m.end()
        if message.startswith(", ", pos):
            pos += 2
        elif pos < n and message[pos:].strip():
            raise LineError(f"column {pos + 1}: expected ', ' between code-block entries")
        else:
            break
    return out


# ---------------------------------------------------------------------------------------------------------
# Dumper (spec 04 §7.3), serializer (§7.6)

_DUMPER_HEADER_RE = re.compile(r"\[DUMPER\] Dumping buffer from GVA (?P<gva>[0-9a-f]+) with size (?P<size>\d+)")


def parse_dumper_header(message: str) -> tuple[int, int] | None:
    m = _DUMPER_HEADER_RE.match(message)
    return (int(m.group("gva"), 16), int(m.group("size"))) if m else None


def parse_dumper_row(message: str) -> tuple[int, bytes] | None:
    """``<H16>: xx xx ... <ascii>``: the row address and its 16 bytes."""
    try:
        address = int(message[:16], 16)
        data = bytes.fromhex(message[18:65])
    except ValueError:
        return None
    return address, data


_SER_START = "[SERIALIZER] Start Serializer ID -> 0x"
_SER_END = "[SERIALIZER] End Serializer ID -> 0x"


def parse_serializer(message: str) -> tuple[str, int | str]:
    """``("start", id)``, ``("end", id)`` or ``("chunk", base64 text)``."""
    if message.startswith(_SER_START):
        return "start", int(message[len(_SER_START) :].strip() or "0", 16)
    if message.startswith(_SER_END):
        return "end", int(message[len(_SER_END) :].strip() or "0", 16)
    return "chunk", message[12:].strip()


_STACK_RE = re.compile(
    r"\[STACK TRACE\] \[at (?:0x)?(?P<rip>[0-9a-f]+)\](?: returning to \[(?P<mod>.*?) at (?:0x)?(?P<ret>[0-9a-f]+)\])?"
)


def parse_stack_trace(message: str) -> tuple[int, str | None, int | None] | None:
    m = _STACK_RE.match(message)
    if m is None:
        return None
    ret = m.group("ret")
    return int(m.group("rip"), 16), m.group("mod"), int(ret, 16) if ret else None


# the line records are built for every parsed line: a cheaper __init__ (same behaviour, see fast_slots_init)
for _cls in (ModuleGroup, ProcessGroup, OriginatorLine, Access, VictimLine, VerdictLine, CodeBlockDump):
    fast_slots_init(_cls)
del _cls
