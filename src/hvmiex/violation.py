"""The violation model of the toolkit (spec 03 §4): who accessed what, how, and in which guest.

One :class:`Violation` is what the offline engine decides on. The alert decoder and the log parser produce
it, the proposer (AddExceptionFromAlert) consumes it, and people write it by hand in a small JSON form
(:func:`violation_from_dict` / :func:`violation_to_dict`, :func:`load_violations`).

Design rules:

* Every hash the engine compares is stored explicitly (``name_hash`` fields), because Introcore compares
  hashes, and producers sometimes know a hash without its name (logs print ``[0x...]``). When a producer
  only knows a name, the ``hash_*`` helpers below compute the runtime hash with Introcore's rules
  (spec 03 §2.2); the JSON form does that automatically for missing hashes.
* Fields a log or an alert may not carry are optional (``None``) and the engine documents what it assumes
  for them (usually the value that makes the least difference).
* Everything is frozen; the engine keeps its mutable state (one-time flags, MRU order) on its own side.

The JSON form mirrors the neutral schema of ``oracle/engine/README.md``, with these conveniences: enums are
given by name (``"ept"``, ``["write", "lib-code"]``, ``"km-module"``) or by number; hashes may be omitted
when a name is given; byte strings are hex; unknown keys are refused with a diagnostic naming the field.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hvmiex.errors import Diagnostic, HvmiexError, SourceLocation

NONAME = 0xFFFFFFFF
"""Runtime hash of "no name" (code outside any module); upstream ``INITIAL_CRC_VALUE``."""

HASH_ANY = 0
HASH_OWN = 1
HASH_KERNEL = 2  # KM: [kernel]; UM: [vdso]
HASH_HAL = 3  # KM: [hal]; UM: [vsyscall]
HASH_NONE = 4  # "-": no name
HASH_VDSO_KM = 5
HASH_VSYSCALL_KM = 6
HASH_VE_AGENT = 7

MAX_WRITE_BYTES = 64


class ViolationError(HvmiexError):
    """A hand-written violation (or a producer's output) is not a valid violation."""


# ---------------------------------------------------------------------------------------------------------
# Enumerations (spec 03 §3)
# ---------------------------------------------------------------------------------------------------------


class GuestOS(enum.Enum):
    WINDOWS = "windows"
    LINUX = "linux"


class ViolationKind(enum.Enum):
    """Which matcher Introcore runs: kernel-mode, user-mode (incl. glob) or kernel→user."""

    KM = "km"
    UM = "um"
    KUM = "kum"


class ZoneType(enum.IntEnum):
    EPT = 1
    MSR = 2
    CR = 3
    INTEGRITY = 4
    PROCESS = 5
    DTR = 6
    PC = 7

    @property
    def json_name(self) -> str:
        return self.name.lower()


class ZoneFlags(enum.IntFlag):
    """Victim zone flags (spec 03 §3.3). Not the same bit values as exception flags."""

    NONE = 0
    LIB_IMPORTS = 0x001
    LIB_EXPORTS = 0x002
    LIB_CODE = 0x004
    LIB_DATA = 0x008
    LIB_RESOURCES = 0x010
    PROC_THREAD_CTX = 0x020
    PROC_THREAD_APC = 0x040
    DEP_EXECUTION = 0x080
    MODULE_LOAD = 0x100
    PROC_INSTRUMENT = 0x200
    WRITE = 0x1000_0000
    READ = 0x2000_0000
    EXECUTE = 0x4000_0000
    INTEGRITY = 0x1_0000_0000


ZONE_FLAG_NAMES: Mapping[str, ZoneFlags] = {
    "lib-imports": ZoneFlags.LIB_IMPORTS,
    "lib-exports": ZoneFlags.LIB_EXPORTS,
    "lib-code": ZoneFlags.LIB_CODE,
    "lib-data": ZoneFlags.LIB_DATA,
    "lib-resources": ZoneFlags.LIB_RESOURCES,
    "proc-thread-ctx": ZoneFlags.PROC_THREAD_CTX,
    "proc-thread-apc": ZoneFlags.PROC_THREAD_APC,
    "dep-execution": ZoneFlags.DEP_EXECUTION,
    "module-load": ZoneFlags.MODULE_LOAD,
    "proc-instrument": ZoneFlags.PROC_INSTRUMENT,
    "write": ZoneFlags.WRITE,
    "read": ZoneFlags.READ,
    "execute": ZoneFlags.EXECUTE,
    "integrity": ZoneFlags.INTEGRITY,
}

ZONE_FLAGS_LIBRARY = (
    ZoneFlags.LIB_IMPORTS | ZoneFlags.LIB_EXPORTS | ZoneFlags.LIB_CODE | ZoneFlags.LIB_DATA | ZoneFlags.LIB_RESOURCES
)


def zone_flag_names(flags: int) -> list[str]:
    """JSON names of the set bits, in table order (unknown bits are dropped; use the number for those)."""
    return [name for name, bit in ZONE_FLAG_NAMES.items() if flags & bit]


class ObjectType(enum.IntEnum):
    """Victim ``INTRO_OBJECT_TYPE`` (spec 03 §3.4). Values outside the table are accepted as pseudo-members."""

    NONE = 0
    SSDT = 3
    FAST_IO_DISPATCH = 4
    DRIVER_OBJECT = 5
    KM_MODULE = 6
    IDT = 7
    UM_GENERIC_NX_ZONE = 15
    UM_MODULE = 16
    HAL_DISPATCH_TABLE = 19
    HAL_INT_CONTROLLER = 20
    SELF_MAP_ENTRY = 21
    HAL_HEAP = 22
    VDSO = 23
    VSYSCALL = 24
    VE_AGENT = 26
    IDTR = 27
    GDTR = 28
    PROCESS_CREATION = 29
    KM_LOGGER_CONTEXT = 31
    PROCESS_CREATION_DPI = 32
    TOKEN_PRIVS = 33
    SUD_EXEC = 34
    HAL_PERF_COUNTER = 35
    SEC_DESC = 38
    ACL = 39
    SUD_INTEGRITY = 40
    INTERRUPT_OBJECT = 41
    CR = 0xFFFFFFFF  # CR victims carry (DWORD)-1

    @classmethod
    def _missing_(cls, value: object) -> ObjectType | None:
        if isinstance(value, int) and 0 <= value <= 0xFFFFFFFF:
            member = int.__new__(cls, value)
            member._name_ = f"TYPE_{value}"
            member._value_ = value
            return member
        return None

    @property
    def json_name(self) -> str:
        return self.name.lower().replace("_", "-")


class PcType(enum.IntFlag):
    """Process-creation DPI bits (spec 03 §3.9); 0 is a normal creation."""

    NONE = 0
    DEBUG = 0x01
    PIVOTED_STACK = 0x02
    STOLEN_TOKEN = 0x04
    HEAP_SPRAY = 0x08
    TOKEN_PRIVS = 0x10
    THREAD_START = 0x20
    SECURITY_DESCRIPTOR = 0x40
    ACL_EDIT = 0x80


PC_TYPE_NAMES: Mapping[str, PcType] = {
    "debug": PcType.DEBUG,
    "pivoted-stack": PcType.PIVOTED_STACK,
    "stolen-token": PcType.STOLEN_TOKEN,
    "heap-spray": PcType.HEAP_SPRAY,
    "token-privs": PcType.TOKEN_PRIVS,
    "thread-start": PcType.THREAD_START,
    "security-descriptor": PcType.SECURITY_DESCRIPTOR,
    "acl-edit": PcType.ACL_EDIT,
}


class InitState(enum.Enum):
    """Where a Windows process is in its initialisation (input of the UM `init` extra check, spec 03 §8)."""

    NOT_STARTED = "not-started"
    IN_PROGRESS = "in-progress"
    INITIALIZED = "initialized"


# ---------------------------------------------------------------------------------------------------------
# Runtime name hashing (spec 03 §2.1, §2.2)
# ---------------------------------------------------------------------------------------------------------

WINDOWS_KERNEL_IMAGES = frozenset({"ntoskrnl.exe", "ntkrnlmp.exe", "ntkrnlpa.exe", "ntkrpamp.exe"})
WINDOWS_HAL_IMAGES = frozenset({"hal.dll", "halmacpi.dll", "halacpi.dll"})
WINDOWS_PROCESS_NAME_MAX = 14
LINUX_COMM_MAX = 15
LINUX_MODULE_NAME_MAX = 55  # "< 56"
DRIVER_OBJECT_NAME_MAX = 127  # "< 128"

_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def lower_ascii(text: str) -> str:
    """Introcore's "dumb" lower-casing: only A-Z are folded."""
    return text.translate(_ASCII_LOWER)


def crc32_narrow(text: str) -> int:
    """HVMI CRC32 of the 8-bit characters of ``text`` (latin-1; code points above 255 keep their low byte)."""
    return zlib.crc32(bytes(ord(c) & 0xFF for c in text), 0xFFFFFFFF)


def crc32_wide(text: str) -> int:
    """HVMI CRC32 of the UTF-16LE code units of ``text``."""
    return zlib.crc32(text.encode("utf-16-le", "surrogatepass"), 0xFFFFFFFF)


def crc32_bytes(data: bytes) -> int:
    return zlib.crc32(data, 0xFFFFFFFF)


def hash_kernel_module(name: str, os: GuestOS = GuestOS.WINDOWS, *, substitute: bool = True) -> int:
    """Runtime hash of a kernel driver / module name (KM originators and KM module victims).

    Windows: ASCII-lowered wide hash of the file name; kernel images → 2, HAL images → 3 (unless
    ``substitute`` is false, as for the return driver of a kernel KM-UM injection). Linux: narrow hash,
    case kept, at most 55 characters; ``kernel`` → 2.
    """
    if os is GuestOS.LINUX:
        if substitute and name == "kernel":
            return HASH_KERNEL
        return crc32_narrow(name[:LINUX_MODULE_NAME_MAX])
    base = name.rsplit("\\", 1)[-1]
    lowered = lower_ascii(base)
    if substitute:
        folded = base.lower()
        if folded in WINDOWS_KERNEL_IMAGES:
            return HASH_KERNEL
        if folded in WINDOWS_HAL_IMAGES:
            return HASH_HAL
    return crc32_wide(lowered)


def hash_driver_object(name: str) -> int:
    """Windows driver object name (``\\driver\\disk``): lowered, wide, fewer than 128 characters."""
    return crc32_wide(lower_ascii(name[:DRIVER_OBJECT_NAME_MAX]))


def process_runtime_name(name: str, os: GuestOS = GuestOS.WINDOWS) -> str:
    """The process name the runtime hashes: Windows keeps 14 lowered characters, Linux 15 (case kept)."""
    if os is GuestOS.LINUX:
        return name[:LINUX_COMM_MAX]
    return lower_ascii(name[:WINDOWS_PROCESS_NAME_MAX])


def hash_process(name: str, os: GuestOS = GuestOS.WINDOWS) -> int:
    """Windows image file name (narrow, lowered, 14 chars) or Linux ``comm`` (narrow, case kept, 15)."""
    return crc32_narrow(process_runtime_name(name, os))


def hash_user_module(path_or_name: str) -> int:
    """Windows user module: last path component, ASCII-lowered, wide. Empty name → NONAME."""
    base = path_or_name.rsplit("\\", 1)[-1]
    if not base:
        return NONAME
    return crc32_wide(lower_ascii(base))


def hash_export(name: str) -> int:
    """Export names keep their case and are hashed narrow."""
    return crc32_narrow(name)


def hash_command_line(command_line: str, os: GuestOS = GuestOS.WINDOWS) -> int:
    """Command line of ``cli`` value signatures: Windows low byte of each unit, lowered; Linux as is."""
    if os is GuestOS.LINUX:
        return crc32_narrow(command_line)
    return crc32_narrow(lower_ascii(command_line))


def command_line_bytes(command_line: str, os: GuestOS = GuestOS.WINDOWS) -> bytes:
    """The bytes ``cli`` value signatures hash slices of."""
    text = command_line if os is GuestOS.LINUX else lower_ascii(command_line)
    return bytes(ord(c) & 0xFF for c in text)


def bucket_of(name_hash: int) -> int:
    """Introcore's bucket of an originator hash: its top 4 bits (spec 03 §2.4)."""
    return (name_hash >> 28) & 0xF


def hash_sud_field(name: str) -> int:
    """SharedUserData field names: narrow, case kept."""
    return crc32_narrow(name)


# ---------------------------------------------------------------------------------------------------------
# Environment and guest memory (spec 03 §4.5)
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MemoryRange:
    gva: int
    data: bytes


@dataclass(frozen=True, slots=True)
class GuestMemory:
    """Guest memory the engine may read (code for codeblocks/value-code, injected bytes for value signatures).

    Flat (the address space is ignored, like the oracle harness); everything outside the ranges is
    unreadable. Adjacent ranges are read across.
    """

    ranges: tuple[MemoryRange, ...] = ()

    def read(self, gva: int, size: int) -> bytes | None:
        """``size`` bytes at ``gva``, or None if any byte is unreadable."""
        if size <= 0:
            return b""
        out = bytearray()
        cursor = gva
        end = gva + size
        while cursor < end:
            for rng in self.ranges:
                if rng.gva <= cursor < rng.gva + len(rng.data):
                    take = min(end, rng.gva + len(rng.data)) - cursor
                    start = cursor - rng.gva
                    out += rng.data[start : start + take]
                    cursor += take
                    break
            else:
                return None
        return bytes(out)

    def __bool__(self) -> bool:
        return bool(self.ranges)


@dataclass(frozen=True, slots=True)
class Environment:
    """Guest and Introcore facts a decision depends on."""

    os: GuestOS = GuestOS.WINDOWS
    guest_64: bool = True
    os_version: int | None = None  # Windows NT build number; None = unknown (version-os signatures error)
    linux_version: tuple[int, int, int, int] | None = None  # (version, patch, sublevel, backport)
    introcore_version: tuple[int, int, int, int] | None = None  # (major, minor, revision, build)
    code_segment_64: bool | None = None  # current CS mode for codeblock decoding; None = same as guest_64
    memory: GuestMemory = field(default_factory=GuestMemory)

    @property
    def is_linux(self) -> bool:
        return self.os is GuestOS.LINUX

    @property
    def decode_64(self) -> bool:
        return self.guest_64 if self.code_segment_64 is None else self.code_segment_64


# ---------------------------------------------------------------------------------------------------------
# Objects shared by originator and victim
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Export:
    """One export RVA with every name sharing it (name hashes: narrow, case kept)."""

    rva: int
    names: tuple[str, ...] = ()
    name_hashes: tuple[int, ...] = ()

    @staticmethod
    def of(rva: int, *names: str) -> Export:
        return Export(rva, tuple(names), tuple(hash_export(n) for n in names))


@dataclass(frozen=True, slots=True)
class Module:
    """A Windows/Linux user module (victim module, DLL of an injection destination, library of a RIP)."""

    name: str | None
    name_hash: int
    base: int = 0
    size: int | None = None
    path: str | None = None
    export_directory: bool = True  # False: the module has no readable export directory (export sigs pass)
    exports: tuple[Export, ...] = ()  # known exports; a log carries at most the one at the address

    @staticmethod
    def named(name: str, base: int = 0, **kwargs: Any) -> Module:
        return Module(name=name, name_hash=hash_user_module(name), base=base, **kwargs)

    def export_at(self, address: int, window: int = 32) -> Export | None:
        """Introcore's export lookup: the first of address, address-1, ..., address-31 that is an export RVA."""
        if not self.exports:
            return None
        by_rva = {e.rva: e for e in self.exports}
        rva = address - self.base
        for back in range(window):
            found = by_rva.get(rva - back)
            if found is not None:
                return found
        return None


@dataclass(frozen=True, slots=True)
class Process:
    """A Windows process or a Linux task.

    Identity inside one engine instance (one-time flags) is ``key``: the OS, the runtime name and its hash,
    as in the oracle ("same name and hash are the same object").
    """

    name: str | None  # Windows image name (14 chars, lowered); Linux comm
    name_hash: int
    os: GuestOS = GuestOS.WINDOWS
    wow64: bool = False
    system_process: bool = False
    pid: int | None = None
    address: int = 0  # EPROCESS / task_struct GVA
    parent_address: int = 0  # parent EPROCESS (Windows) / actual parent task (Linux)
    cr3: int = 0
    path: str | None = None  # full image path when known
    path_name: str | None = None  # Linux: base name of the executable (glob process matching)
    command_line: str | None = None  # Windows command line / Linux argv joined with spaces
    one_time_done: bool = False
    apphelp: tuple[int, int] | None = None  # recorded apphelp injection (address, size)
    peb32_address: int | None = None
    peb64_address: int | None = None
    init_state: InitState = InitState.NOT_STARTED

    @staticmethod
    def named(name: str, os: GuestOS = GuestOS.WINDOWS, **kwargs: Any) -> Process:
        runtime = process_runtime_name(name, os)
        return Process(name=runtime, name_hash=hash_process(name, os), os=os, **kwargs)

    @property
    def key(self) -> tuple[str, str | None, int]:
        return (self.os.value, self.name, self.name_hash)


# ---------------------------------------------------------------------------------------------------------
# Victim (spec 03 §4.1, §4.2)
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WriteInfo:
    old: bytes = b""  # up to 64 bytes, little-endian as in guest memory
    new: bytes = b""
    access_size: int = 0

    def old_qword(self, index: int = 0) -> int:
        return int.from_bytes(self.old[index * 8 : index * 8 + 8].ljust(8, b"\0"), "little")

    def new_qword(self, index: int = 0) -> int:
        return int.from_bytes(self.new[index * 8 : index * 8 + 8].ljust(8, b"\0"), "little")


@dataclass(frozen=True, slots=True)
class ReadInfo:
    value: bytes = b""
    size: int = 0


@dataclass(frozen=True, slots=True)
class MsrInfo:
    index: int = 0
    new_driver_base: int = 0


@dataclass(frozen=True, slots=True)
class CrInfo:
    index: int = 4
    smap_cleared: bool = False
    smep_cleared: bool = False


@dataclass(frozen=True, slots=True)
class IntegrityInfo:
    start: int = 0
    offset: int = 0
    total_length: int = 0
    interrupt_obj_index: int = 0
    buffer: bytes | None = None  # new security descriptor (SecDesc / Acl victims)


@dataclass(frozen=True, slots=True)
class InjectionInfo:
    length: int = 0  # destination is Victim.gva (they share storage upstream)


@dataclass(frozen=True, slots=True)
class DriverObjectInfo:
    gpa: int = 0
    gva: int = 0
    name: str | None = None
    fast_io: int | None = None


@dataclass(frozen=True, slots=True)
class ExecInfo:
    rsp: int = 0
    stack_base: int = 0
    stack_limit: int = 0
    length: int = 0


@dataclass(frozen=True, slots=True)
class Victim:
    zone_type: ZoneType
    zone_flags: ZoneFlags
    object_type: ObjectType = ObjectType.NONE
    name_hash: int = 0
    name: str | None = None  # used by glob matching only
    name_wide: bool = False
    base_address: int = 0
    gva: int = 0  # EPT address, or injection destination
    gpa: int = 0
    write: WriteInfo | None = None
    read: ReadInfo | None = None
    msr: MsrInfo | None = None
    cr: CrInfo | None = None
    integrity: IntegrityInfo | None = None
    injection: InjectionInfo | None = None
    driver_object: DriverObjectInfo | None = None
    module: Module | None = None  # UM module victim, or the DLL containing an injection destination
    process: Process | None = None
    exec_info: ExecInfo | None = None
    section: str | None = None  # KM module victims: section name, when known
    # the export at the address as a source reports it (logs: "Exports (...)", "Delta:"), used when the
    # module's export table is not known; delta = offset of the address from the export (0..31)
    export: Export | None = None
    export_delta: int | None = None

    def export_at_address(self) -> tuple[Export, int] | None:
        """The export Introcore finds at or below the accessed address (32-byte window) and the offset."""
        mod = self.module
        if mod is not None and mod.exports:
            found = mod.export_at(self.gva)
            if found is None:
                return None
            return found, (self.gva - mod.base) - found.rva
        if self.export is not None and self.export_delta is not None and 0 <= self.export_delta < 32:
            return self.export, self.export_delta
        return None

    def effective_write(self) -> WriteInfo:
        """The write info the engine sees; upstream quirk §13.12: read info aliases it (old = read value,
        new[0] = read size, access_size 0)."""
        if self.read is not None and self.zone_flags & ZoneFlags.READ and self.write is None:
            return WriteInfo(old=self.read.value, new=self.read.size.to_bytes(8, "little"), access_size=0)
        return self.write if self.write is not None else WriteInfo()


# ---------------------------------------------------------------------------------------------------------
# Originators (spec 03 §4.3, §4.4)
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DriverFrame:
    """A kernel code location: the driver containing a RIP (``driver`` false when outside every driver)."""

    name_hash: int = NONAME
    rip: int = 0
    driver: bool = False
    name: str | None = None
    section: str | None = None
    base: int = 0
    size: int | None = None
    path: str | None = None
    entry_point: int | None = None
    driver_object_gpa: int | None = None  # Windows: for [own] on driver-object / fast-io victims
    core_base: int | None = None  # Linux: module core base, for [own]

    @staticmethod
    def of(name: str, rip: int, os: GuestOS = GuestOS.WINDOWS, **kwargs: Any) -> DriverFrame:
        return DriverFrame(name_hash=hash_kernel_module(name, os), rip=rip, driver=True, name=name, **kwargs)

    @staticmethod
    def none(rip: int = 0) -> DriverFrame:
        return DriverFrame(name_hash=NONAME, rip=rip, driver=False)


@dataclass(frozen=True, slots=True)
class KumInjection:
    user: bool = False  # write done on behalf of a user process (PreviousMode user)
    kernel: bool = False  # write done by a driver through a Zw* call


@dataclass(frozen=True, slots=True)
class KernelOriginator:
    """Originator of KM and KUM violations."""

    original: DriverFrame = field(default_factory=DriverFrame)
    return_: DriverFrame = field(default_factory=DriverFrame)
    is_entry_point: bool = False
    is_integrity: bool = False
    injection: KumInjection = field(default_factory=KumInjection)  # KUM only
    process: Process | None = None  # KUM user injection: the injecting process
    instruction: bytes | None = None
    blocked: bool = False  # Introcore blocks without consulting exceptions (spec 03 §4.3 "block")


@dataclass(frozen=True, slots=True)
class UserReturn:
    name_hash: int = 0  # 0 when no return was computed
    rip: int = 0
    name: str | None = None
    library: Module | None = None


@dataclass(frozen=True, slots=True)
class UserOriginator:
    """Originator of UM violations (module writes, executions, injections, process creation, module loads)."""

    name_hash: int = NONAME
    name: str | None = None  # narrow process name or wide module name
    name_wide: bool = False
    library: Module | None = None  # module containing the RIP (module writes only)
    rip: int = 0  # RIP; for injections and process creation the source address
    return_: UserReturn = field(default_factory=UserReturn)
    pc_type: PcType = PcType.NONE
    execute: bool = False
    process: Process | None = None  # originator process (process creation: per DPI table)
    same_process_as_victim: bool | None = None  # oracle/alert hint: originator and victim process are one


Originator = KernelOriginator | UserOriginator


# ---------------------------------------------------------------------------------------------------------
# Violation
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodeBlocks:
    """Precomputed matching-path codeblock hashes around ``rip`` (used when the code bytes are unknown).

    ``hashes`` are the sorted CRCs the engine's extraction would produce (spec 03 §10.4). Producers that
    only have alert-side blocks (spec 03 §10.6) may put them here: they approximate the matching path.
    """

    rip: int
    hashes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class AlertCodeBlocks:
    """The code blocks an alert carries (alert-side extraction, spec 03 §10.6; spec 05 §7.20).

    ``hashes`` are in code order (not sorted), ``rip_index`` is the alert's RipCbIndex, ``start`` the
    start address of the extraction. AddExceptionFromAlert builds its codeblocks signature from these.
    """

    rip: int
    start: int
    rip_index: int
    hashes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a violation came from (a log line, an alert, a JSON file) for messages."""

    path: str | None = None
    line: int | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Violation:
    kind: ViolationKind
    victim: Victim
    originator: Originator
    env: Environment = field(default_factory=Environment)
    codeblocks: tuple[CodeBlocks, ...] = ()
    origin: Origin | None = None
    alert_codeblocks: AlertCodeBlocks | None = None

    def __post_init__(self) -> None:
        expect = UserOriginator if self.kind is ViolationKind.UM else KernelOriginator
        if not isinstance(self.originator, expect):
            raise ViolationError(
                f"a {self.kind.value} violation needs a {expect.__name__}, got {type(self.originator).__name__}"
            )

    @property
    def km(self) -> KernelOriginator:
        assert isinstance(self.originator, KernelOriginator)
        return self.originator

    @property
    def um(self) -> UserOriginator:
        assert isinstance(self.originator, UserOriginator)
        return self.originator

    def precomputed_codeblocks(self, rip: int) -> tuple[int, ...] | None:
        for cb in self.codeblocks:
            if cb.rip == rip:
                return cb.hashes
        return None

    def carried_names(self) -> Iterator[tuple[int, str]]:
        """Every (runtime hash, name) pair the violation carries: victim, its module and process, the
        originator's frames, library, return module and process. Used to label exception hashes."""
        vic = self.victim
        pairs: list[tuple[int | None, str | None]] = [(vic.name_hash, vic.name)]
        if vic.module is not None:
            pairs.append((vic.module.name_hash, vic.module.name))
        if vic.process is not None:
            pairs.append((vic.process.name_hash, vic.process.name))
        o = self.originator
        if isinstance(o, KernelOriginator):
            pairs += [(o.original.name_hash, o.original.name), (o.return_.name_hash, o.return_.name)]
        else:
            pairs.append((o.name_hash, o.name))
            if o.library is not None:
                pairs.append((o.library.name_hash, o.library.name))
            ret_name = o.return_.name or (o.return_.library.name if o.return_.library is not None else None)
            pairs.append((o.return_.name_hash, ret_name))
        if o.process is not None:
            pairs.append((o.process.name_hash, o.process.name))
        for value, text in pairs:
            if value is not None and text:
                yield value, text


_FACTORY = object()  # default of a parameter whose field has a default_factory


def fast_slots_init(cls: type[Any]) -> None:
    """Give a frozen slotted dataclass a faster ``__init__`` with the same signature and behaviour.

    The generated one stores each field through ``object.__setattr__`` (a generic attribute lookup per field,
    the price of ``frozen``); this one calls the slot's own descriptor, about 40% cheaper, which counts when
    a log of gigabytes turns into millions of these objects. Defaults, default factories, ``__post_init__``,
    equality, hashing and ``repr`` are untouched (they are generated separately)."""
    params: list[str] = []
    body: list[str] = []
    env: dict[str, Any] = {"_FACTORY": _FACTORY}
    for i, f in enumerate(dataclasses.fields(cls)):
        if not f.init or f.kw_only or f.name in ("self", "_FACTORY") or f.name.startswith("_d_"):
            raise TypeError(f"fast_slots_init: unsupported field {cls.__name__}.{f.name}")
        env[f"_d_set{i}"] = getattr(cls, f.name).__set__  # the slot's member descriptor
        if f.default is not dataclasses.MISSING:
            env[f"_d_default{i}"] = f.default
            params.append(f"{f.name}=_d_default{i}")
        elif f.default_factory is not dataclasses.MISSING:
            env[f"_d_factory{i}"] = f.default_factory
            params.append(f"{f.name}=_FACTORY")
            body.append(f"    if {f.name} is _FACTORY:\n        {f.name} = _d_factory{i}()")
        else:
            params.append(f.name)
        body.append(f"    _d_set{i}(self, {f.name})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    exec(f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body or ["    pass"]) + "\n", env)
    init = env["__init__"]
    old = cls.__init__
    init.__qualname__ = old.__qualname__
    init.__module__ = old.__module__
    init.__annotations__ = dict(old.__annotations__)
    init.__doc__ = old.__doc__
    setattr(cls, "__init__", init)  # noqa: B010 - mypy refuses a direct method assignment


for _cls in (
    MemoryRange,
    GuestMemory,
    Environment,
    Export,
    Module,
    Process,
    WriteInfo,
    ReadInfo,
    MsrInfo,
    CrInfo,
    IntegrityInfo,
    InjectionInfo,
    DriverObjectInfo,
    ExecInfo,
    Victim,
    DriverFrame,
    KumInjection,
    KernelOriginator,
    UserReturn,
    UserOriginator,
    CodeBlocks,
    AlertCodeBlocks,
    Origin,
    Violation,
):
    fast_slots_init(_cls)
del _cls


# ---------------------------------------------------------------------------------------------------------
# JSON form
# ---------------------------------------------------------------------------------------------------------


class _Reader:
    """Walks a JSON-like dict, collecting diagnostics that name the field path."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.diagnostics: list[Diagnostic] = []

    def error(self, path: str, message: str, hint: str | None = None) -> None:
        self.diagnostics.append(
            Diagnostic(
                code="violation-field",
                message=message,
                location=SourceLocation(self.where),
                subject="violation",
                field=path,
                hint=hint,
            )
        )

    def obj(self, value: Any, path: str, allowed: Iterable[str]) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.error(path, f"expected an object, got {type(value).__name__}")
            return {}
        allowed_set = set(allowed)
        for key in value:
            if key not in allowed_set:
                self.error(f"{path}.{key}" if path else key, "unknown field", f"allowed: {', '.join(sorted(allowed_set))}")
        return value

    def int_(self, d: Mapping[str, Any], key: str, path: str, default: int = 0, bits: int = 64) -> int:
        value = d.get(key)
        if value is None:
            return default
        if isinstance(value, str):
            try:
                value = int(value, 0)
            except ValueError:
                self.error(f"{path}.{key}", f"expected an integer, got {value!r}")
                return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(f"{path}.{key}", f"expected an integer, got {value!r}")
            return default
        if not 0 <= value < (1 << bits):
            self.error(f"{path}.{key}", f"{value} is out of range", f"0 .. 2^{bits}-1")
            return default
        return value

    def opt_int(self, d: Mapping[str, Any], key: str, path: str, bits: int = 64) -> int | None:
        if d.get(key) is None:
            return None
        return self.int_(d, key, path, bits=bits)

    def bool_(self, d: Mapping[str, Any], key: str, path: str, default: bool = False) -> bool:
        value = d.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(f"{path}.{key}", f"expected true or false, got {value!r}")
            return default
        return value

    def str_(self, d: Mapping[str, Any], key: str, path: str) -> str | None:
        value = d.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(f"{path}.{key}", f"expected a string, got {value!r}")
            return None
        return value

    def hex_(self, d: Mapping[str, Any], key: str, path: str) -> bytes | None:
        value = d.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(f"{path}.{key}", "expected a hex string")
            return None
        try:
            return bytes.fromhex(value.replace(" ", ""))
        except ValueError:
            self.error(f"{path}.{key}", "not valid hex", "pairs of hex digits, spaces allowed")
            return None

    def enum_(self, value: Any, path: str, names: Mapping[str, int], what: str) -> int | None:
        if isinstance(value, bool):
            self.error(path, f"expected a {what}")
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            if value in names:
                return names[value]
            try:
                return int(value, 0)
            except ValueError:
                self.error(path, f"unknown {what} {value!r}", f"one of: {', '.join(names)}")
                return None
        self.error(path, f"expected a {what} name or number")
        return None

    def flags_(self, value: Any, path: str, names: Mapping[str, int], what: str) -> int:
        if value is None:
            return 0
        if isinstance(value, list):
            total = 0
            for i, item in enumerate(value):
                got = self.enum_(item, f"{path}[{i}]", names, what)
                total |= got or 0
            return total
        return self.enum_(value, path, names, what) or 0


_ZONE_TYPE_NAMES = {z.json_name: int(z) for z in ZoneType}
_OBJECT_TYPE_NAMES = {o.json_name: int(o) for o in ObjectType}
_ZONE_FLAG_INTS = {k: int(v) for k, v in ZONE_FLAG_NAMES.items()}
_PC_TYPE_INTS = {k: int(v) for k, v in PC_TYPE_NAMES.items()}

_ENV_KEYS = ("os", "guest_64", "os_version", "linux_version", "introcore_version", "code_segment_64", "memory")
_PROCESS_KEYS = (
    "name", "name_hash", "comm", "comm_hash", "wow64", "system_process", "pid", "eprocess", "parent_eprocess",
    "task_gva", "actual_parent", "address", "parent_address", "cr3", "path", "path_name", "path_full",
    "command_line", "cmdline", "one_time_done", "apphelp", "peb32", "peb64", "init_state",
)  # fmt: skip
_MODULE_KEYS = ("name", "name_hash", "base", "size", "path", "export_directory", "header_cache", "exports")
_DRIVER_KEYS = (
    "driver", "name", "name_hash", "rip", "section", "base", "size", "path", "entry_point",
    "driver_object_gpa", "core_base", "timestamp", "object_gva", "core_size", "core_text", "core_ro",
)  # fmt: skip
_VICTIM_KEYS = (
    "zone_type", "zone_type_value", "zone_flags", "zone_flags_value", "object_type", "object_type_value",
    "name", "name_wide", "name_hash", "base_address", "gva", "gpa", "write", "read", "cr", "msr", "integrity",
    "injection", "driver_object", "module", "process", "exec", "section", "driver", "export",
)  # fmt: skip


def _parse_version(r: _Reader, value: Any, path: str, parts: int) -> tuple[int, int, int, int] | None:
    if value is None:
        return None
    items: list[Any]
    if isinstance(value, str):
        items = value.split(".") if "." in value else value.replace("-", ".").split(".")
    elif isinstance(value, list):
        items = value
    else:
        r.error(path, "expected a version string or list")
        return None
    try:
        numbers = [int(x) for x in items]
    except (TypeError, ValueError):
        r.error(path, f"bad version {value!r}", "e.g. '1.133.0.186' or [5, 4, 0, 42]")
        return None
    if not 1 <= len(numbers) <= parts or any(n < 0 for n in numbers):
        r.error(path, f"bad version {value!r}", f"1 to {parts} non-negative numbers")
        return None
    numbers += [0] * (4 - len(numbers))
    return (numbers[0], numbers[1], numbers[2], numbers[3])


def _parse_env(r: _Reader, value: Any, path: str) -> Environment:
    d = r.obj(value, path, _ENV_KEYS)
    os_name = d.get("os", "windows")
    try:
        os = GuestOS(os_name)
    except ValueError:
        r.error(f"{path}.os", f"unknown OS {os_name!r}", "windows or linux")
        os = GuestOS.WINDOWS
    memory: list[MemoryRange] = []
    raw_mem = d.get("memory") or []
    if not isinstance(raw_mem, list):
        r.error(f"{path}.memory", "expected a list of {gva, bytes}")
        raw_mem = []
    for i, item in enumerate(raw_mem):
        m = r.obj(item, f"{path}.memory[{i}]", ("gva", "bytes"))
        data = r.hex_(m, "bytes", f"{path}.memory[{i}]") or b""
        memory.append(MemoryRange(r.int_(m, "gva", f"{path}.memory[{i}]"), data))
    cs = d.get("code_segment_64")
    return Environment(
        os=os,
        guest_64=r.bool_(d, "guest_64", path, True),
        os_version=r.opt_int(d, "os_version", path),
        linux_version=_parse_version(r, d.get("linux_version"), f"{path}.linux_version", 4),
        introcore_version=_parse_version(r, d.get("introcore_version"), f"{path}.introcore_version", 4),
        code_segment_64=None if cs is None else r.bool_(d, "code_segment_64", path),
        memory=GuestMemory(tuple(memory)),
    )


def _parse_exports(r: _Reader, value: Any, path: str) -> tuple[Export, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        r.error(path, "expected a list of exports")
        return ()
    out = []
    for i, item in enumerate(value):
        e = r.obj(item, f"{path}[{i}]", ("rva", "names", "name_hashes"))
        names = tuple(str(n) for n in (e.get("names") or []))
        hashes = e.get("name_hashes")
        hash_t = tuple(int(h) for h in hashes) if isinstance(hashes, list) else tuple(hash_export(n) for n in names)
        out.append(Export(r.int_(e, "rva", f"{path}[{i}]"), names, hash_t))
    return tuple(out)


def _parse_module(r: _Reader, value: Any, path: str) -> Module | None:
    if value is None:
        return None
    d = r.obj(value, path, _MODULE_KEYS)
    name = r.str_(d, "name", path)
    mpath = r.str_(d, "path", path)
    if name is None and mpath is not None:
        name = mpath.rsplit("\\", 1)[-1]
    default_hash = hash_user_module(name) if name is not None else NONAME
    return Module(
        name=name,
        name_hash=r.int_(d, "name_hash", path, default_hash, 32),
        base=r.int_(d, "base", path),
        size=r.opt_int(d, "size", path),
        path=mpath,
        export_directory=r.bool_(d, "export_directory", path, True),
        exports=_parse_exports(r, d.get("exports"), f"{path}.exports"),
    )


def _parse_process(r: _Reader, value: Any, path: str, os: GuestOS) -> Process | None:
    if value is None:
        return None
    d = r.obj(value, path, _PROCESS_KEYS)
    name = r.str_(d, "name", path)
    if name is None:
        name = r.str_(d, "comm", path)
    hash_key = "name_hash" if "name_hash" in d else "comm_hash"
    default_hash = hash_process(name, os) if name is not None else NONAME
    runtime_name = process_runtime_name(name, os) if name is not None else None
    apphelp = None
    if d.get("apphelp") is not None:
        a = r.obj(d["apphelp"], f"{path}.apphelp", ("address", "size"))
        apphelp = (r.int_(a, "address", f"{path}.apphelp"), r.int_(a, "size", f"{path}.apphelp"))
    address = r.int_(d, "eprocess", path) or r.int_(d, "task_gva", path) or r.int_(d, "address", path)
    parent = r.int_(d, "parent_eprocess", path) or r.int_(d, "actual_parent", path) or r.int_(d, "parent_address", path)
    init_raw = d.get("init_state", "not-started")
    try:
        init_state = InitState(init_raw)
    except ValueError:
        r.error(f"{path}.init_state", f"unknown init state {init_raw!r}", "not-started, in-progress, initialized")
        init_state = InitState.NOT_STARTED
    return Process(
        name=runtime_name,
        name_hash=r.int_(d, hash_key, path, default_hash, 32),
        os=os,
        wow64=r.bool_(d, "wow64", path),
        system_process=r.bool_(d, "system_process", path),
        pid=r.opt_int(d, "pid", path),
        address=address,
        parent_address=parent,
        cr3=r.int_(d, "cr3", path),
        path=r.str_(d, "path", path) or r.str_(d, "path_full", path),
        path_name=r.str_(d, "path_name", path),
        command_line=r.str_(d, "command_line", path) or r.str_(d, "cmdline", path),
        one_time_done=r.bool_(d, "one_time_done", path),
        apphelp=apphelp,
        peb32_address=r.opt_int(d, "peb32", path),
        peb64_address=r.opt_int(d, "peb64", path),
        init_state=init_state,
    )


def _parse_driver(r: _Reader, value: Any, path: str, os: GuestOS) -> DriverFrame:
    d = r.obj(value, path, _DRIVER_KEYS)
    name = r.str_(d, "name", path)
    present = r.bool_(d, "driver", path, name is not None)
    default_hash = hash_kernel_module(name, os) if (name is not None and present) else NONAME
    return DriverFrame(
        name_hash=r.int_(d, "name_hash", path, default_hash, 32),
        rip=r.int_(d, "rip", path),
        driver=present,
        name=name,
        section=r.str_(d, "section", path),
        base=r.int_(d, "base", path),
        size=r.opt_int(d, "size", path),
        path=r.str_(d, "path", path),
        entry_point=r.opt_int(d, "entry_point", path),
        driver_object_gpa=r.opt_int(d, "driver_object_gpa", path),
        core_base=r.opt_int(d, "core_base", path),
    )


def _default_victim_hash(name: str, object_type: int, zone: int, os: GuestOS) -> int:
    if object_type in (ObjectType.KM_MODULE, ObjectType.SSDT):
        return hash_kernel_module(name, os)
    if object_type in (ObjectType.DRIVER_OBJECT, ObjectType.FAST_IO_DISPATCH):
        return hash_driver_object(name)
    if object_type == ObjectType.UM_MODULE:
        return hash_user_module(name)
    if object_type == ObjectType.SUD_INTEGRITY:
        return hash_sud_field(name)
    if object_type in (ObjectType.HAL_INT_CONTROLLER, ObjectType.HAL_HEAP):
        return HASH_HAL
    if zone in (ZoneType.PROCESS, ZoneType.PC) or object_type in (
        ObjectType.UM_GENERIC_NX_ZONE,
        ObjectType.TOKEN_PRIVS,
        ObjectType.SEC_DESC,
        ObjectType.ACL,
        ObjectType.SELF_MAP_ENTRY,
        ObjectType.SUD_EXEC,
    ):
        return hash_process(name, os)
    return 0


def _parse_victim(r: _Reader, value: Any, path: str, os: GuestOS) -> Victim:
    d = r.obj(value, path, _VICTIM_KEYS)
    if value is None or ("zone_type" not in d and "zone_type_value" not in d):
        r.error(f"{path}.zone_type", "missing", f"one of: {', '.join(_ZONE_TYPE_NAMES)}")
    if value is not None and "zone_flags" not in d and "zone_flags_value" not in d:
        r.error(f"{path}.zone_flags", "missing", "e.g. [\"write\", \"lib-code\"]")
    zone = r.enum_(d.get("zone_type_value", d.get("zone_type", 1)), f"{path}.zone_type", _ZONE_TYPE_NAMES, "zone type")
    try:
        zone_type = ZoneType(zone if zone is not None else 1)
    except ValueError:
        r.error(f"{path}.zone_type", f"unknown zone type {zone}", f"one of: {', '.join(_ZONE_TYPE_NAMES)}")
        zone_type = ZoneType.EPT
    if "zone_flags_value" in d:
        flags = r.int_(d, "zone_flags_value", path, 0, 64)
    else:
        flags = r.flags_(d.get("zone_flags"), f"{path}.zone_flags", _ZONE_FLAG_INTS, "zone flag")
    obj_raw = d.get("object_type_value", d.get("object_type", 0))
    obj = r.enum_(obj_raw, f"{path}.object_type", _OBJECT_TYPE_NAMES, "object type")
    object_type = ObjectType(obj if obj is not None and 0 <= obj <= 0xFFFFFFFF else 0)
    if zone_type is ZoneType.CR and "object_type" not in d and "object_type_value" not in d:
        object_type = ObjectType.CR
    name = r.str_(d, "name", path)
    default_hash = _default_victim_hash(name, object_type, zone_type, os) if name is not None else 0
    write = read = None
    if d.get("write") is not None:
        w = r.obj(d["write"], f"{path}.write", ("old", "new", "access_size"))
        write = WriteInfo(
            old=(r.hex_(w, "old", f"{path}.write") or b"")[:MAX_WRITE_BYTES],
            new=(r.hex_(w, "new", f"{path}.write") or b"")[:MAX_WRITE_BYTES],
            access_size=r.int_(w, "access_size", f"{path}.write", 0, 32),
        )
    if d.get("read") is not None:
        rd = r.obj(d["read"], f"{path}.read", ("value", "size"))
        read = ReadInfo(
            value=(r.hex_(rd, "value", f"{path}.read") or b"")[:MAX_WRITE_BYTES],
            size=r.int_(rd, "size", f"{path}.read", 0, 32),
        )
    cr = msr = integrity = injection = drvobj = exec_info = None
    if d.get("cr") is not None:
        c = r.obj(d["cr"], f"{path}.cr", ("index", "smap_cleared", "smep_cleared"))
        cr = CrInfo(r.int_(c, "index", f"{path}.cr", 4), r.bool_(c, "smap_cleared", path), r.bool_(c, "smep_cleared", path))
    if d.get("msr") is not None:
        m = r.obj(d["msr"], f"{path}.msr", ("index", "new_driver_base"))
        msr = MsrInfo(r.int_(m, "index", f"{path}.msr"), r.int_(m, "new_driver_base", f"{path}.msr"))
    if d.get("integrity") is not None:
        g = r.obj(d["integrity"], f"{path}.integrity", ("start", "offset", "total_length", "interrupt_obj_index", "buffer"))
        p = f"{path}.integrity"
        integrity = IntegrityInfo(
            r.int_(g, "start", p), r.int_(g, "offset", p), r.int_(g, "total_length", p),
            r.int_(g, "interrupt_obj_index", p), r.hex_(g, "buffer", p),
        )  # fmt: skip
    if d.get("injection") is not None:
        j = r.obj(d["injection"], f"{path}.injection", ("length",))
        injection = InjectionInfo(r.int_(j, "length", f"{path}.injection"))
    if d.get("driver_object") is not None:
        o = r.obj(d["driver_object"], f"{path}.driver_object", ("gpa", "gva", "name", "fast_io"))
        p = f"{path}.driver_object"
        drvobj = DriverObjectInfo(r.int_(o, "gpa", p), r.int_(o, "gva", p), r.str_(o, "name", p), r.opt_int(o, "fast_io", p))
    if d.get("exec") is not None:
        x = r.obj(d["exec"], f"{path}.exec", ("rsp", "stack_base", "stack_limit", "length"))
        p = f"{path}.exec"
        exec_info = ExecInfo(r.int_(x, "rsp", p), r.int_(x, "stack_base", p), r.int_(x, "stack_limit", p), r.int_(x, "length", p))
    export = export_delta = None
    if d.get("export") is not None:
        x = r.obj(d["export"], f"{path}.export", ("names", "name_hashes", "delta", "rva"))
        names = tuple(str(n) for n in (x.get("names") or []))
        hashes = x.get("name_hashes")
        hash_t = tuple(int(h) for h in hashes) if isinstance(hashes, list) else tuple(hash_export(n) for n in names)
        export = Export(r.int_(x, "rva", f"{path}.export"), names, hash_t)
        export_delta = r.int_(x, "delta", f"{path}.export")
    return Victim(
        zone_type=zone_type,
        zone_flags=ZoneFlags(flags),
        object_type=object_type,
        name_hash=r.int_(d, "name_hash", path, default_hash, 32),
        name=name,
        name_wide=r.bool_(d, "name_wide", path, object_type in (ObjectType.UM_MODULE, ObjectType.KM_MODULE)),
        base_address=r.int_(d, "base_address", path),
        gva=r.int_(d, "gva", path),
        gpa=r.int_(d, "gpa", path),
        write=write,
        read=read,
        msr=msr,
        cr=cr,
        integrity=integrity,
        injection=injection,
        driver_object=drvobj,
        module=_parse_module(r, d.get("module"), f"{path}.module"),
        process=_parse_process(r, d.get("process"), f"{path}.process", os),
        exec_info=exec_info,
        section=r.str_(d, "section", path),
        export=export,
        export_delta=export_delta,
    )


_KM_ORIG_KEYS = ("original", "return", "is_entry_point", "is_integrity", "injection", "process", "instruction", "blocked")
_UM_ORIG_KEYS = (
    "name_hash", "name", "name_wide", "library", "rip", "return", "pc_type", "execute", "process",
    "same_process_as_victim",
)  # fmt: skip


def _parse_originator(r: _Reader, value: Any, path: str, kind: ViolationKind, os: GuestOS) -> Originator:
    if kind is ViolationKind.UM:
        d = r.obj(value, path, _UM_ORIG_KEYS)
        library = _parse_module(r, d.get("library"), f"{path}.library")
        process = _parse_process(r, d.get("process"), f"{path}.process", os)
        name = r.str_(d, "name", path)
        name_wide = r.bool_(d, "name_wide", path, library is not None)
        if name is not None:
            default_hash = hash_user_module(name) if name_wide else hash_process(name, os)
        else:
            default_hash = NONAME
        rt = r.obj(d.get("return"), f"{path}.return", ("name_hash", "name", "library", "rip"))
        ret_lib = _parse_module(r, rt.get("library"), f"{path}.return.library")
        ret_name = r.str_(rt, "name", f"{path}.return")
        ret_default = hash_user_module(ret_name) if ret_name else (ret_lib.name_hash if ret_lib else 0)
        pc = r.flags_(d.get("pc_type"), f"{path}.pc_type", _PC_TYPE_INTS, "DPI flag")
        return UserOriginator(
            name_hash=r.int_(d, "name_hash", path, default_hash, 32),
            name=name,
            name_wide=name_wide,
            library=library,
            rip=r.int_(d, "rip", path),
            return_=UserReturn(
                name_hash=r.int_(rt, "name_hash", f"{path}.return", ret_default, 32),
                rip=r.int_(rt, "rip", f"{path}.return"),
                name=ret_name,
                library=ret_lib,
            ),
            pc_type=PcType(pc & 0xFF),
            execute=r.bool_(d, "execute", path),
            process=process,
            same_process_as_victim=None
            if d.get("same_process_as_victim") is None
            else r.bool_(d, "same_process_as_victim", path),
        )
    d = r.obj(value, path, _KM_ORIG_KEYS)
    inj = r.obj(d.get("injection"), f"{path}.injection", ("user", "kernel"))
    return KernelOriginator(
        original=_parse_driver(r, d.get("original"), f"{path}.original", os),
        return_=_parse_driver(r, d.get("return"), f"{path}.return", os),
        is_entry_point=r.bool_(d, "is_entry_point", path),
        is_integrity=r.bool_(d, "is_integrity", path),
        injection=KumInjection(r.bool_(inj, "user", f"{path}.injection"), r.bool_(inj, "kernel", f"{path}.injection")),
        process=_parse_process(r, d.get("process"), f"{path}.process", os),
        instruction=r.hex_(d, "instruction", path),
        blocked=r.bool_(d, "blocked", path),
    )


_VIOLATION_KEYS = (
    "kind", "env", "environment", "victim", "originator", "codeblocks", "label", "memory", "alert_codeblocks",
)  # fmt: skip


def violation_from_dict(data: Mapping[str, Any], *, where: str = "<violation>") -> Violation:
    """Build a :class:`Violation` from its JSON form; raises :class:`ViolationError` with every problem."""
    r = _Reader(where)
    d = r.obj(data, "", _VIOLATION_KEYS)
    kind_raw = d.get("kind")
    try:
        kind = ViolationKind(kind_raw)
    except ValueError:
        r.error("kind", f"unknown violation kind {kind_raw!r}", "km, um or kum")
        raise ViolationError("invalid violation", tuple(r.diagnostics)) from None
    env_raw = d.get("env", d.get("environment"))
    env = _parse_env(r, env_raw, "env")
    if d.get("memory") is not None:  # convenience: memory at top level
        extra = _parse_env(r, {"memory": d["memory"]}, "")
        env = Environment(
            env.os, env.guest_64, env.os_version, env.linux_version, env.introcore_version, env.code_segment_64,
            GuestMemory(env.memory.ranges + extra.memory.ranges),
        )  # fmt: skip
    victim = _parse_victim(r, d.get("victim"), "victim", env.os)
    originator = _parse_originator(r, d.get("originator"), "originator", kind, env.os)
    codeblocks: list[CodeBlocks] = []
    raw_cb = d.get("codeblocks") or []
    if not isinstance(raw_cb, list):
        r.error("codeblocks", "expected a list of {rip, hashes}")
        raw_cb = []
    for i, item in enumerate(raw_cb):
        c = r.obj(item, f"codeblocks[{i}]", ("rip", "hashes"))
        hashes = c.get("hashes") or []
        if not isinstance(hashes, list) or not all(isinstance(h, int) and 0 <= h <= 0xFFFFFFFF for h in hashes):
            r.error(f"codeblocks[{i}].hashes", "expected a list of 32-bit integers")
            hashes = []
        codeblocks.append(CodeBlocks(r.int_(c, "rip", f"codeblocks[{i}]"), tuple(sorted(hashes))))
    alert_cb = None
    if d.get("alert_codeblocks") is not None:
        a = r.obj(d["alert_codeblocks"], "alert_codeblocks", ("rip", "start", "rip_index", "hashes"))
        ahashes = a.get("hashes") or []
        if not isinstance(ahashes, list) or not all(isinstance(h, int) and 0 <= h <= 0xFFFFFFFF for h in ahashes):
            r.error("alert_codeblocks.hashes", "expected a list of 32-bit integers")
            ahashes = []
        alert_cb = AlertCodeBlocks(
            rip=r.int_(a, "rip", "alert_codeblocks"),
            start=r.int_(a, "start", "alert_codeblocks"),
            rip_index=r.int_(a, "rip_index", "alert_codeblocks"),
            hashes=tuple(ahashes),
        )
    if r.diagnostics:
        raise ViolationError("invalid violation", tuple(r.diagnostics))
    label = d.get("label")
    return Violation(
        kind=kind,
        victim=victim,
        originator=originator,
        env=env,
        codeblocks=tuple(codeblocks),
        origin=Origin(path=where, label=label if isinstance(label, str) else None),
        alert_codeblocks=alert_cb,
    )


def _hex(data: bytes) -> str:
    return data.hex()


def _process_to_dict(p: Process) -> dict[str, Any]:
    out: dict[str, Any] = {"name": p.name, "name_hash": p.name_hash}
    optional: dict[str, Any] = {
        "wow64": p.wow64 or None,
        "system_process": p.system_process or None,
        "pid": p.pid,
        "address": p.address or None,
        "parent_address": p.parent_address or None,
        "cr3": p.cr3 or None,
        "path": p.path,
        "path_name": p.path_name,
        "command_line": p.command_line,
        "one_time_done": p.one_time_done or None,
        "apphelp": {"address": p.apphelp[0], "size": p.apphelp[1]} if p.apphelp else None,
        "peb32": p.peb32_address,
        "peb64": p.peb64_address,
        "init_state": p.init_state.value if p.init_state is not InitState.NOT_STARTED else None,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    return out


def _module_to_dict(m: Module) -> dict[str, Any]:
    out: dict[str, Any] = {"name": m.name, "name_hash": m.name_hash, "base": m.base}
    if m.size is not None:
        out["size"] = m.size
    if m.path is not None:
        out["path"] = m.path
    if not m.export_directory:
        out["export_directory"] = False
    if m.exports:
        out["exports"] = [{"rva": e.rva, "names": list(e.names), "name_hashes": list(e.name_hashes)} for e in m.exports]
    return out


def _driver_to_dict(f: DriverFrame) -> dict[str, Any]:
    out: dict[str, Any] = {"driver": f.driver, "name": f.name, "name_hash": f.name_hash, "rip": f.rip}
    for key in ("section", "size", "path", "entry_point", "driver_object_gpa", "core_base"):
        value = getattr(f, key)
        if value is not None:
            out[key] = value
    if f.base:
        out["base"] = f.base
    return out


def violation_to_dict(v: Violation) -> dict[str, Any]:
    """The JSON form of a violation (round-trips through :func:`violation_from_dict`)."""
    env = v.env
    env_d: dict[str, Any] = {"os": env.os.value, "guest_64": env.guest_64}
    if env.os_version is not None:
        env_d["os_version"] = env.os_version
    if env.linux_version is not None:
        env_d["linux_version"] = list(env.linux_version)
    if env.introcore_version is not None:
        env_d["introcore_version"] = ".".join(str(x) for x in env.introcore_version)
    if env.code_segment_64 is not None:
        env_d["code_segment_64"] = env.code_segment_64
    if env.memory.ranges:
        env_d["memory"] = [{"gva": m.gva, "bytes": _hex(m.data)} for m in env.memory.ranges]
    vic = v.victim
    known_flags = sum(int(b) for b in ZONE_FLAG_NAMES.values())
    vd: dict[str, Any] = {
        "zone_type": vic.zone_type.json_name,
        "zone_flags": zone_flag_names(vic.zone_flags)
        if not int(vic.zone_flags) & ~known_flags
        else int(vic.zone_flags),
        "object_type": vic.object_type.json_name
        if int(vic.object_type) in _OBJECT_TYPE_NAMES.values()
        else int(vic.object_type),
        "name": vic.name,
        "name_wide": vic.name_wide,
        "name_hash": vic.name_hash,
        "base_address": vic.base_address,
        "gva": vic.gva,
        "gpa": vic.gpa,
    }
    if vic.write is not None:
        vd["write"] = {"old": _hex(vic.write.old), "new": _hex(vic.write.new), "access_size": vic.write.access_size}
    if vic.read is not None:
        vd["read"] = {"value": _hex(vic.read.value), "size": vic.read.size}
    if vic.cr is not None:
        vd["cr"] = {"index": vic.cr.index, "smap_cleared": vic.cr.smap_cleared, "smep_cleared": vic.cr.smep_cleared}
    if vic.msr is not None:
        vd["msr"] = {"index": vic.msr.index, "new_driver_base": vic.msr.new_driver_base}
    if vic.integrity is not None:
        g = vic.integrity
        vd["integrity"] = {
            "start": g.start, "offset": g.offset, "total_length": g.total_length,
            "interrupt_obj_index": g.interrupt_obj_index,
        }  # fmt: skip
        if g.buffer is not None:
            vd["integrity"]["buffer"] = _hex(g.buffer)
    if vic.injection is not None:
        vd["injection"] = {"length": vic.injection.length}
    if vic.driver_object is not None:
        o = vic.driver_object
        vd["driver_object"] = {k: v for k, v in (("gpa", o.gpa), ("gva", o.gva), ("name", o.name), ("fast_io", o.fast_io)) if v is not None}
    if vic.exec_info is not None:
        x = vic.exec_info
        vd["exec"] = {"rsp": x.rsp, "stack_base": x.stack_base, "stack_limit": x.stack_limit, "length": x.length}
    if vic.module is not None:
        vd["module"] = _module_to_dict(vic.module)
    if vic.process is not None:
        vd["process"] = _process_to_dict(vic.process)
    if vic.section is not None:
        vd["section"] = vic.section
    if vic.export is not None:
        vd["export"] = {
            "rva": vic.export.rva, "names": list(vic.export.names), "name_hashes": list(vic.export.name_hashes),
            "delta": vic.export_delta or 0,
        }  # fmt: skip
    od: dict[str, Any]
    if isinstance(v.originator, UserOriginator):
        u = v.originator
        od = {"name": u.name, "name_wide": u.name_wide, "name_hash": u.name_hash, "rip": u.rip}
        if u.library is not None:
            od["library"] = _module_to_dict(u.library)
        rd: dict[str, Any] = {"name_hash": u.return_.name_hash, "rip": u.return_.rip}
        if u.return_.name is not None:
            rd["name"] = u.return_.name
        if u.return_.library is not None:
            rd["library"] = _module_to_dict(u.return_.library)
        od["return"] = rd
        od["pc_type"] = int(u.pc_type)
        od["execute"] = u.execute
        if u.process is not None:
            od["process"] = _process_to_dict(u.process)
        if u.same_process_as_victim is not None:
            od["same_process_as_victim"] = u.same_process_as_victim
    else:
        k = v.originator
        od = {
            "original": _driver_to_dict(k.original),
            "return": _driver_to_dict(k.return_),
            "is_entry_point": k.is_entry_point,
        }
        if k.is_integrity:
            od["is_integrity"] = True
        if k.injection.user or k.injection.kernel:
            od["injection"] = {"user": k.injection.user, "kernel": k.injection.kernel}
        if k.process is not None:
            od["process"] = _process_to_dict(k.process)
        if k.instruction is not None:
            od["instruction"] = _hex(k.instruction)
        if k.blocked:
            od["blocked"] = True
    out: dict[str, Any] = {"kind": v.kind.value, "env": env_d, "victim": vd, "originator": od}
    if v.codeblocks:
        out["codeblocks"] = [{"rip": c.rip, "hashes": list(c.hashes)} for c in v.codeblocks]
    if v.alert_codeblocks is not None:
        a = v.alert_codeblocks
        out["alert_codeblocks"] = {"rip": a.rip, "start": a.start, "rip_index": a.rip_index, "hashes": list(a.hashes)}
    if v.origin is not None and v.origin.label is not None:
        out["label"] = v.origin.label
    return out


def load_violations(path: str | Path) -> list[Violation]:
    """Load violations from a JSON file: one violation object, a list of them, or ``{"violations": [...]}``.

    A ``.jsonl`` file holds one violation per line. Errors name the file and the failing entry.
    """
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    items: Sequence[Any]
    try:
        if p.suffix == ".jsonl":
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            doc = json.loads(text)
            if isinstance(doc, Mapping) and "violations" in doc:
                items = doc["violations"]
            elif isinstance(doc, list):
                items = doc
            else:
                items = [doc]
    except json.JSONDecodeError as exc:
        raise ViolationError(
            "not valid JSON",
            (Diagnostic("json", exc.msg, location=SourceLocation(str(p), exc.lineno, exc.colno)),),
        ) from None
    out: list[Violation] = []
    diagnostics: list[Diagnostic] = []
    for i, item in enumerate(items):
        where = str(p) if len(items) == 1 else f"{p}[{i}]"
        try:
            out.append(violation_from_dict(item, where=where))
        except ViolationError as exc:
            diagnostics.extend(exc.diagnostics)
    if diagnostics:
        raise ViolationError(f"{p}: invalid violation(s)", tuple(diagnostics))
    return out
