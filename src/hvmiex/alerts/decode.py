"""Decode serialized alert blobs (spec 05 §3-§9) exactly as Introcore's serializer lays them out.

Structural problems (short blob, unknown type or version, an object whose declared size does not fit
its fields or the blob) raise :class:`AlertFormatError` naming the byte offset and object index.
Producer defects that real blobs contain are decoded as they are and reported as notes (spec 05 §6.3,
§8.4, §8.5, §13 "Producer").
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from hvmiex.alerts.layout import (
    HEADER,
    LAYOUT_TABLE,
    MAX_OBJECT_TYPE,
    OBJECT_HEADER,
    STRING_HEADER,
    SUPPORTED_VERSION,
    ObjectLayout,
    Section,
    Tail,
)
from hvmiex.alerts.model import (
    Alert,
    AlertFormatError,
    AlertHeader,
    AlertNote,
    AlertObject,
    BlobString,
    alert_error,
)

_HDR_SIZE = HEADER.size
_OBJ_HDR_SIZE = OBJECT_HEADER.size
_STR_HDR_SIZE = STRING_HEADER.size
_unpack_obj_header = OBJECT_HEADER.unpack_from
_unpack_header = HEADER.unpack_from
_unpack_str_header = STRING_HEADER.unpack_from

# Fields whose producer input is a wide string given without its terminator: when narrowed, the
# producer overwrites the last character with NUL (spec 05 §6.3, §13 producer 2).
_LOSES_LAST_CHAR = frozenset({(15, "path"), (16, "path"), (26, "path"), (28, "path"), (29, "path")})

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_new_string = tuple.__new__
_DPI_SD = 46
_WIN_PROCESS = 15

# Hot-path kinds: each has an inline fast path in decode_alert that takes only the common well-formed case,
# where it builds exactly what the general reader would; otherwise it bails out before any side effect
# (no note, no error) and _decode_other, the general reader, decides.
_OPEN, _CLOSE, _SIMPLE, _STR1, _STRN, _U32, _BYTES, _OTHER = range(8)


def _fast_entry(
    layout: ObjectLayout | None,
) -> tuple[int, Any, tuple[str, ...], int, tuple[str, ...], int, str, Section | None] | None:
    """(kind, unpack_from, field names, fixed size, strings, count index, tail name, opened section)."""
    if layout is None:
        return None
    fsize = layout.fixed.size
    count_at = layout.fields.index(layout.count_field) if layout.count_field else -1
    tail = layout.tail
    if layout.marker:
        kind = _OPEN if layout.opens is not None else _CLOSE
    elif layout.type_id == _DPI_SD or not fsize:
        kind = _OTHER
    elif tail is Tail.NONE:
        kind = _SIMPLE if not layout.strings else _STR1 if len(layout.strings) == 1 else _STRN
    elif tail is Tail.U32_ARRAY and not layout.strings:
        kind = _U32
    elif tail is Tail.BYTES and not layout.strings:
        kind = _BYTES
    else:
        kind = _OTHER
    return (kind, layout.fixed.unpack_from, layout.fields, fsize, layout.strings, count_at,
            layout.tail_name or "tail", layout.opens)


# hot-path table indexed by type id. Field names are zipped with the unpacked values without ``strict=``:
# layout._obj checks their counts match, and the keyword makes each zip() call about 0.6 us slower.
_FAST = tuple(_fast_entry(lay) for lay in LAYOUT_TABLE)


class _Ctx:
    """Per-call decoding state (never shared between calls)."""

    __slots__ = ("notes", "source")

    def __init__(self, source: str) -> None:
        self.notes: list[AlertNote] = []
        self.source = source


def decode_header(data: bytes, source: str = "<alert>") -> AlertHeader:
    if len(data) < _HDR_SIZE:
        raise alert_error(
            f"blob is {len(data)} bytes, shorter than the {_HDR_SIZE}-byte file header",
            offset=0,
            source=source,
            code="ALERT010",
        )
    alert_class, guest, event, size, arch = HEADER.unpack_from(data, 0)
    if alert_class > 2:
        raise alert_error(
            f"unknown alert class {alert_class}", offset=0, field_name="alert_class",
            hint="0 kernel, 1 user, 2 kernel-user", source=source, code="ALERT011",
        )
    if guest > 2:
        raise alert_error(
            f"unknown guest {guest}", offset=4, field_name="guest", hint="0 unknown, 1 Windows, 2 Linux",
            source=source, code="ALERT011",
        )
    if arch > 1:
        raise alert_error(
            f"unknown arch {arch}", offset=14, field_name="arch", hint="0 32-bit, 1 64-bit",
            source=source, code="ALERT011",
        )
    return AlertHeader(alert_class, guest, event, size, arch)


def decode_alert(data: bytes | bytearray | memoryview, source: str = "<alert>") -> Alert:
    """Decode one blob into its header, objects (with sections) and notes."""
    buf = data if type(data) is bytes else bytes(data)
    total = len(buf)
    if total >= _HDR_SIZE:  # inline check of a valid header; decode_header words every refusal
        alert_class, guest, event, hsize, arch = _unpack_header(buf, 0)
        if alert_class <= 2 and guest <= 2 and arch <= 1:
            header = AlertHeader(alert_class, guest, event, hsize, arch)
        else:
            header = decode_header(buf, source)
    else:
        header = decode_header(buf, source)
    ctx = _Ctx(source)
    objects: list[AlertObject] = []
    append = objects.append
    pos = _HDR_SIZE
    section: Section | None = None
    index = 0
    fast = _FAST
    new = tuple.__new__
    cls = AlertObject
    bstr = BlobString
    unpack_obj = _unpack_obj_header
    unpack_str = _unpack_str_header
    unpack_u32s = struct.unpack_from
    while pos < total:
        if total - pos < _OBJ_HDR_SIZE:
            raise alert_error(
                f"{total - pos} trailing byte(s) cannot hold an {_OBJ_HDR_SIZE}-byte object header",
                offset=pos, index=index, source=source, code="ALERT020",
            )
        version, type_id, size = unpack_obj(buf, pos)
        if type_id > MAX_OBJECT_TYPE or version != SUPPORTED_VERSION or (entry := fast[type_id]) is None:
            raise _object_header_error(type_id, version, pos, index, source)
        start = pos + _OBJ_HDR_SIZE
        end = start + size
        if end > total:
            raise alert_error(
                f"declared size {size} runs {end - total} byte(s) past the end of the blob ({total} bytes)",
                offset=pos + 6, index=index, type_id=type_id, field_name="size", source=source,
                code="ALERT023",
            )
        kind, unpack, fields, fsize, strings, count_at, tail_name, opens = entry
        if kind <= _CLOSE:  # section marker
            extra = b""
            if size:
                extra = buf[start:end]
                ctx.notes.append(
                    AlertNote(f"marker carries {size} payload byte(s); skipped", pos, index, type_id)
                )
            if kind == _OPEN:
                section = opens
                append(new(cls, (type_id, _EMPTY, index, pos, 1, section, extra, False)))
            else:
                append(new(cls, (type_id, _EMPTY, index, pos, 1, section, extra, False)))
                section = None
            pos = end
            index += 1
            continue
        cur = start + fsize  # fixed size > 0 for every kind below _OTHER: cur <= end implies size > 0
        if kind == _SIMPLE:
            if size == fsize:
                values: dict[str, Any] = dict(zip(fields, unpack(buf, start)))  # noqa: B905
                append(new(cls, (type_id, values, index, pos, 1, section, b"", False)))
                pos = end
                index += 1
                continue
        elif kind == _STR1:
            # one string filling the object exactly (a UTF-16 string then has no stale copy)
            if cur + _STR_HDR_SIZE <= end:
                length, encoding = unpack_str(buf, cur)
                if cur + _STR_HDR_SIZE + length == end:
                    values = dict(zip(fields, unpack(buf, start)))  # noqa: B905
                    values[strings[0]] = new(bstr, (buf[cur + _STR_HDR_SIZE : end], encoding, b""))
                    append(new(cls, (type_id, values, index, pos, 1, section, b"", False)))
                    pos = end
                    index += 1
                    continue
        elif kind == _STRN:
            # every string present, 8-bit (or empty), ending exactly at the object's end
            if cur <= end:
                values = dict(zip(fields, unpack(buf, start)))  # noqa: B905
                for name in strings:
                    if cur + _STR_HDR_SIZE > end:
                        break
                    length, encoding = unpack_str(buf, cur)
                    after = cur + _STR_HDR_SIZE + length
                    if after > end or (encoding == 1 and length):
                        break
                    values[name] = new(bstr, (buf[cur + _STR_HDR_SIZE : after], encoding, b""))
                    cur = after
                else:
                    if cur == end:
                        append(new(cls, (type_id, values, index, pos, 1, section, b"", False)))
                        pos = end
                        index += 1
                        continue
        elif kind == _U32:
            if cur <= end:
                fixed = unpack(buf, start)
                count = fixed[count_at]
                if cur + 4 * count == end:
                    values = dict(zip(fields, fixed))  # noqa: B905
                    values[tail_name] = unpack_u32s(f"<{count}I", buf, cur)
                    append(new(cls, (type_id, values, index, pos, 1, section, b"", False)))
                    pos = end
                    index += 1
                    continue
        elif kind == _BYTES and cur <= end:
            fixed = unpack(buf, start)
            if cur + fixed[count_at] == end:
                values = dict(zip(fields, fixed))  # noqa: B905
                values[tail_name] = buf[cur:end]
                append(new(cls, (type_id, values, index, pos, 1, section, b"", False)))
                pos = end
                index += 1
                continue
        obj, end = _decode_other(buf, type_id, start, end, size, pos, index, section, ctx)
        append(obj)
        pos = end
        index += 1
    return Alert(header, tuple(objects), tuple(ctx.notes), total)


def _object_header_error(type_id: int, version: int, pos: int, index: int, source: str) -> AlertFormatError:
    if type_id > MAX_OBJECT_TYPE or _FAST[type_id] is None:
        return alert_error(
            f"unknown object type {type_id}", offset=pos + 4, index=index, field_name="type",
            hint="types 1-47 exist", source=source, code="ALERT021",
        )
    return alert_error(
        f"unsupported version {version} of object type {type_id}", offset=pos, index=index,
        type_id=type_id, field_name="version", hint="only version 1 is defined", source=source,
        code="ALERT022",
    )


def _decode_other(
    buf: bytes, type_id: int, start: int, end: int, size: int, pos: int, index: int, section: Section | None,
    ctx: _Ctx,
) -> tuple[AlertObject, int]:
    """The general reader for a non-marker object: (object, position after it)."""
    if size == 0:
        # upstream producer defect (spec 05 §8.5): header reserved, payload did not fit the buffer
        ctx.notes.append(
            AlertNote("object header without payload (serializer buffer exhausted)", pos, index, type_id)
        )
        return AlertObject(type_id, _EMPTY, index, pos, 1, section, b"", True), end
    if type_id == _DPI_SD and size >= _OBJ_HDR_SIZE and buf[start : start + 6] == b"\x01\x00\x00\x00\x2e\x00":
        return _decode_sd_defect(buf, pos, start, size, index, section, ctx)
    layout = LAYOUT_TABLE[type_id]
    assert layout is not None
    values, extra = _decode_payload(buf, layout, start, end, pos, index, ctx)
    return AlertObject(type_id, values, index, pos, 1, section, extra, False), end


def _decode_payload(
    buf: bytes, layout: ObjectLayout, start: int, end: int, pos: int, index: int, ctx: _Ctx
) -> tuple[dict[str, Any], bytes]:
    fixed = layout.fixed
    fsize = fixed.size
    if start + fsize > end:
        raise alert_error(
            f"declared size {end - start} is smaller than the {fsize} bytes of its fixed fields",
            offset=pos + 6, index=index, type_id=layout.type_id, field_name="size", source=ctx.source,
            code="ALERT030",
        )
    values: dict[str, Any] = dict(zip(layout.fields, fixed.unpack_from(buf, start)))  # noqa: B905
    cur = start + fsize
    strings = layout.strings
    if len(strings) == 1 and layout.tail is Tail.NONE and cur + _STR_HDR_SIZE <= end:
        # fast path: one string filling the object exactly (a UTF-16 string then has no stale copy)
        length, encoding = _unpack_str_header(buf, cur)
        if cur + _STR_HDR_SIZE + length == end:
            values[strings[0]] = BlobString(buf[cur + _STR_HDR_SIZE : end], encoding)
            return values, b""
    if strings:
        cur = _decode_strings(buf, layout, layout.strings, values, cur, end, pos, index, ctx)
    tail = layout.tail
    if tail is not Tail.NONE:
        name = layout.tail_name or "tail"
        if tail is Tail.RAW:
            values[name] = buf[cur:end]
            cur = end
        else:
            count = values[layout.count_field or ""]
            if tail is Tail.U32_ARRAY:
                need = 4 * count
                if cur + need > end:
                    raise _tail_error(layout, count, need, end - cur, pos, index, ctx)
                values[name] = struct.unpack_from(f"<{count}I", buf, cur)
                cur += need
            elif tail is Tail.BYTES:
                if cur + count > end:
                    raise _tail_error(layout, count, count, end - cur, pos, index, ctx)
                values[name] = buf[cur : cur + count]
                cur += count
            else:  # COUNTED_STRINGS
                names = tuple(f"{name}[{i}]" for i in range(count)) if count <= (end - cur) // 5 else None
                if names is None:
                    raise _tail_error(layout, count, 5 * count, end - cur, pos, index, ctx)
                tmp: dict[str, Any] = {}
                cur = _decode_strings(buf, layout, names, tmp, cur, end, pos, index, ctx)
                values[name] = tuple(tmp[n] for n in names if tmp.get(n) is not None)
    extra = b""
    if cur < end:
        extra = buf[cur:end]
        ctx.notes.append(
            AlertNote(
                f"{end - cur} byte(s) after the declared fields (newer producer?); kept, not interpreted",
                pos, index, layout.type_id,
            )
        )
    return values, extra


def _tail_error(
    layout: ObjectLayout, count: int, need: int, have: int, pos: int, index: int, ctx: _Ctx
) -> AlertFormatError:
    return alert_error(
        f"'{layout.count_field}' = {count} needs {need} byte(s) but only {have} remain in the object",
        offset=pos + 6, index=index, type_id=layout.type_id, field_name=layout.count_field,
        source=ctx.source, code="ALERT031",
    )


def _decode_strings(
    buf: bytes,
    layout: ObjectLayout,
    names: tuple[str, ...],
    values: dict[str, Any],
    cur: int,
    end: int,
    pos: int,
    index: int,
    ctx: _Ctx,
) -> int:
    """Read ``names`` strings from ``cur``; returns the position after the last one read.

    A UTF-16 string may be followed by as many stale bytes as it has (producer defect, spec 05 §6.3);
    that reading is preferred when it makes the object's strings end exactly at its size.
    """
    # fast path: every string present, 8-bit (or empty), fitting the object
    start = cur
    found: list[BlobString] = []
    hs = _STR_HDR_SIZE
    for _ in names:
        if cur + hs > end:
            break
        length, encoding = _unpack_str_header(buf, cur)
        after = cur + hs + length
        if after > end or (encoding == 1 and length):
            break
        found.append(_new_string(BlobString, (buf[cur + hs : after], encoding, b"")))
        cur = after
    else:
        values.update(zip(names, found, strict=True))
        return cur
    cur = start
    plan = _plan_plain(buf, len(names), cur, end)
    if plan is not None and any(item is not None and item[2] == 1 and item[1] for item in plan):
        plan = (_plan_strings(buf, len(names), cur, end) if len(names) <= 3 else None) or plan
    elif plan is None and len(names) <= 3:
        plan = _plan_strings(buf, len(names), cur, end)
    if plan is None:
        raise _string_error(buf, layout, names, cur, end, pos, index, ctx)
    type_id = layout.type_id
    hs = _STR_HDR_SIZE
    for name, item in zip(names, plan, strict=True):
        if item is None:
            values[name] = None
            ctx.notes.append(
                AlertNote("string missing (serializer buffer exhausted)", pos, index, type_id, name)
            )
            continue
        s_start, length, encoding, stale = item
        if stale:
            values[name] = BlobString(
                buf[s_start + hs : s_start + hs + length], encoding,
                buf[s_start + hs + length : s_start + hs + length + stale],
            )
            ctx.notes.append(
                AlertNote(
                    f"UTF-16 string followed by {stale} stale byte(s): the producer copies twice its length",
                    s_start, index, type_id, name,
                )
            )
        else:
            values[name] = BlobString(buf[s_start + hs : s_start + hs + length], encoding)
    return _end_of(plan, cur)


def field_notes(alert: Alert) -> tuple[AlertNote, ...]:
    """Notes on string contents (computed on demand, off the decoding hot path): terminators and
    stale bytes inside strings, invalid text, and the producer's known string defects (spec 05 §6.3)."""
    notes: list[AlertNote] = []
    for obj in alert.objects:
        layout = LAYOUT_TABLE[obj.type_id]
        if layout is None or obj.truncated:
            continue
        items: list[tuple[str, Any]] = [(n, obj.values.get(n)) for n in layout.strings]
        if layout.tail is Tail.COUNTED_STRINGS:
            items += [(f"names[{i}]", v) for i, v in enumerate(obj.values.get("names", ()))]
        for name, value in items:
            if isinstance(value, BlobString):
                notes.extend(_string_notes(obj, name, value))
    return tuple(notes)


