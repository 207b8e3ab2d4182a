"""Replay violations (from introspection logs, serialized alerts or violation JSON) against an exceptions.bin.

Every violation goes through the offline engine (:mod:`hvmiex.engine`) loaded from the ``.bin``: allowed (by
which exception) or blocked (with Introcore's reason), next to what the log said at the time. The result is
data (:class:`ReplayResult`): the per-violation rows, a summary (blocked by reason, top processes and
originators, allowed by exception) and the exception coverage (which exceptions fired, how often, which
never did). :mod:`hvmiex.report` renders it as text, JSON or a self-contained HTML page.

Parsing is not done here: logs go through :mod:`hvmiex.logs.parse`, blobs through :mod:`hvmiex.alerts`,
violation JSON through :func:`hvmiex.violation.load_violations`.
"""

from __future__ import annotations

import enum
import gzip
import os
import re
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hvmiex.errors import Diagnostic, HvmiexError

SCHEMA = "hvmiex-replay/1"
DEFAULT_MAX_ITEMS = 200_000  # rows kept for the table; counts are always complete
TOP = 20  # entries kept in the "top" lists of the summary
SNIFF_BYTES = 1 << 16
MAX_PROBLEMS = 10_000  # problems listed; more are counted (per input) and noted
MAX_ENGINES = 256  # one engine per guest (OS, log domain uuid); beyond this the least recently seen is dropped

_B64_LINE = re.compile(r"^[A-Za-z0-9+/]{16,}={0,2}$")
_EMPTY_NAME = 0xFFFFFFFF


class ReplayError(HvmiexError):
    """The exceptions file or an input cannot be used at all."""


class InputKind(enum.Enum):
    LOG = "log"  # introspection log (plain or gzip)
    ALERTS = "alerts"  # base64 alerts, one per line (or [SERIALIZER] chunks inside a log)
    VIOLATIONS = "violations"  # hvmiex violation JSON / JSON lines


# ---------------------------------------------------------------------------------------------------------
# Result data


@dataclass(frozen=True, slots=True)
class ExceptionRef:
    """One exception record of the .bin, described for people."""

    record_index: int  # position of the record in the .bin (stable key)
    kind: str  # "kernel", "user", "user-apc", "user-glob-match", "kernel-user"
    originator: str
    victim: str
    process: str | None
    object_type: str
    flags: str
    signatures: int
    linux: bool
    source: str | None = None  # "file:line" of the JSON entry when the sources are known

    @property
    def label(self) -> str:
        parts = [self.originator, self.victim] + ([self.process] if self.process is not None else [])
        return f"{self.kind} {'/'.join(parts)} {self.object_type}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "record_index": self.record_index,
            "kind": self.kind,
            "label": self.label,
            "originator": self.originator,
            "victim": self.victim,
            "process": self.process,
            "object_type": self.object_type,
            "flags": self.flags,
            "signatures": self.signatures,
            "linux": self.linux,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class ReplayItem:
    """One violation replayed: where it came from, what it was, what the log said, what the engine says now."""

    number: int  # 1-based, in replay order
    source: str
    line: int | None  # first line of the log block / line of the blob
    input: InputKind
    guest: str | None
    os: str  # "windows" / "linux"
    kind: str  # "km" / "um" / "kum"
    process: str | None
    originator: str | None
    victim: str | None
    object_type: str
    access: str  # "write", "read", "execute", ...
    logged_action: str | None  # what the log printed ("not-allowed"/"allowed"); None when unknown
    logged_reason: str | None
    action: str  # engine now: Action json name
    reason: str  # engine now: Reason json name
    allowed: bool
    exception: int | None  # record_index of the exception that allowed it
    explanation: str
    logged_beta: bool = False  # the log's verdict line had "(B)": beta mode let the detection through

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else self.source

    @property
    def changed(self) -> bool | None:
        """True when the engine now decides otherwise than the log recorded (None: nothing recorded)."""
        if self.logged_action is None:
            return None
        return (self.logged_action == "allowed") != self.allowed or (
            self.logged_reason is not None and self.logged_reason != self.reason
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "source": self.source,
            "line": self.line,
            "input": self.input.value,
            "guest": self.guest,
            "os": self.os,
            "kind": self.kind,
            "process": self.process,
            "originator": self.originator,
            "victim": self.victim,
            "object_type": self.object_type,
            "access": self.access,
            "logged": None
            if self.logged_action is None
            else {"action": self.logged_action, "reason": self.logged_reason, "beta": self.logged_beta},
            "action": self.action,
            "reason": self.reason,
            "allowed": self.allowed,
            "exception": self.exception,
            "changed": self.changed,
            "explanation": self.explanation,
        }


