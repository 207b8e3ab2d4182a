"""Reading exceptions.bin: Introcore's acceptance rules and the structural parse into the model.

Two views of the same bytes:

* :func:`simulate_load` replays what Introcore's loader (``IntUpdateLoadExceptions``) does with a file
  for one guest OS (spec 01 §9): the status it returns, why, and how many objects end up in each
  in-memory list. It never builds model objects, so it is cheap and it copes with any byte string.
* :func:`parse_exceptions_bin` reads every record into the model (all records, whatever the guest OS
  or ``ignore`` flag), for inspect, decompile and diff. It needs a well-formed file (every object's
  ``Size`` consistent with its content) and raises :class:`BinaryFormatError` otherwise.

:func:`load` does both. Nothing here raises anything but :class:`HvmiexError` subclasses.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import gc
import os
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hvmiex.binfile import layout
from hvmiex.errors import BinaryFormatError, Diagnostic, Severity, SourceLocation
from hvmiex.model import (
    ExceptionSet,
    FlagSet,
    HeaderCounts,
    KernelException,
    KernelUserException,
    Name,
    Record,
    SignatureRef,
    UserApcException,
    UserException,
)

MAGIC = layout.MAGIC  # "EXNA" on disk
HEADER_SIZE = 36
OBJECT_HEADER_SIZE = 3
SUPPORTED_MAJOR = 2
SUPPORTED_MINOR = 2
GLOB_STRUCT_SIZE = 200  # the C struct with three 64-byte arrays; upstream compares against it (Q28)
GLOB_STRING_MAX = 64  # EXCEPTION_UM_GLOB_LENGTH, NUL included

FLAG_FEEDBACK = 0x1
FLAG_LINUX = 0x80
FLAG_IGNORE = 0x80000000
FLAG_READ_WRITE_EXEC = 0x70000000
FLAG_WRITE = 0x20000000
FLAG_EXEC = 0x40000000
UM_TYPE_NX_ZONE = 5
UM_TYPE_PROCESS_CREATION = 11
NAME_ANY = 0
NAME_NONE = 4

TYPE_KM, TYPE_UM, TYPE_CB, TYPE_EXPORT, TYPE_VALUE, TYPE_GLOB = 1, 2, 3, 4, 5, 6
TYPE_VALUE_CODE, TYPE_APC, TYPE_IDT, TYPE_VOS, TYPE_VINTRO, TYPE_PC, TYPE_KUM = 8, 9, 10, 11, 12, 13, 14

OBJECT_TYPE_NAMES: Mapping[int, str] = {
    TYPE_KM: "kernel exception",
    TYPE_UM: "user exception",
    TYPE_CB: "codeblocks signature",
    TYPE_EXPORT: "export signature",
    TYPE_VALUE: "value signature",
    TYPE_GLOB: "user-glob-match exception",
    7: "reserved object",
    TYPE_VALUE_CODE: "value-code signature",
    TYPE_APC: "user-apc exception",
    TYPE_IDT: "idt signature",
    TYPE_VOS: "version-os signature",
    TYPE_VINTRO: "version-intro signature",
    TYPE_PC: "process-creation signature",
    TYPE_KUM: "kernel-user exception",
}


class GuestOS(enum.Enum):
    WINDOWS = "windows"
    LINUX = "linux"


class LoadStatus(enum.Enum):
    """The INT_STATUS values Introcore's loader returns (spec 01 §9)."""

    SUCCESS = 0x00000000
    INVALID_PARAMETER_2 = 0xE1000002
    INVALID_OBJECT_TYPE = 0xE1000201
    INVALID_DATA_SIZE = 0xE1000202
    INVALID_DATA_STATE = 0xE100020E
    INVALID_INTERNAL_STATE = 0xE1000503
    NOT_SUPPORTED = 0xE1000508

    @property
    def status_name(self) -> str:
        return "INT_STATUS_" + self.name


# Introcore's in-memory lists, in the order of the loader oracle's ``counts``
SCALAR_LISTS: tuple[str, ...] = (
    "GenericKernelExceptions",
    "NoNameKernelExceptions",
    "KernelFeedbackExceptions",
    "GenericUserExceptions",
    "NoNameUserExceptions",
    "UserFeedbackExceptions",
    "ProcessCreationExceptions",
    "ProcessCreationFeedbackExceptions",
    "GenericKernelUserExceptions",
    "NoNameKernelUserExceptions",
    "KernelUserFeedbackExceptions",
    "GlobUserExceptions",
    "CbSignatures",
    "ExportSignatures",
    "ValueSignatures",
    "ValueCodeSignatures",
    "IdtSignatures",
    "VersionOsSignatures",
    "VersionIntroSignatures",
    "ProcessCreationSignatures",
)
BUCKET_LISTS: tuple[str, ...] = ("KernelExceptions", "UserExceptions", "KernelUserExceptions")
SIGNATURE_LISTS: frozenset[str] = frozenset(
    {
        "CbSignatures",
        "ExportSignatures",
        "ValueSignatures",
        "ValueCodeSignatures",
        "IdtSignatures",
        "VersionOsSignatures",
        "VersionIntroSignatures",
        "ProcessCreationSignatures",
    }
)
_IDX = {name: i for i, name in enumerate(SCALAR_LISTS)}
_SIG_LIST_OF_TYPE = {
    TYPE_CB: _IDX["CbSignatures"],
    TYPE_EXPORT: _IDX["ExportSignatures"],
    TYPE_VALUE: _IDX["ValueSignatures"],
    TYPE_VALUE_CODE: _IDX["ValueCodeSignatures"],
    TYPE_IDT: _IDX["IdtSignatures"],
    TYPE_VOS: _IDX["VersionOsSignatures"],
    TYPE_VINTRO: _IDX["VersionIntroSignatures"],
    TYPE_PC: _IDX["ProcessCreationSignatures"],
}


