"""Introcore's codeblocks: instruction-class sequences and CRC32 block hashes around a RIP (spec 03 §10).

Two extractions exist and differ on purpose (upstream quirk §13.13):

* the matching path (:func:`match_hashes`): fast-path recognizer (§10.3.1) then a full decoder, blocks of 8
  classes starting at every pivot, hashes sorted ascending;
* the alert path (:func:`alert_codeblocks`): decoder only, class and block caps, blocks kept in code order with
  their page offset, then the 64-block selection around the RIP and the 6-hash alert signature.

The full decoder is iced-x86 (bddisasm is what Introcore uses; the few encodings where the two disagree are
special-cased below and covered by tests).
"""

from __future__ import annotations

import enum
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import iced_x86 as _ix

__all__ = [
    "ALERT_BLOCK_CAP",
    "ALERT_CLASS_CAP",
    "ALERT_KEEP",
    "EXEC_WINDOW_SIZE",
    "MATCH_CLASS_CAP",
    "WINDOW_SIZE",
    "AlertBlock",
    "AlertCodeblocks",
    "CodeClass",
    "CodeblockCache",
    "Level",
    "MatchResult",
    "MatchStatus",
    "Window",
    "alert_codeblocks",
    "alert_signature_hashes",
    "alert_window",
    "decoder_classes",
    "level_for_rip",
    "list_passes",
    "match_hashes",
    "match_window",
    "match_window_bytes",
    "scan_classes",
    "select_signature_hashes",
    "signature_score",
]

PAGE_SIZE = 0x1000
WINDOW_SIZE = 0x49F  # non-execution window
EXEC_WINDOW_SIZE = 0x24F  # execution window (UM execution violations)
WINDOW_BACK = 0x250  # how far before the RIP a non-execution window starts
TAIL = 15  # the last 15 bytes are never scanned (room for one maximal instruction)
MATCH_CLASS_CAP = 1024
ALERT_CLASS_CAP = 819
ALERT_BLOCK_CAP = 204
ALERT_KEEP = 64
ALERT_SIG_HASHES = 6
BLOCK_LEN = 8
KERNEL_BASE_64 = 0xFFFF800000000000
KERNEL_BASE_32 = 0x80000000


class Level(enum.IntEnum):
    """Extraction level: normal for kernel-mode code (KM, KUM), medium for user-mode code (UM, UMG)."""

    NORMAL = 1
    MEDIUM = 2


class CodeClass(enum.IntEnum):
    """Introcore's CODE_INS values (§10.2)."""

    JC = 1
    JMP = 2
    CALL = 3
    RET = 4
    STR = 5
    XCHG = 6
    BT = 7
    MOV_REG = 8
    MOV_MEM = 9
    MOV_IMM = 10
    MOV_FS_GS = 11
    FLAGS = 12


_PIVOTS: dict[Level, frozenset[int]] = {
    Level.NORMAL: frozenset({CodeClass.CALL, CodeClass.JMP}),
    Level.MEDIUM: frozenset({CodeClass.CALL, CodeClass.JMP, CodeClass.MOV_MEM, CodeClass.MOV_FS_GS}),
}
_MEDIUM_ONLY = frozenset(
    {
        CodeClass.MOV_REG,
        CodeClass.MOV_MEM,
        CodeClass.MOV_IMM,
        CodeClass.MOV_FS_GS,
        CodeClass.FLAGS,
    }
)


class MatchStatus(enum.Enum):
    """Outcome of the matching-path extraction, named after Introcore's INTSTATUS values."""

    SUCCESS = "INT_STATUS_SUCCESS"
    NOT_FOUND = "INT_STATUS_NOT_FOUND"  # no hash: the codeblocks group fails (SignatureNotMatched)
    INVALID_PARAMETER = "INT_STATUS_INVALID_PARAMETER_2"  # window of 15 bytes or fewer


# --------------------------------------------------------------------------------------------------------
# Windows (§10.1)


@dataclass(frozen=True, slots=True)
class Window:
    """A code window: its start as a page offset of the RIP's page and its intended size."""

    page_offset: int
    size: int
    execute: bool

    @property
    def max_hashes(self) -> int:
        return self.size // 4


