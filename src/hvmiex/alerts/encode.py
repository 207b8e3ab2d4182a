"""Encode serialized alert blobs from decoded objects, with the same declarations as the decoder.

``encode_alert(decode_alert(b)) == b`` for every blob the decoder accepts: strings keep their raw bytes
(and any stale bytes the producer wrote after them), tails and extra payload bytes are written back, and
a truncated object (header without payload, spec 05 §8.5) is written as a size-0 header.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from typing import Any

from hvmiex.alerts.layout import (
    HEADER,
    LAYOUTS,
    LAYOUTS_BY_KEY,
    OBJECT_HEADER,
    STRING_HEADER,
    ObjectLayout,
    Section,
    Tail,
)
from hvmiex.alerts.model import Alert, AlertFormatError, AlertHeader, AlertObject, BlobString, alert_error

MAX_PAYLOAD = 0xFFFF


def encode_header(header: AlertHeader) -> bytes:
    try:
        return HEADER.pack(header.alert_class, header.guest, header.event, header.size, header.arch)
    except struct.error as exc:
        raise alert_error(f"header value out of range: {exc}", offset=0, code="ALERT100") from None


def _string(value: BlobString | None, index: int, type_id: int, name: str) -> bytes:
    if value is None:
        return b""
    if not isinstance(value, BlobString):
        raise alert_error(
            f"expected a BlobString, got {type(value).__name__}", index=index, type_id=type_id,
            field_name=name, code="ALERT101",
        )
    return STRING_HEADER.pack(len(value.raw), value.encoding) + value.raw + value.stale


def encode_payload(obj: AlertObject) -> bytes:
    """The payload bytes of one object (without its 8-byte header)."""
    layout = LAYOUTS.get(obj.type_id)
    if layout is None:
        raise alert_error(f"unknown object type {obj.type_id}", index=obj.number, code="ALERT102")
    if obj.truncated:
        return b""
    if obj.type_id == 46 and "process" in obj.values:
        return _encode_sd_defect(obj)
    values = obj.values
    if layout.marker:
        return obj.extra
    parts: list[bytes] = []
    try:
        parts.append(layout.fixed.pack(*[values[f] for f in layout.fields]))
    except (KeyError, struct.error) as exc:
        raise alert_error(
            f"cannot pack fixed fields: {exc}", index=obj.number, type_id=obj.type_id, code="ALERT103"
        ) from None
    for name in layout.strings:
        parts.append(_string(values.get(name), obj.number, obj.type_id, name))
    tail = layout.tail
    if tail is not Tail.NONE:
        name = layout.tail_name or "tail"
        data = values.get(name, b"" if tail in (Tail.RAW, Tail.BYTES) else ())
        if tail is not Tail.RAW and layout.count_field is not None and values[layout.count_field] != len(data):
            raise alert_error(
                f"'{layout.count_field}' is {values[layout.count_field]} but '{name}' has {len(data)} item(s)",
                index=obj.number, type_id=obj.type_id, field_name=layout.count_field, code="ALERT104",
            )
        if tail is Tail.U32_ARRAY:
            parts.append(struct.pack(f"<{len(data)}I", *data))
        elif tail is Tail.COUNTED_STRINGS:
            parts.extend(_string(s, obj.number, obj.type_id, name) for s in data)
        else:
            parts.append(bytes(data))
    parts.append(obj.extra)
    return b"".join(parts)


def _encode_sd_defect(obj: AlertObject) -> bytes:
    # upstream producer defect (spec 05 §8.4), reproduced so that decode -> encode is lossless
    inner: AlertObject = obj.values["process"]
    inner_payload = encode_payload(inner)
    stale: bytes = obj.values["stale"]
    return OBJECT_HEADER.pack(1, 46, len(inner_payload)) + inner_payload + stale


def encode_object(obj: AlertObject) -> bytes:
    payload = encode_payload(obj)
    size = len(payload)
    if obj.type_id == 46 and "process" in obj.values:
        size = int(obj.values["declared_size"])
    if size > MAX_PAYLOAD:
        raise alert_error(
            f"payload of {size} bytes exceeds the u16 size field", index=obj.number, type_id=obj.type_id,
            code="ALERT105",
        )
    return OBJECT_HEADER.pack(obj.version, obj.type_id, size) + payload


def encode_alert(alert: Alert | tuple[AlertHeader, Iterable[AlertObject]]) -> bytes:
    """Bytes of a blob: header then every object, in order."""
    objects: Iterable[AlertObject]
    if isinstance(alert, Alert):
        header, objects = alert.header, alert.objects
    else:
        header, objects = alert
    return encode_header(header) + b"".join(encode_object(o) for o in objects)


def make_object(key: str | int, **fields: Any) -> AlertObject:
    """Build an object from field values; counts/lengths of tails are filled in, strings may be ``str``.

    Missing fixed fields default to 0 (bytes fields to zero bytes of their size).
    """
    layout = LAYOUTS_BY_KEY[key] if isinstance(key, str) else LAYOUTS[key]
    values: dict[str, Any] = {}
    defaults = layout.fixed.unpack(bytes(layout.fixed.size))
    for name, default in zip(layout.fields, defaults, strict=True):
        values[name] = fields.pop(name, default)
    for name in layout.strings:
        values[name] = _as_blob_string(fields.pop(name, ""))
    if layout.tail is not Tail.NONE:
        name = layout.tail_name or "tail"
        data = fields.pop(name, b"" if layout.tail in (Tail.RAW, Tail.BYTES) else ())
        if layout.tail is Tail.COUNTED_STRINGS:
            data = tuple(_as_blob_string(s) for s in data)
        elif layout.tail is Tail.U32_ARRAY:
            data = tuple(data)
        else:
            data = bytes(data)
        values[name] = data
        if layout.count_field is not None:
            values[layout.count_field] = len(data)
    if fields:
        raise alert_error(
            f"unknown field(s) {sorted(fields)} for object {layout.key}", type_id=layout.type_id,
            code="ALERT106",
        )
    return AlertObject(layout.type_id, values)


def _as_blob_string(value: Any) -> BlobString:
    if isinstance(value, BlobString):
        return value
    if isinstance(value, str):
        return BlobString.of(value)
    raise AlertFormatError(f"expected str or BlobString for a string field, got {type(value).__name__}")


def marker(section: Section, start: bool) -> AlertObject:
    type_id = {Section.ORIGINATOR: 1, Section.VICTIM: 3, Section.MISC: 5}[section] + (0 if start else 1)
    return AlertObject(type_id, {})


def build_alert(header: AlertHeader, sections: Mapping[Section, Iterable[AlertObject]]) -> bytes:
    """Blob with the three sections, each bracketed by its markers (spec 05 §8.1)."""
    objects: list[AlertObject] = []
    for section in (Section.ORIGINATOR, Section.VICTIM, Section.MISC):
        objects.append(marker(section, True))
        objects.extend(sections.get(section, ()))
        objects.append(marker(section, False))
    return encode_alert((header, objects))


def layout_of(key: str) -> ObjectLayout:
    return LAYOUTS_BY_KEY[key]