@dataclass(frozen=True, slots=True)
class ListCounts:
    """How many objects each of Introcore's lists holds after a load (buckets: top nibble of originator)."""

    scalars: tuple[int, ...] = (0,) * len(SCALAR_LISTS)
    kernel: tuple[int, ...] = (0,) * 16
    user: tuple[int, ...] = (0,) * 16
    kernel_user: tuple[int, ...] = (0,) * 16

    def __getitem__(self, name: str) -> int:
        if name in _IDX:
            return self.scalars[_IDX[name]]
        return sum(self.buckets(name))

    def buckets(self, name: str) -> tuple[int, ...]:
        return {"KernelExceptions": self.kernel, "UserExceptions": self.user, "KernelUserExceptions": self.kernel_user}[
            name
        ]

    @property
    def total_signatures(self) -> int:
        return sum(self.scalars[_IDX[n]] for n in SIGNATURE_LISTS)

    @property
    def total_exceptions(self) -> int:
        return sum(self.scalars) - self.total_signatures + sum(self.kernel) + sum(self.user) + sum(self.kernel_user)

    def to_dict(self) -> dict[str, int | list[int]]:
        """Same keys and shapes as the loader oracle's ``counts``."""
        out: dict[str, int | list[int]] = dict(zip(SCALAR_LISTS, self.scalars, strict=True))
        out["KernelExceptions"] = list(self.kernel)
        out["UserExceptions"] = list(self.user)
        out["KernelUserExceptions"] = list(self.kernel_user)
        return out


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What Introcore's loader would do with a file for one guest OS."""

    guest: GuestOS
    status: LoadStatus
    counts: ListCounts
    version: tuple[int, int, int]  # (major, minor, build) stored by Introcore; 0.0.0 unless accepted
    reasons: tuple[Diagnostic, ...] = ()  # why it is refused (empty when accepted)
    notes: tuple[Diagnostic, ...] = ()  # warnings and information (unknown objects, newer minor, ...)
    log: tuple[str, ...] = ()  # the messages Introcore logs, in order
    objects: int = 0  # objects walked (including skipped ones)

    @property
    def accepted(self) -> bool:
        return self.status is LoadStatus.SUCCESS

    @property
    def total_exceptions(self) -> int:
        return self.counts.total_exceptions

    @property
    def total_signatures(self) -> int:
        return self.counts.total_signatures

    def to_dict(self) -> dict[str, object]:
        return {
            "guest": self.guest.value,
            "accepted": self.accepted,
            "status": self.status.value,
            "status_hex": f"0x{self.status.value:08x}",
            "status_name": self.status.status_name,
            "version_stored": dict(zip(("major", "minor", "build"), self.version, strict=True)),
            "reasons": [_diag_dict(d) for d in self.reasons],
            "notes": [_diag_dict(d) for d in self.notes],
            "log": list(self.log),
            "counts": self.counts.to_dict(),
            "total_exceptions": self.total_exceptions,
            "total_signatures": self.total_signatures,
        }


def _diag_dict(d: Diagnostic) -> dict[str, object]:
    return {
        "code": d.code,
        "severity": d.severity.value,
        "offset": d.location.offset if d.location else None,
        "subject": d.subject,
        "field": d.field,
        "message": d.message,
        "hint": d.hint,
    }


# --------------------------------------------------------------------------- Introcore's loader


class _Abort(Exception):
    def __init__(self, status: LoadStatus, diagnostic: Diagnostic, log: str) -> None:
        super().__init__(diagnostic.message)
        self.status = status
        self.diagnostic = diagnostic
        self.log = log


_U16 = struct.Struct("<H")
_U32 = layout.SIG_ID.struct
_HASHED = layout.UM_EXCEPTION.struct  # KM, UM, APC and KUM share the shape: originator first, flags at 12
_GLOB_FIXED = layout.GLOB_EXCEPTION.struct
_ERR_LOG_FAILED = "[ERROR] Failed adding exception/signature. Will abort the update. Reason=0x{:08x}"


