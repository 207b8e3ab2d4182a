"""hvmiex: a toolkit for the exceptions mechanism of Bitdefender HVMI (Introcore).

The library never prints; see :mod:`hvmiex.cli` for the command line.
"""

from __future__ import annotations

from hvmiex.errors import Diagnostic, HvmiexError, Severity, SourceLocation

__version__ = "0.1.0"

__all__ = ["Diagnostic", "HvmiexError", "Severity", "SourceLocation", "__version__", "compile", "compile_set"]


def __getattr__(name: str) -> object:
    # heavy parts are imported on first use only
    if name in ("compile", "compile_set"):
        from hvmiex import compiler

        return getattr(compiler, name)
    raise AttributeError(f"module 'hvmiex' has no attribute {name!r}")
