"""The record model: one frozen dataclass per exception kind and per signature kind.

Each class holds everything its binary record holds, so ``exceptions.bin`` parses into this model
and writes back byte-identically (the order of :attr:`ExceptionSet.records` is the file order, which
keeps upstream quirks Q1 — unused signatures that survive — and Q2 — doubled glob records).
``location`` (where the record was written in JSON) never takes part in comparisons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from hvmiex.errors import SourceLocation
from hvmiex.model.enums import ExceptionKind, ObjectType, SignatureKind
from hvmiex.model.values import FlagSet, IntroVersion, LinuxVersion, SignatureRef
from hvmiex.names import Name

KM_PATH_HASH = 0xFFFFFFFF  # the KM originator path hash is never used by Introcore


# --------------------------------------------------------------------------- exceptions


@dataclass(frozen=True, slots=True)
class KernelException:
    KIND: ClassVar[ExceptionKind] = ExceptionKind.KERNEL
    OBJECT: ClassVar[ObjectType] = ObjectType.KM_EXCEPTION

    originator: Name
    victim: Name
    flags: FlagSet
    object_type: int
    signatures: tuple[SignatureRef, ...] = ()
    path_hash: int = KM_PATH_HASH
    location: SourceLocation | None = field(default=None, compare=False, kw_only=True)

    @property
    def process(self) -> None:
        return None

    def sort_key(self) -> tuple[int, ...]:
        return (self.path_hash, self.originator.value, self.object_type, self.victim.value, self.flags.value)


@dataclass(frozen=True, slots=True)
class UserException:
    """A ``user`` exception (record type 2)."""

    KIND: ClassVar[ExceptionKind] = ExceptionKind.USER
    OBJECT: ClassVar[ObjectType] = ObjectType.UM_EXCEPTION

    originator: Name
    victim: Name
    process: Name  # value 0 when no process was given
    flags: FlagSet
    object_type: int
    signatures: tuple[SignatureRef, ...] = ()
    location: SourceLocation | None = field(default=None, compare=False, kw_only=True)

    def sort_key(self) -> tuple[int, ...]:
        return (self.originator.value, self.object_type, self.victim.value, self.process.value, self.flags.value)


@dataclass(frozen=True, slots=True)
class UserApcException:
    """A ``user-apc`` exception (record type 9): same layout as user, sorted together with them."""

    KIND: ClassVar[ExceptionKind] = ExceptionKind.USER_APC
    OBJECT: ClassVar[ObjectType] = ObjectType.APC_UM_EXCEPTION

    originator: Name
    victim: Name
    process: Name
    flags: FlagSet
    object_type: int
    signatures: tuple[SignatureRef, ...] = ()
    location: SourceLocation | None = field(default=None, compare=False, kw_only=True)

    def sort_key(self) -> tuple[int, ...]:
        return (self.originator.value, self.object_type, self.victim.value, self.process.value, self.flags.value)


@dataclass(frozen=True, slots=True)
class KernelUserException:
    """A ``kernel-user`` exception (record type 14)."""

    KIND: ClassVar[ExceptionKind] = ExceptionKind.KERNEL_USER
    OBJECT: ClassVar[ObjectType] = ObjectType.KUM_EXCEPTION

    originator: Name
    victim: Name
    process: Name
    flags: FlagSet
    object_type: int
    signatures: tuple[SignatureRef, ...] = ()
    location: SourceLocation | None = field(default=None, compare=False, kw_only=True)

    def sort_key(self) -> tuple[int, ...]:
        # process sorts before the object type for this kind
        return (self.originator.value, self.process.value, self.object_type, self.victim.value, self.flags.value)


@dataclass(frozen=True, slots=True)
class GlobException:
    """A ``user-glob-match`` exception (record type 6): glob strings stored verbatim."""

    KIND: ClassVar[ExceptionKind] = ExceptionKind.USER_GLOB
    OBJECT: ClassVar[ObjectType] = ObjectType.UM_GLOB_EXCEPTION

    originator: str
    victim: str
    process: str
    flags: FlagSet
    object_type: int
    signatures: tuple[SignatureRef, ...] = ()
    location: SourceLocation | None = field(default=None, compare=False, kw_only=True)

    def sort_key(self) -> tuple[str, int, str, str, int]:
        return (self.originator, self.object_type, self.victim, self.process, self.flags.value)


Exception_ = KernelException | UserException | UserApcException | KernelUserException | GlobException
HashedException = KernelException | UserException | UserApcException | KernelUserException

# --------------------------------------------------------------------------- signatures


@dataclass(frozen=True, slots=True)
class ExportHash:
    delta: int
    name: Name  # function name, narrow, signature predefined table


@dataclass(frozen=True, slots=True)
class ValueHash:
    offset: int
    size: int
    hash: int


@dataclass(frozen=True, slots=True)
class ExportSignature:
    KIND: ClassVar[SignatureKind] = SignatureKind.EXPORT
    OBJECT: ClassVar[ObjectType] = ObjectType.EXPORT_SIGNATURE

    id: int
    flags: FlagSet
    library: Name
    entries: tuple[ExportHash, ...]
    name: str | None = field(default=None, kw_only=True)
    location: SourceLocation | None = field(default=None, compare=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class ValueSignature:
    KIND: ClassVar[SignatureKind] = SignatureKind.VALUE
    OBJECT: ClassVar[ObjectType] = ObjectType.VALUE_SIGNATURE

    id: int
    flags: FlagSet
    score: int
    entries: tuple[ValueHash, ...]
    name: str | None = field(default=None, kw_only=True)
    location: SourceLocation | None = field(default=None, compare=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class CodeBlocksSignature:
    KIND: ClassVar[SignatureKind] = SignatureKind.CODEBLOCKS
    OBJECT: ClassVar[ObjectType] = ObjectType.CB_SIGNATURE

    id: int
    flags: FlagSet
    score: int
    lists: tuple[tuple[int, ...], ...]  # each list ascending
    name: str | None = field(default=None, kw_only=True)
    location: SourceLocation | None = field(default=None, compare=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class ValueCodeSignature:
    KIND: ClassVar[SignatureKind] = SignatureKind.VALUE_CODE
    OBJECT: ClassVar[ObjectType] = ObjectType.VALUE_CODE_SIGNATURE
    WILDCARD: ClassVar[int] = 0x100

    id: int
    flags: FlagSet
    offset: int  # signed 16-bit
    pattern: tuple[int, ...]  # u16 items, 0x100 = any byte
    name: str | None = field(default=None, kw_only=True)
    location: SourceLocation | None = field(default=None, compare=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class IdtSignature:
    KIND: ClassVar[SignatureKind] = SignatureKind.IDT
    OBJECT: ClassVar[ObjectType] = ObjectType.IDT_SIGNATURE

    id: int
    flags: FlagSet
    entry: int
    name: str | None = field(default=None, kw_only=True)
    location: SourceLocation | None = field(default=None, compare=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class VersionOsSignature:
    """OS version range; each bound is the raw 8-byte union (Windows build or Linux version)."""

    KIND: ClassVar[SignatureKind] = SignatureKind.VERSION_OS
    OBJECT: ClassVar[ObjectType] = ObjectType.VERSION_OS_SIGNATURE

    id: int
    flags: FlagSet
    minimum: int  # u64
    maximum: int  # u64
    name: str | None = field(default=None, kw_only=True)
    location: SourceLocation | None = field(default=None, compare=False, kw_only=True)

    @property
    def linux_minimum(self) -> LinuxVersion:
        return LinuxVersion.unpack(self.minimum)

    @property
    def linux_maximum(self) -> LinuxVersion:
        return LinuxVersion.unpack(self.maximum)


@dataclass(frozen=True, slots=True)
class VersionIntroSignature:
    KIND: ClassVar[SignatureKind] = SignatureKind.VERSION_INTRO
    OBJECT: ClassVar[ObjectType] = ObjectType.VERSION_INTRO_SIGNATURE

    id: int
    flags: FlagSet
    minimum: IntroVersion
    maximum: IntroVersion
    name: str | None = field(default=None, kw_only=True)
    location: SourceLocation | None = field(default=None, compare=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class ProcessCreationSignature:
    KIND: ClassVar[SignatureKind] = SignatureKind.PROCESS_CREATION
    OBJECT: ClassVar[ObjectType] = ObjectType.PROCESS_CREATION_SIGNATURE

    id: int
    flags: FlagSet
    create_mask: FlagSet
    name: str | None = field(default=None, kw_only=True)
    location: SourceLocation | None = field(default=None, compare=False, kw_only=True)


Signature = (
    ExportSignature
    | ValueSignature
    | CodeBlocksSignature
    | ValueCodeSignature
    | IdtSignature
    | VersionOsSignature
    | VersionIntroSignature
    | ProcessCreationSignature
)


@dataclass(frozen=True, slots=True)
class RawObject:
    """An object of a type this model does not know (e.g. 7, reserved): kept as bytes."""

    type: int
    body: bytes
    location: SourceLocation | None = field(default=None, compare=False, kw_only=True)


Record = Exception_ | Signature | RawObject

EXCEPTION_CLASSES: tuple[type, ...] = (
    KernelException,
    UserException,
    UserApcException,
    KernelUserException,
    GlobException,
)
SIGNATURE_CLASSES: tuple[type, ...] = (
    ExportSignature,
    ValueSignature,
    CodeBlocksSignature,
    ValueCodeSignature,
    IdtSignature,
    VersionOsSignature,
    VersionIntroSignature,
    ProcessCreationSignature,
)


@dataclass(frozen=True, slots=True)
class HeaderCounts:
    kernel: int
    user: int  # user + user-apc
    signatures: int
    glob: int  # including upstream quirk Q2 duplicates
    kernel_user: int


@dataclass(frozen=True, slots=True)
class ExceptionSet:
    """A whole exceptions.bin: header values and the records in file order."""

    records: tuple[Record, ...]
    major: int = 2
    minor: int = 2
    build: int = 0
    counts: HeaderCounts | None = None  # None: computed from the records (the compiler's way)
    reserved: int = 0

    @property
    def exceptions(self) -> tuple[Exception_, ...]:
        return tuple(r for r in self.records if isinstance(r, EXCEPTION_CLASSES))  # type: ignore[misc]

    @property
    def signatures(self) -> tuple[Signature, ...]:
        return tuple(r for r in self.records if isinstance(r, SIGNATURE_CLASSES))  # type: ignore[misc]

    def header_counts(self) -> HeaderCounts:
        if self.counts is not None:
            return self.counts
        return computed_counts(self.records)


def computed_counts(records: tuple[Record, ...] | list[Record]) -> HeaderCounts:
    km = um = sig = glob = kum = 0
    for r in records:
        if isinstance(r, KernelException):
            km += 1
        elif isinstance(r, UserException | UserApcException):
            um += 1
        elif isinstance(r, GlobException):
            glob += 1
        elif isinstance(r, KernelUserException):
            kum += 1
        elif not isinstance(r, RawObject):
            sig += 1
    return HeaderCounts(km, um, sig, glob, kum)