def _exceed(path: str, offset: int, typ: int, entry: int, remaining: int, what: str = "") -> _Abort:
    subject = f"{OBJECT_TYPE_NAMES.get(typ, 'object')} at offset {offset} (0x{offset:x})"
    message = f"needs {entry} bytes{what} but only {remaining} remain in the file after its object header"
    return _Abort(
        LoadStatus.INVALID_DATA_STATE,
        Diagnostic(
            "LD007",
            message,
            location=SourceLocation(path, offset=offset),
            subject=subject,
            field="Size",
            hint="the record is truncated or its counts overflow the file",
        ),
        f"[ERROR] The exceptions file is corrupted. The size of the entry ({entry}) exceed the remaining size of "
        f"the exceptions file ({remaining})",
    )


def _different(
    path: str, offset: int, typ: int, entry: int, size: int, status: LoadStatus = LoadStatus.INVALID_DATA_STATE
) -> _Abort:
    subject = f"{OBJECT_TYPE_NAMES.get(typ, 'object')} at offset {offset} (0x{offset:x})"
    return _Abort(
        status,
        Diagnostic(
            "LD008",
            f"object header says Size {size} but its content needs {entry} bytes",
            location=SourceLocation(path, offset=offset + 1),
            subject=subject,
            field="Size",
            hint="Size must equal the body length implied by the record's counts",
        ),
        f"[ERROR] The exceptions file is corrupted. The size of the entry ({entry}) is different from the size "
        f"provided by the header ({size})",
    )


def simulate_load(
    data: bytes,
    guest: GuestOS = GuestOS.WINDOWS,
    path: str = "<bytes>",
    *,
    initialized: bool = True,
) -> LoadReport:
    """Replay Introcore's ``IntUpdateLoadExceptions`` on ``data`` for a fresh ``guest`` (spec 01 §9).

    ``initialized=False`` models a call before ``IntExceptInit`` (status INVALID_INTERNAL_STATE once
    the header checks pass).
    """
    windows, linux = simulate_both(data, path, initialized=initialized)
    return windows if guest is GuestOS.WINDOWS else linux


