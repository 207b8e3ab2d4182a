"""Serialize an :class:`~hvmiex.model.ExceptionSet` to exceptions.bin bytes (records in set order)."""

from __future__ import annotations

from hvmiex.binfile.layout import MAGIC, FileHeader, pack_header, pack_record
from hvmiex.model.records import ExceptionSet


def write_bytes(exception_set: ExceptionSet) -> bytes:
    """The file: 36-byte header (counts from the set) then every record in order."""
    c = exception_set.header_counts()
    header = FileHeader(
        MAGIC, exception_set.major, exception_set.minor, c.kernel, c.user, c.signatures, exception_set.build,
        c.glob, c.kernel_user, exception_set.reserved,
    )  # fmt: skip
    parts = [pack_header(header)]
    parts.extend(map(pack_record, exception_set.records))
    return b"".join(parts)
