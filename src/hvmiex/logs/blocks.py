"""Reading a log as a stream and grouping its lines into violation blocks, per guest (spec 04 §2, §7).

:func:`open_log` opens plain or gzip files (or stdin) and yields decoded lines; :class:`BlockGrouper`
consumes enveloped lines one at a time and emits :class:`RawBlock` objects as soon as a block is complete,
so memory stays flat in the size of the log. Lines it cannot place are counted by kind in
:class:`LogStats`; a block whose lines break the grammar is reported as a :class:`SkippedBlock`.
"""

from __future__ import annotations

import codecs
import gzip
import io
import operator
import re
import sys
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

from hvmiex.logs.lines import (
    CB_PIVOTS,
    CB_RUN_RE,
    CB_SPLIT_RE,
    CodeBlockDump,
    Envelope,
    Kind,
    LineError,
    OriginatorLine,
    ProcessGroup,
    VerdictLine,
    VictimLine,
    classify,
    codeblock_dump,
    parse_dumper_header,
    parse_kum_process,
    parse_originator,
    parse_serializer,
    parse_stack_trace,
    parse_verdict,
    parse_victim,
    scan_codeblocks,
    split_envelope,
)
from hvmiex.violation import fast_slots_init

GZIP_MAGIC = b"\x1f\x8b"
CODEBLOCK_CACHE = 1024  # earlier dumps remembered per guest by RIP (Introcore: a 255-RIP table, §7.2)
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
        readinto = getattr(self._raw, "readinto", None)
        if readinto is not None:  # straight into the caller's buffer, no extra copy
            n = int(readinto(buffer) or 0)
        else:
            data = self._raw.read(len(buffer))
            n = len(data)
            buffer[:n] = data
        self.count += n
        return n


class LogSource:
    """An opened log: its name, its content (as bytes chunks, decoded chunks or lines) and a byte counter for
    progress.

    A truncated or damaged gzip member is not fatal to what came before it: every reader below first hands
    out all the bytes decompressed before the damage, and only then raises the ``EOFError`` (or
    ``zlib.error`` / ``gzip.BadGzipFile``) for the caller to report.
    """

    CHUNK = 1 << 22

    def __init__(self, name: str, stream: BinaryIO, counter: CountingReader, size: int | None,
                 close: Callable[[], None]) -> None:  # fmt: skip
        self.name = name
        self.stream = stream
        self.counter = counter
        self.size = size
        self._close = close

    @property
    def raw_chunks(self) -> Iterator[bytes]:
        """The (decompressed) bytes in chunks of about :attr:`CHUNK` bytes, split anywhere."""
        read = getattr(self.stream, "read1", self.stream.read)  # read1: partial data is never held back
        limit = self.CHUNK
        parts: list[bytes] = []
        size = 0
        try:
            while True:
                data = read(limit)
                if not data:
                    break
                parts.append(data)
                size += len(data)
                if size >= limit:
                    yield data if len(parts) == 1 else b"".join(parts)
                    parts = []
                    size = 0
        except (EOFError, zlib.error, gzip.BadGzipFile):
            if parts:  # what was decompressed before the damage, then the error
                yield b"".join(parts)
            raise
        if parts:
            yield b"".join(parts)

    @property
    def chunks(self) -> Iterator[str]:
        """Decoded text chunks (UTF-8, ``surrogateescape``), split anywhere."""
        decode = codecs.getincrementaldecoder("utf-8")("surrogateescape").decode
        for data in self.raw_chunks:
            text = decode(data)
            if text:
                yield text
        text = decode(b"", True)
        if text:
            yield text

    @property
    def lines(self) -> Iterator[str]:
        """Decoded lines without their line ends."""
        rest = ""
        for chunk in self.chunks:
            parts = (rest + chunk).split("\n")
            rest = parts.pop()
            for line in parts:
                yield line.rstrip("\r")
        if rest:
            yield rest.rstrip("\r\n")

    @property
    def bytes_read(self) -> int:
        return self.counter.count

    def close(self) -> None:
        self._close()


