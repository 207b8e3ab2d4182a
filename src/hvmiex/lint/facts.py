"""Facts about Introcore the checks rely on, as frozen tables keyed by JSON object-type names.

Sources: spec 03 §3.5 (what each object type matches), §4.2 (which zone and access each violation
source produces, on which OS), §7 (step-1 predicates), §9 (signature usability).
"""

from __future__ import annotations

from hvmiex.model.enums import (
    STOCK_KERNEL_TYPE_NAMES,
    STOCK_KERNEL_USER_TYPE_NAMES,
    STOCK_USER_TYPE_NAMES,
    CommonFlag,
    ExceptionKind,
    KernelFlag,
    KernelUserFlag,
    UserFlag,
)

READ = int(CommonFlag.READ)
WRITE = int(CommonFlag.WRITE)
EXEC = int(CommonFlag.EXEC)
ACCESS = READ | WRITE | EXEC
ARCH32 = int(CommonFlag.ARCH32)
ARCH64 = int(CommonFlag.ARCH64)
LINUX = int(CommonFlag.LINUX)
FEEDBACK = int(CommonFlag.FEEDBACK)
INIT = int(CommonFlag.INIT)
RETURN = int(CommonFlag.RETURN)
IGNORE = int(CommonFlag.IGNORE)
NON_DRIVER = int(KernelFlag.NON_DRIVER)
RETURN_DRV = int(KernelFlag.RETURN_DRV)
SMAP = int(KernelFlag.SMAP)
SMEP = int(KernelFlag.SMEP)
INTEGRITY = int(KernelFlag.INTEGRITY)
SYSTEM_PROCESS = int(UserFlag.SYSTEM_PROCESS)
CHILD = int(UserFlag.CHILD)
ONE_TIME = int(UserFlag.ONE_TIME)
LIKE_APPHELP = int(UserFlag.LIKE_APPHELP)
MODULE_LOAD = int(UserFlag.MODULE_LOAD)
KUM_USER = int(KernelUserFlag.USER)
KUM_KERNEL = int(KernelUserFlag.KERNEL)

ANY_NAME = 0  # predefined "*"
OWN_NAME = 1  # predefined "[own]"
NONE_NAME = 4  # predefined "-"
NONAME = 0xFFFFFFFF

# Access bits a violation of each object type can carry (spec 03 §4.2). Types not listed: unknown/any.
KM_ACCESS: dict[str, int] = {
    "none": 0,
    "driver": READ | WRITE, "driver imports": READ | WRITE, "driver code": READ | WRITE,
    "driver data": READ | WRITE, "driver resources": READ | WRITE, "driver exports": READ | WRITE,
    "ssdt": READ | WRITE,
    "hal-heap": WRITE | EXEC, "sud-exec": EXEC,
    "drvobj": WRITE, "fastio": WRITE, "msr": WRITE, "cr4": WRITE, "selfmap": WRITE, "idt": WRITE,
    "idt-reg": WRITE, "gdt-reg": WRITE, "infinity-hook": WRITE, "token-privs": WRITE,
    "hal-perf-counter": WRITE, "security-descriptor": WRITE, "acl-edit": WRITE, "sud-modification": WRITE,
    "interrupt-obj": WRITE,
}  # fmt: skip
UM_ACCESS: dict[str, int] = {
    "none": 0,
    "process": READ | WRITE, "peb32": READ | WRITE, "peb64": READ | WRITE,
    "thread-context": WRITE, "apc-thread": WRITE, "instrumentation-callback": WRITE, "double-agent": WRITE,
    "module": WRITE, "module imports": WRITE, "module exports": WRITE,
    "nx_zone": EXEC, "process-creation": EXEC, "process-creation-dpi": EXEC, "sud-exec": EXEC,
}  # fmt: skip
KUM_ACCESS: dict[str, int] = {"none": 0, "module": WRITE, "module imports": WRITE, "module exports": WRITE}

# Object types whose violations only exist on Windows guests (spec 03 §4.2: Linux produces kernel-module
# code/data writes, vDSO/vsyscall writes, MSR/CR4/DTR/IDT and user NX-zone, process and creation events).
KM_WINDOWS_ONLY = frozenset({
    "driver imports", "driver exports", "driver resources", "ssdt", "drvobj", "fastio", "hal-heap", "selfmap",
    "infinity-hook", "token-privs", "sud-exec", "hal-perf-counter", "security-descriptor", "acl-edit",
    "sud-modification", "interrupt-obj",
})  # fmt: skip
UM_WINDOWS_ONLY = frozenset({
    "peb32", "peb64", "apc-thread", "instrumentation-callback", "double-agent", "process-creation-dpi",
    "sud-exec", "module imports", "module exports",
})  # fmt: skip

# KM types that can come from the Integrity zone (spec 03 §4.2); `integrity` on any other type never matches
KM_INTEGRITY_TYPES = frozenset({
    "any", "drvobj", "fastio", "infinity-hook", "idt", "hal-perf-counter", "interrupt-obj", "token-privs",
    "security-descriptor", "acl-edit", "sud-modification",
})  # fmt: skip

# flags whose presence narrows what an exception matches (an exception that has one of these but lacks
# it in another exception cannot cover it); per kind, spec 03 §7
KM_RESTRICTING = INIT | NON_DRIVER | INTEGRITY | SMAP | SMEP
UM_RESTRICTING = INIT | CHILD | SYSTEM_PROCESS | LIKE_APPHELP | ONE_TIME
KUM_RESTRICTING = INIT | NON_DRIVER

# process-creation object types of UM (placed in their own lists, spec 03 §5.1)
UM_PROCESS_CREATION = "process-creation"

# signature kind codes (stock) and the id layout
SIG_SHIFT = 22
ALERT_COUNTER_BASE = 0x200000
SIG_COUNTER_LIMIT = 1 << SIG_SHIFT


def type_name(kind: ExceptionKind, value: int) -> str:
    """JSON name of an object-type byte for a kind (stock names; unknown values as numbers)."""
    if kind is ExceptionKind.KERNEL:
        table = STOCK_KERNEL_TYPE_NAMES
    elif kind is ExceptionKind.KERNEL_USER:
        table = STOCK_KERNEL_USER_TYPE_NAMES
    else:
        table = STOCK_USER_TYPE_NAMES
    return table.get(value, str(value))


def access_table(kind: ExceptionKind) -> dict[str, int]:
    if kind is ExceptionKind.KERNEL:
        return KM_ACCESS
    if kind is ExceptionKind.KERNEL_USER:
        return KUM_ACCESS
    return UM_ACCESS


def access_names(bits: int) -> str:
    names = [n for b, n in ((READ, "read"), (WRITE, "write"), (EXEC, "exec")) if bits & b]
    return " ".join(names) if names else "none"
