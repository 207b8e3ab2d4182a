"""Names and how a JSON name becomes the 32-bit value stored in exceptions.bin (spec 02 §6).

A :class:`Name` keeps the text as written, the :class:`HashRule` of the field it sits in and the
resulting value, so a decompiler, linter or engine can tell "hash of chrome.exe (narrow, trim 14)"
from "predefined `*`" from "only the hash is known".
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from hvmiex.crc32 import hash_bytes, hash_wide

EMPTY_NAME_VALUE = 0xFFFFFFFF
IMAGE_BASE_NAME_LEN = 14  # Windows image file names
LIX_COMM_LEN = 15  # Linux task comm


class NameOrigin(enum.Enum):
    HASHED = "hashed"  # CRC of the (normalised) text
    PREDEFINED = "predefined"  # small constant from a Predefined table
    EMPTY = "empty"  # absent or empty text: 0xFFFFFFFF
    VERBATIM = "verbatim"  # value given directly ({"hash": ...}) or read from a binary file


@dataclass(frozen=True, slots=True)
class HashRule:
    """How one field turns text into a value."""

    wide: bool = False
    fold: bool = True  # str.lower() before anything else
    trim: int | None = None  # keep the first N characters (bytes for \\x values)
    table: str | None = None  # Predefined section: "kernel-mode", "user-mode", "signature"
    escapes: bool = False  # "*...\\x41..." becomes bytes (UM only)
    path_reduce: bool = False  # KM originator: keep the last path component
    lower_bytes: bool = False  # upstream quirk Q5: \\x bytes ASCII-lower-cased after group expansion

    def describe(self) -> str:
        parts = ["wide" if self.wide else "narrow"]
        if self.fold:
            parts.append("folded")
        if self.trim:
            parts.append(f"trim {self.trim}")
        if self.table:
            parts.append(f"predefined {self.table}")
        if self.escapes:
            parts.append("\\x escapes")
        if self.path_reduce:
            parts.append("path reduced")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Name:
    """A hashed name: text as written (None when only the value is known), rule and u32 value."""

    value: int
    text: str | None = None
    rule: HashRule | None = None
    origin: NameOrigin = NameOrigin.HASHED

    @classmethod
    def verbatim(cls, value: int) -> Name:
        return cls(value & 0xFFFFFFFF, None, None, NameOrigin.VERBATIM)

    def __str__(self) -> str:
        return self.text if self.text is not None else f"0x{self.value:08x}"


class NameSyntaxError(ValueError):
    """Malformed text for a name field (bad \\x escape, wide field with bytes, path ending in a separator)."""


def looks_like_path(text: str) -> bool:
    """Spec 02 §6.5: a KM originator is a path when it starts with a separator or a drive spec."""
    if len(text) < 3:
        return False
    first = text[0]
    return first in "\\/" or (first.isalpha() and text[1:3] == ":\\")


def reduce_path(text: str) -> str:
    """Last path component: after the last backslash, else after the last slash."""
    if not looks_like_path(text):
        return text
    sep = "\\" if "\\" in text else "/"
    cut = text.rfind(sep)
    if cut == len(text) - 1:
        raise NameSyntaxError(f"path {text!r} ends with a separator")
    return text[cut + 1 :]


def has_escapes(text: str) -> bool:
    return text.startswith("*") and "\\x" in text


def decode_escapes(text: str) -> bytes:
    """Turn ``\\xHH`` sequences into bytes, every other character into its UTF-8 bytes (spec 02 §6.6)."""
    out = bytearray()
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            if i + 1 >= n:
                raise NameSyntaxError(f"{text!r}: a lone backslash ends the text")
            if text[i + 1] == "x":
                digits = text[i + 2 : i + 4]
                if not digits:
                    raise NameSyntaxError(f"{text!r}: \\x without hex digits")
                try:
                    if any(c not in "0123456789abcdefABCDEF" for c in digits):
                        raise ValueError
                    out.append(int(digits, 16))
                except ValueError:
                    raise NameSyntaxError(f"{text!r}: \\x{digits} is not a hexadecimal byte") from None
                i += 2 + len(digits)
                continue
        out += ch.encode("utf-8")
        i += 1
    return bytes(out)


def ascii_lower(data: bytes) -> bytes:
    return data.lower()  # bytes.lower() folds only A-Z


def name_value(text: str | None, rule: HashRule, predefined: Mapping[str, int] | None) -> tuple[int, NameOrigin]:
    """The value of ``text`` in a field hashed by ``rule`` (``predefined`` = that rule's table)."""
    if not text:
        return EMPTY_NAME_VALUE, NameOrigin.EMPTY
    if rule.path_reduce:
        text = reduce_path(text)
    if rule.fold:
        text = text.lower()
    if rule.escapes and has_escapes(text):
        data = decode_escapes(text)
        if rule.lower_bytes:
            data = ascii_lower(data)
        if rule.wide:
            raise NameSyntaxError(f"{text!r}: \\x escapes are only allowed in a narrow (process-name) field")
        if rule.trim is not None:
            data = data[: rule.trim]
        return hash_bytes(data), NameOrigin.HASHED
    if predefined is not None:
        value = predefined.get(text)
        if value is not None:
            return value & 0xFFFFFFFF, NameOrigin.PREDEFINED
    if rule.trim is not None:
        text = text[: rule.trim]
    if rule.wide:
        return hash_wide(text), NameOrigin.HASHED
    return hash_bytes(text.encode("utf-8")), NameOrigin.HASHED


def make_name(text: str | None, rule: HashRule, predefined: Mapping[str, int] | None) -> Name:
    value, origin = name_value(text, rule, predefined)
    return Name(value, text, rule, origin)