def match_window(rip: int, execute: bool) -> Window:
    """The window the matching path (and the alert path) uses around ``rip``."""
    off = rip & 0xFFF
    if execute:
        return Window(off, EXEC_WINDOW_SIZE, True)
    if off <= WINDOW_BACK:
        return Window(0, WINDOW_SIZE, False)
    if off + WINDOW_BACK < PAGE_SIZE:
        return Window(off - WINDOW_BACK, WINDOW_SIZE, False)
    return Window(PAGE_SIZE - WINDOW_SIZE - 1, WINDOW_SIZE, False)  # 0xB60


alert_window = match_window


def level_for_rip(rip: int, guest_64: bool) -> Level:
    """Alert-side level rule: kernel address → normal, user address → medium."""
    kernel = rip >= KERNEL_BASE_64 if guest_64 else (rip & 0xFFFFFFFF) >= KERNEL_BASE_32
    return Level.NORMAL if kernel else Level.MEDIUM


ReadMemory = Callable[[int, int], bytes | None]
"""``read(gva, length)`` → exactly ``length`` bytes, or None when any of the range is unreadable."""


def match_window_bytes(read: ReadMemory, rip: int, execute: bool) -> tuple[Window, bytes | None]:
    """Read the matching-path window around ``rip``.

    Execution windows may cross into the next page; when that range is unreadable the matching path falls
    back to the rest of the RIP's page (the intended size still sets the hash cap). Returns None bytes when
    nothing can be read.
    """
    win = match_window(rip, execute)
    page = rip & ~0xFFF
    data = read(page + win.page_offset, win.size)
    if data is None and execute:
        data = read(rip, PAGE_SIZE - win.page_offset)
    return win, data


# --------------------------------------------------------------------------------------------------------
# Fast-path recognizer (§10.3.1). Entries are (min_available, length, class_normal, class_medium); a b0 entry
# may instead be a 256-list indexed by b1, or a marker for the rows that look at b2/b3.

_Entry = tuple[int, int, int, int]
_N = 0  # no class


def _e(need: int, length: int, normal: int = _N, medium: int | None = None) -> _Entry:
    return (need, length, normal, normal if medium is None else medium)


_MARK_89 = 1
_MARK_REX = 2


def _build_fast(mode64: bool) -> tuple[object, ...]:
    top: list[object] = [None] * 256
    subs: dict[int, list[_Entry | None]] = {}

    def sub(b0: int, b1: int, entry: _Entry) -> None:
        row = subs.setdefault(b0, [None] * 256)
        if row[b1] is None:  # first row that applies wins
            row[b1] = entry

    top[0x90] = top[0xCC] = _e(1, 1)
    for b1 in range(0xC0, 0x100):
        sub(0x84, b1, _e(2, 2))
        sub(0x85, b1, _e(2, 2))
    top[0xCD] = _e(2, 2)
    top[0xC3] = top[0xCB] = _e(1, 1, CodeClass.RET)
    top[0xE8] = _e(5, 5, CodeClass.CALL)
    sub(0xFF, 0x15, _e(6, 6, CodeClass.CALL))
    top[0xE9] = _e(5, 5, CodeClass.JMP)
    top[0xEB] = _e(2, 2, CodeClass.JMP)
    for b in range(0x70, 0x80):
        top[b] = _e(2, 2, CodeClass.JC)
    top[0xC2] = top[0xCA] = _e(3, 3, CodeClass.RET)
    for b in range(0xAA, 0xAE):
        top[b] = _e(1, 1, CodeClass.STR)
    top[0x9C] = top[0x9D] = _e(1, 1, _N, CodeClass.FLAGS)
    for b in range(0x91, 0x98):
        top[b] = _e(1, 1, CodeClass.XCHG)
    for b in range(0xB0, 0xB8):
        top[b] = _e(2, 2, _N, CodeClass.MOV_IMM)
    for b in range(0xB8, 0xC0):
        top[b] = _e(5, 5, _N, CodeClass.MOV_IMM)
    for b in range(0x50, 0x60):
        top[b] = _e(1, 1)
    top[0xA8] = _e(2, 2)
    for b1 in range(0xC0, 0xD0):
        sub(0xF6, b1, _e(3, 3))
    top[0x98] = top[0x99] = _e(1, 1)
    top[0xA9] = _e(5, 5)
    sub(0x00, 0x00, _e(2, 2))
    for b1 in range(0xE0, 0xE4):
        sub(0x83, b1, _e(3, 3))
    for b1 in range(0xC0, 0x100):
        sub(0x33, b1, _e(2, 2))
    # rows 24/25 (89 xx 24) need b2: marker, handled in the scanner before row 30
    sub(0x81, 0xC4, _e(6, 6))
    sub(0x83, 0xC4, _e(3, 3))
    sub(0x81, 0xEC, _e(6, 6))
    sub(0x83, 0xEC, _e(3, 3))
    for b1 in range(0xC0, 0x100):
        sub(0x8B, b1, _e(2, 2, _N, CodeClass.MOV_REG))
        sub(0x89, b1, _e(2, 2, _N, CodeClass.MOV_REG))
    for b1 in range(0x80, 0x90):
        sub(0x0F, b1, _e(6, 6, CodeClass.JC))
    for b1 in range(0xC0, 0xD0):
        sub(0xFF, b1, _e(2, 2))
    for b1 in range(0xC0, 0x100):
        sub(0x3B, b1, _e(2, 2))
    for b in range(0x40, 0x50):
        top[b] = _MARK_REX if mode64 else _e(1, 1)  # row 34 (32-bit INC/DEC) / rows 35-40 (64-bit REX)
    for b0, row in subs.items():
        top[b0] = row
    top[0x89] = _MARK_89
    return tuple(top)