def simulate_both(data: bytes, path: str = "<bytes>", *, initialized: bool = True) -> tuple[LoadReport, LoadReport]:
    """:func:`simulate_load` for a Windows and a Linux guest in one pass over the file.

    Validation does not depend on the guest; only which objects are kept (their ``linux`` bit) and the
    messages about dropped objects do.
    """
    data = bytes(data)
    n = len(data)
    logs: tuple[list[str], list[str]] = ([], [])
    notes: list[Diagnostic] = []
    all_scalars = ([0] * len(SCALAR_LISTS), [0] * len(SCALAR_LISTS))
    all_kernel = ([0] * 16, [0] * 16)
    all_user = ([0] * 16, [0] * 16)
    all_kernel_user = ([0] * 16, [0] * 16)

    def log_all(text: str) -> None:
        logs[0].append(text)
        logs[1].append(text)

    def report(
        status: LoadStatus, reasons: tuple[Diagnostic, ...], version: tuple[int, int, int], objects: int
    ) -> tuple[LoadReport, LoadReport]:
        return tuple(  # type: ignore[return-value]
            LoadReport(
                g,
                status,
                ListCounts(tuple(all_scalars[i]), tuple(all_kernel[i]), tuple(all_user[i]), tuple(all_kernel_user[i])),
                version,
                reasons,
                tuple(notes),
                tuple(logs[i]),
                objects,
            )
            for i, g in enumerate((GuestOS.WINDOWS, GuestOS.LINUX))
        )

    loc0 = SourceLocation(path, offset=0)
    if n <= HEADER_SIZE:
        return report(
            LoadStatus.INVALID_PARAMETER_2,
            (
                Diagnostic(
                    "LD001",
                    f"the file has {n} bytes; Introcore needs the {HEADER_SIZE}-byte header and at least one object",
                    location=loc0,
                    subject="file",
                ),
            ),
            (0, 0, 0),
            0,
        )
    log_all("[UPDATE] Requested to update the intro exceptions...")
    magic, major, minor, km_count, um_count, _sig_count, build, glob_count, kum_count, _res = layout_header(data)
    if magic != MAGIC:
        text = "".join(_c_char(b) for b in magic.to_bytes(4, "big"))
        log_all(f"[ERROR] Exception file header doesn't have the right magic word ({text})")
        return report(
            LoadStatus.INVALID_OBJECT_TYPE,
            (
                Diagnostic(
                    "LD002",
                    f"magic is 0x{magic:08x} (bytes {data[:4].hex(' ')}), not 0x{MAGIC:08x} (\"EXNA\")",
                    location=loc0,
                    subject="header",
                    field="Magic",
                    hint="this is not an exceptions.bin file",
                ),
            ),
            (0, 0, 0),
            0,
        )
    if major != SUPPORTED_MAJOR:
        log_all(
            f"[ERROR] Update's file major ({major}.{minor}) version is different form ours "
            f"({SUPPORTED_MAJOR}.{SUPPORTED_MINOR})"
        )
        return report(
            LoadStatus.NOT_SUPPORTED,
            (
                Diagnostic(
                    "LD003",
                    f"format version {major}.{minor}: Introcore only loads major version {SUPPORTED_MAJOR}",
                    location=SourceLocation(path, offset=4),
                    subject="header",
                    field="Version.Major",
                ),
            ),
            (0, 0, 0),
            0,
        )
    if minor > SUPPORTED_MINOR:
        log_all(
            f"[WARNING] Update's file minor ({major}.{minor}) version is newer than ours "
            f"({SUPPORTED_MAJOR}.{SUPPORTED_MINOR}). Not all features will be available!"
        )
        notes.append(
            Diagnostic(
                "LW001",
                f"format version {major}.{minor} is newer than Introcore's {SUPPORTED_MAJOR}.{SUPPORTED_MINOR}: "
                "loaded with a warning, unknown object types are skipped",
                Severity.WARNING,
                location=SourceLocation(path, offset=6),
                subject="header",
                field="Version.Minor",
            )
        )
    elif minor < SUPPORTED_MINOR:
        log_all(
            f"[ERROR] Update's file minor ({major}.{minor}) version is older than ours "
            f"({SUPPORTED_MAJOR}.{SUPPORTED_MINOR}). Will not update the exceptions."
        )
        return report(
            LoadStatus.NOT_SUPPORTED,
            (
                Diagnostic(
                    "LD004",
                    f"format version {major}.{minor} is older than {SUPPORTED_MAJOR}.{SUPPORTED_MINOR}",
                    location=SourceLocation(path, offset=6),
                    subject="header",
                    field="Version.Minor",
                    hint=f"minor version must be at least {SUPPORTED_MINOR}",
                ),
            ),
            (0, 0, 0),
            0,
        )
    if km_count == 0 and um_count == 0 and kum_count == 0 and glob_count == 0:
        log_all(
            f"[WARNING] Requested update with {km_count} kernel exceptions and {um_count} user exceptions. "
            "We cannot do that..."
        )
        return report(
            LoadStatus.INVALID_OBJECT_TYPE,
            (
                Diagnostic(
                    "LD005",
                    "the header's kernel, user, kernel-user and glob exception counts are all 0",
                    location=SourceLocation(path, offset=8),
                    subject="header",
                    field="KernelExceptionsCount",
                    hint="Introcore refuses a file without exceptions (a signatures-only file); spec 02 Q28",
                ),
            ),
            (0, 0, 0),
            0,
        )
    if not initialized:
        return report(
            LoadStatus.INVALID_INTERNAL_STATE,
            (
                Diagnostic(
                    "LD012",
                    "the exceptions subsystem is not initialised (IntExceptInit was not called)",
                    location=loc0,
                    subject="introcore",
                ),
            ),
            (0, 0, 0),
            0,
        )

    unpack_hashed = _HASHED.unpack_from
    unpack_glob = _GLOB_FIXED.unpack_from
    u16 = _U16.unpack_from
    u32 = _U32.unpack_from
    pos = HEADER_SIZE
    objects = 0
    i_kfb, i_kgen, i_knon = _IDX["KernelFeedbackExceptions"], _IDX["GenericKernelExceptions"], _IDX["NoNameKernelExceptions"]
    i_ufb, i_ugen, i_unon = _IDX["UserFeedbackExceptions"], _IDX["GenericUserExceptions"], _IDX["NoNameUserExceptions"]
    i_pc, i_pcfb = _IDX["ProcessCreationExceptions"], _IDX["ProcessCreationFeedbackExceptions"]
    i_kufb, i_kugen = _IDX["KernelUserFeedbackExceptions"], _IDX["GenericKernelUserExceptions"]
    i_glob = _IDX["GlobUserExceptions"]
    try:
        while pos < n:
            if n - pos < OBJECT_HEADER_SIZE:
                log_all(
                    f"[ERROR] The address of 'UPDATE_HEADER' structure exceeds the exception buffer "
                    f"(<buffer+{pos + OBJECT_HEADER_SIZE}>/<buffer+{n}>)"
                )
                raise _Abort(
                    LoadStatus.INVALID_DATA_SIZE,
                    Diagnostic(
                        "LD006",
                        f"{n - pos} stray byte(s) at the end of the file: an object header needs 3 bytes",
                        location=SourceLocation(path, offset=pos),
                        subject=f"object #{objects} at offset {pos} (0x{pos:x})",
                        hint="the file is truncated or has trailing garbage",
                    ),
                    "",
                )
            typ = data[pos]
            size = data[pos + 1] | (data[pos + 2] << 8)
            body = pos + OBJECT_HEADER_SIZE
            remaining = n - body
            offset = pos
            pos = body + size  # upstream advances before handling the object
            objects += 1
            if typ in (TYPE_KM, TYPE_UM, TYPE_APC, TYPE_KUM):
                if remaining < 20:
                    raise _exceed(path, offset, typ, 20, remaining)
                orig, _f2, _f3, flags, _r, otype, sigcount = unpack_hashed(data, body)
                entry = 20 + 4 * sigcount
                if entry != size:
                    raise _different(path, offset, typ, entry, size)
                if entry > remaining:
                    raise _exceed(path, offset, typ, entry, remaining)
                g = 1 if flags & FLAG_LINUX else 0  # the guest that keeps it; the other skips it
                if flags & FLAG_IGNORE:
                    kind = "UM" if typ in (TYPE_UM, TYPE_APC) else "KM"  # KUM logs "KM" upstream
                    logs[g].append(f"[UPDATE] Dropped an ignored {kind} exception. No problem here!")
                    continue
                scalars = all_scalars[g]
                feedback = flags & FLAG_FEEDBACK
                bucket = orig >> 28
                if typ == TYPE_KM:
                    if feedback:
                        scalars[i_kfb] += 1
                    elif orig == NAME_ANY:
                        scalars[i_kgen] += 1
                    elif orig == NAME_NONE:
                        scalars[i_knon] += 1
                    else:
                        all_kernel[g][bucket] += 1
                elif typ == TYPE_KUM:
                    if feedback:
                        scalars[i_kufb] += 1
                    elif orig == NAME_ANY:
                        scalars[i_kugen] += 1
                    elif orig == NAME_NONE:
                        # upstream loader bug (spec 01 §9.4): KUM "-" lands in the kernel-mode no-name list
                        scalars[i_knon] += 1
                    else:
                        all_kernel_user[g][bucket] += 1
                elif otype == UM_TYPE_PROCESS_CREATION:
                    scalars[i_pcfb if feedback else i_pc] += 1
                elif feedback:
                    scalars[i_ufb] += 1
                elif orig == NAME_ANY:
                    scalars[i_ugen] += 1
                elif orig == NAME_NONE:
                    scalars[i_unon] += 1
                else:
                    all_user[g][bucket] += 1
            elif typ == TYPE_GLOB:
                if remaining < GLOB_STRUCT_SIZE:
                    raise _exceed(path, offset, typ, GLOB_STRUCT_SIZE, remaining, " (Introcore's 200-byte glob rule)")
                flags, _r, otype, sigcount = unpack_glob(data, body)
                if flags & FLAG_IGNORE:
                    # the ignore exit comes before the strings are read (and before the OS test):
                    # Size is never validated here
                    log_all("[UPDATE] Dropped an ignored UM exception. No problem here!")
                    continue
                consumed = 8
                spos = body + 8
                for label in ("originator", "victim", "process"):
                    limit = min(GLOB_STRING_MAX, n - spos)
                    nul = data.find(b"\x00", spos, spos + limit)
                    length = (limit if nul < 0 else nul - spos) + 1
                    if length == 1:
                        log_all(f"[ERROR] The {label} name length is invalid ({length})")
                        raise _Abort(
                            LoadStatus.INVALID_DATA_STATE,
                            Diagnostic(
                                "LD009",
                                f"the {label} glob string is empty",
                                location=SourceLocation(path, offset=spos),
                                subject=f"user-glob-match exception at offset {offset} (0x{offset:x})",
                                field=label,
                                hint="each glob string needs at least one character",
                            ),
                            "",
                        )
                    consumed += length
                    if GLOB_STRUCT_SIZE + consumed > remaining:
                        raise _exceed(
                            path, offset, typ, GLOB_STRUCT_SIZE + consumed, remaining, " (Introcore's 200-byte glob rule)"
                        )
                    if length > GLOB_STRING_MAX:
                        what = {"originator": "Originator Name", "victim": "Victim Name"}.get(label)
                        if what:
                            log_all(f"[ERROR] {what} length is longer than the supported one ({length - 1})")
                        else:
                            log_all(f"[ERROR] The process name length is invalid ({length})")
                        raise _Abort(
                            LoadStatus.NOT_SUPPORTED,
                            Diagnostic(
                                "LD010",
                                f"the {label} glob string has {length - 1} or more characters",
                                location=SourceLocation(path, offset=spos),
                                subject=f"user-glob-match exception at offset {offset} (0x{offset:x})",
                                field=label,
                                hint=f"at most {GLOB_STRING_MAX - 1} characters plus the NUL",
                            ),
                            "",
                        )
                    spos += length
                entry = consumed + 4 * sigcount
                if entry != size:
                    raise _different(path, offset, typ, entry, size, LoadStatus.INVALID_OBJECT_TYPE)
                if entry > remaining:
                    abort = _exceed(path, offset, typ, entry, remaining)
                    abort.status = LoadStatus.INVALID_OBJECT_TYPE
                    raise abort
                all_scalars[1 if flags & FLAG_LINUX else 0][i_glob] += 1
            elif typ in _SIG_LIST_OF_TYPE:
                if typ == TYPE_CB:
                    if remaining < 11:
                        raise _exceed(path, offset, typ, 11, remaining)
                    lists = data[body + 9]
                    entry = 10
                    for _ in range(lists):
                        if entry + 1 > remaining:
                            raise _exceed(path, offset, typ, entry + 1, remaining)
                        entry += 1 + 4 * data[body + entry]
                        if entry > remaining:
                            raise _exceed(path, offset, typ, entry, remaining)
                    if entry != size:
                        raise _different(path, offset, typ, entry, size)
                else:
                    if typ == TYPE_EXPORT:
                        if remaining < 16:
                            raise _exceed(path, offset, typ, 16, remaining)
                        entry = 16 + 8 * data[body + 12]
                    elif typ == TYPE_VALUE:
                        if remaining < 12:
                            raise _exceed(path, offset, typ, 12, remaining)
                        entry = 12 + 12 * data[body + 9]
                    elif typ == TYPE_VALUE_CODE:
                        if remaining < 12:
                            raise _exceed(path, offset, typ, 12, remaining)
                        entry = 12 + 2 * u16(data, body + 10)[0]
                    elif typ == TYPE_IDT:
                        entry = 12
                    else:
                        entry = 24
                    if entry != size:
                        raise _different(path, offset, typ, entry, size)
                    if entry > remaining:
                        raise _exceed(path, offset, typ, entry, remaining)
                flags = u32(data, body + 4)[0]
                all_scalars[1 if flags & FLAG_LINUX else 0][_SIG_LIST_OF_TYPE[typ]] += 1
            else:
                log_all(f"[WARNING] Unknown exception/signature type '{typ}'. Will ignore ...")
                notes.append(
                    Diagnostic(
                        "LW002",
                        f"unknown object type {typ} (Size {size}) is skipped"
                        + (" and its Size runs past the end of the file, which ends the walk" if pos > n else ""),
                        Severity.WARNING,
                        location=SourceLocation(path, offset=offset),
                        subject=f"object #{objects - 1} at offset {offset} (0x{offset:x})",
                        field="Type",
                    )
                )
    except _Abort as abort:
        if abort.log:
            log_all(abort.log)
        if abort.status is not LoadStatus.INVALID_DATA_SIZE:
            log_all(_ERR_LOG_FAILED.format(abort.status.value))
        return report(abort.status, (abort.diagnostic,), (0, 0, 0), objects)
    signed_build = build - (1 << 32) if build & 0x80000000 else build
    log_all(f"[UPDATE] Updated exceptions to version {major}.{minor}.{signed_build}")
    return report(LoadStatus.SUCCESS, (), (major, minor, build), objects)


