"""Small value types shared by every record: flags and signature references."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FlagSet:
    """A u32 flag word plus the names it was written with (empty when read from a binary)."""

    value: int
    names: tuple[str, ...] = ()
    raw: bool = False  # given verbatim ({"raw": ...}): no implied flags were added

    def __contains__(self, bit: int) -> bool:
        return (self.value & bit) == bit

    def __int__(self) -> int:
        return self.value


@dataclass(frozen=True, slots=True)
class SignatureRef:
    """A reference from an exception to a signature: the ``sig_id`` text (if known) and numeric id."""

    id: int
    name: str | None = None


@dataclass(frozen=True, slots=True)
class LinuxVersion:
    """Linux form of a version-os bound (packs into the 8-byte union)."""

    version: int
    patch: int
    sublevel: int
    backport: int = 0

    def pack(self) -> int:
        return self.version | (self.patch << 8) | (self.sublevel << 16) | (self.backport << 32)

    @classmethod
    def unpack(cls, raw: int) -> LinuxVersion:
        return cls(raw & 0xFF, (raw >> 8) & 0xFF, (raw >> 16) & 0xFFFF, (raw >> 32) & 0xFFFF)


@dataclass(frozen=True, slots=True)
class IntroVersion:
    """A version-intro bound: four u16 parts."""

    major: int
    minor: int
    revision: int
    build: int = 0