_FAST = {True: _build_fast(True), False: _build_fast(False)}
_SUB89 = tuple(
    _e(2, 2, _N, CodeClass.MOV_REG) if b1 >= 0xC0 else None for b1 in range(256)
)  # row 30 for 89
_MODRM_DISP8_24 = frozenset({0x4C, 0x5C, 0x6C, 0x7C, 0x44, 0x54, 0x64, 0x74})
_MODRM_DISP32_24 = frozenset({0x8C, 0x9C, 0xAC, 0xBC, 0x84, 0x94, 0xA4, 0xB4})


def _fast_89(buf: bytes, pos: int, n: int) -> _Entry | None:
    if n >= 4 and buf[pos + 2] == 0x24:
        b1 = buf[pos + 1]
        if b1 in _MODRM_DISP8_24:
            return _e(4, 4, _N, CodeClass.MOV_MEM)
        if n >= 7 and b1 in _MODRM_DISP32_24:
            return _e(7, 7, _N, CodeClass.MOV_MEM)
    if n >= 2:
        return _SUB89[buf[pos + 1]]
    return None


def _fast_rex(buf: bytes, pos: int, n: int) -> _Entry | None:
    """Rows 35-40 (64-bit, b0 in 40..4F)."""
    b0 = buf[pos]
    if n < 2:
        return None
    b1 = buf[pos + 1]
    b2 = buf[pos + 2] if n >= 3 else -1
    if b0 == 0x48 and n >= 4 and b1 == 0x83 and b2 == 0xC4:
        return _e(4, 4)
    if b0 == 0x48 and n >= 7 and b1 == 0x81 and b2 == 0xEC:
        return _e(7, 7)
    if (b0 == 0x48 or b0 == 0x4C) and (b1 == 0x89 or b1 == 0x8B) and n >= 5 and buf[pos + 3] == 0x24:
        if b2 in _MODRM_DISP8_24:
            return _e(5, 5, _N, CodeClass.MOV_MEM)
        if n >= 8 and b2 in _MODRM_DISP32_24:
            return _e(8, 8, _N, CodeClass.MOV_MEM)
    if b0 == 0x48 and n >= 4 and b1 == 0x83 and b2 == 0xEC:
        return _e(4, 4)
    # row 40
    if n >= 3:
        if (b1 == 0x33 or b1 == 0x3B) and b2 >= 0xC0:
            return _e(3, 3)
        if b1 == 0xFF and 0xC0 <= b2 <= 0xCF:
            return _e(3, 3)
    if 0xB8 <= b1 <= 0xBF:
        if not b0 & 0x08:
            if n >= 6:
                return _e(6, 6, _N, CodeClass.MOV_IMM)
        elif n >= 10:
            return _e(10, 10, _N, CodeClass.MOV_IMM)
    if b1 == 0x8D:
        if n >= 4 and (b2 == 0x45 or b2 == 0x55):
            return _e(4, 4)
        if n >= 5 and buf[pos + 3] == 0x24 and b2 in (0x44, 0x4C, 0x54, 0x5C):
            return _e(5, 5)
    if n >= 3:
        if (b1 == 0x8B or b1 == 0x89) and b2 >= 0xC0:
            return _e(3, 3, _N, CodeClass.MOV_REG)
        if (b1 == 0x84 or b1 == 0x85) and b2 >= 0xC0:
            return _e(3, 3)
    if b1 == 0xA9 and n >= 6:
        return _e(6, 6)
    if b1 == 0x98 or b1 == 0x99:
        return _e(2, 2)
    if 0x50 <= b1 <= 0x5F:
        return _e(2, 2)
    return None