@dataclass(frozen=True, slots=True)
class Problem:
    """Something in an input that could not be replayed (malformed block, undecodable blob, engine error)."""

    source: str
    line: int | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "message": self.message}


@dataclass(frozen=True, slots=True)
class InputSummary:
    path: str
    input: InputKind
    bytes: int
    violations: int
    problems: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "input": self.input.value,
            "bytes": self.bytes,
            "violations": self.violations,
            "problems": self.problems,
        }


@dataclass(frozen=True, slots=True)
class Summary:
    total: int
    allowed: int
    blocked: int
    changed: int  # verdicts that differ from the log's
    by_reason: tuple[tuple[str, int], ...]  # every reason (allowed ones too), most frequent first
    blocked_by_reason: tuple[tuple[str, int], ...]
    by_kind: tuple[tuple[str, int], ...]
    top_processes: tuple[tuple[str, int], ...]  # of blocked violations
    top_originators: tuple[tuple[str, int], ...]  # of blocked violations
    allowed_by_exception: tuple[tuple[int, int], ...]  # (record_index, count), most frequent first

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "allowed": self.allowed,
            "blocked": self.blocked,
            "changed": self.changed,
            "by_reason": dict(self.by_reason),
            "blocked_by_reason": dict(self.blocked_by_reason),
            "by_kind": dict(self.by_kind),
            "top_processes": [{"name": n, "count": c} for n, c in self.top_processes],
            "top_originators": [{"name": n, "count": c} for n, c in self.top_originators],
            "allowed_by_exception": [{"exception": i, "count": c} for i, c in self.allowed_by_exception],
        }


@dataclass(frozen=True, slots=True)
class CoverageEntry:
    exception: ExceptionRef
    hits: int
    first: str | None  # where it first fired ("file:line")

    def to_dict(self) -> dict[str, Any]:
        return {**self.exception.to_dict(), "hits": self.hits, "first": self.first}


@dataclass(frozen=True, slots=True)
class ReplayResult:
    exceptions_path: str
    build: int | None
    inputs: tuple[InputSummary, ...]
    items: tuple[ReplayItem, ...]  # at most ``max_items`` rows; ``items_dropped`` more were counted only
    items_dropped: int
    summary: Summary
    coverage: tuple[CoverageEntry, ...]  # every exception record of the .bin, in file order
    problems: tuple[Problem, ...]
    interrupted: bool
    elapsed: float
    notes: tuple[str, ...] = ()

    @property
    def fired(self) -> tuple[CoverageEntry, ...]:
        return tuple(sorted((c for c in self.coverage if c.hits), key=lambda c: (-c.hits, c.exception.record_index)))

    @property
    def never_fired(self) -> tuple[CoverageEntry, ...]:
        return tuple(c for c in self.coverage if not c.hits)

    def exception(self, record_index: int) -> ExceptionRef | None:
        for c in self.coverage:
            if c.exception.record_index == record_index:
                return c.exception
        return None

    def exception_index(self) -> dict[int, ExceptionRef]:
        """record_index -> exception, for renderers that look many up."""
        return {c.exception.record_index: c.exception for c in self.coverage}

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "exceptions": self.exceptions_path,
            "build": self.build,
            "interrupted": self.interrupted,
            "elapsed_seconds": round(self.elapsed, 3),
            "inputs": [i.to_dict() for i in self.inputs],
            "summary": self.summary.to_dict(),
            "coverage": {
                "exceptions": len(self.coverage),
                "fired": len(self.fired),
                "never_fired": len(self.never_fired),
                "entries": [c.to_dict() for c in self.coverage],
            },
            "violations": [i.to_dict() for i in self.items],
            "violations_dropped": self.items_dropped,
            "problems": [p.to_dict() for p in self.problems],
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------------------------------------------------
# Input detection


