"""HVMI's CRC32 name hash.

Upstream's ``crc32(buffer, wide, initial_crc)`` starts its register at ``initial_crc ^ 0xFFFFFFFF``
(so the default -1 gives a zero register) and XORs the result with 0xFFFFFFFF. zlib's ``crc32(data,
value)`` uses ``value ^ 0xFFFFFFFF`` as register, so both agree when ``value = initial_crc & 0xFFFFFFFF``.
"""

from __future__ import annotations

import zlib

MASK32 = 0xFFFFFFFF
INITIAL_CRC = MASK32  # Introcore's INITIAL_CRC_VALUE


def hash_bytes(data: bytes) -> int:
    """CRC of raw bytes as HVMI stores name hashes (narrow hash of already-encoded text)."""
    return zlib.crc32(data, INITIAL_CRC)


def hash_narrow(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"), INITIAL_CRC)


def hash_wide(text: str) -> int:
    # UTF-16LE without BOM; characters beyond the BMP become surrogate pairs
    return zlib.crc32(text.encode("utf-16-le", "surrogatepass"), INITIAL_CRC)


def crc32(buffer: str | bytes, wide: bool = False, initial_crc: int = -1) -> int:
    """Upstream-compatible CRC32: ``str`` is encoded UTF-8 (narrow) or UTF-16LE (wide).

    Chaining: ``crc32(b, initial_crc=crc32(a)) == crc32(a + b)``.
    """
    if isinstance(buffer, str):
        data = buffer.encode("utf-16-le", "surrogatepass") if wide else buffer.encode("utf-8")
    else:
        data = bytes(buffer)
    return zlib.crc32(data, initial_crc & MASK32)