# --------------------------------------------------------------------------------------------------------
# Decoder classification (§10.2)

_M = _ix.Mnemonic
_MNEMONIC_CLASS: dict[int, int] = {
    _M.JMP: CodeClass.JMP,
    _M.JMPE: CodeClass.JMP,
    _M.CALL: CodeClass.CALL,
    _M.RET: CodeClass.RET,
    _M.RETF: CodeClass.RET,
    _M.STOSB: CodeClass.STR,
    _M.STOSW: CodeClass.STR,
    _M.STOSD: CodeClass.STR,
    _M.STOSQ: CodeClass.STR,
    _M.LODSB: CodeClass.STR,
    _M.LODSW: CodeClass.STR,
    _M.LODSD: CodeClass.STR,
    _M.LODSQ: CodeClass.STR,
    _M.XCHG: CodeClass.XCHG,
    _M.CMPXCHG: CodeClass.XCHG,
    _M.BT: CodeClass.BT,
    _M.BTS: CodeClass.BT,
    _M.BTR: CodeClass.BT,
    _M.BTC: CodeClass.BT,
    _M.PUSHF: CodeClass.FLAGS,
    _M.PUSHFD: CodeClass.FLAGS,
    _M.PUSHFQ: CodeClass.FLAGS,
    _M.POPF: CodeClass.FLAGS,
    _M.POPFD: CodeClass.FLAGS,
    _M.POPFQ: CodeClass.FLAGS,
}
for _name in ("JO", "JNO", "JB", "JAE", "JE", "JNE", "JBE", "JA", "JS", "JNS", "JP", "JNP", "JL", "JGE", "JLE", "JG"):
    _MNEMONIC_CLASS[getattr(_M, _name)] = CodeClass.JC
_MOV = _M.MOV
_OP_REGISTER = _ix.OpKind.REGISTER
_OP_MEMORY = _ix.OpKind.MEMORY
_IMM_KINDS = frozenset(
    getattr(_ix.OpKind, k) for k in dir(_ix.OpKind) if k.startswith("IMMEDIATE") and not k.startswith("_")
)
_MEM_KINDS = frozenset(
    getattr(_ix.OpKind, k) for k in dir(_ix.OpKind) if k.startswith("MEMORY") and not k.startswith("_")
)
# MOV to/from control, debug and test registers is not "MOV" for Introcore
_SPECIAL_MOV_CODES = frozenset(
    getattr(_ix.Code, k)
    for k in dir(_ix.Code)
    if k.startswith("MOV_") and any(p in k.split("_")[1:] for p in ("CR", "DR", "TR"))
)
_INVALID = _ix.Code.INVALID
_DECODER_OPTIONS = {
    True: _ix.DecoderOptions.NONE,
    # bddisasm decodes JMPE (0F 00 /6, 0F B8) in 32-bit mode
    False: _ix.DecoderOptions.JMPE,
}
_MOV_INSPECT = -1  # a MOV whose class depends on its operands