def _c_char(byte: int) -> str:
    return chr(byte)


def layout_header(data: bytes) -> tuple[int, ...]:
    """The ten header fields (magic, major, minor, km, um, signatures, build, glob, kum, reserved)."""
    return tuple(layout.FILE_HEADER.struct.unpack_from(data, 0))


# --------------------------------------------------------------------------- structural parse into the model


@dataclass(frozen=True, slots=True)
class ParsedBin:
    """Every record of a well-formed file, in file order, with the byte offset of each object header."""

    model: ExceptionSet
    offsets: tuple[int, ...]
    path: str = "<bytes>"
    header_counts: HeaderCounts | None = None  # as stored in the header
    error: Diagnostic | None = None  # partial parse: why the walk stopped early (records before it are kept)

    @property
    def records(self) -> tuple[Record, ...]:
        return self.model.records


def _parse_error(path: str, offset: int, message: str, subject: str, field_name: str | None = None) -> BinaryFormatError:
    return BinaryFormatError(
        f"{path}: not a well-formed exceptions.bin",
        (Diagnostic("BF001", message, location=SourceLocation(path, offset=offset), subject=subject, field=field_name),),
    )


_HASHED_CLASSES: dict[int, type] = {
    TYPE_KM: KernelException,
    TYPE_UM: UserException,
    TYPE_APC: UserApcException,
    TYPE_KUM: KernelUserException,
}


