"""Enumerations of the exceptions mechanism: kinds, binary object types, signature kinds, stock tables.

The stock flag and object-type values are given here as typed enums for code that wants names; the
compiler always reads the values from the configuration (a custom config may change them).
"""

from __future__ import annotations

import enum


class ExceptionKind(enum.Enum):
    """The five exception kinds, valued by the JSON ``Type`` that declares them."""

    KERNEL = "kernel"
    USER = "user"
    USER_APC = "user-apc"
    USER_GLOB = "user-glob-match"
    KERNEL_USER = "kernel-user"

    @property
    def object_type(self) -> ObjectType:
        return _KIND_OBJECT[self]

    @property
    def type_table(self) -> str:
        """Name of the ``Types`` section of the config holding this kind's object types."""
        return _KIND_TYPE_TABLE[self]

    @property
    def flag_table(self) -> str:
        """Name of the kind-specific ``Flags`` section of the config (besides ``common``)."""
        return _KIND_TYPE_TABLE[self]


class ObjectType(enum.IntEnum):
    """The ``Type`` byte of an object header (spec 01 §3)."""

    KM_EXCEPTION = 1
    UM_EXCEPTION = 2
    CB_SIGNATURE = 3
    EXPORT_SIGNATURE = 4
    VALUE_SIGNATURE = 5
    UM_GLOB_EXCEPTION = 6
    RESERVED = 7
    VALUE_CODE_SIGNATURE = 8
    APC_UM_EXCEPTION = 9
    IDT_SIGNATURE = 10
    VERSION_OS_SIGNATURE = 11
    VERSION_INTRO_SIGNATURE = 12
    PROCESS_CREATION_SIGNATURE = 13
    KUM_EXCEPTION = 14


class SignatureKind(enum.Enum):
    """The eight signature kinds, valued by their JSON ``sig_type``."""

    VERSION_OS = "version-os"
    VERSION_INTRO = "version-intro"
    PROCESS_CREATION = "process-creation"
    EXPORT = "export"
    VALUE = "value"
    IDT = "idt"
    VALUE_CODE = "value-code"
    CODEBLOCKS = "codeblocks"

    @property
    def stock_code(self) -> int:
        """Kind code of the stock config (top 10 bits of the signature id)."""
        return int(SignatureType[self.name])

    @property
    def object_type(self) -> ObjectType:
        return _SIG_OBJECT[self]


class SignatureType(enum.IntEnum):
    """Stock signature kind codes (config ``SignatureType``); id = code << 22 | counter."""

    VERSION_OS = 50
    VERSION_INTRO = 51
    PROCESS_CREATION = 70
    EXPORT = 100
    VALUE = 200
    IDT = 300
    VALUE_CODE = 500
    CODEBLOCKS = 600


SIGNATURE_ID_SHIFT = 22
SIGNATURE_COUNTER_MASK = (1 << SIGNATURE_ID_SHIFT) - 1


def signature_id(code: int, counter: int) -> int:
    return ((code << SIGNATURE_ID_SHIFT) + counter) & 0xFFFFFFFF


def signature_id_code(sig_id: int) -> int:
    return sig_id >> SIGNATURE_ID_SHIFT


def signature_id_counter(sig_id: int) -> int:
    return sig_id & SIGNATURE_COUNTER_MASK


class KernelObjectType(enum.IntEnum):
    NONE = 0
    ANY = 1
    DRIVER = 2
    DRIVER_IMPORTS = 3
    DRIVER_CODE = 4
    DRIVER_DATA = 5
    DRIVER_RESOURCES = 6
    SSDT = 7
    DRVOBJ = 8
    FASTIO = 9
    MSR = 10
    CR4 = 11
    HAL_HEAP = 12
    SELFMAP = 13
    IDT = 14
    IDT_REG = 15
    GDT_REG = 16
    INFINITY_HOOK = 17
    DRIVER_EXPORTS = 18
    TOKEN_PRIVS = 19
    SUD_EXEC = 20
    HAL_PERF_COUNTER = 21
    SECURITY_DESCRIPTOR = 22
    ACL_EDIT = 23
    SUD_MODIFICATION = 24
    INTERRUPT_OBJ = 25


class UserObjectType(enum.IntEnum):
    NONE = 0
    ANY = 1
    PROCESS = 2
    MODULE = 3
    MODULE_IMPORTS = 4
    NX_ZONE = 5
    MODULE_EXPORTS = 6
    THREAD_CONTEXT = 7
    PEB32 = 8
    PEB64 = 9
    APC_THREAD = 10
    PROCESS_CREATION = 11
    DOUBLE_AGENT = 12
    PROCESS_CREATION_DPI = 13
    SUD_EXEC = 14
    INSTRUMENTATION_CALLBACK = 15


