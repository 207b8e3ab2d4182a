"""Small helpers for compiler tests: write JSON inputs into a folder and compile them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hvmiex.compiler import CompileResult, compile_set
from hvmiex.config import Config


def write(folder: Path, name: str, data: Any) -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=1))
    return path


def exc_file(folder: Path, name: str, kind: str, *entries: dict[str, Any]) -> Path:
    return write(folder, name, {"Type": kind, "Exceptions": list(entries)})


def sig_file(folder: Path, name: str, *entries: dict[str, Any]) -> Path:
    return write(folder, name, {"Type": "user", "Signatures": list(entries)})


def build(folder: Path, kind: str, *entries: dict[str, Any], sigs: tuple[dict[str, Any], ...] = (),
          config: Config | str | None = None, build_no: int = 0) -> CompileResult:  # fmt: skip
    files = []
    if sigs:
        files.append(sig_file(folder, "0-sigs.json", *sigs))
    files.append(exc_file(folder, "1-exc.json", kind, *entries))
    return compile_set(files, config, build_no)


def one(folder: Path, kind: str, entry: dict[str, Any], **kw: Any) -> Any:
    """The single exception compiled from ``entry``."""
    result = build(folder, kind, entry, **kw)
    (rec,) = result.exception_set.exceptions
    return rec
