"""Block grouping: guests, interleaving, unplaceable lines, malformed blocks, dumps, gzip."""

from __future__ import annotations

import gzip
import itertools
import random
from dataclasses import replace
from pathlib import Path

import pytest

from hvmiex.logs.blocks import LogStats, RawBlock, SkippedBlock, iter_blocks, iter_text_blocks
from hvmiex.logs.parse import LogViolation, parse_lines, parse_log
from hvmiex.logs.render import RenderOptions, render_violation, sample_violation, synthetic_log

CARETS = "^" * 40
KM = [
    "exceptions_kern.c : 1488 Originator-> Module: (\\systemroot\\system32\\drivers\\a.sys [0x11111111], "
    "fffff80000000000), RIP fffff80000001010 (.text), Instr: <generic>",
    "exceptions_kern.c : 1629 Victim    -> Module: (\\systemroot\\system32\\drivers\\b.sys [0x22222222], "
    "fffff80001000000), Address: (fffff80001001000, 0000000001001000), WriteInfo: (8, 1111111111111111 -> "
    "2222222222222222), Flags: CODE (0x10000004)",
    f"exceptions_kern.c : 2012 {CARETS} ROOTKIT (kernel-mode) (no exc) {CARETS}",
    "codeblocks.c : 1226 [CODEBLOCKS] 0x00000001 (0x000,      CALL), 0x00000002 (0x005,       JMP), "
    "(    RIP->0xfffff80000001010), 0x00000003 (0x010,      CALL), 0x00000004 (0x015,       JMP), "
    "0x00000005 (0x020,      CALL), 0x00000006 (0x025,       JMP), 0x00000007 (0x030,      CALL), "
    "0x00000008 (0x035,       JMP)",
    "codeblocks.c : 1288 [CODEBLOCKS] 0x00000009 (0x040,      CALL)",
    "dumper.c : 109 [DUMPER] Dumping buffer from GVA fffff80000001000 with size 20",
    "dumper.c : 198 fffff80000001000: 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f ................",
    "dumper.c : 198 fffff80000001010: 10 11 12 13 78 78 78 78 78 78 78 78 78 78 78 78 ....xxxxxxxxxxxx",
]


def _violations(lines: list[str], stats: LogStats | None = None) -> list[LogViolation | SkippedBlock]:
    return list(parse_lines(lines, "t.log", stats))


def test_kernel_block_with_dump_and_memory() -> None:
    (lv,) = _violations(KM)
    assert isinstance(lv, LogViolation)
    assert (lv.first_line, lv.last_line, lv.verdict_line) == (1, 8, 3)
    assert lv.codeblocks is not None and lv.codeblocks.rip_index == 2 and len(lv.codeblocks) == 9
    assert lv.violation.codeblocks[0].hashes == tuple(range(1, 10))
    (rng,) = lv.violation.env.memory.ranges
    assert rng.gva == 0xFFFFF80000001000 and rng.data == bytes(range(20))


def test_guests_interleave_line_by_line() -> None:
    a = [f"[aaaa] {x}" for x in KM]
    b = [f"[bbbb] {x}".replace("a.sys [0x11111111]", "c.sys [0x33333333]") for x in KM]
    mixed = [x for pair in zip(a, b, strict=True) for x in pair]
    out = _violations(mixed)
    assert [x.guest for x in out if isinstance(x, LogViolation)] == ["aaaa", "bbbb"]
    for lv in out:
        assert isinstance(lv, LogViolation)
        assert lv.codeblocks is not None and len(lv.codeblocks) == 9
        assert lv.violation.env.memory.ranges[0].data == bytes(range(20))
    assert out[0].originator == "a.sys" and out[1].originator == "c.sys"


def test_unplaceable_lines_are_counted_by_kind() -> None:
    stats = LogStats()
    lines = ["garbage without envelope", "x.c : 1 [INFO] hello", "x.c : 2 some text", *KM]
    lines.insert(5, "x.c : 3 [ERROR] Failed mapping VA 0x1 to host")  # inside the block: part of it
    out = _violations(lines, stats)
    assert len(out) == 1
    assert stats.unplaced == {"no-envelope": 1, "diagnostic": 1, "other": 1}
    assert stats.blocks == 1 and stats.lines == len(lines)


