"""A truncated gzip log hands out everything decompressed before the damage, then reports it."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from hvmiex.logs.blocks import open_log


def test_truncated_gzip_yields_prefix_then_raises(tmp_path: Path) -> None:
    lines = [f"line {i:06d} of a log that will be cut short" for i in range(20_000)]
    full = gzip.compress(("\n".join(lines) + "\n").encode())
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(full[: len(full) * 2 // 3])
    seen: list[str] = []
    log = open_log(cut)
    with pytest.raises((EOFError, gzip.BadGzipFile)):
        for line in log.lines:
            seen.append(line)
    log.close()
    assert len(seen) > 1000
    assert seen == lines[: len(seen)] or seen[:-1] == lines[: len(seen) - 1]