def _string_notes(obj: AlertObject, name: str, value: BlobString) -> list[AlertNote]:
    out: list[AlertNote] = []
    type_id, index, offset = obj.type_id, obj.number, obj.offset
    raw, encoding = value.raw, value.encoding
    if encoding > 1:
        out.append(AlertNote(f"unknown string encoding {encoding}; read as UTF-8", offset, index, type_id, name))
    elif not value.valid:
        out.append(AlertNote("content is not valid in its encoding; shown with U+FFFD", offset, index,
                             type_id, name))
    text = value.text
    nul = text.find("\0")
    if nul >= 0 and text[nul:].strip("\0"):
        out.append(AlertNote("embedded NUL: the text after it is stale producer memory, ignored", offset, index,
                             type_id, name))
    if (type_id, name) in _LOSES_LAST_CHAR and encoding == 0 and raw.endswith(b"\0") and len(raw) > 1:
        out.append(AlertNote("the producer replaced the last character of this path with NUL (spec 05 §6.3)",
                             offset, index, type_id, name))
    if type_id == 25 and encoding == 0 and raw:
        out.append(AlertNote("driver-object name is incomplete: the producer keeps about half of it",
                             offset, index, type_id, name))
    return out


def _end_of(plan: list[tuple[int, int, int, int] | None], cur: int) -> int:
    for item in reversed(plan):
        if item is not None:
            return item[0] + _STR_HDR_SIZE + item[1] + item[3]
    return cur


