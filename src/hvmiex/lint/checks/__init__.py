"""Every lint check, registered in a fixed order (codes are stable; never reuse a retired code)."""

from __future__ import annotations

from hvmiex.lint.checks import flags, loader, quirks, relations, signatures
from hvmiex.lint.framework import Check

ALL_CHECKS: tuple[type[Check], ...] = (
    *signatures.CHECKS,
    *relations.CHECKS,
    *flags.CHECKS,
    *quirks.CHECKS,
    *loader.CHECKS,
)


def _index() -> dict[str, type[Check]]:
    out: dict[str, type[Check]] = {}
    for cls in ALL_CHECKS:
        if cls.code in out:  # pragma: no cover - guarded by a test
            raise AssertionError(f"duplicate lint code {cls.code}")
        out[cls.code] = cls
    return out


CHECKS_BY_CODE: dict[str, type[Check]] = _index()


def instantiate() -> list[Check]:
    return [cls() for cls in ALL_CHECKS]
