"""Input files: which files, in which order (spec 02 §2, hvmiex's deterministic order), their JSON
and what each holds (spec 02 §4 dispatch)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hvmiex.errors import Diagnostic, Severity, SourceLocation
from hvmiex.source.jsonc import JsonPath, JsonSyntaxError, Locator, loads

EXCEPTION_TYPES = ("kernel", "user", "user-glob-match", "user-apc", "kernel-user")


@dataclass(slots=True)
class SourceFile:
    """One parsed JSON input file."""

    path: str  # as shown in messages
    text: str
    data: Any
    _locator: Locator | None = field(default=None, repr=False)

    def locate(self, path: JsonPath = (), key: bool = False) -> SourceLocation:
        if self._locator is None:
            self._locator = Locator(self.text)
        found = self._locator.find(path, key)
        if found is None:
            return SourceLocation(self.path)
        return SourceLocation(self.path, found[0], found[1])

    @property
    def kind(self) -> str | None:
        """Dispatch (spec 02 §4): an exception Type with ``Exceptions``, or "signatures", or None."""
        data = self.data
        if not isinstance(data, dict) or "Type" not in data:
            return None
        t = data["Type"]
        if isinstance(t, str) and t in EXCEPTION_TYPES and "Exceptions" in data:
            return t
        if "Signatures" in data:
            return "signatures"
        return None

    @property
    def defines_signatures(self) -> bool:
        return self.kind == "signatures"


def _walk(directory: Path) -> list[Path]:
    """``*.json`` files under ``directory``, recursively, hidden ones included, sorted by relative path
    (code points); directories named ``*.json`` are skipped (upstream quirk Q22)."""
    found: list[tuple[str, Path]] = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in files:
            if name.endswith(".json"):
                full = Path(root) / name
                if full.is_file():
                    found.append((full.relative_to(directory).as_posix(), full))
    found.sort(key=lambda x: x[0])
    return [p for _, p in found]


def enumerate_inputs(paths: Iterable[str | os.PathLike[str]], notes: list[Diagnostic]) -> list[Path]:
    """Files to compile, in argument order; directories contribute their sorted ``*.json`` files.
    A file reached twice is kept once (first place). Unknown arguments get a warning."""
    out: list[Path] = []
    seen: set[str] = set()
    for arg in paths:
        p = Path(arg)
        if p.is_dir():
            candidates = _walk(p)
        elif p.is_file():
            candidates = [p]
        else:
            notes.append(
                Diagnostic(
                    "input-unknown", f"ignored: {os.fspath(arg)} is neither a file nor a directory",
                    Severity.WARNING, SourceLocation(os.fspath(arg)),
                )
            )
            continue
        for c in candidates:
            key = os.path.realpath(c)
            if key in seen:
                notes.append(
                    Diagnostic("input-twice", "file reached twice; compiled once", Severity.WARNING, SourceLocation(str(c)))
                )
                continue
            seen.add(key)
            out.append(c)
    return out


def read_source(path: Path, problems: list[Diagnostic]) -> SourceFile | None:
    """Read and parse one input; syntax problems are added to ``problems`` (None is returned)."""
    shown = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problems.append(Diagnostic("input-read", f"cannot read: {exc.strerror or exc}", location=SourceLocation(shown)))
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(
            Diagnostic("input-encoding", f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                       location=SourceLocation(shown, offset=exc.start))
        )
        return None
    try:
        data = loads(text)
    except JsonSyntaxError as exc:
        problems.append(
            Diagnostic("json-syntax", f"invalid JSON: {exc.message}", location=SourceLocation(shown, exc.line, exc.col),
                       hint="strict JSON: double quotes, no trailing commas; comments start with //")
        )
        return None
    return SourceFile(shown, text, data)


def order_sources(files: Sequence[SourceFile]) -> list[SourceFile]:
    """Stable partition: files that define signatures first (spec 02 §2), others keep their order."""
    return [f for f in files if f.defines_signatures] + [f for f in files if not f.defines_signatures]
