"""Reading a log as a stream and grouping its lines into violation blocks, per guest (spec 04 §2, §7).

:func:`open_log` opens plain or gzip files (or stdin) and yields decoded lines; :class:`BlockGrouper`
consumes enveloped lines one at a time and emits :class:`RawBlock` objects as soon as a block is complete,
so memory stays flat in the size of the log. Lines it cannot place are counted by kind in
:class:`LogStats`; a block whose lines break the grammar is reported as a :class:`SkippedBlock`.
"""

from __future__ import annotations

import gzip
import io
import sys
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

from hvmiex.logs.lines import (
    CodeBlock,
    CodeBlockDump,
    Envelope,
    Kind,
    LineError,
    OriginatorLine,
    ProcessGroup,
    VerdictLine,
    VictimLine,
    classify,
    parse_codeblocks,
    parse_dumper_header,
    parse_dumper_row,
    parse_kum_process,
    parse_originator,
    parse_serializer,
    parse_stack_trace,
    parse_verdict,
    parse_victim,
    split_envelope,
)

GZIP_MAGIC = b"\x1f\x8b"
CODEBLOCK_CACHE = 4096  # earlier dumps remembered per guest, by RIP (Introcore dumps each RIP once, §7.2)
MAX_DUMP_BYTES = 1 << 16  # a [DUMPER] larger than this is not kept (the header is)


# ---------------------------------------------------------------------------------------------------------
# Input


