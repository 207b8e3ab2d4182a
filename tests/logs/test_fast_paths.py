"""The bulk readers of the text path (whole code-block runs in one split, dump rows by column getters) give
exactly what the line-by-line path gives, also on damaged code-block lists; the faster dataclass __init__
behaves like the generated one."""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import random

import pytest

from hvmiex.logs.blocks import LogStats, RawBlock, SkippedBlock, iter_blocks, iter_text_blocks
from hvmiex.logs.lines import codeblock_dump
from hvmiex.logs.render import synthetic_log
from hvmiex.violation import (
    Environment,
    GuestOS,
    KernelOriginator,
    Process,
    UserOriginator,
    Victim,
    Violation,
    ViolationError,
    ViolationKind,
    ZoneFlags,
    ZoneType,
)


def _mutate(line: str, rng: random.Random) -> list[str]:
    """One damaged variant of a code-block line (or none: the line dropped)."""
    head, _, rest = line.partition("[CODEBLOCKS] ")
    choice = rng.randrange(11)
    if choice == 0:
        return [line + ", "]  # trailing separator
    if choice == 1:
        return [f"{head}[CODEBLOCKS] (    RIP->0x00007ff80023c417), {rest}"]  # a (second) marker
    if choice == 2:
        return [line.replace("JMP", "JUMP", 1).replace("CALL", "CAL L", 1)]  # unknown pivots
    if choice == 3:
        return [line + "\r"]
    if choice == 4:
        return []  # e.g. the final line missing
    if choice == 5:
        return [line[: len(head) + rng.randrange(0, 16)]]  # cut short, maybe inside the tag
    if choice == 6:
        return [line.replace(" : ", " : 1", 1)]  # another source line (a final line, maybe too early)
    if choice == 7:
        return [line.replace("0x", "0X", 1)]
    if choice == 8:
        return [line, line]  # repeated
    if choice == 9:
        return [f"{head}[CODEBLOCKS] "]  # no entries
    return [line.replace(", ", ",", 1)]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("chunk", [13, 4096, 1 << 20])
def test_damaged_codeblock_lists_read_the_same_in_bulk_and_by_line(seed: int, chunk: int) -> None:
    rng = random.Random(seed)
    lines: list[str] = []
    for line in itertools.islice(synthetic_log(seed, guests=2, noise=0.3), 1200):
        if "[CODEBLOCKS]" in line and rng.random() < 0.15:
            lines += _mutate(line, rng)
        else:
            lines.append(line)
    text = "\n".join(lines) + "\n"
    s1, s2 = LogStats(), LogStats()
    by_lines = list(iter_blocks(iter(line.rstrip("\r") for line in lines), "x", s1))
    by_text = list(iter_text_blocks((text[i : i + chunk] for i in range(0, len(text), chunk)), "x", s2))
    assert len(by_lines) == len(by_text) > 5
    for a, b in zip(by_lines, by_text, strict=True):
        if isinstance(a, SkippedBlock):
            assert a == b
            continue
        assert isinstance(b, RawBlock)
        assert (a.first_line, a.last_line, a.victims, a.dumps, a.problems, a.trailing, a.cached_dumps) == (
            b.first_line,
            b.last_line,
            b.victims,
            b.dumps,
            b.problems,
            b.trailing,
            b.cached_dumps,
        )
        assert [bytes(d.data) for d in a.buffers] == [bytes(d.data) for d in b.buffers]
    assert (s1.lines, s1.blocks, s1.skipped, s1.by_kind, s1.unplaced) == (
        s2.lines,
        s2.blocks,
        s2.skipped,
        s2.by_kind,
        s2.unplaced,
    )


def test_codeblock_dump_offsets_convert_like_int() -> None:
    for offsets in (
        ["200", "31d"],
        ["0x1f", "2"],
        ["1_f"],
        ["ABC"],
        ["123456789"],
        ["0"],
        [],
        ["ab", "cdef"],
        ["abc", "de", "fff"],
        [" 12", "12 ", "+12"],
        ["0x1", "0x2"],
        ["fff", "1000"],
    ):
        dump = codeblock_dump("RIP", 1, ["00000001"] * len(offsets), offsets, ["JMP"] * len(offsets), 0)
        assert dump.offsets == tuple(int(o, 16) for o in offsets)
    with pytest.raises(ValueError):
        codeblock_dump("RIP", 1, ["00000001"], ["12 34"], ["JMP"], 0)


def test_fast_init_keeps_signature_defaults_and_checks() -> None:
    params = inspect.signature(Victim).parameters
    assert list(params) == [f.name for f in dataclasses.fields(Victim)]
    assert params["object_type"].default == dataclasses.fields(Victim)[2].default
    v = Victim(ZoneType.EPT, ZoneFlags.WRITE, gva=5)
    assert v == Victim(zone_type=ZoneType.EPT, zone_flags=ZoneFlags.WRITE, gva=5) and v.gpa == 0
    assert hash(v) == hash(dataclasses.replace(v))
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.gva = 1  # type: ignore[misc]
    e1, e2 = Environment(), Environment()
    assert e1.memory == e2.memory and Environment(GuestOS.LINUX).os is GuestOS.LINUX
    k1, k2 = KernelOriginator(), KernelOriginator()
    assert k1.original == k2.original and k1.original is not k2.original  # factories run per object
    with pytest.raises(ViolationError):
        Violation(ViolationKind.UM, v, KernelOriginator())
    assert Violation(ViolationKind.UM, v, UserOriginator()).um == UserOriginator()
    with pytest.raises(TypeError):
        Process()  # type: ignore[call-arg]
    assert Process("a", 1).init_state is Process.named("a").init_state