def _plan_plain(buf: bytes, n: int, cur: int, end: int) -> list[tuple[int, int, int, int] | None] | None:
    """Iterative reading of n well-formed strings (no stale bytes); trailing ones may be missing."""
    plan: list[tuple[int, int, int, int] | None] = []
    for _ in range(n):
        if cur == end:
            plan.append(None)
            continue
        if cur + _STR_HDR_SIZE > end:
            return None
        length, encoding = _unpack_str_header(buf, cur)
        after = cur + _STR_HDR_SIZE + length
        if after > end:
            return None
        plan.append((cur, length, encoding, 0))
        cur = after
    return plan


def _plan_strings(buf: bytes, n: int, cur: int, end: int) -> list[tuple[int, int, int, int] | None] | None:
    """Find (start, length, encoding, stale) for n strings ending exactly at ``end``; trailing ones may
    be missing (buffer exhaustion). UTF-16 strings are tried with their stale copy first."""
    if n == 0:
        return [] if cur == end else None
    if cur == end:
        return [None] * n
    if cur + _STR_HDR_SIZE > end:
        return None
    length, encoding = _unpack_str_header(buf, cur)
    after = cur + _STR_HDR_SIZE + length
    if after > end:
        return None
    if encoding == 1 and length and after + length <= end:
        rest = _plan_strings(buf, n - 1, after + length, end)
        if rest is not None:
            return [(cur, length, encoding, length), *rest]
    rest = _plan_strings(buf, n - 1, after, end)
    if rest is None:
        return None
    return [(cur, length, encoding, 0), *rest]