class CountingReader(io.RawIOBase):
    """Wraps a binary file and counts the bytes read from it (compressed bytes for gzip inputs)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


@dataclass(slots=True)
class LogSource:
    """An opened log: its name, decoded lines and a byte counter for progress."""

    name: str
    lines: Iterator[str]
    counter: CountingReader
    size: int | None  # on-disk size when known
    _close: Callable[[], None]

    @property
    def bytes_read(self) -> int:
        return self.counter.count

    def close(self) -> None:
        self._close()


def open_log(path: str | Path) -> LogSource:
    """Open ``path`` (``-`` = stdin), transparently gunzipping. Lines are decoded UTF-8 with
    ``surrogateescape`` so that 8-bit names survive and hash exactly as printed."""
    name = str(path)
    if name == "-":
        raw: BinaryIO = sys.stdin.buffer
        size = None
        close_raw: Callable[[], None] = lambda: None  # noqa: E731 - stdin is not ours to close
    else:
        handle = open(path, "rb")  # noqa: SIM115 - closed by LogSource.close
        raw, close_raw = handle, handle.close
        try:
            size = Path(path).stat().st_size
        except OSError:
            size = None
    counter = CountingReader(raw)
    buffered = io.BufferedReader(counter, 1 << 20)
    stream: BinaryIO = buffered
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        stream = cast(BinaryIO, gzip.GzipFile(fileobj=buffered, mode="rb"))
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="\n")

    def lines() -> Iterator[str]:
        for line in text:
            yield line.rstrip("\r\n")

    def close() -> None:
        text.detach()
        close_raw()

    return LogSource(name, lines(), counter, size, close)


# ---------------------------------------------------------------------------------------------------------
# Blocks


@dataclass(slots=True)
class Dump:
    """A ``[DUMPER]`` dump: its header and the bytes collected from its rows (cut to the header size)."""

    gva: int
    size: int
    line: int
    data: bytearray = field(default_factory=bytearray)

    @property
    def complete(self) -> bool:
        return len(self.data) >= self.size


@dataclass(slots=True)
class RawBlock:
    """The lines of one violation block, each parsed by its grammar, with their line numbers."""

    guest: str | None
    first_line: int
    emitter: str  # file token of the first line (exceptions_user.c, ...)
    source: str = ""  # log name
    last_line: int = 0
    originator: OriginatorLine | None = None
    originator_line: int = 0
    return_: OriginatorLine | None = None
    kum_injector: ProcessGroup | None = None
    kum_process: ProcessGroup | None = None
    victims: list[tuple[int, VictimLine]] = field(default_factory=list)
    verdict: VerdictLine | None = None
    verdict_line: int = 0
    stack: list[tuple[int, str | None, int | None]] = field(default_factory=list)
    dumps: list[CodeBlockDump] = field(default_factory=list)  # code-block lists in this block
    cached_dumps: dict[int, CodeBlockDump] = field(default_factory=dict)  # earlier dumps reused by RIP
    buffers: list[Dump] = field(default_factory=list)  # [DUMPER] dumps in this block
    hints: list[str] = field(default_factory=list)  # caller lines (§7.5) and DPI lines
    serialized: list[str] = field(default_factory=list)  # complete base64 alerts after the block
    problems: list[str] = field(default_factory=list)  # non-fatal: e.g. a malformed code-block dump
    trailing: bool = False  # past the verdict / first trailing line

    @property
    def victim(self) -> VictimLine | None:
        return self.victims[0][1] if self.victims else None

    def dump_for(self, rip: int | None) -> CodeBlockDump | None:
        """The code-block dump whose marker RIP equals ``rip`` (this block first, then earlier ones)."""
        if rip is None:
            return None
        for dump in self.dumps:
            if dump.rip == rip:
                return dump
        return self.cached_dumps.get(rip)


@dataclass(frozen=True, slots=True)
class SkippedBlock:
    """A block that broke the grammar: where it started, the offending line and why."""

    source: str
    guest: str | None
    first_line: int
    line: int
    reason: str


@dataclass(slots=True)
class LogStats:
    """Counters over one or more logs (mergeable, picklable)."""

    lines: int = 0
    blocks: int = 0
    skipped: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    unplaced: Counter[str] = field(default_factory=Counter)  # lines that belong to no block, by kind
    bytes: int = 0

    def merge(self, other: LogStats) -> None:
        self.lines += other.lines
        self.blocks += other.blocks
        self.skipped += other.skipped
        self.by_kind.update(other.by_kind)
        self.unplaced.update(other.unplaced)
        self.bytes += other.bytes


@dataclass(slots=True)
class _CbList:
    first_line: int
    source_line: int  # source line of the non-final lines
    items: list[CodeBlock] = field(default_factory=list)
    marker: tuple[str, int, int] | None = None
    last_line: int = 0


@dataclass(slots=True)
class _Guest:
    name: str | None = None
    block: RawBlock | None = None
    broken: tuple[int, int, str] | None = None  # (first line, bad line, reason) of a block being skipped
    cblist: _CbList | None = None
    dump: Dump | None = None
    serial: list[str] | None = None
    pending: int | None = None  # first line of diagnostics just before a block (they belong to it, §2)
    cache: OrderedDict[int, CodeBlockDump] = field(default_factory=OrderedDict)


Emitted = RawBlock | SkippedBlock

_HEADER_KINDS = frozenset({Kind.ORIGINATOR, Kind.RETURN, Kind.KUM_INJECTOR, Kind.KUM_PROCESS})
_SECONDARY_VICTIMS = frozenset({"vad", "module"})  # after a process victim (§5.8, §5.9)
_BLOCK_STARTING_VICTIMS = frozenset({"token-privs", "security-descriptor", "acl-edit", "sud-modification"})


class BlockGrouper:
    """Feeds on lines, emits blocks. One instance per log (state is per guest uuid inside it)."""

    def __init__(self, source: str = "<log>", stats: LogStats | None = None) -> None:
        self.source = source
        self.stats = stats if stats is not None else LogStats()
        self._guests: dict[str | None, _Guest] = {}
        self._out: list[Emitted] = []

    # -- public ------------------------------------------------------------------------------------------

    def feed(self, line: str, number: int) -> list[Emitted]:
        """Process one line (1-based ``number``); returns the blocks completed by it (usually none)."""
        stats = self.stats
        stats.lines += 1
        env = split_envelope(line)
        if env is None:
            kind = Kind.NO_ENVELOPE
            stats.by_kind[kind.value] += 1
            if line.strip():
                stats.unplaced[kind.value] += 1
            return []
        kind = classify(env.message)
        stats.by_kind[kind.value] += 1
        guest = self._guests.get(env.guest)
        if guest is None:
            guest = self._guests[env.guest] = _Guest(env.guest)
        try:
            self._dispatch(guest, env, kind, number)
        except LineError as exc:
            self._break(guest, env, number, exc.message)
        if self._out:
            out, self._out = self._out, []
            return out
        return []

    def finish(self) -> list[Emitted]:
        """End of input: close every open block."""
        for guest in self._guests.values():
            self._close(guest)
        out, self._out = self._out, []
        return out

    # -- internals ---------------------------------------------------------------------------------------

    def _start(self, guest: _Guest, env: Envelope, number: int, pending: int | None = None) -> RawBlock:
        self._close(guest)
        first = pending if pending is not None else number
        block = RawBlock(env.guest, first, env.file, self.source, number)
        guest.block = block
        return block

    def _break(self, guest: _Guest, env: Envelope, number: int, reason: str) -> None:
        block = guest.block
        first = block.first_line if block is not None else number
        if block is not None and block.trailing and block.victims:
            # a broken trailing line spoils only itself: keep the violation, note the problem
            block.problems.append(f"line {number}: {reason}")
            guest.cblist = None
            return
        guest.block = None
        guest.cblist = None
        guest.dump = None
        guest.broken = (first, number, reason)

    def _close(self, guest: _Guest) -> None:
        self._end_cblist(guest)
        guest.dump = None
        if guest.broken is not None:
            first, bad, reason = guest.broken
            guest.broken = None
            self.stats.skipped += 1
            self._out.append(SkippedBlock(self.source, guest.name, first, bad, reason))
        block = guest.block
        if block is None:
            return
        guest.block = None
        if block.originator is None and not block.victims:
            self.stats.skipped += 1
            self._out.append(
                SkippedBlock(self.source, block.guest, block.first_line, block.last_line, "no originator or victim line")
            )
            return
        for rip in (
            block.originator.rip if block.originator else None,
            block.return_.rip if block.return_ else None,
        ):
            if rip is not None and block.dump_for(rip) is None:
                cached = guest.cache.get(rip)
                if cached is not None:
                    block.cached_dumps[rip] = cached
        self.stats.blocks += 1
        self._out.append(block)

    def _end_cblist(self, guest: _Guest) -> None:
        cb = guest.cblist
        if cb is None:
            return
        guest.cblist = None
        block = guest.block
        if cb.marker is None:
            if block is not None:
                block.problems.append(f"line {cb.first_line}: code-block list without a RIP marker, ignored")
            return
        kind, rip, index = cb.marker
        dump = CodeBlockDump(kind, rip, tuple(cb.items), index, cb.first_line, cb.last_line)
        cache = guest.cache
        cache[rip] = dump
        cache.move_to_end(rip)
        if len(cache) > CODEBLOCK_CACHE:
            cache.popitem(last=False)
        if block is not None:
            block.dumps.append(dump)
        else:
            self.stats.unplaced[Kind.CODEBLOCKS.value] += cb.last_line - cb.first_line + 1

    def _dispatch(self, guest: _Guest, env: Envelope, kind: Kind, number: int) -> None:
        block = guest.block
        msg = env.message
        if kind is Kind.CODEBLOCKS:
            guest.dump = None
            line = parse_codeblocks(msg)
            cb = guest.cblist
            if cb is not None and (
                env.source_line < cb.source_line or (cb.marker is not None and line.marker is not None)
            ):
                self._end_cblist(guest)
                cb = None
            if cb is None:
                cb = guest.cblist = _CbList(number, env.source_line)
            if line.marker is not None:
                mk, rip, idx = line.marker
                cb.marker = (mk, rip, len(cb.items) + idx)
            cb.items.extend(line.items)
            cb.last_line = number
            if block is not None:
                block.last_line = number
                block.trailing = True
            if env.source_line > cb.source_line:  # the final line comes from the second LOG call
                self._end_cblist(guest)
            return
        if kind is Kind.DUMPER_ROW:
            dump = guest.dump
            if dump is not None and block is not None:
                row = parse_dumper_row(msg)
                if row is not None and len(dump.data) < min(dump.size, MAX_DUMP_BYTES):
                    dump.data += row[1]
                    if len(dump.data) >= dump.size:
                        del dump.data[dump.size :]
                block.last_line = number
            elif block is not None:
                block.last_line = number  # header-less CONTEXT dump after [THREAD HIJACK] (§7.5)
            else:
                self.stats.unplaced[kind.value] += 1
            return
        if kind in (Kind.DIAGNOSTIC, Kind.OTHER):
            # interleaving lines never end a block nor a code-block list (§2); signature-check failures
            # are logged before the block they belong to
            if block is not None and "IntExcept" not in msg:
                block.last_line = number
                return
            if guest.pending is None:
                guest.pending = number
            if block is None:
                self.stats.unplaced[kind.value] += 1
            return
        pending, guest.pending = guest.pending, None
        self._end_cblist(guest)
        if kind is not Kind.DUMPER:
            guest.dump = None
        if kind is Kind.ORIGINATOR:
            parsed = parse_originator(msg)
            if (
                block is not None
                and block.originator is None
                and not block.victims
                and block.kum_process is None
            ):
                block.originator, block.originator_line = parsed, number
                block.last_line = number
                return
            block = self._start(guest, env, number, pending)
            block.originator, block.originator_line = parsed, number
            return
        if kind is Kind.VICTIM:
            victim = parse_victim(msg)
            if guest.broken is not None:
                return
            if block is None or block.trailing or (
                block.victims
                and (
                    victim.kind in _BLOCK_STARTING_VICTIMS
                    or victim.kind not in _SECONDARY_VICTIMS
                    or block.victims[0][1].kind not in ("process", "injection", "nx")
                )
            ):
                block = self._start(guest, env, number, pending)
            block.victims.append((number, victim))
            block.last_line = number
            return
        if kind in _HEADER_KINDS:
            if guest.broken is not None:
                return
            if block is None or block.trailing or block.victims:
                self.stats.unplaced[kind.value] += 1
                return
            if kind is Kind.RETURN:
                block.return_ = parse_originator(msg)
            elif kind is Kind.KUM_INJECTOR:
                block.kum_injector = parse_kum_process(msg)
            else:
                block.kum_process = parse_kum_process(msg)
            block.last_line = number
            return
        if kind is Kind.VERDICT:
            verdict = parse_verdict(msg)
            if verdict is None or block is None or block.verdict is not None or block.trailing:
                if guest.broken is not None and verdict is not None:
                    return
                if block is None:
                    self.stats.unplaced[kind.value] += 1
                return
            block.verdict, block.verdict_line = verdict, number
            block.trailing = True
            block.last_line = number
            return
        if kind is Kind.BANNER:
            self._close(guest)
            self.stats.unplaced[kind.value] += 1
            return
        if kind is Kind.SERIALIZER:
            what, value = parse_serializer(msg)
            if what == "start":
                guest.serial = []
            elif what == "end":
                if guest.serial is not None and block is not None:
                    block.serialized.append("".join(guest.serial))
                    block.last_line = number
                guest.serial = None
            elif guest.serial is not None:
                guest.serial.append(str(value))
            if block is None:
                self.stats.unplaced[kind.value] += 1
            return
        if guest.broken is not None:
            return
        if block is None or not (block.victims or block.originator):
            self.stats.unplaced[kind.value] += 1
            return
        block.trailing = True
        block.last_line = number
        if kind is Kind.DUMPER:
            header = parse_dumper_header(msg)
            if header is not None:
                dump = Dump(header[0], header[1], number)
                block.buffers.append(dump)
                guest.dump = dump
        elif kind is Kind.STACK_TRACE:
            frame = parse_stack_trace(msg)
            if frame is not None:
                block.stack.append(frame)
        else:  # DPI, CALLER
            block.hints.append(msg)


def iter_blocks(
    lines: Iterator[str], source: str = "<log>", stats: LogStats | None = None
) -> Iterator[Emitted]:
    """Group ``lines`` into blocks (and skipped-block reports), streaming."""
    grouper = BlockGrouper(source, stats)
    feed = grouper.feed
    for number, line in enumerate(lines, 1):
        out = feed(line, number)
        if out:
            yield from out
    yield from grouper.finish()
