"""Introcore's glob matcher for user-glob exceptions (spec 03 §2.5).

Always case-insensitive (C ``tolower`` on both sides) and "truncated": a pattern that runs out while the
string still has characters matches if no ``*`` was seen (upstream quirk §13.14: globs without ``*`` act as
prefixes). Single-level backtracking on the last ``*``; the loop gives up after 1023 steps.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_STEPS = 1023


def _lower(c: int) -> int:
    return c + 32 if 0x41 <= c <= 0x5A else c


def narrow_units(text: str) -> tuple[int, ...]:
    """The 8-bit characters a narrow string holds (code points above 255 keep their low byte)."""
    return tuple(ord(c) & 0xFF for c in text)


def wide_units(text: str) -> tuple[int, ...]:
    """The wide variant looks only at the low byte of each UTF-16 code unit."""
    data = text.encode("utf-16-le", "surrogatepass")
    return tuple(data[0::2])


def pattern_bytes(pattern: str) -> bytes:
    """Glob strings are stored as raw bytes; the model decodes them with surrogateescape."""
    return pattern.encode("utf-8", "surrogateescape")


def glob_match(pattern: bytes, string: Sequence[int]) -> bool:
    """Match ``string`` (8-bit units) against ``pattern`` the way Introcore does."""
    pat = pattern + b"\0"
    s = (*string, 0)
    p = 0
    i = 0
    back_p = -1
    back_i = 0
    steps = 0
    while True:
        steps += 1
        if steps > MAX_STEPS:
            return False
        c = _lower(s[i]) if i < len(s) else 0
        i += 1
        d = _lower(pat[p]) if p < len(pat) else 0
        p += 1
        literal = False
        if d == 0x3F:  # '?'
            if c == 0:
                return False
            continue
        if d == 0x2A:  # '*'
            if p >= len(pat) or pat[p] == 0:
                return True
            back_p = p
            i -= 1
            back_i = i
            continue
        if d == 0x5B:  # '['
            inverted = p < len(pat) and pat[p] == 0x21
            q = p + (1 if inverted else 0)
            a = _lower(pat[q]) if q < len(pat) else 0
            q += 1
            matched = False
            malformed = False
            while True:
                b = a
                if a == 0:
                    malformed = True
                    break
                if q + 1 < len(pat) and pat[q] == 0x2D and pat[q + 1] != 0x5D:  # a '-' range
                    b = _lower(pat[q + 1])
                    if b == 0:
                        malformed = True
                        break
                    q += 2
                if a <= c <= b:
                    matched = True
                a = _lower(pat[q]) if q < len(pat) else 0
                q += 1
                if a == 0x5D:  # ']'
                    break
            if malformed:
                d = 0x5B
                literal = True
            elif matched != inverted:
                p = q
                continue
            else:
                if c == 0 or back_p < 0:
                    return False
                p = back_p
                back_i += 1
                i = back_i
                continue
        if not literal and d == 0x5C:  # '\\' escapes the next pattern character
            d = _lower(pat[p]) if p < len(pat) else 0
            p += 1
        if c == d:
            if d == 0:
                return True
            continue
        if d == 0 and back_p < 0:
            return True  # truncated mode: the pattern is a prefix of the string
        if c == 0 or back_p < 0:
            return False
        p = back_p
        back_i += 1
        i = back_i