def detect_input(path: str | os.PathLike[str]) -> InputKind:
    """Log, alert file or violation JSON, from the name and the first bytes (gzip is looked through)."""
    name = os.fspath(path)
    if name == "-":
        return InputKind.LOG
    lower = name.lower()
    if lower.endswith((".json", ".jsonl", ".json.gz", ".jsonl.gz")):
        return InputKind.VIOLATIONS
    head = _head_text(name)
    stripped = head.lstrip()
    if stripped.startswith("{") or (stripped.startswith("[") and stripped[1:].lstrip()[:1] in ("{", "]")):
        return InputKind.VIOLATIONS
    lines = [ln.strip() for ln in head.splitlines()[:200]]
    if len(head) == SNIFF_BYTES and lines:
        lines = lines[:-1]  # the last sniffed line may be cut
    content = [ln for ln in lines if ln and not ln.startswith("#")]
    if content and all(_B64_LINE.match(ln) for ln in content):
        return InputKind.ALERTS
    return InputKind.LOG


def _head_text(path: str) -> str:
    with open(path, "rb") as handle:
        data = handle.read(SNIFF_BYTES)
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as handle:
                data = handle.read(SNIFF_BYTES)
        except (OSError, EOFError):
            data = b""
    return data.decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------------------
# Describing violations and exceptions


_ACCESS_BITS = ((0x1000_0000, "write"), (0x2000_0000, "read"), (0x4000_0000, "execute"), (0x1_0000_0000, "integrity"))


def _access(zone_flags: int) -> str:
    """write / read / execute (/ integrity) of ZoneFlags, as plain ints (IntFlag arithmetic is slow)."""
    return "+".join([name for bit, name in _ACCESS_BITS if zone_flags & bit]) or "-"


def describe_violation(v: Any) -> tuple[str | None, str | None, str | None]:
    """(process, originator, victim) display names of a :class:`hvmiex.violation.Violation`."""
    from hvmiex.violation import KernelOriginator

    o = v.originator
    vic = v.victim
    if isinstance(o, KernelOriginator):
        originator = o.original.name or (f"0x{o.original.name_hash:08x}" if o.original.name_hash != _EMPTY_NAME else None)
    else:
        originator = o.name or (o.library.name if o.library is not None else None)
        if originator is None and o.name_hash not in (0, _EMPTY_NAME):
            originator = f"0x{o.name_hash:08x}"
    # the process an exception names is the victim's (the written / injected one); else the originator's
    process = vic.process.name if vic.process is not None else (o.process.name if o.process is not None else None)
    victim = vic.name
    if victim is None and vic.module is not None:
        victim = vic.module.name
    if victim is None and vic.process is not None and v.kind.value != "um":
        victim = vic.process.name
    if victim is None and vic.name_hash not in (0, _EMPTY_NAME):
        victim = f"0x{vic.name_hash:08x}"
    return process, originator, victim


def _violation_names(v: Any, into: dict[int, str]) -> None:
    """Remember hash -> name pairs a violation carries (to label exceptions without a name database)."""
    for value, text in v.carried_names():
        if value not in (0, _EMPTY_NAME) and len(into) < 100_000:
            into.setdefault(value, text)


class _Labeller:
    """Turns exception records of the .bin into :class:`ExceptionRef` (names from the record, a name database
    or the violations seen)."""

    def __init__(self, resolver: Any, seen: Mapping[int, str]) -> None:
        from hvmiex.config import load_config

        self.config = load_config(None)
        self.resolver = resolver
        self.seen = seen

    def name(self, record: Any, kind: Any, field_name: str) -> str:
        from hvmiex.namedb import exception_field_rule

        value = getattr(record, field_name)
        if isinstance(value, str):  # glob patterns
            return value
        if value.text:
            return str(value.text)
        v = int(value.value)
        rule = exception_field_rule(kind, field_name, record.object_type, record.flags.value, self.config)
        if rule is not None:
            for text, pre in rule.predefined.items():
                if pre == v:
                    return text
            if self.resolver is not None:
                text = self.resolver.resolve(v, rule.rule, rule.predefined)
                if text:
                    return str(text)
        if v in self.seen:
            return self.seen[v]
        if v == _EMPTY_NAME:
            return "<none>"
        return f"0x{v:08x}"

    def ref(self, index: int, record: Any, source: str | None) -> ExceptionRef:
        from hvmiex.model import ExceptionKind, KernelException

        kind: ExceptionKind = record.KIND
        section = kind.type_table
        object_type = self.config.type_name(section, record.object_type) or str(record.object_type)
        flags = record.flags.value
        names = list(record.flags.names)
        if not names:
            table = self.config.flag_table(section)
            names = [n for n, bit in table.items() if bit and flags & bit == bit]
        linux = bool(flags & self.config.flags["common"].get("linux", 0x80))
        process = None if isinstance(record, KernelException) else self.name(record, kind, "process")
        return ExceptionRef(
            index,
            kind.value,
            self.name(record, kind, "originator"),
            self.name(record, kind, "victim"),
            process,
            object_type,
            " ".join(names) if names else f"0x{flags:08x}",
            len(record.signatures),
            linux,
            source,
        )