class _HashedReader:
    """Fast path for the four hashed exception records (the bulk of big files): the same layout
    declarations as :mod:`hvmiex.binfile.layout`, with names, flags and signature references shared
    between records instead of built again for every record."""

    def __init__(self) -> None:
        self.names: dict[int, Name] = {}
        self.flags: dict[int, FlagSet] = {}
        self.refs: dict[bytes, tuple[SignatureRef, ...]] = {}
        self.km = layout.KM_EXCEPTION.struct.unpack_from
        self.um = layout.UM_EXCEPTION.struct.unpack_from

    def name(self, value: int) -> Name:
        got = self.names.get(value)
        if got is None:
            got = self.names[value] = Name.verbatim(value)
        return got

    def read(self, data: bytes, start: int, size: int, typ: int) -> Record | None:
        """The record, or None when the body is malformed (the generic path then reports it)."""
        if size < 20:
            return None
        if typ == TYPE_KM:
            a, path_hash, c, flags, _r, otype, n = self.km(data, start)
        else:
            a, c, path_hash, flags, _r, otype, n = self.um(data, start)
        if 20 + 4 * n != size:
            return None
        if n:
            raw_ids = data[start + 20 : start + size]
            refs = self.refs.get(raw_ids)
            if refs is None:
                refs = self.refs[raw_ids] = tuple(SignatureRef(i) for i in layout.unpack_u32_array(raw_ids, 0, n))
        else:
            refs = ()
        fs = self.flags.get(flags)
        if fs is None:
            fs = self.flags[flags] = FlagSet(flags)
        names = self.names
        na = names.get(a) or self.name(a)
        nc = names.get(c) or self.name(c)
        if typ == TYPE_KM:
            return _BUILD_KM((na, nc, fs, otype, refs, path_hash, None))
        np = names.get(path_hash) or self.name(path_hash)
        return _BUILDERS[_HASHED_CLASSES[typ]]((na, nc, np, fs, otype, refs, None))