def _string_error(
    buf: bytes,
    layout: ObjectLayout,
    names: tuple[str, ...],
    cur: int,
    end: int,
    pos: int,
    index: int,
    ctx: _Ctx,
) -> AlertFormatError:
    # locate the first string that does not fit, for the message
    for name in names:
        if cur + _STR_HDR_SIZE > end:
            return alert_error(
                f"string header needs {_STR_HDR_SIZE} bytes, {end - cur} remain in the object",
                offset=cur, index=index, type_id=layout.type_id, field_name=name, source=ctx.source,
                code="ALERT032",
            )
        length, _ = _unpack_str_header(buf, cur)
        if cur + _STR_HDR_SIZE + length > end:
            return alert_error(
                f"string length {length} runs past the object's declared size "
                f"({end - cur - _STR_HDR_SIZE} byte(s) remain)",
                offset=cur, index=index, type_id=layout.type_id, field_name=name, source=ctx.source,
                code="ALERT032",
            )
        cur += _STR_HDR_SIZE + length
    return alert_error(
        "strings do not fit the object's declared size", offset=pos + 6, index=index,
        type_id=layout.type_id, field_name="size", source=ctx.source, code="ALERT032",
    )


def _decode_sd_defect(
    buf: bytes, pos: int, start: int, size: int, index: int, section: Section | None, ctx: _Ctx
) -> tuple[AlertObject, int]:
    """Upstream producer defect (spec 05 §8.4): a DPI security-descriptor object whose payload area holds
    a whole Windows-process object (written with type id 46), followed by the 56 payload bytes the
    producer skipped without writing. Decoded as the process object (kept in ``values['process']``)
    plus the stale bytes; the stream resumes after them."""
    _, _, inner_size = _unpack_obj_header(buf, start)
    inner_start = start + _OBJ_HDR_SIZE
    inner_end = inner_start + inner_size
    resume = inner_end + size
    layout15 = LAYOUT_TABLE[_WIN_PROCESS]
    assert layout15 is not None
    if resume > len(buf):
        raise alert_error(
            "security-descriptor object holds a nested object that runs past the end of the blob",
            offset=pos, index=index, type_id=_DPI_SD, source=ctx.source, code="ALERT033",
        )
    try:
        values, extra = _decode_payload(buf, layout15, inner_start, inner_end, start, index, ctx)
    except AlertFormatError as exc:
        raise alert_error(
            "security-descriptor object with a malformed nested process object", offset=pos, index=index,
            type_id=_DPI_SD, source=ctx.source, code="ALERT033", hint=exc.message,
        ) from None
    ctx.notes.append(
        AlertNote(
            "producer defect: a process object (written with type 46) sits in the security-descriptor "
            f"payload, followed by {size} unwritten byte(s); descriptor fields are unavailable",
            pos, index, _DPI_SD,
        )
    )
    out = {"process": AlertObject(_WIN_PROCESS, values, index, start, 1, section, extra),
           "stale": buf[inner_end:resume], "declared_size": size}
    return AlertObject(_DPI_SD, out, index, pos, 1, section, b"", False), resume