def test_malformed_block_skipped_with_its_line_number() -> None:
    bad = list(KM)
    bad[1] = "exceptions_kern.c : 1629 Victim    -> Module: (broken"
    out = _violations([*bad, *KM])
    skipped = [x for x in out if isinstance(x, SkippedBlock)]
    good = [x for x in out if isinstance(x, LogViolation)]
    assert len(skipped) == 1 and skipped[0].first_line == 1 and skipped[0].line == 2
    assert "module group" in skipped[0].reason
    assert len(good) == 1 and good[0].first_line == len(KM) + 1


def test_broken_codeblock_line_keeps_the_violation() -> None:
    lines = list(KM)
    lines[4] = "codeblocks.c : 1288 [CODEBLOCKS] 0x0000000 (0x040, CALL)"
    (lv,) = _violations(lines)
    assert isinstance(lv, LogViolation) and lv.problems


def test_deduplicated_dump_is_reused_by_rip() -> None:
    second = KM[:3]  # same RIP again: Introcore does not dump it twice (spec 04 §7.2)
    out = _violations([*KM, *second])
    assert len(out) == 2
    assert isinstance(out[1], LogViolation) and out[1].codeblocks is not None
    assert out[1].codeblocks.hashes == tuple(range(1, 10))


def test_feedback_block_without_verdict() -> None:
    lines = [KM[0], KM[1], *KM[3:]]
    (lv,) = _violations(lines)
    assert isinstance(lv, LogViolation) and lv.reason == "allowed-feedback" and not lv.blocked


def test_constant_file_names_and_v1_line_numbers() -> None:
    lines = [x.split(" : ", 1)[1] for x in KM]
    lines = [f"compiler_depend.ts : {x}" for x in lines]
    lines[4] = lines[4].replace(": 1288 ", ": 1286 ")  # V1's final code-block line
    (lv,) = _violations(lines)
    assert isinstance(lv, LogViolation) and lv.mode.value == "kernel" and len(lv.codeblocks or ()) == 9


def test_gzip_file_and_plain_file_agree(tmp_path: Path) -> None:
    lines = list(itertools.islice(synthetic_log(7), 3000))
    plain = tmp_path / "a.log"
    plain.write_text("\n".join(lines) + "\n")
    packed = tmp_path / "a.log.gz"
    with gzip.open(packed, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    s1, s2 = LogStats(), LogStats()
    a = [x for x in parse_log(plain, s1) if isinstance(x, LogViolation)]
    b = [x for x in parse_log(packed, s2) if isinstance(x, LogViolation)]
    assert len(a) == len(b) > 10
    assert [replace(x.violation, origin=None) for x in a] == [replace(x.violation, origin=None) for x in b]
    assert s1.bytes == plain.stat().st_size and s2.bytes == packed.stat().st_size


def test_synthetic_log_parses_without_loss() -> None:
    rng = random.Random(3)
    expected = []
    lines: list[str] = []
    for _ in range(60):
        v, opts, dump = sample_violation(rng)
        expected.append(v)
        lines += render_violation(v, RenderOptions(guest=None, reason=opts.reason), dump)
    stats = LogStats()
    out = _violations(lines, stats)
    assert len(out) == 60 and all(isinstance(x, LogViolation) for x in out)
    assert not stats.unplaced and not stats.skipped


@pytest.mark.parametrize("chunk", [1, 7, 97, 4096, 1 << 20])
@pytest.mark.parametrize("crlf", [False, True])
def test_text_chunks_give_the_same_blocks_as_lines(chunk: int, crlf: bool) -> None:
    lines = list(itertools.islice(synthetic_log(5, guests=2, noise=0.5), 1500))
    # a broken row and an orphan row in the middle exercise the bulk reader's fall-backs
    lines.insert(400, lines[399][:-20])
    lines.insert(800, "dumper.c : 198 0000000000001000: zz")
    sep = "\r\n" if crlf else "\n"
    text = sep.join(lines) + (sep if chunk % 2 else "")
    s1, s2 = LogStats(), LogStats()
    by_lines = list(iter_blocks(iter(lines), "x", s1))
    by_text = list(iter_text_blocks((text[i : i + chunk] for i in range(0, len(text), chunk)), "x", s2))
    assert len(by_lines) == len(by_text) > 5
    for a, b in zip(by_lines, by_text, strict=True):
        if isinstance(a, SkippedBlock):
            assert a == b
            continue
        assert isinstance(b, RawBlock)
        assert (a.first_line, a.last_line, a.victims, a.dumps) == (b.first_line, b.last_line, b.victims, b.dumps)
        assert [bytes(d.data) for d in a.buffers] == [bytes(d.data) for d in b.buffers]
    assert (s1.lines, s1.by_kind, s1.unplaced) == (s2.lines, s2.by_kind, s2.unplaced)