# ---------------------------------------------------------------------------------------------------------
# The replayer


@dataclass(slots=True)
class _Counts:
    total: int = 0
    allowed: int = 0
    changed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    blocked_reasons: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    processes: Counter[str] = field(default_factory=Counter)
    originators: Counter[str] = field(default_factory=Counter)
    hits: Counter[int] = field(default_factory=Counter)
    first_hit: dict[int, str] = field(default_factory=dict)


ProgressCallback = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class GuestFacts:
    """Environment facts a log does not print (guest OS build, Linux version, Introcore version), applied to
    violations that lack them: version-os and version-intro signatures need them."""

    os_version: int | None = None
    linux_version: tuple[int, int, int, int] | None = None
    introcore_version: tuple[int, int, int, int] | None = None

    def apply(self, v: Any) -> Any:
        env = v.env
        changes: dict[str, Any] = {}
        if self.os_version is not None and env.os_version is None and not env.is_linux:
            changes["os_version"] = self.os_version
        if self.linux_version is not None and env.linux_version is None and env.is_linux:
            changes["linux_version"] = self.linux_version
        if self.introcore_version is not None and env.introcore_version is None:
            changes["introcore_version"] = self.introcore_version
        if not changes:
            return v
        return replace(v, env=replace(env, **changes))