_KM_FIELDS = ("originator", "victim", "flags", "object_type", "signatures", "path_hash", "location")
_UM_FIELDS = ("originator", "victim", "process", "flags", "object_type", "signatures", "location")


def _slot_builder(cls: type, names: tuple[str, ...]) -> Callable[[tuple[object, ...]], Record]:
    """Bulk construction of a frozen record: the field values go straight into the slots (half the time
    of the dataclass ``__init__``, which matters for million-record files). Falls back to ``__init__`` if
    the class's fields are not exactly ``names`` (the model changed)."""
    if tuple(f.name for f in dataclasses.fields(cls)) != names:

        def by_init(values: tuple[object, ...]) -> Record:
            kwargs = dict(zip(names, values, strict=True))
            return cls(**kwargs)  # type: ignore[no-any-return]

        return by_init
    s0, s1, s2, s3, s4, s5, s6 = (getattr(cls, n).__set__ for n in names)
    new = object.__new__

    def by_slots(v: tuple[object, ...]) -> Record:
        obj: Any = new(cls)
        s0(obj, v[0])
        s1(obj, v[1])
        s2(obj, v[2])
        s3(obj, v[3])
        s4(obj, v[4])
        s5(obj, v[5])
        s6(obj, v[6])
        return obj  # type: ignore[no-any-return]

    return by_slots


_BUILDERS: dict[type, Callable[[tuple[object, ...]], Record]] = {
    KernelException: _slot_builder(KernelException, _KM_FIELDS),
    UserException: _slot_builder(UserException, _UM_FIELDS),
    UserApcException: _slot_builder(UserApcException, _UM_FIELDS),
    KernelUserException: _slot_builder(KernelUserException, _UM_FIELDS),
}


_BUILD_KM = _BUILDERS[KernelException]


def _subject(index: int, typ: int, pos: int) -> str:
    return f"object #{index} ({OBJECT_TYPE_NAMES.get(typ, f'type {typ}')}) at offset {pos} (0x{pos:x})"


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while millions of acyclic records are created (it would rescan them
    again and again); the previous state is restored."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_exceptions_bin(data: bytes, path: str = "<bytes>", *, partial: bool = False) -> ParsedBin:
    """Read every record of ``data`` into the model (file order; all OSes; ``ignore``d records included).

    Raises :class:`BinaryFormatError` (with the byte offset) when the header is not an exceptions.bin
    header or an object's ``Size`` disagrees with its content. Unknown object types become
    :class:`RawObject`. With ``partial=True`` an object-level problem ends the walk instead: the records
    before it are returned and :attr:`ParsedBin.error` says what stopped it (header problems still raise).
    """
    with paused_gc():
        return _parse_exceptions_bin(data, path, partial)


