"""Serialize an :class:`~hvmiex.model.ExceptionSet` to exceptions.bin bytes (records in set order)."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any

from hvmiex.binfile.layout import (
    GLOB_EXCEPTION,
    KM_EXCEPTION,
    MAGIC,
    OBJECT_HEADER,
    PACKERS,
    UM_EXCEPTION,
    FileHeader,
    encode_glob_string,
    pack_header,
    pack_record,
)
from hvmiex.model.enums import ObjectType
from hvmiex.model.records import (
    ExceptionSet,
    GlobException,
    KernelException,
    KernelUserException,
    Record,
    UserApcException,
    UserException,
)

# Hot path for huge sets: object header + fixed part (+ one signature id) in one precompiled pack call,
# built from the layout declarations (same fields, same order). Everything else goes through pack_record.
_HEAD = OBJECT_HEADER.struct.format
_KM0 = struct.Struct(_HEAD + KM_EXCEPTION.struct.format[1:])
_KM1 = struct.Struct(_KM0.format + "I")
_UM0 = struct.Struct(_HEAD + UM_EXCEPTION.struct.format[1:])
_UM1 = struct.Struct(_UM0.format + "I")
_GLOB0 = struct.Struct(_HEAD + GLOB_EXCEPTION.struct.format[1:])
_UM_TYPES = {
    UserException: ObjectType.UM_EXCEPTION.value,
    UserApcException: ObjectType.APC_UM_EXCEPTION.value,
    KernelUserException: ObjectType.KUM_EXCEPTION.value,
}
_KM_TYPE = ObjectType.KM_EXCEPTION.value
_GLOB_TYPE = ObjectType.UM_GLOB_EXCEPTION.value


def write_bytes(exception_set: ExceptionSet, packed: Sequence[bytes] | None = None) -> bytes:
    """The file: 36-byte header (counts from the set) then every record in order. ``packed``: the bytes
    of the first records, already made by :func:`pack_records` (the rest are packed here)."""
    c = exception_set.header_counts()
    header = FileHeader(
        MAGIC, exception_set.major, exception_set.minor, c.kernel, c.user, c.signatures, exception_set.build,
        c.glob, c.kernel_user, exception_set.reserved,
    )  # fmt: skip
    records = exception_set.records
    done = 0 if packed is None else len(packed)
    parts = [pack_header(header)]
    if packed is not None:
        parts += packed
    parts += pack_records(records[done:] if done else records)
    return b"".join(parts)


def pack_records(records: Iterable[Record]) -> list[bytes]:
    """The bytes of each record (object header + body), as ``pack_record`` makes them."""
    parts: list[bytes] = []
    append = parts.append
    km0, km1, um0, um1, glob0 = _KM0.pack, _KM1.pack, _UM0.pack, _UM1.pack, _GLOB0.pack
    um_types = _UM_TYPES
    enc = encode_glob_string
    packers = PACKERS
    r: Any  # dispatch on the exact type below
    for r in records:
        t = type(r)
        if t is KernelException:
            sigs = r.signatures
            if not sigs:
                append(km0(_KM_TYPE, 20, r.originator.value, r.path_hash, r.victim.value, r.flags.value, 0,
                           r.object_type, 0))  # fmt: skip
                continue
            if len(sigs) == 1:
                append(km1(_KM_TYPE, 24, r.originator.value, r.path_hash, r.victim.value, r.flags.value, 0,
                           r.object_type, 1, sigs[0].id))  # fmt: skip
                continue
        elif t in um_types:
            sigs = r.signatures
            if not sigs:
                append(um0(um_types[t], 20, r.originator.value, r.victim.value, r.process.value, r.flags.value, 0,
                           r.object_type, 0))  # fmt: skip
                continue
            if len(sigs) == 1:
                append(um1(um_types[t], 24, r.originator.value, r.victim.value, r.process.value, r.flags.value, 0,
                           r.object_type, 1, sigs[0].id))  # fmt: skip
                continue
        elif t is GlobException and not r.signatures:
            strings = enc(r.originator) + enc(r.victim) + enc(r.process)
            size = 8 + len(strings)
            if size <= 0xFFFF:
                append(glob0(_GLOB_TYPE, size, r.flags.value, 0, r.object_type, 0) + strings)
                continue
        packer = packers.get(t)
        append(packer(r) if packer is not None else pack_record(r))
    return parts