class KernelUserObjectType(enum.IntEnum):
    NONE = 0
    ANY = 1
    MODULE = 2
    MODULE_IMPORTS = 3
    MODULE_EXPORTS = 4


class CommonFlag(enum.IntFlag):
    FEEDBACK = 0x1
    ARCH32 = 0x2
    ARCH64 = 0x4
    INIT = 0x8
    RETURN = 0x10
    LINUX = 0x80
    READ = 0x10000000
    WRITE = 0x20000000
    EXEC = 0x40000000
    IGNORE = 0x80000000


class KernelFlag(enum.IntFlag):
    NON_DRIVER = 0x100
    RETURN_DRV = 0x200
    SMAP = 0x400
    SMEP = 0x800
    INTEGRITY = 0x1000


class UserFlag(enum.IntFlag):
    SYSTEM_PROCESS = 0x100
    CHILD = 0x200
    ONE_TIME = 0x800
    LIKE_APPHELP = 0x1000
    DEBUG = 0x2000  # alias "reserved" in the stock config
    MODULE_LOAD = 0x4000


class KernelUserFlag(enum.IntFlag):
    USER = 0x8000
    KERNEL = 0x10000


class SignatureFlag(enum.IntFlag):
    ARCH32 = 0x1
    ARCH64 = 0x2
    MEDIUM = 0x4
    LINUX = 0x80
    CLI = 0x10000


class ProcessCreationFlag(enum.IntFlag):
    DEBUG = 0x1
    PIVOTED_STACK = 0x2
    STOLEN_TOKEN = 0x4
    HEAP_SPRAY = 0x8
    TOKEN_PRIVS = 0x10
    THREAD_START = 0x20
    SECURITY_DESCRIPTOR = 0x40
    ACL_EDIT = 0x80


# JSON names of the stock object types, per kind (config ``Types`` section)
STOCK_KERNEL_TYPE_NAMES: dict[int, str] = {
    0: "none", 1: "any", 2: "driver", 3: "driver imports", 4: "driver code", 5: "driver data",
    6: "driver resources", 7: "ssdt", 8: "drvobj", 9: "fastio", 10: "msr", 11: "cr4", 12: "hal-heap",
    13: "selfmap", 14: "idt", 15: "idt-reg", 16: "gdt-reg", 17: "infinity-hook", 18: "driver exports",
    19: "token-privs", 20: "sud-exec", 21: "hal-perf-counter", 22: "security-descriptor", 23: "acl-edit",
    24: "sud-modification", 25: "interrupt-obj",
}  # fmt: skip
STOCK_USER_TYPE_NAMES: dict[int, str] = {
    0: "none", 1: "any", 2: "process", 3: "module", 4: "module imports", 5: "nx_zone", 6: "module exports",
    7: "thread-context", 8: "peb32", 9: "peb64", 10: "apc-thread", 11: "process-creation",
    12: "double-agent", 13: "process-creation-dpi", 14: "sud-exec", 15: "instrumentation-callback",
}  # fmt: skip
STOCK_KERNEL_USER_TYPE_NAMES: dict[int, str] = {
    0: "none", 1: "any", 2: "module", 3: "module imports", 4: "module exports",
}  # fmt: skip

_KIND_OBJECT = {
    ExceptionKind.KERNEL: ObjectType.KM_EXCEPTION,
    ExceptionKind.USER: ObjectType.UM_EXCEPTION,
    ExceptionKind.USER_APC: ObjectType.APC_UM_EXCEPTION,
    ExceptionKind.USER_GLOB: ObjectType.UM_GLOB_EXCEPTION,
    ExceptionKind.KERNEL_USER: ObjectType.KUM_EXCEPTION,
}
_KIND_TYPE_TABLE = {
    ExceptionKind.KERNEL: "kernel-mode",
    ExceptionKind.USER: "user-mode",
    ExceptionKind.USER_APC: "user-mode",
    ExceptionKind.USER_GLOB: "user-mode",
    ExceptionKind.KERNEL_USER: "kernel-user-mode",
}
_SIG_OBJECT = {
    SignatureKind.VERSION_OS: ObjectType.VERSION_OS_SIGNATURE,
    SignatureKind.VERSION_INTRO: ObjectType.VERSION_INTRO_SIGNATURE,
    SignatureKind.PROCESS_CREATION: ObjectType.PROCESS_CREATION_SIGNATURE,
    SignatureKind.EXPORT: ObjectType.EXPORT_SIGNATURE,
    SignatureKind.VALUE: ObjectType.VALUE_SIGNATURE,
    SignatureKind.IDT: ObjectType.IDT_SIGNATURE,
    SignatureKind.VALUE_CODE: ObjectType.VALUE_CODE_SIGNATURE,
    SignatureKind.CODEBLOCKS: ObjectType.CB_SIGNATURE,
}
