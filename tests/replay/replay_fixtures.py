"""Fixtures of the replay tests: a small .bin compiled from our JSON, and logs rendered from our violations."""

from __future__ import annotations

import gzip
from pathlib import Path

from hvmiex.compiler import compile as compile_bin
from hvmiex.logs.render import RenderOptions, render_log
from hvmiex.violation import Violation, load_violations
from tests.conftest import DATA

HERE = DATA / "replay"
SOURCES = [HERE / "signatures.json", HERE / "kernel.json", HERE / "user.json"]
VIOLATIONS = HERE / "violations.json"
# labels of violations.json, in order, and what the fixture .bin decides for each (with a Windows 10 build known)
EXPECTED = [
    ("um-allowed", "allowed", "user hooker.dll/ntdll.dll/app.exe module"),
    ("um-blocked", "no-exception", None),
    ("km-allowed", "allowed", "kernel fixer.sys/bar.sys driver code"),
    ("km-blocked", "no-exception", None),
    ("um-other-process", "no-exception", None),
    ("km-versioned", "allowed", "kernel versioned.sys/bar.sys driver code"),
]


def build_bin(directory: Path) -> Path:
    path = directory / "exceptions.bin"
    path.write_bytes(compile_bin([str(p) for p in SOURCES]))
    return path


def violations() -> list[Violation]:
    return load_violations(VIOLATIONS)


def write_log(path: Path, vs: list[Violation] | None = None, reason: str | None = "no-exception") -> Path:
    """A log as Introcore prints it for ``vs`` (every block logged with ``reason``; None = feedback, no verdict)."""
    lines = list(render_log(vs if vs is not None else violations(), RenderOptions(reason=reason)))
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path