def open_log(path: str | Path) -> LogSource:
    """Open ``path`` (``-`` = stdin), transparently gunzipping. Text is decoded UTF-8 with
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

    def close() -> None:
        if stream is not buffered:
            stream.close()  # the GzipFile only; the file below is closed by close_raw
        close_raw()

    return LogSource(name, stream, counter, size, close)


# ---------------------------------------------------------------------------------------------------------
# Blocks


@dataclass(slots=True)
class Dump:
    """A ``[DUMPER]`` dump: its header and the bytes collected from its rows (cut to the header size).

    Rows are kept as hex text while reading (cheap) and converted once, by :meth:`flush`.
    """

    gva: int
    size: int
    line: int
    data: bytearray = field(default_factory=bytearray)
    rows: list[str] = field(default_factory=list)

    @property
    def max_rows(self) -> int:
        return (min(self.size, MAX_DUMP_BYTES) + 15) // 16

    def flush(self) -> None:
        if not self.rows:
            return
        rows = self.rows
        try:
            self.data += bytes.fromhex("".join(rows))
        except ValueError:  # a damaged row: keep the good ones, in order, up to the first bad one
            for row in rows:
                try:
                    self.data += bytes.fromhex(row)
                except ValueError:
                    break
        rows.clear()  # in place: the reader's fast path may hold this list
        if len(self.data) > self.size:
            del self.data[self.size :]

    @property
    def complete(self) -> bool:
        self.flush()
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


fast_slots_init(SkippedBlock)


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
    # entries as printed (hex text), converted once for the whole list by _end_cblist
    hashes: list[str] = field(default_factory=list)
    offsets: list[str] = field(default_factory=list)
    pivots: list[str] = field(default_factory=list)
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
# the code-block list being read: (envelope of its lines, envelope without the source line number, list, block,
# guest)
_CbFast = tuple[str, str, _CbList, RawBlock | None, _Guest]
_EMPTY: tuple[Emitted, ...] = ()

# tuples, not sets: membership by identity, without calling Enum.__hash__ (Python code) for every line
_HEADER_KINDS = (Kind.ORIGINATOR, Kind.RETURN, Kind.KUM_INJECTOR, Kind.KUM_PROCESS)
# ``Kind.X`` is a slow lookup on 3.11 enums (~0.1 us, several per line): the per-line paths use these
_K_BANNER = Kind.BANNER
_K_CODEBLOCKS = Kind.CODEBLOCKS
_K_DIAGNOSTIC = Kind.DIAGNOSTIC
_K_DUMPER = Kind.DUMPER
_K_DUMPER_ROW = Kind.DUMPER_ROW
_K_KUM_INJECTOR = Kind.KUM_INJECTOR
_K_NO_ENVELOPE = Kind.NO_ENVELOPE
_K_ORIGINATOR = Kind.ORIGINATOR
_K_OTHER = Kind.OTHER
_K_RETURN = Kind.RETURN
_K_SERIALIZER = Kind.SERIALIZER
_K_STACK_TRACE = Kind.STACK_TRACE
_K_VERDICT = Kind.VERDICT
_K_VICTIM = Kind.VICTIM
_SECONDARY_VICTIMS = frozenset({"vad", "module"})  # after a process victim (§5.8, §5.9)
_BLOCK_STARTING_VICTIMS = frozenset({"token-privs", "security-descriptor", "acl-edit", "sud-modification"})


class BlockGrouper:
    """Feeds on lines, emits blocks. One instance per log (state is per guest uuid inside it)."""

    def __init__(self, source: str = "<log>", stats: LogStats | None = None) -> None:
        self.source = source
        self.stats = stats if stats is not None else LogStats()
        self._guests: dict[str | None, _Guest] = {}
        self._out: list[Emitted] = []
        # fast path: (line prefix, row list, max rows, block) of the dump the next row goes to
        self._rows: tuple[str, list[str], int, RawBlock] | None = None
        self._fast_rows = 0
        self._cb_lines = 0
        self._patterns: dict[str, re.Pattern[str]] = {}
        self._getters: dict[tuple[int, int, int], Callable[[str], tuple[str, ...]]] = {}
        # fast path for the code-block list being read (see _cb_line)
        self._cb_fast: _CbFast | None = None

    # -- public ------------------------------------------------------------------------------------------

    def run(self, lines: Iterable[str]) -> Iterator[Emitted]:
        """Group all ``lines`` (numbered from 1), yielding blocks as they complete, then the rest."""
        number = 0
        row_count = 0
        slow = self._slow
        # fast path for [DUMPER] rows, most of a log's bytes: no envelope object, hex kept as text.
        # `head` is the exact envelope of the current dump's rows (e.g. "[uuid] dumper.c : 198 "); the
        # locals below stay valid until the next slow-path line (only the slow path changes self._rows).
        head = ""
        cut = 0
        last_row = 0
        rowlist: list[str] = []
        room = 0
        row_block: RawBlock | None = None
        for line in lines:
            number += 1
            if head:
                if line.startswith(head) and line[cut + 16 : cut + 18] == ": ":
                    if room:
                        rowlist.append(line[cut + 18 : cut + 65])
                        room -= 1
                    last_row = number
                    row_count += 1
                    continue
                head = ""
                if row_block is not None:
                    row_block.last_line = last_row
            cbf = self._cb_fast
            if cbf is not None and self._cb_line(cbf, line, number):
                continue
            rows = self._rows
            if rows is not None:
                prefix = rows[0]
                if line.startswith(prefix) and (prefix or not line.startswith("[")):
                    p = line.find(" : ", len(prefix))
                    if p > 0:
                        q = line.find(" ", p + 3)
                        if q > 0 and line[q + 17 : q + 19] == ": ":
                            head, cut = line[: q + 1], q + 1
                            rowlist, row_block = rows[1], rows[3]
                            room = rows[2] - len(rowlist)
                            if room > 0:
                                rowlist.append(line[q + 19 : q + 66])
                                room -= 1
                            last_row = number
                            row_count += 1
                            continue
                self._rows = None
            out = slow(line, number)
            if out:
                yield from out
        if head and row_block is not None:
            row_block.last_line = last_row
        self.stats.lines += row_count
        self._fast_rows += row_count
        yield from self.finish()

    def run_text(self, chunks: Iterable[str]) -> Iterator[Emitted]:
        """Like :meth:`run` over text chunks (any split); runs of [DUMPER] rows are consumed by regular
        expressions in bulk, which is what makes big logs fast."""
        number = 0
        row_count = 0
        cb_line = self._cb_line
        slow = self._slow
        head = ""
        last_row = 0
        rowlist: list[str] = []
        room = 0
        row_block: RawBlock | None = None
        hex_re: re.Pattern[str] | None = None
        hex_at = row_len = 1
        buf = ""
        pos = 0
        pending = iter(chunks)
        final = False
        while not final:
            chunk = next(pending, None)
            if chunk is None:
                final = True
                chunk = "" if buf.endswith("\n") or len(buf) == pos else "\n"
            buf = buf[pos:] + chunk
            pos = 0
            limit = buf.rfind("\n") + 1
            while pos < limit:
                if head:
                    assert hex_re is not None
                    # rows have a fixed width (16 bytes, hex and ASCII column): take as many as the dump
                    # still expects at once, checked by strided slices, without a regular expression
                    k = min(room, (limit - pos) // row_len)
                    if k > 0:
                        end = pos + k * row_len
                        ends = buf[pos + row_len - 1 : end : row_len]
                        colons = buf[pos + hex_at - 2 : end : row_len]
                        if ends != "\n" * k or colons != ":" * k:
                            # a row of another width (an ASCII column cut short, the last row of a
                            # dump): take the regular rows before it, then that row alone below
                            k = min(len(ends) - len(ends.lstrip("\n")), len(colons) - len(colons.lstrip(":")))
                            end = pos + k * row_len
                        if k > 0 and buf.count(head, pos, end) == k:
                            if k > 1:
                                rowlist += self._row_getter(hex_at, row_len, k)(buf[pos:end])
                            else:
                                rowlist.append(buf[pos + hex_at : pos + hex_at + 47])
                            room -= k
                            number += k
                            row_count += k
                            last_row = number
                            pos = end
                            if pos >= limit:
                                break
                            continue
                    # one row checked by the regular expression
                    m = hex_re.match(buf, pos, limit) if room > 0 else None
                    if m is not None:
                        rowlist.append(m.group(1))
                        room -= 1
                        number += 1
                        row_count += 1
                        last_row = number
                        pos = buf.index("\n", m.end(), limit) + 1
                        if pos >= limit:
                            break
                        continue
                    head = ""
                    if row_block is not None:
                        row_block.last_line = last_row
                cbf = self._cb_fast
                if cbf is not None and self._rows is None and buf.startswith(cbf[0], pos):
                    taken = self._cb_run(cbf, buf, pos, limit, number)
                    if taken:
                        number += taken[0]
                        pos = taken[1]
                        continue
                nl = buf.find("\n", pos, limit)
                line = buf[pos:nl]
                if line.endswith("\r"):
                    line = line[:-1]
                rows = self._rows
                if rows is not None:
                    prefix = rows[0]
                    if line.startswith(prefix) and (prefix or not line.startswith("[")):
                        p = line.find(" : ", len(prefix))
                        if p > 0:
                            q = line.find(" ", p + 3)
                            if q > 0 and line[q + 17 : q + 19] == ": ":
                                patterns = self._row_patterns(line[: q + 1])
                                if rows[2] > len(rows[1]) and patterns.match(buf, pos, limit) is not None:
                                    head = line[: q + 1]
                                    hex_at = q + 19
                                    row_len = nl + 1 - pos  # this row's width, newline included
                                    hex_re = patterns
                                    rowlist, row_block = rows[1], rows[3]
                                    room = rows[2] - len(rowlist)
                                    continue  # the bulk match above takes this row and the ones after it
                    self._rows = None
                pos = nl + 1
                number += 1
                if cbf is not None and cb_line(cbf, line, number):  # = self._line, one call less
                    continue
                out = slow(line, number)
                if out:
                    yield from out
        if head and row_block is not None:
            row_block.last_line = last_row
        self.stats.lines += row_count
        self._fast_rows += row_count
        yield from self.finish()

    def _row_getter(self, hex_at: int, row_len: int, k: int) -> Callable[[str], tuple[str, ...]]:
        """Cuts the hex columns out of ``k`` rows of ``row_len`` characters in one C call (dumps have a
        handful of sizes, so the getters are few and reused)."""
        key = (hex_at, row_len, k)
        found = self._getters.get(key)
        if found is None:
            if len(self._getters) > 256:
                self._getters.clear()
            found = self._getters[key] = operator.itemgetter(
                *[slice(i, i + 47) for i in range(hex_at, k * row_len, row_len)]
            )
        return found

    def _row_patterns(self, head: str) -> re.Pattern[str]:
        """The regular expression of one dump row after the envelope ``head`` (group 1: the 16 hex bytes)."""
        found = self._patterns.get(head)
        if found is None:
            found = re.compile(f"{re.escape(head)}[0-9a-f]{{16}}: ((?:[0-9a-f]{{2}} ){{15}}[0-9a-f]{{2}})")
            if len(self._patterns) > 64:
                self._patterns.clear()
            self._patterns[head] = found
        return found

    def _line(self, line: str, number: int) -> Sequence[Emitted]:
        """One line that is not a bulk-read dump row: the code-block fast path, else the full path."""
        cbf = self._cb_fast
        if cbf is not None and self._cb_line(cbf, line, number):
            return _EMPTY
        return self._slow(line, number)

    def _cb_run(self, cbf: _CbFast, buf: str, pos: int, limit: int, number: int) -> tuple[int, int] | None:
        """The consecutive lines at ``buf[pos:limit]`` that :meth:`_cb_line` would take with the same
        envelope (the non-final lines of the list being read), checked and cut by one split of their joined
        text; returns (lines taken, end position), or ``None`` to leave them to :meth:`_cb_line` (anything
        unusual: a second marker, a malformed entry, a carriage return, ...)."""
        prefix, base, cb, block, guest = cbf
        skip = len(prefix) + 13
        texts: list[str] = []
        while pos < limit and buf.startswith(prefix, pos):
            nl = buf.find("\n", pos, limit)
            texts.append(buf[pos + skip : nl + 1])
            pos = nl + 1
        if not texts:
            return None
        # the final line (second LOG call: a later source line), on the conditions of _cb_line
        final = False
        if pos < limit and buf.startswith(base, pos) and guest.cblist is cb:
            nl = buf.find("\n", pos, limit)
            at = buf.find(" ", pos + len(base), nl) + 1
            number_text = buf[pos + len(base) : at - 1]
            if (
                at > 0
                and number_text.isdigit()
                and number_text.isascii()
                and buf.startswith("[CODEBLOCKS]", at)
                and int(number_text) > cb.source_line
            ):
                texts.append(buf[at + 13 : nl + 1])
                pos = nl + 1
                final = True
        parts = CB_RUN_RE.split("".join(texts))
        if "".join(parts[::6]):
            return None
        hashes = parts[1::6]
        kinds = parts[4::6]
        marker = None
        if kinds.count(None) != len(kinds):
            found = [i for i, k in enumerate(kinds) if k is not None]
            if len(found) != 1 or cb.marker is not None:
                return None
            i = found[0]
            kind = kinds[i]
            marker = ("RIP" if kind == "RIP" else "Ret RIP", int(parts[6 * i + 5], 16), len(cb.hashes) + i)
            offsets = parts[2::6]
            pivots = parts[3::6]
            del hashes[i], offsets[i], pivots[i]
        else:
            offsets = parts[2::6]
            pivots = parts[3::6]
        if not CB_PIVOTS.issuperset(pivots):
            return None
        if marker is not None:
            cb.marker = marker
        cb.hashes += hashes
        cb.offsets += offsets
        cb.pivots += pivots
        count = len(texts)
        cb.last_line = number + count
        if block is not None:
            block.last_line = number + count
        self.stats.lines += count
        self._cb_lines += count
        if final:  # as _cb_line does for the final line
            guest.dump = None
            if block is not None:
                block.trailing = True
            self._end_cblist(guest)
            self._cb_fast = None
        return count, pos

    def _cb_line(self, cbf: _CbFast, line: str, number: int) -> bool:
        """Fast path for the lines of the code-block list being read: the lines of its first ``LOG`` call
        (same envelope as the list's first line) and the final line (same envelope but a later source line);
        ``False`` sends the line to the full path (anything unusual: a second marker, an error, ...)."""
        prefix, base, cb, block, guest = cbf
        final = False
        if line.startswith(prefix):
            at = len(prefix)
        elif line.startswith(base):
            at = line.find(" ", len(base)) + 1
            number_text = line[len(base) : at - 1]
            if (
                at <= 0
                or not (number_text.isdigit() and number_text.isascii())
                or not line.startswith("[CODEBLOCKS]", at)
                or int(number_text) <= cb.source_line
                or guest.cblist is not cb
            ):
                return False
            final = True
        else:
            return False
        parts = CB_SPLIT_RE.split(line[at + 13 :])
        if not "".join(parts[::4]) and CB_PIVOTS.issuperset(parts[3::4]):
            cb.hashes += parts[1::4]
            cb.offsets += parts[2::4]
            cb.pivots += parts[3::4]
        else:
            try:
                hashes, offsets, pivots, marker = scan_codeblocks(line[at:])
            except LineError:
                return False
            if marker is not None:
                if cb.marker is not None:
                    return False
                mk, rip, idx = marker
                cb.marker = (mk, rip, len(cb.hashes) + idx)
            cb.hashes += hashes
            cb.offsets += offsets
            cb.pivots += pivots
        cb.last_line = number
        if block is not None:
            block.last_line = number
        self.stats.lines += 1
        self._cb_lines += 1
        if final:  # as the full path does for the line of the second LOG call
            guest.dump = None
            if block is not None:
                block.trailing = True
            self._end_cblist(guest)
            self._cb_fast = None
        return True

    def feed(self, line: str, number: int) -> Sequence[Emitted]:
        """Process one line (1-based ``number``); returns the blocks completed by it (usually none)."""
        self._rows = None
        return self._slow(line, number)

    def _slow(self, line: str, number: int) -> Sequence[Emitted]:
        stats = self.stats
        stats.lines += 1
        self._cb_fast = None
        env = split_envelope(line)
        if env is None:
            kind = _K_NO_ENVELOPE
            stats.by_kind[kind._value_] += 1
            if line.strip():
                stats.unplaced[kind._value_] += 1
            return []
        kind = classify(env.message)
        stats.by_kind[kind._value_] += 1  # _value_: .value is a Python-level property
        guest = self._guests.get(env.guest)
        if guest is None:
            guest = self._guests[env.guest] = _Guest(env.guest)
        try:
            self._dispatch(guest, env, kind, number)
        except LineError as exc:
            self._break(guest, env, number, exc.message)
        if kind is _K_CODEBLOCKS and guest.cblist is not None:
            cut = len(line) - len(env.message)  # the envelope, up to and with the space before the message
            start = line.rfind(" ", 0, cut - 1) + 1  # where the source line number starts
            self._cb_fast = (line[:cut], line[:start], guest.cblist, guest.block, guest)
        if self._out:
            out, self._out = self._out, []
            return out
        return _EMPTY

    def finish(self) -> list[Emitted]:
        """End of input: close every open block."""
        self._rows = None
        self._cb_fast = None
        self.stats.by_kind[Kind.DUMPER_ROW.value] += self._fast_rows
        self.stats.by_kind[Kind.CODEBLOCKS.value] += self._cb_lines
        self._fast_rows = self._cb_lines = 0
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

    @staticmethod
    def _prefix(env: Envelope) -> str:
        return f"[{env.guest}] " if env.guest is not None else ""

    def _close(self, guest: _Guest) -> None:
        if guest.cblist is not None:
            self._end_cblist(guest)
        guest.dump = None
        if self._rows is not None and self._rows[3] is guest.block:
            self._rows = None
        if guest.broken is not None:
            first, bad, reason = guest.broken
            guest.broken = None
            self.stats.skipped += 1
            self._out.append(SkippedBlock(self.source, guest.name, first, bad, reason))
        block = guest.block
        if block is None:
            return
        guest.block = None
        for buffer in block.buffers:
            buffer.flush()
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
        dump = codeblock_dump(kind, rip, cb.hashes, cb.offsets, cb.pivots, index, cb.first_line, cb.last_line)
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
        if kind is _K_CODEBLOCKS:
            guest.dump = None
            hashes, offsets, pivots, marker = scan_codeblocks(msg)
            cb = guest.cblist
            if cb is not None and (
                env.source_line < cb.source_line or (cb.marker is not None and marker is not None)
            ):
                self._end_cblist(guest)
                cb = None
            if cb is None:
                cb = guest.cblist = _CbList(number, env.source_line)
            if marker is not None:
                mk, rip, idx = marker
                cb.marker = (mk, rip, len(cb.hashes) + idx)
            cb.hashes += hashes
            cb.offsets += offsets
            cb.pivots += pivots
            cb.last_line = number
            if block is not None:
                block.last_line = number
                block.trailing = True
            if env.source_line > cb.source_line:  # the final line comes from the second LOG call
                self._end_cblist(guest)
            return
        if kind is _K_DUMPER_ROW:
            dump = guest.dump
            if dump is not None and block is not None:
                if len(dump.rows) < dump.max_rows:
                    dump.rows.append(msg[18:65])
                block.last_line = number
                self._rows = (self._prefix(env), dump.rows, dump.max_rows, block)
            elif block is not None:
                block.last_line = number  # header-less CONTEXT dump after [THREAD HIJACK] (§7.5)
            else:
                self.stats.unplaced[kind.value] += 1
            return
        if kind is _K_DIAGNOSTIC or kind is _K_OTHER:
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
        if guest.cblist is not None:
            self._end_cblist(guest)
        if kind is not _K_DUMPER:
            guest.dump = None
        if kind is _K_ORIGINATOR:
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
        if kind is _K_VICTIM:
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
            if kind is _K_RETURN:
                block.return_ = parse_originator(msg)
            elif kind is _K_KUM_INJECTOR:
                block.kum_injector = parse_kum_process(msg)
            else:
                block.kum_process = parse_kum_process(msg)
            block.last_line = number
            return
        if kind is _K_VERDICT:
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
        if kind is _K_BANNER:
            self._close(guest)
            self.stats.unplaced[kind.value] += 1
            return
        if kind is _K_SERIALIZER:
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
        if kind is _K_DUMPER:
            header = parse_dumper_header(msg)
            if header is not None:
                dump = Dump(header[0], header[1], number)
                block.buffers.append(dump)
                guest.dump = dump
                self._rows = (self._prefix(env), dump.rows, dump.max_rows, block)
        elif kind is _K_STACK_TRACE:
            frame = parse_stack_trace(msg)
            if frame is not None:
                block.stack.append(frame)
        else:  # DPI, CALLER
            block.hints.append(msg)


def iter_text_blocks(
    chunks: Iterable[str], source: str = "<log>", stats: LogStats | None = None
) -> Iterator[Emitted]:
    """Group a log given as text chunks (split anywhere) into blocks, streaming."""
    return BlockGrouper(source, stats).run_text(chunks)


def iter_blocks(
    lines: Iterable[str], source: str = "<log>", stats: LogStats | None = None
) -> Iterator[Emitted]:
    """Group ``lines`` into blocks (and skipped-block reports), streaming."""
    return BlockGrouper(source, stats).run(lines)
