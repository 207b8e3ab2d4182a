"""Introcore's glob matcher (spec 03 §2.5)."""

from __future__ import annotations

import pytest

from hvmiex.engine.glob import glob_match, narrow_units, wide_units


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("chrome*", "chrome.exe", True),
        ("chrome", "chrome.exe", True),  # truncated mode: prefix
        ("chrome.exe.x", "chrome.exe", False),  # string shorter than pattern
        ("*.exe", "notepad.exe", True),
        ("*.exe", "notepad.dll", False),
        ("c?rome*", "chrome.exe", True),
        ("[a-c]ar.exe", "bar.exe", True),
        ("[!a-c]ar.exe", "bar.exe", False),
        ("[]]x", "]x", True),
        ("[ab", "[ab", True),  # malformed class: literal '['
        ("\\*x", "*x", True),
        ("CHROME*", "chrome.exe", True),  # case-insensitive
        ("a*b*c", "axxbyyc", True),
        ("*", "", True),
        ("?", "", False),
    ],
)
def test_glob(pattern: str, text: str, expected: bool) -> None:
    assert glob_match(pattern.encode(), narrow_units(text)) is expected


def test_wide_uses_low_byte() -> None:
    assert glob_match(b"a*", wide_units("a\u0142")) is True
    assert wide_units("\u0141") == (0x41,)


def test_step_bound() -> None:
    assert glob_match(b"*a*a*a*a*a*b", narrow_units("a" * 300)) is False