def _code_table(medium: bool) -> tuple[int, ...]:
    """Class per iced ``Code`` value at one level (``_MOV_INSPECT`` for plain MOV at medium level)."""
    count = 1 + max(v for k, v in vars(_ix.Code).items() if not k.startswith("_") and isinstance(v, int))
    table: list[int] = []
    for code in range(count):
        mnemonic = _ix.OpCodeInfo(code).mnemonic  # type: ignore[arg-type]  # iced takes the int value
        if mnemonic == _MOV:
            table.append(_MOV_INSPECT if medium and code not in _SPECIAL_MOV_CODES else _N)
            continue
        cls = _MNEMONIC_CLASS.get(mnemonic, _N)
        table.append(_N if cls in _MEDIUM_ONLY and not medium else cls)
    return tuple(table)


_CODE_CLASS = {Level.NORMAL: _code_table(False), Level.MEDIUM: _code_table(True)}


def _mov_class(ins: _ix.Instruction) -> int:
    k0 = ins.op0_kind
    k1 = ins.op1_kind
    if k0 in _MEM_KINDS or k1 in _MEM_KINDS:
        return CodeClass.MOV_MEM
    if k0 in _IMM_KINDS or k1 in _IMM_KINDS:
        return CodeClass.MOV_IMM
    if k0 == _OP_REGISTER and k1 == _OP_REGISTER:
        return CodeClass.MOV_REG
    return _N


# --------------------------------------------------------------------------------------------------------
# Matching path (§10.3, §10.4)


def scan_classes(buf: bytes, mode64: bool, level: Level) -> list[int]:
    """The class sequence of the matching path over ``buf`` (fast path + decoder, at most 1024 items)."""
    n_total = len(buf)
    end = n_total - TAIL
    seq: list[int] = []
    if end <= 0:
        return seq
    col = 3 if level == Level.MEDIUM else 2
    fast = _FAST[mode64]
    table = _CODE_CLASS[level]
    dec: _ix.Decoder | None = None
    ins = _ix.Instruction()
    append = seq.append
    pos = 0
    count = 0
    while pos < end and count < MATCH_CLASS_CAP:
        n = end - pos
        top = fast[buf[pos]]
        entry: _Entry | None
        if top is None:
            entry = None
        elif top.__class__ is tuple:
            entry = top
        elif top.__class__ is list:
            entry = top[buf[pos + 1]] if n >= 2 else None
        elif top == _MARK_89:
            entry = _fast_89(buf, pos, n)
        else:
            entry = _fast_rex(buf, pos, n)
        if entry is not None and n >= entry[0]:
            cls = entry[col]
            if cls:
                append(cls)
                count += 1
            pos += entry[1]
            continue
        # decoder: it sees only buf[pos:min(pos + 15, end)]; any failure (invalid or cut off) skips one byte
        if dec is None:
            dec = _ix.Decoder(64 if mode64 else 32, buf[:end], _DECODER_OPTIONS[mode64])
        dec.position = pos
        dec.decode_out(ins)
        code = ins.code
        if code == _INVALID:
            pos += 1
            continue
        length = ins.len
        if pos + length >= end:
            break
        cls = table[code]
        if cls == _MOV_INSPECT:
            cls = _mov_class(ins)
        if cls:
            append(cls)
            count += 1
        pos += length
    return seq


def _pivot_mask(pivots: frozenset[int]) -> bytes:
    return bytes(1 if c in pivots else 0 for c in range(256))


_PIVOT_MASK = {level: _pivot_mask(p) for level, p in _PIVOTS.items()}


def _block_hashes(seq: Sequence[int], level: Level, cap: int, last: int) -> list[tuple[int, int]]:
    """(index, crc) for blocks of 8 classes starting at pivots ``i <= last``, at most ``cap``."""
    out: list[tuple[int, int]] = []
    if last < 0:
        return out
    data = bytes(seq)
    mask = data.translate(_PIVOT_MASK[level])  # 1 at pivots: the search runs in C
    crc = zlib.crc32
    i = mask.find(1, 0, last + 1)
    while i >= 0:
        out.append((i, crc(data[i : i + BLOCK_LEN], 0xFFFFFFFF)))
        if len(out) >= cap:
            break
        i = mask.find(1, i + 1, last + 1)
    return out


