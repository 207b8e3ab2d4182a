"""hvmiex: a toolkit for the exceptions mechanism of Bitdefender HVMI (Introcore).

The library never prints; see :mod:`hvmiex.cli` for the command line.
"""

from __future__ import annotations

from hvmiex.errors import Diagnostic, HvmiexError, Severity, SourceLocation

__version__ = "0.1.0"

__all__ = ["Diagnostic", "HvmiexError", "Severity", "SourceLocation", "__version__"]
