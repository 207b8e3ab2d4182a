"""Byte layout of Introcore's serialized alerts (spec 05 §2-§7): one declaration per record.

Every record is declared once here: a precompiled little-endian :class:`struct.Struct` for the fixed
part plus its field names, then (optionally) the strings and the variable tail that follow it. The
decoder and the encoder both walk these declarations, so they cannot disagree about a layout.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from types import MappingProxyType

# --- file header (spec 05 §3) ------------------------------------------------------------------------

HEADER = struct.Struct("<IIIHI")
HEADER_FIELDS = ("alert_class", "guest", "event", "size", "arch")

# --- object header (spec 05 §4) ----------------------------------------------------------------------

OBJECT_HEADER = struct.Struct("<IHH")
OBJECT_HEADER_FIELDS = ("version", "type", "size")

# --- embedded string prefix (spec 05 §6.1): u32 length + u8 encoding -----------------------------------

STRING_HEADER = struct.Struct("<IB")

SUPPORTED_VERSION = 1
MAX_OBJECT_TYPE = 47


class AlertClass(enum.IntEnum):
    KERNEL = 0
    USER = 1
    KERNEL_USER = 2


class Guest(enum.IntEnum):
    UNKNOWN = 0
    WINDOWS = 1
    LINUX = 2


class Event(enum.IntEnum):
    """Introcore event classes (spec 05 §3)."""

    EPT = 1
    MSR = 2
    CR = 3
    XCR = 4
    INTEGRITY = 5
    TRANSLATION = 6
    MEMCOPY = 7
    DTR = 8
    MESSAGE = 9
    PROCESS = 10
    AGENT = 11
    MODULE = 12
    CRASH = 13
    EXCEPTION = 14
    CONNECTION = 15
    PROCESS_CREATION = 16
    MODULE_LOAD = 17
    ENGINES = 18


class StringEncoding(enum.IntEnum):
    UTF8 = 0
    UTF16 = 1


class Tail(enum.Enum):
    """What follows the fixed fields (and the strings) of an object."""

    NONE = "none"
    U32_ARRAY = "u32-array"  # count taken from a fixed field
    BYTES = "bytes"  # length taken from a fixed field
    COUNTED_STRINGS = "counted-strings"  # number of strings taken from a fixed field
    RAW = "raw"  # the rest of the payload, uninterpreted


class Section(enum.Enum):
    ORIGINATOR = "originator"
    VICTIM = "victim"
    MISC = "misc"


@dataclass(frozen=True, slots=True)
class ObjectLayout:
    """Declaration of one object type: fixed part, strings, variable tail."""

    type_id: int
    key: str  # stable identifier used in JSON output
    title: str  # what the object is (the producer's meaning, not the upstream reader's label)
    fixed: struct.Struct
    fields: tuple[str, ...]
    strings: tuple[str, ...] = ()
    tail: Tail = Tail.NONE
    tail_name: str | None = None  # key of the tail value in the field mapping
    count_field: str | None = None  # fixed field holding the tail's element count / byte length
    opens: Section | None = None  # marker that opens a section
    closes: Section | None = None  # marker that closes a section
    marker: bool = False

    @property
    def fixed_size(self) -> int:
        return self.fixed.size


def _obj(
    type_id: int,
    key: str,
    title: str,
    fmt: str,
    fields: tuple[str, ...] | str = (),
    *,
    strings: tuple[str, ...] = (),
    tail: Tail = Tail.NONE,
    tail_name: str | None = None,
    count_field: str | None = None,
    opens: Section | None = None,
    closes: Section | None = None,
) -> ObjectLayout:
    names = tuple(fields.split()) if isinstance(fields, str) else fields
    compiled = struct.Struct("<" + fmt)
    if len(names) != len(compiled.unpack(bytes(compiled.size))):
        raise AssertionError(f"layout of object {type_id}: {len(names)} names for format {fmt!r}")
    return ObjectLayout(
        type_id, key, title, compiled, names, strings, tail, tail_name, count_field, opens, closes,
        opens is not None or closes is not None,
    )


def _acl(prefix: str) -> str:
    # ACL header (spec 05 §7.30): revision, reserved, size, ACE count, reserved
    return f"{prefix}_revision {prefix}_sbz1 {prefix}_size {prefix}_ace_count {prefix}_sbz2"


_ACL_FMT = "BBHHH"
_ACLS = " ".join(_acl(p) for p in ("old_sacl", "old_dacl", "new_sacl", "new_dacl"))

ARCH_REGISTERS = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "cr2", "rflags", "dr7", "rip", "cr0", "cr4", "cr3", "cr8", "idt_base", "idt_limit", "gdt_base", "gdt_limit"]

_LAYOUTS: tuple[ObjectLayout, ...] = (
    _obj(1, "start_originator", "Start of originator section", "", opens=Section.ORIGINATOR),
    _obj(2, "end_originator", "End of originator section", "", closes=Section.ORIGINATOR),
    _obj(3, "start_victim", "Start of victim section", "", opens=Section.VICTIM),
    _obj(4, "end_victim", "End of victim section", "", closes=Section.VICTIM),
    _obj(5, "start_misc", "Start of misc section", "", opens=Section.MISC),
    _obj(6, "end_misc", "End of misc section", "", closes=Section.MISC),
    _obj(7, "victim", "Victim", "IIQ", "object_type zone_type zone_flags"),
    _obj(8, "ept", "EPT access", "QQB", "gva gpa access"),
    _obj(9, "msr", "MSR", "I", "msr"),
    _obj(10, "cr", "Control register", "I", "cr"),
    _obj(11, "dtr", "Descriptor-table register", "I", "dtr_type"),
    _obj(12, "idt", "IDT entry", "I", "entry"),
    # never produced (spec 05 §7.4): kept opaque
    _obj(13, "integrity", "Integrity (never produced)", "", tail=Tail.RAW, tail_name="data"),
    _obj(14, "injection", "Injection", "QII", "gva length kind"),
    _obj(
        15,
        "windows_process",
        "Windows process",
        "QQQQQIQQQQ",
        "eprocess parent real_parent cr3 user_cr3 pid peb64 peb32 main_module flags",
        strings=("name", "path", "command_line"),
    ),
    _obj(
        16,
        "windows_parent_process",
        "Windows parent process",
        "QQQQQIQQQQ",
        "eprocess parent real_parent cr3 user_cr3 pid peb64 peb32 main_module flags",
        strings=("name", "path", "command_line"),
    ),
    _obj(
        17,
        "linux_task",
        "Linux task",
        "QQQQQQIII",
        "task real_parent actual_parent parent mm cr3 pid tgid flags",
        strings=("name", "path", "command_line"),
    ),
    _obj(
        18,
        "linux_parent_task",
        "Linux parent task",
        "QQQQQQIII",
        "task real_parent actual_parent parent mm cr3 pid tgid flags",
        strings=("name", "path", "command_line"),
    ),
    _obj(
        19,
        "kernel_driver",
        "Kernel driver (original RIP)",
        "QQQQ",
        "object_gva base size entry_point",
        strings=("section",),
    ),
    _obj(
        20,
        "kernel_driver_return",
        "Kernel driver (return address)",
        "QQQQ",
        "object_gva base size entry_point",
        strings=("section",),
    ),
    _obj(21, "windows_kernel_driver", "Windows kernel driver (original RIP)", "I", "timestamp",
         strings=("path",)),
    _obj(22, "windows_kernel_driver_return", "Windows kernel driver (return address)", "I", "timestamp",
         strings=("path",)),
    _obj(
        23,
        "linux_kernel_module",
        "Linux kernel module (original RIP)",
        "QIIIQIII",
        "init_base init_size init_text_size init_ro_size core_base core_size core_text_size core_ro_size",
        strings=("name",),
    ),
    _obj(
        24,
        "linux_kernel_module_return",
        "Linux kernel module (return address)",
        "QIIIQIII",
        "init_base init_size init_text_size init_ro_size core_base core_size core_text_size core_ro_size",
        strings=("name",),
    ),
    _obj(25, "windows_driver_object", "Windows driver object", "QQQ", "gva gpa fast_io", strings=("name",)),
    _obj(
        26,
        "windows_vad",
        "Windows VAD",
        "QQQIIIII",
        "start end vad vad_protection vad_type protection exec_count flags",
        strings=("path",),
    ),
    _obj(27, "linux_vma", "Linux VMA", "QQQQQ", "start end vma flags file", strings=("path",)),
    _obj(28, "windows_module", "Windows user module (RIP)", "QI", "base size", strings=("path",)),
    _obj(29, "windows_module_return", "Windows user module (return address)", "QI", "base size",
         strings=("path",)),
    _obj(30, "instruction", "Instruction", "Q16s", "rip bytes"),
    _obj(31, "write_info", "Write info", "I64s64s", "access_size old new"),
    _obj(32, "read_info", "Read info", "I64s", "access_size value"),
    _obj(33, "exec_info", "Execution info", "QQQI", "rsp stack_base stack_limit length"),
    _obj(34, "arch_regs", "Architectural registers", "28Q", tuple(ARCH_REGISTERS)),
    _obj(
        35,
        "code_blocks",
        "Code blocks",
        "QQII",
        "start_address rip rip_index count",
        tail=Tail.U32_ARRAY,
        tail_name="hashes",
        count_field="count",
    ),
    _obj(36, "rip_code", "Code page of the RIP", "II", "cs_type length", tail=Tail.BYTES, tail_name="code",
         count_field="length"),
    _obj(37, "raw_dump", "Injected bytes", "I", "length", tail=Tail.BYTES, tail_name="data",
         count_field="length"),
    _obj(38, "export", "Export", "II", "count delta", tail=Tail.COUNTED_STRINGS, tail_name="names",
         count_field="count"),
    _obj(39, "dpi", "Process-creation DPI flags", "I", "flags"),
    _obj(40, "dpi_debug", "DPI: debugger", "Q", "debugger"),
    _obj(
        41,
        "dpi_pivoted_stack",
        "DPI: pivoted stack",
        "QQQQQQ512s",
        "current_stack stack_base stack_limit wow64_current_stack wow64_stack_base wow64_stack_limit trap_frame",
    ),
    _obj(42, "dpi_stolen_token", "DPI: stolen token", "Q", "stolen_from"),
    _obj(43, "dpi_token_privs", "DPI: token privileges", "QQQQ",
         "old_enabled new_enabled old_present new_present"),
    _obj(44, "dpi_thread_start", "DPI: thread start", "QQ4096s", "shellcode_flags start_address start_page"),
    _obj(
        45,
        "dpi_heap_spray",
        "DPI: heap spray",
        "15IQ4096s4096s",
        (*(f"heap_page_{i}" for i in range(1, 16)), "shellcode_flags", "detected_page", "max_page"),
    ),
    _obj(
        46,
        "dpi_security_descriptor",
        "DPI: security descriptor",
        "QQQ" + _ACL_FMT * 4,
        "stolen_from old_pointer new_pointer " + _ACLS,
    ),
    _obj(47, "dpi_acl_edit", "DPI: ACL edit", _ACL_FMT * 4, _ACLS),
)

LAYOUTS: MappingProxyType[int, ObjectLayout] = MappingProxyType({lay.type_id: lay for lay in _LAYOUTS})
LAYOUTS_BY_KEY: MappingProxyType[str, ObjectLayout] = MappingProxyType({lay.key: lay for lay in _LAYOUTS})

# Dense tuple for the decoder's hot path: index = type id (0 and >= 48 are None).
LAYOUT_TABLE: tuple[ObjectLayout | None, ...] = tuple(LAYOUTS.get(i) for i in range(MAX_OBJECT_TYPE + 1))

# Fixed payload sizes the producer writes (spec 05 §7), used by tests and by documentation.
EPT_ACCESS_NAMES = MappingProxyType({0: "none", 1: "read", 2: "write", 4: "execute"})
INJECTION_KINDS = MappingProxyType(
    {0: "write", 1: "read", 2: "set-thread-context", 3: "queue-apc", 4: "instrumentation-callback"}
)
CS_TYPES = MappingProxyType({0: "invalid", 1: "16-bit", 2: "32-bit", 3: "64-bit"})
ZONE_TYPES = MappingProxyType(
    {1: "ept", 2: "msr", 3: "cr", 4: "integrity", 5: "process", 6: "dtr", 7: "process-creation"}
)
ZONE_FLAG_NAMES = MappingProxyType(
    {
        0x1: "lib-imports",
        0x2: "lib-exports",
        0x4: "lib-code",
        0x8: "lib-data",
        0x10: "lib-resources",
        0x20: "proc-thread-ctx",
        0x40: "proc-thread-apc",
        0x80: "dep-execution",
        0x100: "module-load",
        0x200: "proc-instrument",
        0x10000000: "write",
        0x20000000: "read",
        0x40000000: "execute",
        0x100000000: "integrity",
    }
)
DPI_FLAG_NAMES = MappingProxyType(
    {
        0x1: "debug",
        0x2: "pivoted-stack",
        0x4: "stolen-token",
        0x8: "heap-spray",
        0x10: "token-privs",
        0x20: "thread-start",
        0x40: "security-descriptor",
        0x80: "acl-edit",
    }
)
# Victim object types, producer numbering (spec 05 §7.1 / spec 03 §3.4).
VICTIM_OBJECT_TYPES = MappingProxyType(
    {
        0: "none",
        1: "raw",
        2: "internal",
        3: "ssdt",
        4: "fast-io-dispatch",
        5: "driver-object",
        6: "km-module",
        7: "idt",
        8: "gdt",
        9: "km-unpack",
        10: "process",
        11: "um-internal",
        12: "um-unpack",
        13: "um-heap",
        14: "um-stack",
        15: "um-generic-nx-zone",
        16: "um-module",
        17: "detour-read",
        18: "token-ptr",
        19: "hal-dispatch-table",
        20: "hal-int-controller",
        21: "self-map-entry",
        22: "hal-heap",
        23: "vdso",
        24: "vsyscall",
        25: "ex-table",
        26: "ve-agent",
        27: "idtr",
        28: "gdtr",
        29: "process-creation",
        30: "exec-suspicious-dll",
        31: "km-logger-context",
        32: "process-creation-dpi",
        33: "token-privs",
        34: "sud-exec",
        35: "hal-perf-counter",
        36: "hooked-function",
        37: "slack-space",
        38: "security-descriptor",
        39: "acl",
        40: "sud-integrity",
        41: "interrupt-object",
        42: "test",
        0xFFFFFFFF: "cr",
    }
)


def access_from_zone_flags(zone_flags: int) -> int:
    """The EPT access byte the producer derives from zone flags: write > read > execute (spec 05 §7.2)."""
    if zone_flags & 0x10000000:
        return 2
    if zone_flags & 0x20000000:
        return 1
    if zone_flags & 0x40000000:
        return 4
    return 0


def injection_kind_from_zone_flags(zone_flags: int) -> int:
    """The injection kind the producer derives from zone flags (spec 05 §7.5)."""
    kind = 0
    if zone_flags & 0x10000000:
        if zone_flags & 0x20:
            kind = 2
        elif zone_flags & 0x40:
            kind = 3
        elif zone_flags & 0x200:
            kind = 4
    if zone_flags & 0x20000000:
        kind = 1
    return kind