@dataclass(frozen=True, slots=True)
class MatchResult:
    """What the matching path extracted from one window: status, sorted hashes, class sequence."""

    status: MatchStatus
    hashes: tuple[int, ...]
    classes: tuple[int, ...]

    @property
    def found(self) -> bool:
        return self.status is MatchStatus.SUCCESS


def match_hashes(buf: bytes, mode64: bool, level: Level, max_hashes: int) -> MatchResult:
    """Matching-path extraction: the sorted hash list Introcore checks codeblocks signatures against."""
    if len(buf) <= TAIL:
        return MatchResult(MatchStatus.INVALID_PARAMETER, (), ())
    if len(buf) - TAIL <= TAIL:
        return MatchResult(MatchStatus.NOT_FOUND, (), ())
    seq = scan_classes(buf, mode64, level)
    blocks = _block_hashes(seq, level, max_hashes, len(seq) - BLOCK_LEN)
    if not blocks:
        return MatchResult(MatchStatus.NOT_FOUND, (), tuple(seq))
    return MatchResult(MatchStatus.SUCCESS, tuple(sorted(h for _, h in blocks)), tuple(seq))


def list_hits(sig_hashes: Sequence[int], extracted: Sequence[int]) -> int:
    """How many signature hashes are found in the sorted extracted hashes (§10.5).

    Both sides are sorted; a repeated signature hash counts again against one extracted occurrence (the
    cursor does not move on a hit)."""
    hits = 0
    c = 0
    count = len(extracted)
    for s in sig_hashes:
        while c < count:
            e = extracted[c]
            if s < e:
                break
            if s == e:
                hits += 1
                break
            c += 1
    return hits


def list_passes(sig_hashes: Sequence[int], score: int, extracted: Sequence[int]) -> bool:
    """Score test for one signature hash list (§10.5); score 0 always passes."""
    return list_hits(sig_hashes, extracted) >= score


# --------------------------------------------------------------------------------------------------------
# Alert path (§10.6)


def decoder_classes(buf: bytes, mode64: bool, level: Level, cap: int = ALERT_CLASS_CAP) -> list[tuple[int, int]]:
    """Decoder-only scan: (buffer offset, class) in code order, at most ``cap`` classes.

    Like the matching path's decoder, it sees only ``buf[pos:min(pos + 15, end)]`` with ``end = len(buf) - 15``:
    undecodable or cut-off bytes skip one, an instruction ending exactly at ``end`` stops the scan.
    """
    end = len(buf) - TAIL
    out: list[tuple[int, int]] = []
    if end <= 0:
        return out
    dec = _ix.Decoder(64 if mode64 else 32, buf[:end], _DECODER_OPTIONS[mode64])
    ins = _ix.Instruction()
    table = _CODE_CLASS[level]
    append = out.append
    pos = 0
    count = 0
    while pos < end and count < cap:
        dec.position = pos
        dec.decode_out(ins)
        code = ins.code
        if code == _INVALID:
            pos += 1
            continue
        length = ins.len
        if pos + length >= end:
            break
        cls = table[code]
        if cls == _MOV_INSPECT:
            cls = _mov_class(ins)
        if cls:
            append((pos, cls))
            count += 1
        pos += length
    return out


@dataclass(frozen=True, slots=True)
class AlertBlock:
    """One alert codeblock: the page offset of its pivot instruction, the pivot class and the hash."""

    offset: int
    pivot: CodeClass
    hash: int


@dataclass(frozen=True, slots=True)
class AlertCodeblocks:
    """What an alert carries: up to 64 blocks in code order and the index of the RIP's block.

    ``valid`` is False when the window could not be read (page not present): the alert has no codeblocks.
    ``rip_cb_index`` is None when Introcore leaves it unset (no block).
    """

    valid: bool
    start_page_offset: int
    rip_cb_index: int | None
    blocks: tuple[AlertBlock, ...]
    execute: bool

    @property
    def hashes(self) -> tuple[int, ...]:
        return tuple(b.hash for b in self.blocks)

    @property
    def count(self) -> int:
        return len(self.blocks)


def _rip_block_index(blocks: Sequence[AlertBlock], rip_off: int, execute: bool) -> int:
    if execute:
        return 0
    if blocks[0].offset >= rip_off:
        return 0
    for i in range(1, len(blocks)):
        if blocks[i - 1].offset <= rip_off <= blocks[i].offset:
            return i
    return len(blocks) - 1


