"""Every lint check, registered in a fixed order (codes are stable; never reuse a retired code)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from hvmiex.lint.checks import flags, keys, loader, quirks, relations, signatures
from hvmiex.lint.framework import Check

ALL_CHECKS: tuple[type[Check], ...] = (
    *signatures.CHECKS,
    *relations.CHECKS,
    *flags.CHECKS,
    *quirks.CHECKS,
    *loader.CHECKS,
    *keys.CHECKS,
)


def _index() -> Mapping[str, type[Check]]:
    out: dict[str, type[Check]] = {}
    for cls in ALL_CHECKS:
        if cls.code in out:  # pragma: no cover - guarded by a test
            raise AssertionError(f"duplicate lint code {cls.code}")
        out[cls.code] = cls
    return MappingProxyType(out)


CHECKS_BY_CODE: Mapping[str, type[Check]] = _index()


def instantiate() -> list[Check]:
    return [cls() for cls in ALL_CHECKS]
