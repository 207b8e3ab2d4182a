"""Which hashing rule each name field of a record uses (spec 02 §6.7), decided from the record's kind,
object type and flag bits, as the compiler decides it from the JSON.

The object-type names and flag bits come from the configuration, so a custom config is honoured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hvmiex.config import Config
from hvmiex.model.enums import ExceptionKind
from hvmiex.names import IMAGE_BASE_NAME_LEN, LIX_COMM_LEN, HashRule

# object types whose originator/victim are process names (narrow, trimmed)
_UM_NARROW_ORIGINATOR = frozenset(
    {"process", "thread-context", "peb32", "peb64", "apc-thread", "process-creation", "process-creation-dpi",
     "instrumentation-callback"}
)  # fmt: skip
_UM_NARROW_VICTIM = _UM_NARROW_ORIGINATOR | {"double-agent"}
# upstream quirk Q24: user-apc uses another list (no process-creation*, but double-agent) and always trims 14
_APC_NARROW = frozenset(
    {"process", "thread-context", "peb32", "peb64", "apc-thread", "double-agent", "instrumentation-callback"}
)
_KM_NARROW_TRIMMED_VICTIM = frozenset({"token-privs", "security-descriptor", "acl-edit"})


@dataclass(frozen=True, slots=True)
class FieldRule:
    """A field's hashing rule and its predefined-name table (name -> value)."""

    rule: HashRule
    predefined: Mapping[str, int]


def _bit(config: Config, section: str, name: str, default: int) -> int:
    return config.flags.get(section, {}).get(name, default)


def _type_name(config: Config, kind: ExceptionKind, object_type: int) -> str | None:
    return config.type_name(kind.type_table, object_type)


def exception_field_rule(
    kind: ExceptionKind, field: str, object_type: int, flags: int, config: Config
) -> FieldRule | None:
    """The rule of ``field`` ("originator", "victim", "process") of a hashed exception, or None for globs."""
    linux = bool(flags & _bit(config, "common", "linux", 0x80))
    fold = not linux
    type_name = _type_name(config, kind, object_type)
    user_table = config.predefined["user-mode"]
    kernel_table = config.predefined["kernel-mode"]
    if kind is ExceptionKind.KERNEL:
        if field == "originator":
            return FieldRule(HashRule(wide=True, fold=fold, path_reduce=True, table="kernel-mode"), kernel_table)
        if field == "victim":
            if type_name == "sud-modification":
                return FieldRule(HashRule(wide=False, fold=False, table="kernel-mode"), kernel_table)
            if type_name in _KM_NARROW_TRIMMED_VICTIM:
                return FieldRule(
                    HashRule(wide=False, fold=fold, trim=IMAGE_BASE_NAME_LEN, table="kernel-mode"), kernel_table
                )
            return FieldRule(HashRule(wide=True, fold=fold, table="kernel-mode"), kernel_table)
        return None
    module_load = bool(flags & _bit(config, "user-mode", "module-load", 0x4000))
    if kind is ExceptionKind.USER:
        trim = LIX_COMM_LEN if linux else IMAGE_BASE_NAME_LEN
        if field == "originator":
            narrow = type_name in _UM_NARROW_ORIGINATOR and not module_load
        elif field == "victim":
            narrow = type_name in _UM_NARROW_VICTIM
        else:  # process: always 14 (upstream quirk Q24)
            return FieldRule(
                HashRule(wide=False, fold=fold, trim=IMAGE_BASE_NAME_LEN, table="user-mode", escapes=True), user_table
            )
        if narrow:
            return FieldRule(HashRule(wide=False, fold=fold, trim=trim, table="user-mode", escapes=True), user_table)
        return FieldRule(HashRule(wide=True, fold=fold, table="user-mode", escapes=True), user_table)
    if kind is ExceptionKind.USER_APC:
        narrow_rule = FieldRule(HashRule(wide=False, fold=fold, trim=IMAGE_BASE_NAME_LEN, table="user-mode"), user_table)
        if field == "process":
            return narrow_rule
        if field == "originator":
            narrow = type_name in _APC_NARROW and not module_load
        else:
            narrow = type_name in _APC_NARROW
        return narrow_rule if narrow else FieldRule(HashRule(wide=True, fold=fold, table="user-mode"), user_table)
    if kind is ExceptionKind.KERNEL_USER:
        if field == "originator":
            if flags & _bit(config, "kernel-user-mode", "user", 0x8000):
                return FieldRule(
                    HashRule(wide=False, fold=fold, trim=IMAGE_BASE_NAME_LEN, table="user-mode"), user_table
                )
            return FieldRule(HashRule(wide=True, fold=fold, table="kernel-mode"), kernel_table)
        if field == "victim":
            # upstream quirk Q6: the user-mode table, so "[kernel]" is hashed as text
            return FieldRule(HashRule(wide=True, fold=fold, table="user-mode"), user_table)
        return FieldRule(HashRule(wide=False, fold=fold, trim=IMAGE_BASE_NAME_LEN, table="user-mode"), user_table)
    return None


def export_library_rule(config: Config) -> FieldRule:
    """Export signature ``library``: wide, never folded (upstream quirk Q25), user-mode table."""
    return FieldRule(HashRule(wide=True, fold=False, table="user-mode"), config.predefined["user-mode"])


def export_function_rule(config: Config) -> FieldRule:
    """Export signature function ``name``: narrow, never folded, signature table."""
    return FieldRule(HashRule(wide=False, fold=False, table="signature"), config.predefined["signature"])