def alert_codeblocks(
    buf: bytes | None, window: Window, rip: int, mode64: bool, level: Level
) -> AlertCodeblocks:
    """Alert-side extraction over the window bytes ``buf`` (None: the range was unreadable, no fallback)."""
    rip_off = rip & 0xFFF
    if buf is None:
        return AlertCodeblocks(False, 0, None, (), window.execute)
    classes = decoder_classes(buf, mode64, level)
    pivots = _PIVOTS[level]
    seq = bytes(c for _, c in classes)
    blocks: list[AlertBlock] = []
    for i in range(len(classes) - BLOCK_LEN):  # one fewer than the matching path at the tail
        off, c = classes[i]
        if c not in pivots:
            continue
        blocks.append(
            AlertBlock(window.page_offset + off, CodeClass(c), zlib.crc32(seq[i : i + BLOCK_LEN], 0xFFFFFFFF))
        )
        if len(blocks) >= ALERT_BLOCK_CAP:
            break
    if not blocks:
        return AlertCodeblocks(True, 0, None, (), window.execute)
    rip_index = _rip_block_index(blocks, rip_off, window.execute)
    count = len(blocks)
    if window.execute or count <= ALERT_KEEP or rip_index <= ALERT_KEEP // 2:
        first = 0
    elif count - rip_index < ALERT_KEEP:
        first = count - ALERT_KEEP
    else:
        first = rip_index - ALERT_KEEP // 2
    kept = tuple(blocks[first : first + ALERT_KEEP])
    return AlertCodeblocks(True, kept[0].offset, rip_index - first, kept, window.execute)


def alert_signature_hashes(cbs: AlertCodeblocks) -> tuple[tuple[int, ...], int]:
    """The alert exception's codeblocks signature: (sorted hashes, score) — 6 hashes around the RIP block."""
    return select_signature_hashes(cbs.hashes, cbs.rip_cb_index, cbs.execute)


def select_signature_hashes(
    hashes: Sequence[int], rip_index: int | None, execute: bool
) -> tuple[tuple[int, ...], int]:
    """Pick the alert signature's hashes from an alert's blocks (code order) and its RIP block index.

    From index 0 when ``rip_index < 3`` (and for executions), the last 6 when ``rip_index + 3 >= count``,
    else starting 3 before the RIP block; sorted ascending; score ``max(n - 1, 1)``.
    """
    count = len(hashes)
    index = rip_index if rip_index is not None else 0
    if execute or index < 3:
        chosen = hashes[:ALERT_SIG_HASHES]
    elif index + 3 >= count:
        chosen = hashes[-ALERT_SIG_HASHES:]
    else:
        chosen = hashes[index - 3 : index - 3 + ALERT_SIG_HASHES]
    return tuple(sorted(chosen)), signature_score(len(chosen))


def signature_score(n: int) -> int:
    """Score Introcore gives an alert codeblocks signature of ``n`` hashes."""
    return max(n - 1, 1)


# --------------------------------------------------------------------------------------------------------
# Cache


class CodeblockCache:
    """Bounded LRU of matching-path results keyed by (mode, level, hash cap, window bytes).

    Introcore caches codeblocks per RIP and invalidates on writes to the page (§13.17); keying on the bytes
    themselves gives the same answers without needing to know about writes.
    """

    __slots__ = ("_data", "_max", "hits", "misses")

    def __init__(self, max_entries: int = 4096) -> None:
        self._data: OrderedDict[tuple[bool, Level, int, bytes], MatchResult] = OrderedDict()
        self._max = max_entries
        self.hits = 0
        self.misses = 0

    def get(self, buf: bytes, mode64: bool, level: Level, max_hashes: int) -> MatchResult:
        key = (mode64, level, max_hashes, bytes(buf))
        found = self._data.get(key)
        if found is not None:
            self.hits += 1
            self._data.move_to_end(key)
            return found
        self.misses += 1
        result = match_hashes(key[3], mode64, level, max_hashes)
        self._data[key] = result
        if len(self._data) > self._max:
            self._data.popitem(last=False)
        return result

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        self._data.clear()
