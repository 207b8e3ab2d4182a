"""Introcore's in-memory exception storage (spec 03 §5): lists, buckets, global signature lists, and the
hash indexes that let us answer each bucket scan without walking the bucket.

Buckets are scanned by Introcore from the head and stop at the first entry whose originator hash is greater
than the one searched (the lists are assumed sorted). For each scan variant (which entries are skipped before
the "stop" test) we precompute, per originator hash, the entries that the scan would reach; this is exact
even for unsorted lists (an entry is reached iff no earlier non-skipped entry has a greater hash).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hvmiex.model import (
    CodeBlocksSignature,
    ExportSignature,
    GlobException,
    IdtSignature,
    KernelException,
    KernelUserException,
    ProcessCreationSignature,
    Record,
    UserApcException,
    UserException,
    ValueCodeSignature,
    ValueSignature,
    VersionIntroSignature,
    VersionOsSignature,
)

# exception flags (spec 03 §3.6)
EF_FEEDBACK = 0x1
EF_32 = 0x2
EF_64 = 0x4
EF_INIT = 0x8
EF_RETURN = 0x10
EF_LINUX = 0x80
EF_NON_DRIVER = 0x100  # KM/KUM
EF_SYSTEM_PROCESS = 0x100  # UM
EF_RETURN_DRV = 0x200  # KM/KUM
EF_CHILD = 0x200  # UM
EF_SMAP = 0x400
EF_SMEP = 0x800  # KM
EF_ONE_TIME = 0x800  # UM
EF_INTEGRITY = 0x1000  # KM
EF_LIKE_APPHELP = 0x1000  # UM
EF_USER = 0x8000  # KUM
EF_KERNEL = 0x10000  # KUM
EF_READ = 0x1000_0000
EF_WRITE = 0x2000_0000
EF_EXEC = 0x4000_0000
EF_IGNORE = 0x8000_0000
EF_ACCESS = EF_READ | EF_WRITE | EF_EXEC

# signature flags (spec 03 §3.7)
SF_32 = 0x1
SF_64 = 0x2
SF_MEDIUM = 0x4
SF_LINUX = 0x80
SF_CLI = 0x10000

# signature types (ID >> 22)
ST_VERSION_OS = 50
ST_VERSION_INTRO = 51
ST_PROCESS_CREATION = 70
ST_EXPORT = 100
ST_VALUE = 200
ST_IDT = 300
ST_VALUE_CODE = 500
ST_CODEBLOCKS = 600
SIGNATURE_TYPES = (
    ST_VERSION_OS, ST_VERSION_INTRO, ST_PROCESS_CREATION, ST_EXPORT, ST_VALUE, ST_IDT, ST_VALUE_CODE, ST_CODEBLOCKS,
)  # fmt: skip

UM_OBJ_NX_ZONE = 5
UM_OBJ_PROCESS_CREATION = 11

ALERT_SIGNATURE_BASE = 0x200000


class Kind(enum.IntEnum):
    """Engine exception kinds (spec 03 §3.1)."""

    UM = 0
    KM = 1
    UMG = 2
    KUM = 3

    @property
    def tag(self) -> str:
        return ("um", "km", "umg", "kum")[self]


Signature = (
    CodeBlocksSignature | ExportSignature | ValueSignature | ValueCodeSignature | IdtSignature
    | VersionOsSignature | VersionIntroSignature | ProcessCreationSignature
)  # fmt: skip

_SIG_TYPE_OF_CLASS: dict[type, int] = {
    VersionOsSignature: ST_VERSION_OS,
    VersionIntroSignature: ST_VERSION_INTRO,
    ProcessCreationSignature: ST_PROCESS_CREATION,
    ExportSignature: ST_EXPORT,
    ValueSignature: ST_VALUE,
    IdtSignature: ST_IDT,
    ValueCodeSignature: ST_VALUE_CODE,
    CodeBlocksSignature: ST_CODEBLOCKS,
}


def signature_list_type(sig: Signature) -> int:
    return _SIG_TYPE_OF_CLASS[type(sig)]


@dataclass(frozen=True, slots=True, eq=False)
class LoadedException:
    """An exception as the engine holds it (after the load-time fix-ups of spec 03 §5.2).

    Identity (``is``) is what matters: the same object moves inside its list (MRU) and is removed by
    identity.
    """

    kind: Kind
    originator: int
    victim: int
    process: int
    flags: int
    object_type: int
    signatures: tuple[int, ...]
    glob_originator: bytes = b""
    glob_victim: bytes = b""
    glob_process: bytes = b""
    record: Record | None = None
    record_index: int | None = None
    alert: bool = False
    context: object = None
    quirk_kum_as_km: bool = False  # upstream quirk §13.1: a KUM "-" entry read with the KM layout
    proposal: object = None  # alert exceptions: the hvmiex.engine.propose.Proposal they came from

    @property
    def has_return(self) -> bool:
        return bool(self.flags & EF_RETURN)


@dataclass(frozen=True, slots=True, eq=False)
class LoadedSignature:
    sig: Signature
    type: int
    alert: bool = False
    record_index: int | None = None

    @property
    def id(self) -> int:
        return self.sig.id

    @property
    def flags(self) -> int:
        return self.sig.flags.value


# list names (Introcore's)
GENERIC_KERNEL = "GenericKernel"
NONAME_KERNEL = "NoNameKernel"
KERNEL = "Kernel"
KERNEL_FEEDBACK = "KernelFeedback"
GENERIC_KERNEL_USER = "GenericKernelUser"
NONAME_KERNEL_USER = "NoNameKernelUser"
KERNEL_USER = "KernelUser"
KERNEL_USER_FEEDBACK = "KernelUserFeedback"
PROCESS_CREATION = "ProcessCreation"
PROCESS_CREATION_FEEDBACK = "ProcessCreationFeedback"
GENERIC_USER = "GenericUser"
NONAME_USER = "NoNameUser"
USER = "User"
USER_FEEDBACK = "UserFeedback"
GLOB_USER = "GlobUser"
KERNEL_ALERT = "KernelAlert"
USER_ALERT = "UserAlert"
PROCESS_CREATION_ALERT = "ProcessCreationAlert"
KERNEL_USER_ALERT = "KernelUserAlert"

SCALAR_LIST_NAMES = (
    GENERIC_KERNEL, NONAME_KERNEL, KERNEL_FEEDBACK, GENERIC_KERNEL_USER, NONAME_KERNEL_USER, KERNEL_USER_FEEDBACK,
    PROCESS_CREATION, PROCESS_CREATION_FEEDBACK, GENERIC_USER, NONAME_USER, USER_FEEDBACK, GLOB_USER,
)  # fmt: skip
ALERT_LIST_NAMES = (KERNEL_ALERT, USER_ALERT, PROCESS_CREATION_ALERT, KERNEL_USER_ALERT)
BUCKET_LIST_NAMES = (KERNEL, USER, KERNEL_USER)


def bucket(h: int) -> int:
    return (h >> 28) & 0xF


# reach index: originator hash -> (position, entry) pairs, in list order, a bucket scan for that hash evaluates
ReachIndex = dict[int, tuple[tuple[int, LoadedException], ...]]


def build_reach_index(entries: Iterable[LoadedException], include: Callable[[LoadedException], bool]) -> ReachIndex:
    out: dict[int, list[tuple[int, LoadedException]]] = {}
    prefix_max = -1
    for pos, e in enumerate(entries):
        if not include(e):
            continue  # skipped entries neither stop the scan nor get evaluated
        if prefix_max <= e.originator:
            out.setdefault(e.originator, []).append((pos, e))
        if e.originator > prefix_max:
            prefix_max = e.originator
    return {k: tuple(v) for k, v in out.items()}


# position index: originator hash -> [(position, entry)] for "evaluate if" lists (feedback lists)
PosIndex = dict[int, list[tuple[int, LoadedException]]]


@dataclass(slots=True)
class ExceptionStore:
    """All lists of one Introcore instance, plus lazily built indexes (invalidated on change)."""

    lists: dict[str, list[LoadedException]] = field(default_factory=dict)
    buckets: dict[str, list[list[LoadedException]]] = field(default_factory=dict)
    signatures: dict[int, list[LoadedSignature]] = field(default_factory=dict)
    _reach: dict[tuple[str, int, object], ReachIndex] = field(default_factory=dict)
    _pos: dict[str, PosIndex] = field(default_factory=dict)
    _sig_pos: dict[int, dict[int, list[tuple[int, LoadedSignature]]]] = field(default_factory=dict)
    sources: dict[int, str] = field(default_factory=dict)  # record index in the loaded file -> "file:line"
    signature_names: dict[int, str] = field(default_factory=dict)  # signature id -> sig_id text, when known
    info_cache: dict[object, Any] = field(default_factory=dict)  # decision-result objects reused across calls
    trace_cache: dict[object, Any] = field(default_factory=dict)
    verdict_cache: dict[object, Any] = field(default_factory=dict)
    group_cache: dict[tuple[int, ...], list[tuple[int, tuple[int, ...]]]] = field(default_factory=dict)
    # bumped whenever exceptions, signatures or their names change: memos outside the store compare it
    generation: int = 0
    # per scan variant, one reach index per bucket (None until first used)
    reach_tables: dict[object, list[ReachIndex | None]] = field(default_factory=dict)
    # signature ID tuple -> True when every ID is a codeblocks ID (step 3 results memoised per code window)
    cb_only: dict[tuple[int, ...], bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in SCALAR_LIST_NAMES + ALERT_LIST_NAMES:
            self.lists.setdefault(name, [])
        for name in BUCKET_LIST_NAMES:
            self.buckets.setdefault(name, [[] for _ in range(16)])
        for t in SIGNATURE_TYPES:
            self.signatures.setdefault(t, [])

    # ----------------------------------------------------------------- change tracking

    def invalidate(self) -> None:
        self.generation += 1
        self._reach.clear()
        self.reach_tables.clear()
        self._pos.clear()
        self._sig_pos.clear()
        self.info_cache.clear()
        self.trace_cache.clear()
        self.verdict_cache.clear()

    def clear_loaded(self) -> None:
        """Drop every non-alert exception and signature (start of a successful load)."""
        for name in SCALAR_LIST_NAMES:
            self.lists[name] = []
        for name in BUCKET_LIST_NAMES:
            self.buckets[name] = [[] for _ in range(16)]
        for t in SIGNATURE_TYPES:
            self.signatures[t] = [s for s in self.signatures[t] if s.alert]
        self.sources = {}
        self.signature_names = {}
        self.invalidate()

    # ----------------------------------------------------------------- indexes

    def reach(self, list_name: str, b: int, variant: object, include: Callable[[LoadedException], bool]) -> ReachIndex:
        key = (list_name, b, variant)
        idx = self._reach.get(key)
        if idx is None:  # built once per (bucket, scan variant) and kept until the lists change
            idx = build_reach_index(self.buckets[list_name][b], include)
            self._reach[key] = idx
        return idx

    def reach_in(self, list_name: str, b: int, variant: object, include: Callable[[LoadedException], bool]) -> ReachIndex:
        """Like :meth:`reach`, through a per-variant table of 16 buckets (``variant`` names one list)."""
        tab = self.reach_tables.get(variant)
        if tab is None:
            tab = self.reach_tables[variant] = [None] * 16
        idx = tab[b]
        if idx is None:
            idx = tab[b] = self.reach(list_name, b, variant, include)
        return idx

    def positions(self, list_name: str) -> PosIndex:
        idx = self._pos.get(list_name)
        if idx is None:
            idx = {}
            for i, e in enumerate(self.lists[list_name]):
                idx.setdefault(e.originator, []).append((i, e))
            self._pos[list_name] = idx
        return idx

    def signature_positions(self, sig_type: int) -> dict[int, list[tuple[int, LoadedSignature]]]:
        idx = self._sig_pos.get(sig_type)
        if idx is None:
            idx = {}
            for i, s in enumerate(self.signatures.get(sig_type, ())):
                idx.setdefault(s.id, []).append((i, s))
            self._sig_pos[sig_type] = idx
        return idx

    # ----------------------------------------------------------------- insertion

    def add_loaded(self, e: LoadedException) -> str:
        """Append a file exception to its list (spec 03 §5.1); returns the list name."""
        feedback = bool(e.flags & EF_FEEDBACK)
        if e.kind is Kind.KM:
            if feedback:
                name = KERNEL_FEEDBACK
            elif e.originator == 0:
                name = GENERIC_KERNEL
            elif e.originator == 4:
                name = NONAME_KERNEL
            else:
                self.buckets[KERNEL][bucket(e.originator)].append(e)
                return KERNEL
        elif e.kind is Kind.KUM:
            if feedback:
                name = KERNEL_USER_FEEDBACK
            elif e.originator == 0:
                name = GENERIC_KERNEL_USER
            elif e.originator == 4:
                # upstream quirk §13.1: KUM "-" entries land in the KM no-name list, read with the KM layout
                name = NONAME_KERNEL
                e = LoadedException(
                    kind=Kind.KM, originator=e.originator, victim=e.victim, process=0, flags=e.process,
                    object_type=e.flags, signatures=e.signatures, record=e.record, record_index=e.record_index,
                    quirk_kum_as_km=True,
                )  # fmt: skip
            else:
                self.buckets[KERNEL_USER][bucket(e.originator)].append(e)
                return KERNEL_USER
        elif e.kind is Kind.UMG:
            name = GLOB_USER
        else:
            if e.object_type == UM_OBJ_PROCESS_CREATION:
                name = PROCESS_CREATION_FEEDBACK if feedback else PROCESS_CREATION
            elif feedback:
                name = USER_FEEDBACK
            elif e.originator == 0:
                name = GENERIC_USER
            elif e.originator == 4:
                name = NONAME_USER
            else:
                self.buckets[USER][bucket(e.originator)].append(e)
                return USER
        self.lists[name].append(e)
        return name

    def alert_list_for(self, e: LoadedException) -> str:
        if e.kind is Kind.KM:
            return KERNEL_ALERT
        if e.kind is Kind.KUM:
            return KERNEL_USER_ALERT
        if e.object_type == UM_OBJ_PROCESS_CREATION:
            return PROCESS_CREATION_ALERT
        return USER_ALERT

    def add_alert(self, e: LoadedException) -> str:
        """Insert before the first entry with a strictly greater originator (spec 03 §12.2)."""
        name = self.alert_list_for(e)
        lst = self.lists[name]
        pos = len(lst)
        for i, other in enumerate(lst):
            if other.originator > e.originator:
                pos = i
                break
        lst.insert(pos, e)
        self.invalidate()
        return name

    def add_signature(self, s: LoadedSignature) -> None:
        self.signatures[s.type].append(s)
        self._sig_pos.pop(s.type, None)
        self.generation += 1

    def find_signatures(self, sig_id: int) -> list[LoadedSignature]:
        t = (sig_id >> 22) & 0x3FF
        return [s for _, s in self.signature_positions(t).get(sig_id, [])]

    # ----------------------------------------------------------------- introspection

    def counts(self) -> dict[str, int | list[int]]:
        out: dict[str, int | list[int]] = {name: len(lst) for name, lst in self.lists.items()}
        for name, buckets in self.buckets.items():
            out[name] = [len(b) for b in buckets]
        for t, sigs in self.signatures.items():
            out[f"signatures-{t}"] = len(sigs)
        return out

    def locate(self, e: LoadedException) -> tuple[str, int]:
        """(list name, index) of an entry currently stored (buckets: "Kernel[0xB]")."""
        for name, lst in self.lists.items():
            for i, x in enumerate(lst):
                if x is e:
                    return name, i
        for name, buckets in self.buckets.items():
            lst = buckets[bucket(e.originator)]
            for i, x in enumerate(lst):
                if x is e:
                    return f"{name}[{bucket(e.originator):X}]", i
        return "?", -1


def loaded_from_record(record: Record, index: int | None) -> LoadedException | None:
    """The engine form of a model exception record, before load-time fix-ups (None for signatures)."""
    if isinstance(record, KernelException):
        return LoadedException(
            Kind.KM, record.originator.value, record.victim.value, 0, record.flags.value, record.object_type,
            tuple(r.id for r in record.signatures), record=record, record_index=index,
        )  # fmt: skip
    if isinstance(record, UserException | UserApcException):
        return LoadedException(
            Kind.UM, record.originator.value, record.victim.value, record.process.value, record.flags.value,
            record.object_type, tuple(r.id for r in record.signatures), record=record, record_index=index,
        )  # fmt: skip
    if isinstance(record, KernelUserException):
        return LoadedException(
            Kind.KUM, record.originator.value, record.victim.value, record.process.value, record.flags.value,
            record.object_type, tuple(r.id for r in record.signatures), record=record, record_index=index,
        )  # fmt: skip
    if isinstance(record, GlobException):
        from hvmiex.engine.glob import pattern_bytes

        return LoadedException(
            Kind.UMG, 0, 0, 0, record.flags.value, record.object_type, tuple(r.id for r in record.signatures),
            glob_originator=pattern_bytes(record.originator), glob_victim=pattern_bytes(record.victim),
            glob_process=pattern_bytes(record.process), record=record, record_index=index,
        )  # fmt: skip
    return None


def with_flags(e: LoadedException, flags: int) -> LoadedException:
    return LoadedException(
        e.kind, e.originator, e.victim, e.process, flags, e.object_type, e.signatures, e.glob_originator,
        e.glob_victim, e.glob_process, e.record, e.record_index, e.alert, e.context, e.quirk_kum_as_km,
    )  # fmt: skip


def load_fixups(e: LoadedException) -> LoadedException:
    """Default access bits (spec 03 §5.2 step 3; upstream quirk §13.15: none for KUM and glob)."""
    if e.flags & EF_ACCESS:
        return e
    if e.kind is Kind.KM:
        return with_flags(e, e.flags | EF_WRITE)
    if e.kind is Kind.UM:
        return with_flags(e, e.flags | (EF_EXEC if e.object_type == UM_OBJ_NX_ZONE else EF_WRITE))
    return e  # upstream quirk §13.15: KUM and UMG get no default access bit


def populate(store: ExceptionStore, records: Iterable[Record], is_linux: bool) -> None:
    """Load file records in file order into ``store`` (after :meth:`ExceptionStore.clear_loaded`)."""
    for index, record in enumerate(records):
        if type(record) in _SIG_TYPE_OF_CLASS:
            sig: Signature = record  # type: ignore[assignment]
            if bool(sig.flags.value & SF_LINUX) != is_linux:
                continue
            store.signatures[signature_list_type(sig)].append(
                LoadedSignature(sig, signature_list_type(sig), record_index=index)
            )
            continue
        e = loaded_from_record(record, index)
        if e is None:
            continue  # raw / unknown objects are skipped
        if bool(e.flags & EF_LINUX) != is_linux:
            continue
        if e.flags & EF_IGNORE:
            continue
        store.add_loaded(load_fixups(e))
    store.invalidate()
