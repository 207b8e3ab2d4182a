"""Small helpers shared by the checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hvmiex.lint.facts import ARCH32, ARCH64, LINUX, type_name
from hvmiex.lint.framework import Entry, LintModel
from hvmiex.model.enums import ExceptionKind
from hvmiex.names import Name, NameOrigin

FIELDS = ("originator", "victim", "process")


def kind_of(entry: Entry) -> ExceptionKind:
    kind = getattr(entry.record, "KIND", None)
    assert isinstance(kind, ExceptionKind)
    return kind


def flags_of(entry: Entry) -> int:
    return int(entry.record.flags.value)


def is_linux(entry: Entry) -> bool:
    return bool(flags_of(entry) & LINUX)


def obj_type(entry: Entry) -> str:
    return type_name(kind_of(entry), int(getattr(entry.record, "object_type", -1)))


def name_field(entry: Entry, field: str) -> Name | None:
    value = getattr(entry.record, field, None)
    return value if isinstance(value, Name) else None


def text_of(entry: Entry, field: str) -> str | None:
    """The field as written: from the raw JSON entry when kept, else from the record."""
    if entry.raw is not None and field in entry.raw:
        value = entry.raw[field]
        return value if isinstance(value, str) else None
    value = getattr(entry.record, field, None)
    if isinstance(value, Name):
        return value.text
    return value if isinstance(value, str) else None


def flag_tokens(entry: Entry) -> tuple[str, ...] | None:
    """The flag names as written (None when the flags text is not known)."""
    if entry.raw is not None:
        value = entry.raw.get("flags")
        if value is None:
            return ()
        if isinstance(value, str):
            return tuple(t for t in value.split(" ") if t)
        return None
    names = entry.record.flags.names
    return tuple(names) if names else None


def is_hashed(name: Name | None) -> bool:
    return name is not None and name.origin is NameOrigin.HASHED


def is_predefined(name: Name | None, value: int) -> bool:
    return name is not None and name.origin is NameOrigin.PREDEFINED and name.value == value


def arch_bits(entry: Entry) -> int:
    return flags_of(entry) & (ARCH32 | ARCH64)


def sources_or_exceptions(model: LintModel) -> Iterator[Entry]:
    """Exceptions as written (one per JSON entry) when known, else the expanded list, one per location."""
    if model.sources:
        yield from model.sources
        return
    seen: set[Any] = set()
    for entry in model.exceptions:
        key = entry.location if entry.location is not None else id(entry)
        if key in seen:
            continue
        seen.add(key)
        yield entry
