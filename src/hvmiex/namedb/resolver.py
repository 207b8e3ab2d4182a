"""Find the name behind a stored hash: candidates hashed under each field rule, looked up by value."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from hvmiex.crc32 import hash_bytes, hash_wide
from hvmiex.errors import Diagnostic, InputError, SourceLocation
from hvmiex.names import EMPTY_NAME_VALUE, HashRule, NameSyntaxError, name_value, reduce_path

NAME_FILES = ("windows.txt", "linux.txt", "exports.txt")
_NAME_KEYS = ("originator", "victim", "process")
PREDEFINED_SPELLINGS = ("[own]", "[kernel]", "[hal]", "[vdso]", "[vsyscall]")


@lru_cache(maxsize=1)
def builtin_names() -> tuple[str, ...]:
    """The bundled dictionary (package data ``hvmiex/data/names/*.txt``, one name a line, ``#`` comments)."""
    out: list[str] = []
    base = resources.files("hvmiex") / "data" / "names"
    for name in NAME_FILES:
        try:
            text = (base / name).read_text(encoding="utf-8")
        except (FileNotFoundError, OSError):
            continue
        out.extend(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return tuple(dict.fromkeys(out))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, str):
                yield item


def _names_in_document(doc: Any) -> Iterator[str]:
    if not isinstance(doc, dict):
        return
    for entry in doc.get("Exceptions") or ():
        if isinstance(entry, dict):
            for key in _NAME_KEYS:
                yield from _strings(entry.get(key))
    for sig in doc.get("Signatures") or ():
        if isinstance(sig, dict):
            yield from _strings(sig.get("library"))
            for h in sig.get("hashes") or ():
                if isinstance(h, dict):
                    yield from _strings(h.get("name"))
    groups = doc.get("Groups")
    if isinstance(groups, dict):  # a config file: its group members are names too
        for members in groups.values():
            yield from _strings(members)


def _json_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*.json") if p.is_file())
    return [path]


def harvest_names(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Every originator, victim, process, library and export name written in JSON files or folders.

    Group names (``[...]``) are skipped; their members are harvested from config files given here.
    Raises :class:`InputError` for unreadable or invalid JSON.
    """
    from hvmiex.source import jsonc

    out: list[str] = []
    problems: list[Diagnostic] = []
    for root in paths:
        for file in _json_files(Path(root)):
            try:
                doc = jsonc.loads(file.read_text(encoding="utf-8"))
            except OSError as exc:
                problems.append(Diagnostic("NM001", f"cannot read: {exc.strerror or exc}", location=SourceLocation(str(file))))
                continue
            except (ValueError, UnicodeDecodeError) as exc:
                problems.append(Diagnostic("NM002", f"not valid JSON: {exc}", location=SourceLocation(str(file))))
                continue
            for text in _names_in_document(doc):
                if text and not (text.startswith("[") and text.endswith("]")):
                    out.append(text)
    if problems:
        raise InputError("cannot read the --names sources", tuple(problems))
    return list(dict.fromkeys(out))


def _shape_hash(text: str, wide: bool, fold: bool, trim: int | None) -> int:
    if fold:
        text = text.lower()
    if trim is not None:
        text = text[:trim]
    if wide:
        return hash_wide(text)
    return hash_bytes(text.encode("utf-8", "surrogatepass"))


class NameResolver:
    """Candidate names indexed lazily per hashing shape (wide/narrow, folded or not, trim length).

    Names given first win when two candidates share a value under a rule (e.g. equal 14-character
    prefixes). A resolved name is always checked to hash back to the stored value under the full rule
    (predefined names, path reduction, escapes), so it can be written into JSON safely.
    """

    def __init__(self, names: Iterable[str] = (), *, builtin: bool = True) -> None:
        candidates = list(names)
        if builtin:
            candidates.extend(builtin_names())
        # predefined spellings hashed as text where a field has no such predefined name (upstream quirk Q6)
        candidates.extend(PREDEFINED_SPELLINGS)
        self._names: tuple[str, ...] = tuple(dict.fromkeys(n for n in candidates if n))
        self._index: dict[tuple[bool, bool, int | None], dict[int, str]] = {}

    @classmethod
    def from_paths(cls, paths: Iterable[str | os.PathLike[str]], *, builtin: bool = True) -> NameResolver:
        return cls(harvest_names(paths), builtin=builtin)

    def __len__(self) -> int:
        return len(self._names)

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    def _shape(self, wide: bool, fold: bool, trim: int | None) -> dict[int, str]:
        key = (wide, fold, trim)
        index = self._index.get(key)
        if index is None:
            index = {}
            names: Iterable[str] = self._names
            if trim is not None:
                # trimmed fields hold process names: on equal prefixes prefer an executable's name
                names = sorted(self._names, key=lambda n: not n.lower().endswith(".exe"))
            for name in names:
                index.setdefault(_shape_hash(name, wide, fold, trim), name)
                if name.startswith(("\\", "/")) or (len(name) > 2 and name[1:3] == ":\\"):
                    try:
                        reduced = reduce_path(name)
                    except NameSyntaxError:
                        continue
                    index.setdefault(_shape_hash(reduced, wide, fold, trim), reduced)
            self._index[key] = index
        return index

    def resolve(self, value: int, rule: HashRule, predefined: Mapping[str, int] | None = None) -> str | None:
        """A text that hashes to ``value`` under ``rule`` (predefined names first), or None."""
        if value == EMPTY_NAME_VALUE:
            return None
        if predefined:
            for text, v in predefined.items():
                if v == value:
                    return text
        candidate = self._shape(rule.wide, rule.fold, rule.trim).get(value)
        if candidate is None:
            return None
        try:
            if name_value(candidate, rule, predefined)[0] != value:
                return None
        except NameSyntaxError:
            return None
        return candidate


def read_names_file(path: str | os.PathLike[str]) -> list[str]:
    """A plain list of names (one a line, ``#`` comments) as an alternative to JSON sources."""
    return [
        line.strip()
        for line in Path(path).read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