def _parse_exceptions_bin(data: bytes, path: str, partial: bool) -> ParsedBin:
    data = bytes(data)
    n = len(data)
    if n < HEADER_SIZE:
        raise _parse_error(path, 0, f"the file has {n} bytes, less than the {HEADER_SIZE}-byte header", "header")
    header = layout.unpack_header(data, 0)
    if header.magic != MAGIC:
        raise _parse_error(
            path, 0, f"magic is 0x{header.magic:08x}, not 0x{MAGIC:08x} (\"EXNA\")", "header", "Magic"
        )
    records: list[Record] = []
    offsets: list[int] = []
    unpack = layout.unpack_record
    fast_hashed = _HashedReader().read
    fast = _HASHED_CLASSES
    append_record = records.append
    append_offset = offsets.append
    per_type = [0] * 256
    pos = HEADER_SIZE
    error: BinaryFormatError | None = None
    while pos < n:
        if n - pos < OBJECT_HEADER_SIZE:
            error = _parse_error(
                path, pos, f"{n - pos} stray byte(s) at the end: an object header needs 3", f"object #{len(records)}"
            )
            break
        typ = data[pos]
        size = data[pos + 1] | (data[pos + 2] << 8)
        start = pos + OBJECT_HEADER_SIZE
        end = start + size
        if end > n:
            subject = _subject(len(records), typ, pos)
            error = _parse_error(path, pos, f"Size {size} runs {end - n} byte(s) past the end of the file", subject, "Size")
            break
        record = None
        if typ in fast:
            record = fast_hashed(data, start, size, typ)
        if record is None:
            try:
                record = unpack(typ, data[start:end])
            except (layout.LayoutError, struct.error, ValueError, IndexError) as exc:
                error = _parse_error(path, pos, f"malformed record: {exc}", _subject(len(records), typ, pos))
                break
        append_record(record)
        append_offset(pos)
        per_type[typ] += 1
        pos = end
    if error is not None and not partial:
        raise error
    stored = HeaderCounts(
        header.kernel_count, header.user_count, header.signature_count, header.glob_count, header.kernel_user_count
    )
    actual = HeaderCounts(
        per_type[TYPE_KM], per_type[TYPE_UM] + per_type[TYPE_APC], sum(per_type[t] for t in _SIG_LIST_OF_TYPE),
        per_type[TYPE_GLOB], per_type[TYPE_KUM],
    )  # fmt: skip
    counts = None if actual == stored else stored  # None: the writer computes the same counts again
    model = ExceptionSet(tuple(records), header.major, header.minor, header.build, counts, header.reserved)
    return ParsedBin(model, tuple(offsets), path, stored, error.diagnostics[0] if error is not None else None)


# --------------------------------------------------------------------------- both views


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Introcore's outcome for both guest OSes, plus the parsed model when the file is well formed."""

    path: str
    windows: LoadReport
    linux: LoadReport
    parsed: ParsedBin | None = None
    parse_error: BinaryFormatError | None = field(default=None, compare=False)
    notes: tuple[Diagnostic, ...] = ()  # facts Introcore does not check (header counts, ...)

    @property
    def accepted(self) -> bool:
        return self.windows.accepted and self.linux.accepted

    @property
    def status(self) -> LoadStatus:
        return self.windows.status if not self.windows.accepted else self.linux.status

    @property
    def reasons(self) -> tuple[Diagnostic, ...]:
        seen: list[Diagnostic] = list(self.windows.reasons)
        seen.extend(d for d in self.linux.reasons if d not in seen)
        return tuple(seen)

    @property
    def model(self) -> ExceptionSet | None:
        return self.parsed.model if self.parsed else None

    def report(self, guest: GuestOS) -> LoadReport:
        return self.windows if guest is GuestOS.WINDOWS else self.linux

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "accepted": self.accepted,
            "status_name": self.status.status_name,
            "reasons": [_diag_dict(d) for d in self.reasons],
            "notes": [_diag_dict(d) for d in self.notes],
            "windows": self.windows.to_dict(),
            "linux": self.linux.to_dict(),
            "well_formed": self.parsed is not None,
        }


def load(data: bytes, path: str = "<bytes>") -> LoadResult:
    """What Introcore makes of ``data`` (both guests) and, when well formed, the model."""
    data = bytes(data)
    windows, linux = simulate_both(data, path)
    parsed: ParsedBin | None = None
    error: BinaryFormatError | None = None
    notes: list[Diagnostic] = []
    if len(data) >= HEADER_SIZE and layout.unpack_header(data).magic == MAGIC:
        try:
            parsed = parse_exceptions_bin(data, path)
        except BinaryFormatError as exc:
            error = exc
    if parsed is not None:
        notes.extend(_structure_notes(parsed))
    return LoadResult(path, windows, linux, parsed, error, tuple(notes))


def _structure_notes(parsed: ParsedBin) -> list[Diagnostic]:
    notes: list[Diagnostic] = []
    stored = parsed.header_counts
    actual = ExceptionSet(parsed.model.records).header_counts()
    if stored is not None and stored != actual:
        for label, a, b in zip(
            ("kernel", "user", "signatures", "glob", "kernel-user"),
            (stored.kernel, stored.user, stored.signatures, stored.glob, stored.kernel_user),
            (actual.kernel, actual.user, actual.signatures, actual.glob, actual.kernel_user),
            strict=True,
        ):
            if a != b:
                notes.append(
                    Diagnostic(
                        "LI001",
                        f"header says {a} {label} record(s), the file holds {b} (Introcore does not check this)",
                        Severity.INFO,
                        location=SourceLocation(parsed.path, offset=8),
                        subject="header",
                    )
                )
    return notes


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def load_file(path: str | os.PathLike[str]) -> LoadResult:
    return load(read_bytes(path), os.fspath(path))


def read_exceptions_bin(path: str | os.PathLike[str]) -> ParsedBin:
    """Parse a file into the model; :class:`BinaryFormatError` if it is not well formed."""
    return parse_exceptions_bin(read_bytes(path), os.fspath(path))