class Replayer:
    """Replays inputs through one engine per guest (per OS and, for logs, per domain uuid), accumulating
    counts as it goes so that an interrupted run still has a result (:meth:`result`).

    ``exceptions``: path or bytes of the .bin. ``resolver``: a :class:`hvmiex.namedb.NameResolver` to name
    hashes. ``sources``: the exception JSON the .bin was built from (file:line of exceptions).
    """

    def __init__(
        self,
        exceptions: str | os.PathLike[str] | bytes,
        *,
        resolver: Any = None,
        sources: Iterable[str | os.PathLike[str]] = (),
        max_items: int = DEFAULT_MAX_ITEMS,
        environment: GuestFacts | None = None,
    ) -> None:
        from hvmiex.binfile.reader import parse_exceptions_bin
        from hvmiex.engine import Engine, UpdateStatus
        from hvmiex.violation import GuestOS

        if isinstance(exceptions, bytes):
            self.path, data = "<bytes>", exceptions
        else:
            self.path = os.fspath(exceptions)
            data = Path(self.path).read_bytes()
        self._data = data
        self._start = time.monotonic()
        self.notes: list[str] = []
        self._loaded: dict[GuestOS, bool] = {}
        spare: dict[GuestOS, Engine] = {}
        refusal: tuple[Diagnostic, ...] = ()
        messages: list[str] = []
        for guest_os in (GuestOS.WINDOWS, GuestOS.LINUX):
            probe = Engine(guest_os)
            result = probe.update_exceptions(Path(self.path) if self.path != "<bytes>" else data)
            self._loaded[guest_os] = result.status is UpdateStatus.LOADED
            spare[guest_os] = probe  # the first guest of this OS gets it
            if result.status is not UpdateStatus.LOADED:
                messages.append(f"{guest_os.value}: {result.message}")
                refusal = tuple(result.load.report.reasons) if result.load else refusal
        if not any(self._loaded.values()):
            detail = "" if refusal else f" ({'; '.join(messages)})"
            raise ReplayError(f"{self.path}: Introcore refuses this exceptions file{detail}", refusal)
        for m in messages:
            self.notes.append(f"Introcore refuses the file for {m}: those guests run log-only (everything allowed)")
        parsed = parse_exceptions_bin(data, self.path)
        self._records = parsed.records
        self._model = parsed.model
        self.build: int | None = parsed.model.build
        self._spare = spare
        self._sources: dict[int, str] = {}
        source_list = [os.fspath(s) for s in sources]
        if source_list:
            self._attach_sources(source_list)
        if resolver is None:
            from hvmiex.namedb import NameResolver

            resolver = NameResolver()  # the bundled dictionary of common names
        self.resolver = resolver
        self.max_items = max_items
        self.facts = environment or GuestFacts()
        self._engines: dict[tuple[GuestOS, str | None], Engine] = {}
        self._counts = _Counts()
        self._items: list[ReplayItem] = []
        self._dropped = 0
        self._problems: list[Problem] = []
        self._problems_dropped = 0
        self._inputs: list[InputSummary] = []
        self._seen_names: dict[int, str] = {}

    def _attach_sources(self, sources: list[str]) -> None:
        from hvmiex.compiler import compile_set
        from hvmiex.engine import Engine

        compiled = compile_set(sources).exception_set
        probe = next((e for os_, e in self._spare.items() if self._loaded[os_]), None) or Engine()
        if not probe.loaded:
            probe.update_exceptions(self._data)
        found = probe.attach_sources(compiled)
        self._sources = dict(probe.store.sources)
        if not found:
            self.notes.append("the given sources do not match the records of the .bin (no file:line shown)")

    # ------------------------------------------------------------------------------------------- engines

    def _engine(self, guest_os: Any, guest: str | None) -> Any:
        key = (guest_os, guest)
        engine = self._engines.pop(key, None)
        if engine is None:
            if len(self._engines) >= MAX_ENGINES:
                # the least recently used guest loses its engine state (MRU order, one-time flags)
                del self._engines[next(iter(self._engines))]
            engine = self._spare.pop(guest_os, None)
            if engine is not None:
                engine.store.sources.update(self._sources)
            else:
                engine = self._new_engine(guest_os)
        self._engines[key] = engine  # (re)inserted last: dict order is the LRU order
        return engine

    def _new_engine(self, guest_os: Any) -> Any:
        from hvmiex.engine import Engine, UpdateStatus

        engine = Engine(guest_os)
        if self._loaded[guest_os]:
            # the file was accepted for this OS: install its parsed records instead of re-reading it
            if engine.update_exceptions(self._model).status is not UpdateStatus.LOADED:
                engine.update_exceptions(self._data)
            engine.store.sources.update(self._sources)
        return engine

    # ------------------------------------------------------------------------------------------- inputs

    def replay_path(
        self,
        path: str | os.PathLike[str],
        kind: InputKind | None = None,
        progress: ProgressCallback | None = None,
    ) -> Iterator[ReplayItem]:
        """Replay one input (``-`` = stdin, read as a log unless ``kind`` says otherwise); yields each item
        as it is decided. Counts accumulate in the replayer even if the iteration stops early."""
        name = os.fspath(path)
        try:
            kind = kind or detect_input(name)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            kind = InputKind.LOG
            self.notes.append(f"{name}: {exc}")
        summary = _InputCounter(name, kind)
        try:
            if kind is InputKind.LOG:
                yield from self._replay_log(name, summary, progress)
            elif kind is InputKind.ALERTS:
                yield from self._replay_alert_file(name, summary, progress)
            else:
                yield from self._replay_violation_file(name, summary)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            # a truncated or damaged gzip (e.g. a log still being written): keep what was read
            self._problem(summary, name, None, f"input ends early or is damaged: {exc or type(exc).__name__}")
        finally:
            self._inputs.append(summary.freeze())

    def _replay_log(self, name: str, summary: _InputCounter, progress: ProgressCallback | None) -> Iterator[ReplayItem]:
        from hvmiex.logs.blocks import LogStats, SkippedBlock
        from hvmiex.logs.parse import parse_log

        stats = LogStats()

        def tick(n: int) -> None:
            summary.bytes = n
            if progress is not None:
                progress(n)

        found = 0
        for entry in parse_log(name, stats, tick):
            if isinstance(entry, SkippedBlock):
                self._problem(summary, entry.source, entry.line, f"malformed block skipped: {entry.reason}")
                continue
            found += 1
            logged_action, logged_reason = _logged(entry.reason)
            yield self._decide(
                summary,
                entry.violation,
                source=entry.source,
                line=entry.first_line,
                guest=entry.guest,
                logged_action=logged_action,
                logged_reason=logged_reason,
                logged_beta=entry.beta,
                names=(entry.process, entry.originator, entry.victim),
            )
        if not found and name != "-" and _mentions_serializer(name):
            # a log holding only [SERIALIZER] alerts (no printed violation blocks): replay the alerts
            summary.input = InputKind.ALERTS
            yield from self._replay_alert_file(name, summary, None)

    def _replay_alert_file(
        self, name: str, summary: _InputCounter, progress: ProgressCallback | None
    ) -> Iterator[ReplayItem]:
        from hvmiex.alerts.convert import alert_to_violation
        from hvmiex.alerts.decode import decode_alert
        from hvmiex.alerts.transport import blob_bytes, blobs_from_lines
        from hvmiex.logs.blocks import open_log

        log = open_log(name)
        try:
            for blob in blobs_from_lines(log.lines, log.name):
                summary.bytes = log.bytes_read
                if progress is not None:
                    progress(log.bytes_read)
                try:
                    data = blob_bytes(blob)
                    decoded = alert_to_violation(decode_alert(data, blob.where), blob.where)
                except HvmiexError as exc:
                    self._problem(summary, blob.source, blob.line, f"alert not decoded: {exc.message}")
                    continue
                if blob.error:
                    self._problem(summary, blob.source, blob.line, blob.error)
                yield self._decide(summary, decoded.violation, source=blob.source, line=blob.line)
            summary.bytes = log.bytes_read
        finally:
            log.close()

    def _replay_violation_file(self, name: str, summary: _InputCounter) -> Iterator[ReplayItem]:
        from hvmiex.violation import load_violations

        try:
            violations = load_violations(name)
        except HvmiexError as exc:
            raise ReplayError(f"{name}: not a violation file: {exc.message}", tuple(exc.diagnostics)) from None
        summary.bytes = Path(name).stat().st_size
        for v in violations:
            origin = v.origin
            source = origin.path if origin is not None and origin.path else name
            yield self._decide(summary, v, source=source, line=origin.line if origin is not None else None)

    def replay_violations(self, violations: Iterable[Any], source: str = "<violations>") -> Iterator[ReplayItem]:
        """Replay violation objects already in memory (no logged verdict)."""
        summary = _InputCounter(source, InputKind.VIOLATIONS)
        try:
            for v in violations:
                line = v.origin.line if v.origin is not None else None
                yield self._decide(summary, v, source=source, line=line)
        finally:
            self._inputs.append(summary.freeze())

    # ------------------------------------------------------------------------------------------- deciding

    def _problem(self, summary: _InputCounter, source: str, line: int | None, message: str) -> None:
        summary.problems += 1
        if len(self._problems) < MAX_PROBLEMS:
            self._problems.append(Problem(source, line, message))
        else:
            self._problems_dropped += 1

    def _decide(
        self,
        summary: _InputCounter,
        v: Any,
        *,
        source: str,
        line: int | None,
        guest: str | None = None,
        logged_action: str | None = None,
        logged_reason: str | None = None,
        logged_beta: bool = False,
        names: tuple[str | None, str | None, str | None] | None = None,
    ) -> ReplayItem:
        c = self._counts
        summary.violations += 1
        v = self.facts.apply(v)
        _violation_names(v, self._seen_names)
        if names is None or None in names:
            described = describe_violation(v)
            # the log's own display names win
            process, originator, victim = described if names is None else (
                a or b for a, b in zip(names, described, strict=True)
            )
        else:
            process, originator, victim = names
        try:
            verdict = self._engine(v.env.os, guest).decide(v, trace=False)
            action, reason, allowed = verdict.action.json_name, verdict.reason.json_name, verdict.allowed
            matched = verdict.matched.record_index if verdict.matched is not None else None
            explanation = _explain(verdict)
        except Exception as exc:  # one odd violation must not end a multi-gigabyte replay
            message = exc.message if isinstance(exc, HvmiexError) else f"{type(exc).__name__}: {exc}"
            self._problem(summary, source, line, f"engine error: {message}")
            action, reason, allowed, matched, explanation = "error", "internal-error", False, None, message
        item = ReplayItem(
            c.total + 1,
            source,
            line,
            summary.input,
            guest,
            v.env.os.value,
            v.kind.value,
            process,
            originator,
            victim,
            v.victim.object_type.json_name,
            _access(int(v.victim.zone_flags)),
            logged_action,
            logged_reason,
            action,
            reason,
            allowed,
            matched,
            explanation,
            logged_beta,
        )
        c.total += 1
        c.reasons[reason] += 1
        c.kinds[item.kind] += 1
        if allowed:
            c.allowed += 1
            if matched is not None:
                c.hits[matched] += 1
                c.first_hit.setdefault(matched, item.where)
        else:
            c.blocked_reasons[reason] += 1
            c.processes[process or "-"] += 1
            c.originators[originator or "-"] += 1
        if item.changed:
            c.changed += 1
        if len(self._items) < self.max_items:
            self._items.append(item)
        else:
            self._dropped += 1
        return item

    # ------------------------------------------------------------------------------------------- result

    def result(self, *, interrupted: bool = False) -> ReplayResult:
        """Everything replayed so far."""
        from hvmiex.model import RawObject

        c = self._counts
        labeller = _Labeller(self.resolver, self._seen_names)
        coverage: list[CoverageEntry] = []
        for index, record in enumerate(self._records):
            if isinstance(record, RawObject) or not hasattr(record, "KIND") or not hasattr(record, "victim"):
                continue  # signatures and unknown objects
            ref = labeller.ref(index, record, self._sources.get(index))
            coverage.append(CoverageEntry(ref, c.hits.get(index, 0), c.first_hit.get(index)))
        summary = Summary(
            c.total,
            c.allowed,
            c.total - c.allowed,
            c.changed,
            tuple(c.reasons.most_common()),
            tuple(c.blocked_reasons.most_common()),
            tuple(c.kinds.most_common()),
            tuple(c.processes.most_common(TOP)),
            tuple(c.originators.most_common(TOP)),
            tuple(sorted(c.hits.items(), key=lambda kv: (-kv[1], kv[0]))),
        )
        notes = list(self.notes)
        if self._problems_dropped:
            notes.append(f"{self._problems_dropped} problems beyond the first {MAX_PROBLEMS} are counted but not listed")
        if self._dropped:
            notes.append(f"{self._dropped} violation rows beyond the first {self.max_items} are counted but not listed")
        return ReplayResult(
            self.path,
            self.build,
            tuple(self._inputs),
            tuple(self._items),
            self._dropped,
            summary,
            tuple(coverage),
            tuple(self._problems),
            interrupted,
            time.monotonic() - self._start,
            tuple(notes),
        )


