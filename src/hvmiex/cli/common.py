"""What every command shares: turning library errors into messages and exit codes, output formats."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

import click
from rich.console import Console

from hvmiex.errors import Diagnostic, HvmiexError, Severity

P = ParamSpec("P")
R = TypeVar("R")

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2

FORMAT_OPTION = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output for people (text) or for scripts (json).",
)


def stdout_console() -> Console:
    return Console(soft_wrap=True)


def stderr_console() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


def render_diagnostics(diagnostics: Iterable[Diagnostic]) -> None:
    """Write diagnostics to stderr, one line each (plain text: no markup surprises in paths)."""
    for diagnostic in diagnostics:
        click.echo(diagnostic.render(), err=True)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the library's typed errors into a clear message and exit status 1 (never a traceback)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except HvmiexError as exc:
            if exc.diagnostics:
                render_diagnostics(exc.diagnostics)
                errors = sum(1 for d in exc.diagnostics if d.severity is Severity.ERROR)
                click.echo(f"hvmiex: {exc.message} ({errors} error(s))", err=True)
            else:
                click.echo(f"hvmiex: error: {exc.message}", err=True)
            sys.exit(EXIT_REFUSED)
        except OSError as exc:
            name = getattr(exc, "filename", None)
            where = f"{name}: " if name else ""
            click.echo(f"hvmiex: error: {where}{exc.strerror or exc}", err=True)
            sys.exit(EXIT_REFUSED)

    return wrapper
