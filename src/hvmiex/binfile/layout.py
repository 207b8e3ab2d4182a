"""One declaration per record of exceptions.bin (spec 01): a precompiled ``struct.Struct`` and its
field names, with pack/unpack helpers. Both the writer and the reader use these, never ad-hoc formats.

Every ``pack_*`` returns the whole object (3-byte object header + body); every ``unpack_*`` takes the
body only (the bytes after the object header) and returns the model record.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hvmiex.model.enums import ObjectType
from hvmiex.model.records import (
    SIGNATURE_CLASSES,
    CodeBlocksSignature,
    ExportHash,
    ExportSignature,
    GlobException,
    IdtSignature,
    KernelException,
    KernelUserException,
    ProcessCreationSignature,
    RawObject,
    Record,
    UserApcException,
    UserException,
    ValueCodeSignature,
    ValueHash,
    ValueSignature,
    VersionIntroSignature,
    VersionOsSignature,
)
from hvmiex.model.values import FlagSet, IntroVersion, SignatureRef
from hvmiex.names import Name

MAGIC = 0x414E5845  # b"EXNA" on disk
MAX_BODY = 0xFFFF


@dataclass(frozen=True, slots=True)
class Declaration:
    """A fixed-size record part: its struct and field names (in struct order; pad bytes unnamed)."""

    name: str
    struct: struct.Struct
    fields: tuple[str, ...]

    @property
    def size(self) -> int:
        return self.struct.size


def _decl(name: str, fmt: str, *fields: str) -> Declaration:
    return Declaration(name, struct.Struct(fmt), fields)


FILE_HEADER = _decl(
    "FILE_HEADER", "<IHHIIIIIII",
    "magic", "major", "minor", "kernel_count", "user_count", "signature_count", "build",
    "glob_count", "kernel_user_count", "reserved",
)  # fmt: skip
OBJECT_HEADER = _decl("OBJECT_HEADER", "<BH", "type", "size")

# exceptions: fixed part, then SigIds[n] (u32 each)
KM_EXCEPTION = _decl(
    "UPDATE_KM_EXCEPTION", "<IIIIBBH", "originator", "path", "victim", "flags", "reserved", "type", "sig_count"
)
UM_EXCEPTION = _decl(
    "UPDATE_UM_EXCEPTION", "<IIIIBBH", "originator", "victim", "process", "flags", "reserved", "type", "sig_count"
)  # also user-apc (type 9)
KUM_EXCEPTION = _decl(
    "UPDATE_KUM_EXCEPTION", "<IIIIBBH", "originator", "victim", "process", "flags", "reserved", "type", "sig_count"
)
# glob: fixed part, then three NUL-terminated strings, then SigIds[n]
GLOB_EXCEPTION = _decl("UPDATE_UM_EXCEPTION_GLOB", "<IBBH", "flags", "reserved", "type", "sig_count")
SIG_ID = _decl("SIG_ID", "<I", "id")

# signatures: every body starts with id, flags
SIGNATURE_COMMON = _decl("SIGNATURE_COMMON", "<II", "id", "flags")
CB_SIGNATURE = _decl("UPDATE_CB_SIGNATURE", "<IIBB", "id", "flags", "score", "lists_count")
CB_LIST_COUNT = _decl("CB_LIST_COUNT", "<B", "count")  # then count u32 hashes
EXPORT_SIGNATURE = _decl("UPDATE_EXPORT_SIGNATURE", "<IIIB3x", "id", "flags", "library", "lists_count")
EXPORT_ENTRY = _decl("EXPORT_ENTRY", "<H2xI", "delta", "hash")
VALUE_SIGNATURE = _decl("UPDATE_VALUE_SIGNATURE", "<IIBB2x", "id", "flags", "score", "lists_count")
VALUE_ENTRY = _decl("VALUE_ENTRY", "<HH4xI", "offset", "size", "hash")
VALUE_CODE_SIGNATURE = _decl("UPDATE_VALUE_CODE_SIGNATURE", "<IIhH", "id", "flags", "offset", "length")
IDT_SIGNATURE = _decl("UPDATE_IDT_SIGNATURE", "<IIB3x", "id", "flags", "entry")
VERSION_OS_SIGNATURE = _decl("UPDATE_VERSION_OS_SIGNATURE", "<IIQQ", "id", "flags", "minimum", "maximum")
VERSION_INTRO_SIGNATURE = _decl(
    "UPDATE_VERSION_INTRO_SIGNATURE", "<II8H", "id", "flags",
    "min_major", "min_minor", "min_revision", "min_build", "max_major", "max_minor", "max_revision", "max_build",
)  # fmt: skip
PROCESS_CREATION_SIGNATURE = _decl("UPDATE_PROCESS_CREATION_SIGNATURE", "<III12x", "id", "flags", "create_mask")

DECLARATIONS: tuple[Declaration, ...] = (
    FILE_HEADER, OBJECT_HEADER, KM_EXCEPTION, UM_EXCEPTION, KUM_EXCEPTION, GLOB_EXCEPTION, SIG_ID,
    SIGNATURE_COMMON, CB_SIGNATURE, CB_LIST_COUNT, EXPORT_SIGNATURE, EXPORT_ENTRY, VALUE_SIGNATURE, VALUE_ENTRY,
    VALUE_CODE_SIGNATURE, IDT_SIGNATURE, VERSION_OS_SIGNATURE, VERSION_INTRO_SIGNATURE, PROCESS_CREATION_SIGNATURE,
)  # fmt: skip

_OBJ = OBJECT_HEADER.struct
_KM = KM_EXCEPTION.struct
_UM = UM_EXCEPTION.struct
_GLOB = GLOB_EXCEPTION.struct
# object header + fixed part in one pack call (the writer's hot path); same fields as the declarations above
_KM_OBJ = struct.Struct("<BH" + KM_EXCEPTION.struct.format[1:])
_UM_OBJ = struct.Struct("<BH" + UM_EXCEPTION.struct.format[1:])
_MAX_IDS = (MAX_BODY - 20) // 4


class LayoutError(ValueError):
    """A value does not fit its binary field, or a body is malformed."""


def pack_u32_array(values: tuple[int, ...] | list[int]) -> bytes:
    return struct.pack(f"<{len(values)}I", *values)


def unpack_u32_array(body: bytes, offset: int, count: int) -> tuple[int, ...]:
    return struct.unpack_from(f"<{count}I", body, offset)


def object_header(obj_type: int, body_size: int) -> bytes:
    if body_size > MAX_BODY:
        raise LayoutError(f"record body of {body_size} bytes exceeds the 65535-byte object size limit")
    return _OBJ.pack(obj_type, body_size)


def _ids(refs: tuple[SignatureRef, ...]) -> tuple[int, ...]:
    return tuple(r.id for r in refs)


def _refs(ids: tuple[int, ...]) -> tuple[SignatureRef, ...]:
    return tuple(SignatureRef(i) for i in ids)


# --------------------------------------------------------------------------- header


@dataclass(frozen=True, slots=True)
class FileHeader:
    magic: int
    major: int
    minor: int
    kernel_count: int
    user_count: int
    signature_count: int
    build: int
    glob_count: int
    kernel_user_count: int
    reserved: int = 0


def pack_header(h: FileHeader) -> bytes:
    return FILE_HEADER.struct.pack(
        h.magic, h.major, h.minor, h.kernel_count, h.user_count, h.signature_count, h.build,
        h.glob_count, h.kernel_user_count, h.reserved,
    )  # fmt: skip


def unpack_header(data: bytes, offset: int = 0) -> FileHeader:
    return FileHeader(*FILE_HEADER.struct.unpack_from(data, offset))


# --------------------------------------------------------------------------- exceptions


def pack_kernel(e: KernelException) -> bytes:
    refs = e.signatures
    n = len(refs)
    if n > _MAX_IDS:
        raise LayoutError(f"{n} signature ids exceed the 65535-byte object size limit")
    head = _KM_OBJ.pack(
        ObjectType.KM_EXCEPTION, 20 + 4 * n, e.originator.value, e.path_hash, e.victim.value, e.flags.value, 0,
        e.object_type, n,
    )  # fmt: skip
    return head + struct.pack(f"<{n}I", *[r.id for r in refs]) if n else head


def unpack_kernel(body: bytes) -> KernelException:
    orig, path, victim, flags, _res, otype, n = _KM.unpack_from(body, 0)
    _expect(body, 20 + 4 * n, "kernel exception")
    return KernelException(
        Name.verbatim(orig), Name.verbatim(victim), FlagSet(flags), otype, _refs(unpack_u32_array(body, 20, n)),
        path_hash=path,
    )


def pack_user(e: UserException | UserApcException | KernelUserException) -> bytes:
    refs = e.signatures
    n = len(refs)
    if n > _MAX_IDS:
        raise LayoutError(f"{n} signature ids exceed the 65535-byte object size limit")
    head = _UM_OBJ.pack(
        e.OBJECT, 20 + 4 * n, e.originator.value, e.victim.value, e.process.value, e.flags.value, 0, e.object_type, n
    )
    return head + struct.pack(f"<{n}I", *[r.id for r in refs]) if n else head


def _unpack_um(body: bytes, what: str) -> tuple[Name, Name, Name, FlagSet, int, tuple[SignatureRef, ...]]:
    orig, victim, process, flags, _res, otype, n = _UM.unpack_from(body, 0)
    _expect(body, 20 + 4 * n, what)
    return (
        Name.verbatim(orig), Name.verbatim(victim), Name.verbatim(process), FlagSet(flags), otype,
        _refs(unpack_u32_array(body, 20, n)),
    )  # fmt: skip


def unpack_user(body: bytes) -> UserException:
    return UserException(*_unpack_um(body, "user exception"))


def unpack_user_apc(body: bytes) -> UserApcException:
    return UserApcException(*_unpack_um(body, "user-apc exception"))


def unpack_kernel_user(body: bytes) -> KernelUserException:
    return KernelUserException(*_unpack_um(body, "kernel-user exception"))


pack_user_apc = pack_user
pack_kernel_user = pack_user


def encode_glob_string(text: str) -> bytes:
    """upstream quirk Q18: UTF-8 bytes in a field of (character count + 1) bytes, cut or NUL-padded."""
    size = len(text) + 1
    data = text.encode("utf-8", "surrogateescape")
    return data[:size].ljust(size, b"\0")


def decode_glob_string(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def pack_glob(e: GlobException) -> bytes:
    ids = _ids(e.signatures)
    n = len(ids)
    strings = encode_glob_string(e.originator) + encode_glob_string(e.victim) + encode_glob_string(e.process)
    size = 8 + len(strings) + 4 * n
    return object_header(ObjectType.UM_GLOB_EXCEPTION, size) + _GLOB.pack(e.flags.value, 0, e.object_type, n) + (
        strings + pack_u32_array(ids)
    )


def unpack_glob(body: bytes) -> GlobException:
    flags, _res, otype, n = _GLOB.unpack_from(body, 0)
    pos = 8
    strings: list[str] = []
    for _ in range(3):
        end = body.find(b"\0", pos)
        if end < 0:
            raise LayoutError("glob exception: string without a terminating NUL")
        strings.append(decode_glob_string(body[pos:end]))
        pos = end + 1
    _expect(body, pos + 4 * n, "glob exception")
    return GlobException(strings[0], strings[1], strings[2], FlagSet(flags), otype, _refs(unpack_u32_array(body, pos, n)))


# --------------------------------------------------------------------------- signatures


def pack_codeblocks(s: CodeBlocksSignature) -> bytes:
    parts = [CB_SIGNATURE.struct.pack(s.id, s.flags.value, s.score, len(s.lists))]
    for hashes in s.lists:
        parts.append(CB_LIST_COUNT.struct.pack(len(hashes)))
        parts.append(pack_u32_array(hashes))
    body = b"".join(parts)
    return object_header(ObjectType.CB_SIGNATURE, len(body)) + body


def unpack_codeblocks(body: bytes) -> CodeBlocksSignature:
    sid, flags, score, count = CB_SIGNATURE.struct.unpack_from(body, 0)
    pos = 10
    lists: list[tuple[int, ...]] = []
    for _ in range(count):
        (n,) = CB_LIST_COUNT.struct.unpack_from(body, pos)
        pos += 1
        if pos + 4 * n > len(body):
            raise LayoutError("codeblocks signature: hash list runs past the record")
        lists.append(unpack_u32_array(body, pos, n))
        pos += 4 * n
    _expect(body, pos, "codeblocks signature")
    return CodeBlocksSignature(sid, FlagSet(flags), score, tuple(lists))


def pack_export(s: ExportSignature) -> bytes:
    e = EXPORT_ENTRY.struct
    body = EXPORT_SIGNATURE.struct.pack(s.id, s.flags.value, s.library.value, len(s.entries)) + b"".join(
        e.pack(x.delta, x.name.value) for x in s.entries
    )
    return object_header(ObjectType.EXPORT_SIGNATURE, len(body)) + body


def unpack_export(body: bytes) -> ExportSignature:
    sid, flags, library, count = EXPORT_SIGNATURE.struct.unpack_from(body, 0)
    _expect(body, 16 + 8 * count, "export signature")
    e = EXPORT_ENTRY.struct
    entries = []
    for i in range(count):
        delta, h = e.unpack_from(body, 16 + 8 * i)
        entries.append(ExportHash(delta, Name.verbatim(h)))
    return ExportSignature(sid, FlagSet(flags), Name.verbatim(library), tuple(entries))


def pack_value(s: ValueSignature) -> bytes:
    e = VALUE_ENTRY.struct
    body = VALUE_SIGNATURE.struct.pack(s.id, s.flags.value, s.score, len(s.entries)) + b"".join(
        e.pack(x.offset, x.size, x.hash) for x in s.entries
    )
    return object_header(ObjectType.VALUE_SIGNATURE, len(body)) + body


def unpack_value(body: bytes) -> ValueSignature:
    sid, flags, score, count = VALUE_SIGNATURE.struct.unpack_from(body, 0)
    _expect(body, 12 + 12 * count, "value signature")
    e = VALUE_ENTRY.struct
    entries = tuple(ValueHash(*e.unpack_from(body, 12 + 12 * i)) for i in range(count))
    return ValueSignature(sid, FlagSet(flags), score, entries)


def pack_value_code(s: ValueCodeSignature) -> bytes:
    n = len(s.pattern)
    body = VALUE_CODE_SIGNATURE.struct.pack(s.id, s.flags.value, s.offset, n) + struct.pack(f"<{n}H", *s.pattern)
    return object_header(ObjectType.VALUE_CODE_SIGNATURE, len(body)) + body


def unpack_value_code(body: bytes) -> ValueCodeSignature:
    sid, flags, offset, n = VALUE_CODE_SIGNATURE.struct.unpack_from(body, 0)
    _expect(body, 12 + 2 * n, "value-code signature")
    return ValueCodeSignature(sid, FlagSet(flags), offset, struct.unpack_from(f"<{n}H", body, 12))


def pack_idt(s: IdtSignature) -> bytes:
    return object_header(ObjectType.IDT_SIGNATURE, 12) + IDT_SIGNATURE.struct.pack(s.id, s.flags.value, s.entry)


def unpack_idt(body: bytes) -> IdtSignature:
    _expect(body, 12, "idt signature")
    sid, flags, entry = IDT_SIGNATURE.struct.unpack_from(body, 0)
    return IdtSignature(sid, FlagSet(flags), entry)


def pack_version_os(s: VersionOsSignature) -> bytes:
    body = VERSION_OS_SIGNATURE.struct.pack(s.id, s.flags.value, s.minimum, s.maximum)
    return object_header(ObjectType.VERSION_OS_SIGNATURE, 24) + body


def unpack_version_os(body: bytes) -> VersionOsSignature:
    _expect(body, 24, "version-os signature")
    sid, flags, lo, hi = VERSION_OS_SIGNATURE.struct.unpack_from(body, 0)
    return VersionOsSignature(sid, FlagSet(flags), lo, hi)


def pack_version_intro(s: VersionIntroSignature) -> bytes:
    lo, hi = s.minimum, s.maximum
    body = VERSION_INTRO_SIGNATURE.struct.pack(
        s.id, s.flags.value, lo.major, lo.minor, lo.revision, lo.build, hi.major, hi.minor, hi.revision, hi.build
    )
    return object_header(ObjectType.VERSION_INTRO_SIGNATURE, 24) + body


def unpack_version_intro(body: bytes) -> VersionIntroSignature:
    _expect(body, 24, "version-intro signature")
    sid, flags, *parts = VERSION_INTRO_SIGNATURE.struct.unpack_from(body, 0)
    return VersionIntroSignature(sid, FlagSet(flags), IntroVersion(*parts[:4]), IntroVersion(*parts[4:]))


def pack_process_creation(s: ProcessCreationSignature) -> bytes:
    body = PROCESS_CREATION_SIGNATURE.struct.pack(s.id, s.flags.value, s.create_mask.value)
    return object_header(ObjectType.PROCESS_CREATION_SIGNATURE, 24) + body


def unpack_process_creation(body: bytes) -> ProcessCreationSignature:
    _expect(body, 24, "process-creation signature")
    sid, flags, mask = PROCESS_CREATION_SIGNATURE.struct.unpack_from(body, 0)
    return ProcessCreationSignature(sid, FlagSet(flags), FlagSet(mask))


def _expect(body: bytes, size: int, what: str) -> None:
    if len(body) != size:
        raise LayoutError(f"{what}: body is {len(body)} bytes, its fields say {size}")


# --------------------------------------------------------------------------- dispatch

PACKERS: dict[type, Callable[[Any], bytes]] = {
    KernelException: pack_kernel,
    UserException: pack_user,
    UserApcException: pack_user,
    KernelUserException: pack_user,
    GlobException: pack_glob,
    CodeBlocksSignature: pack_codeblocks,
    ExportSignature: pack_export,
    ValueSignature: pack_value,
    ValueCodeSignature: pack_value_code,
    IdtSignature: pack_idt,
    VersionOsSignature: pack_version_os,
    VersionIntroSignature: pack_version_intro,
    ProcessCreationSignature: pack_process_creation,
}

UNPACKERS: dict[int, Callable[[bytes], Record]] = {
    ObjectType.KM_EXCEPTION: unpack_kernel,
    ObjectType.UM_EXCEPTION: unpack_user,
    ObjectType.APC_UM_EXCEPTION: unpack_user_apc,
    ObjectType.KUM_EXCEPTION: unpack_kernel_user,
    ObjectType.UM_GLOB_EXCEPTION: unpack_glob,
    ObjectType.CB_SIGNATURE: unpack_codeblocks,
    ObjectType.EXPORT_SIGNATURE: unpack_export,
    ObjectType.VALUE_SIGNATURE: unpack_value,
    ObjectType.VALUE_CODE_SIGNATURE: unpack_value_code,
    ObjectType.IDT_SIGNATURE: unpack_idt,
    ObjectType.VERSION_OS_SIGNATURE: unpack_version_os,
    ObjectType.VERSION_INTRO_SIGNATURE: unpack_version_intro,
    ObjectType.PROCESS_CREATION_SIGNATURE: unpack_process_creation,
}


def pack_record(record: Record) -> bytes:
    """Object header + body of any record (RawObject bodies are written as they are)."""
    packer = PACKERS.get(type(record))
    if packer is None:
        assert isinstance(record, RawObject)
        return object_header(record.type, len(record.body)) + record.body
    return packer(record)


def unpack_record(obj_type: int, body: bytes) -> Record:
    """The model record of one object body (unknown types become RawObject)."""
    unpacker = UNPACKERS.get(obj_type)
    if unpacker is None:
        return RawObject(obj_type, bytes(body))
    return unpacker(body)


def is_signature(record: Record) -> bool:
    return isinstance(record, SIGNATURE_CLASSES)