@dataclass(slots=True)
class _InputCounter:
    path: str
    input: InputKind
    bytes: int = 0
    violations: int = 0
    problems: int = 0

    def freeze(self) -> InputSummary:
        return InputSummary(self.path, self.input, self.bytes, self.violations, self.problems)


def _mentions_serializer(name: str) -> bool:
    from hvmiex.alerts.transport import TAG
    from hvmiex.logs.blocks import open_log

    log = open_log(name)
    try:
        return any(TAG in line for line in log.lines)
    finally:
        log.close()


def _logged(reason: str) -> tuple[str, str]:
    """What the engine decided when the block was logged: a verdict line means not allowed (also with "(B)":
    beta mode lets it through, but for exceptions it is a detection, spec 04 §6); no verdict line = feedback."""
    from hvmiex.logs.parse import FEEDBACK

    if reason == FEEDBACK:
        return "allowed", FEEDBACK
    return "not-allowed", reason


def _explain(verdict: Any) -> str:
    if verdict.note:
        return str(verdict.note)
    d = verdict.deciding
    if d is None:
        return "no exception passed the name and flag checks"
    return str(d.why)


def replay(
    exceptions: str | os.PathLike[str] | bytes,
    inputs: Iterable[str | os.PathLike[str]],
    *,
    kind: InputKind | None = None,
    resolver: Any = None,
    sources: Iterable[str | os.PathLike[str]] = (),
    max_items: int = DEFAULT_MAX_ITEMS,
    environment: GuestFacts | None = None,
) -> ReplayResult:
    """Replay every input (auto-detected unless ``kind``) against ``exceptions``; the whole result."""
    replayer = Replayer(exceptions, resolver=resolver, sources=sources, max_items=max_items, environment=environment)
    for path in inputs:
        for _ in replayer.replay_path(path, kind):
            pass
    return replayer.result()


__all__ = [
    "CoverageEntry",
    "ExceptionRef",
    "GuestFacts",
    "InputKind",
    "InputSummary",
    "Problem",
    "ReplayError",
    "ReplayItem",
    "ReplayResult",
    "Replayer",
    "Summary",
    "describe_violation",
    "detect_input",
    "replay",
]
