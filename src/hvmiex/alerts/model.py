"""Decoded serialized alerts: the header, the raw object list and the notes on producer defects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from hvmiex.alerts.layout import LAYOUTS, ObjectLayout, Section
from hvmiex.errors import BinaryFormatError, Diagnostic, SourceLocation


class AlertFormatError(BinaryFormatError):
    """A serialized alert (base64 text or blob bytes) that cannot be decoded."""


def alert_error(
    message: str,
    *,
    offset: int | None = None,
    index: int | None = None,
    type_id: int | None = None,
    field_name: str | None = None,
    hint: str | None = None,
    source: str = "<alert>",
    code: str = "ALERT001",
) -> AlertFormatError:
    """Build an :class:`AlertFormatError` whose diagnostic names the byte offset and the object."""
    subject = None
    if index is not None:
        subject = f"object #{index}"
        if type_id is not None:
            layout = LAYOUTS.get(type_id)
            subject += f" (type {type_id}{', ' + layout.key if layout else ''})"
    diag = Diagnostic(
        code,
        message,
        location=SourceLocation(source, offset=offset),
        subject=subject,
        field=field_name,
        hint=hint,
    )
    where = f" at byte 0x{offset:x}" if offset is not None else ""
    obj = f" in {subject}" if subject else ""
    return AlertFormatError(f"cannot decode alert{obj}{where}: {message}", (diag,))


class BlobString(NamedTuple):
    """A string embedded in an object (spec 05 §6): the bytes exactly as carried, plus derived text.

    ``stale`` holds the bytes the producer writes after a UTF-16 string (it copies twice the length,
    spec 05 §6.3 / §13 producer 1); they are kept so that re-encoding gives the same bytes.
    """

    raw: bytes
    encoding: int = 0
    stale: bytes = b""

    @property
    def text(self) -> str:
        """Everything carried, NULs included (undecodable bytes become U+FFFD)."""
        if self.encoding == 1:
            data = self.raw
            if data[:2] == b"\xff\xfe":
                data = data[2:]
            return data.decode("utf-16-le", "replace")
        return self.raw.decode("utf-8", "replace")

    @property
    def value(self) -> str:
        """The string up to its first NUL: what the producer meant (terminators and stale slots dropped)."""
        text = self.text
        cut = text.find("\0")
        return text if cut < 0 else text[:cut]

    @property
    def valid(self) -> bool:
        """True when the content decodes cleanly in its declared encoding."""
        try:
            if self.encoding == 1:
                if len(self.raw) % 2:
                    return False
                self.raw.decode("utf-16-le")
            elif self.encoding == 0:
                self.raw.decode("utf-8")
            else:
                return False
        except UnicodeDecodeError:
            return False
        return True

    @property
    def encoded_size(self) -> int:
        return 5 + len(self.raw) + len(self.stale)

    @staticmethod
    def of(text: str, *, wide: bool = False, nul: bool = False) -> BlobString:
        """A well-formed string (UTF-8 or UTF-16LE), optionally with a terminating NUL counted in L."""
        if nul:
            text += "\0"
        if wide:
            return BlobString(text.encode("utf-16-le", "surrogatepass"), 1)
        return BlobString(text.encode("utf-8", "surrogateescape"), 0)


@dataclass(frozen=True, slots=True)
class AlertNote:
    """Something the decoder tolerated (a producer defect or an oddity), attached to an object field."""

    message: str
    offset: int
    index: int | None = None
    type_id: int | None = None
    field: str | None = None

    def render(self) -> str:
        where = f"@0x{self.offset:x}"
        if self.index is not None:
            layout = LAYOUTS.get(self.type_id or -1)
            where += f" object #{self.index}" + (f" ({layout.key})" if layout else "")
        if self.field:
            where += f" field '{self.field}'"
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class AlertHeader:
    alert_class: int
    guest: int
    event: int
    size: int = 0
    arch: int = 1

    @property
    def is_64(self) -> bool:
        return self.arch == 1

    @property
    def is_linux(self) -> bool:
        return self.guest == 2


class AlertObject(NamedTuple):
    """One decoded object (immutable). ``values`` maps the layout's field names (fixed fields, strings,
    tail). A named tuple rather than a dataclass: the decoder builds hundreds of thousands per second."""

    type_id: int
    values: Mapping[str, Any] = MappingProxyType({})
    number: int = -1  # position in the stream (0-based; markers count)
    offset: int = -1
    version: int = 1
    section: Section | None = None
    extra: bytes = b""  # payload bytes past the declared fields (forward compatibility, spec 05 §9.2)
    truncated: bool = False  # header written without its payload (buffer exhaustion, spec 05 §8.5)

    @property
    def layout(self) -> ObjectLayout:
        return LAYOUTS[self.type_id]

    @property
    def key(self) -> str:
        return LAYOUTS[self.type_id].key

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def string(self, name: str) -> str | None:
        """The NUL-cut value of a string field, or None when absent."""
        value = self.values.get(name)
        return value.value if isinstance(value, BlobString) else None


@dataclass(frozen=True, slots=True)
class Alert:
    """A decoded blob: header, every object in stream order, and the notes the decoder made."""

    header: AlertHeader
    objects: tuple[AlertObject, ...]
    notes: tuple[AlertNote, ...] = ()
    length: int = 0

    def section(self, section: Section) -> tuple[AlertObject, ...]:
        return tuple(o for o in self.objects if o.section is section)

    def first(self, type_id: int, section: Section | None = None) -> AlertObject | None:
        for obj in self.objects:
            if obj.type_id == type_id and not obj.truncated and (section is None or obj.section is section):
                return obj
        return None

    def all(self, type_id: int, section: Section | None = None) -> tuple[AlertObject, ...]:
        return tuple(
            o
            for o in self.objects
            if o.type_id == type_id and not o.truncated and (section is None or o.section is section)
        )
