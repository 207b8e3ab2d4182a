"""Atomic writes: whole file or nothing, and the permissions a plain open() would give."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hvmiex.io import atomic_write_bytes, atomic_write_text


def test_new_file_gets_umask_mode(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        target = tmp_path / "exceptions.bin"
        atomic_write_bytes(target, b"abc")
        assert target.read_bytes() == b"abc"
        assert stat.S_IMODE(target.stat().st_mode) == 0o644
    finally:
        os.umask(umask)


def test_existing_mode_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")
    target.chmod(0o640)
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_failed_write_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"previous")

    def boom(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
