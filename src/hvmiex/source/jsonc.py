"""JSON with ``//`` comments, and positions of values for error messages.

Comments are blanked (replaced by spaces, newlines kept), so every offset in the stripped text is the
offset in the original file and ``json`` errors point at the original line and column. Unlike
upstream (quirk Q9) the stripper knows about strings: ``//`` inside a string is text.

Positions of objects and fields are only needed when something is wrong, so they are computed on
demand by :class:`Locator`, a small tokenizer that maps a JSON path to its line and column.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import re
from typing import Any

_STRING_OR_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"|//[^\n]*')
_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<punct>[{}\[\]:,])|(?P<lit>[^\s{}\[\]:,"]+))', re.DOTALL
)

JsonPath = tuple[str | int, ...]


def strip_comments(text: str) -> str:
    """Blank every ``//`` comment that is outside a string; offsets are preserved."""
    if "//" not in text:
        return text

    def blank(m: re.Match[str]) -> str:
        s = m.group(0)
        return " " * len(s) if s.startswith("//") else s

    return _STRING_OR_COMMENT.sub(blank, text)


class JsonSyntaxError(ValueError):
    def __init__(self, message: str, line: int, col: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


def loads(text: str) -> Any:
    """Parse JSON with comments (upstream semantics: NaN/Infinity accepted, duplicate keys: last wins)."""
    try:
        return json.loads(strip_comments(text))
    except json.JSONDecodeError as exc:
        msg = exc.msg
        if text.startswith("\ufeff"):
            msg += " (the file starts with a UTF-8 byte order mark)"
        raise JsonSyntaxError(msg, exc.lineno, exc.colno) from None


def line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return line, offset - start + 1


class Locator:
    """Maps JSON paths (keys and indices) to the offset of the value (or of the key, for fields)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._values: dict[JsonPath, int] | None = None
        self._keys: dict[JsonPath, int] = {}
        self._line_starts: list[int] | None = None

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of an offset (line starts computed once: many errors stay linear)."""
        if self._line_starts is None:
            starts = [0]
            find = self._text.find
            pos = find("\n")
            while pos >= 0:
                starts.append(pos + 1)
                pos = find("\n", pos + 1)
            self._line_starts = starts
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def _build(self) -> dict[JsonPath, int]:
        values: dict[JsonPath, int] = {}
        text = strip_comments(self._text)
        tokens = [(m.lastgroup, m.group(m.lastgroup or "lit"), m.start(m.lastgroup or "lit")) for m in _TOKEN.finditer(text)]
        pos = 0

        def value(path: JsonPath) -> None:
            nonlocal pos
            if pos >= len(tokens):
                return
            _kind, tok, off = tokens[pos]
            values[path] = off
            pos += 1
            if tok == "{":
                while pos < len(tokens) and tokens[pos][1] != "}":
                    k_kind, k_tok, k_off = tokens[pos]
                    if k_kind != "str":
                        pos += 1
                        continue
                    key = json.loads(k_tok)
                    self._keys[(*path, key)] = k_off
                    pos += 1
                    if pos < len(tokens) and tokens[pos][1] == ":":
                        pos += 1
                    value((*path, key))
                    if pos < len(tokens) and tokens[pos][1] == ",":
                        pos += 1
                pos += 1
            elif tok == "[":
                i = 0
                while pos < len(tokens) and tokens[pos][1] != "]":
                    value((*path, i))
                    i += 1
                    if pos < len(tokens) and tokens[pos][1] == ",":
                        pos += 1
                pos += 1

        with contextlib.suppress(RecursionError, ValueError):
            value(())
        return values

    def find(self, path: JsonPath, key: bool = False) -> tuple[int, int] | None:
        """Line and column of the value at ``path`` (of its key when ``key``), walking up to a known parent."""
        if self._values is None:
            self._values = self._build()
        p = path
        while True:
            off = self._keys.get(p) if key else None
            if off is None:
                off = self._values.get(p)
            if off is not None:
                return self.line_col(off)
            if not p:
                return None
            p = p[:-1]
            key = True
