"""JSON with // comments (string-aware, quirk Q9) and positions."""

from __future__ import annotations

import pytest

from hvmiex.source.jsonc import JsonSyntaxError, Locator, loads, strip_comments

TEXT = """{ // a comment with "quotes
  "url": "http://example.com//x", // trailing
  "list": [1, // one
     {"k": "v"}]
}"""


def test_comments_outside_strings_only() -> None:
    assert loads(TEXT) == {"url": "http://example.com//x", "list": [1, {"k": "v"}]}
    stripped = strip_comments(TEXT)
    assert len(stripped) == len(TEXT) and stripped.count("\n") == TEXT.count("\n")


def test_error_positions_are_original() -> None:
    with pytest.raises(JsonSyntaxError) as info:
        loads('{ // c\n  "a": 1,\n}')
    assert (info.value.line, info.value.col) == (3, 1)


def test_bom_is_named() -> None:
    with pytest.raises(JsonSyntaxError, match="byte order mark"):
        loads("\ufeff{}")


def test_locator() -> None:
    loc = Locator(TEXT)
    assert loc.find(("url",)) == (2, 10)
    assert loc.find(("url",), key=True) == (2, 3)
    assert loc.find(("list", 1, "k")) == (4, 12)
    assert loc.find(("list", 7)) == (3, 3)  # unknown index: the parent's key
    assert loc.find(()) == (1, 1)


def test_upstream_json_semantics() -> None:
    assert loads('{"a": 1, "a": 2}') == {"a": 2}
    assert loads("[NaN]")[0] != loads("[NaN]")[0]
    assert loads("[123456789012345678901234567890]") == [123456789012345678901234567890]
