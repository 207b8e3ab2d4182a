"""The toolkit's error root and the diagnostics every refusal carries.

The library never prints: it raises an :class:`HvmiexError` carrying one or more
:class:`Diagnostic` objects, and the CLI renders them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where a problem is: a file and, when known, a 1-based line and column or a byte offset."""

    path: str
    line: int | None = None
    col: int | None = None
    offset: int | None = None  # byte offset, for binary inputs

    def __str__(self) -> str:
        text = self.path
        if self.line is not None:
            text += f":{self.line}"
            if self.col is not None:
                text += f":{self.col}"
        if self.offset is not None:
            text += f" @0x{self.offset:x}"
        return text


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding: what is wrong, where, and what would be allowed instead."""

    code: str
    message: str
    severity: Severity = Severity.ERROR
    location: SourceLocation | None = None
    subject: str | None = None  # e.g. "exception #3" or "signature 'cb-1'"
    field: str | None = None  # the JSON field or binary field concerned
    hint: str | None = None  # what is allowed / did you mean

    def render(self) -> str:
        parts: list[str] = []
        if self.location is not None:
            parts.append(f"{self.location}: ")
        parts.append(f"{self.severity.value}[{self.code}]: ")
        where = ", ".join(x for x in (self.subject, f"field '{self.field}'" if self.field else None) if x)
        if where:
            parts.append(f"{where}: ")
        parts.append(self.message)
        if self.hint:
            parts.append(f" ({self.hint})")
        return "".join(parts)


@dataclass
class HvmiexError(Exception):
    """Root of every error the library raises for bad input."""

    message: str
    diagnostics: Sequence[Diagnostic] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        if not self.diagnostics:
            return self.message
        return self.message + "\n" + "\n".join(d.render() for d in self.diagnostics)

    @classmethod
    def from_diagnostics(cls, message: str, diagnostics: Iterable[Diagnostic]) -> HvmiexError:
        return cls(message, tuple(diagnostics))


class InputError(HvmiexError):
    """Refused input (JSON sources, configuration, command arguments that name bad files)."""


class BinaryFormatError(HvmiexError):
    """A binary input (exceptions.bin, alert blob) that cannot be read."""


class DiagnosticCollector:
    """Collects diagnostics over one pass so that every problem is reported, not only the first."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(self, diagnostic: Diagnostic) -> None:
        self.items.append(diagnostic)

    def error(self, code: str, message: str, **kwargs: object) -> None:
        self.items.append(Diagnostic(code, message, Severity.ERROR, **kwargs))  # type: ignore[arg-type]

    def warning(self, code: str, message: str, **kwargs: object) -> None:
        self.items.append(Diagnostic(code, message, Severity.WARNING, **kwargs))  # type: ignore[arg-type]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.ERROR]

    def raise_if_errors(self, message: str, error_type: type[HvmiexError] = InputError) -> None:
        if self.errors:
            raise error_type(message, tuple(self.items))
