"""``hvmiex build`` (the exceptions compiler) and ``hvmiex crc32``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hvmiex.cli.common import EXIT_USAGE, FORMAT_OPTION, handle_errors, render_diagnostics
from hvmiex.errors import InputError, Severity


def _describe(record: object) -> str:
    from hvmiex.model import GlobException, Name

    parts = [type(record).__name__]
    for attr in ("name", "originator", "victim", "process", "object_type", "flags", "signatures", "id"):
        if not hasattr(record, attr):
            continue
        v = getattr(record, attr)
        if isinstance(v, Name):
            parts.append(f"{attr}={v.text!s}({v.value:08x})")
        elif attr == "flags":
            parts.append(f"flags={v.value:08x}")
        elif attr == "signatures":
            if v:
                parts.append("sigs=" + ",".join(f"{r.name}({r.id:08x})" for r in v))
        elif attr == "id":
            parts.append(f"id={v:08x}")
        elif isinstance(record, GlobException) or attr in ("object_type", "name"):
            parts.append(f"{attr}={v}")
    return " ".join(parts)


@click.command(name="build", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("jsons", nargs=-1, type=click.Path(path_type=str))
@click.option("-c", "--config", "config", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Configuration file (default: the bundled stock config.json).")
@click.option("-o", "--output", "output", default="exceptions.bin", show_default=True, type=click.Path(path_type=str),
              help="Output file (written atomically).")
@click.option("-v", "--verbose", "verbose", type=int, default=0, show_default=True,
              help="0 quiet, 1 files and summary, 2 every record.")
@click.option("-b", "--build", "build", type=int, default=0, show_default=True, help="Build number stored in the header.")
@click.option("--strict", is_flag=True, help="Refuse input that `hvmiex lint` reports as an error.")
@handle_errors
def build_command(jsons: tuple[str, ...], config: str | None, output: str, verbose: int, build: int,
                  strict: bool) -> None:  # fmt: skip
    """Compile exception and signature JSON files or folders into exceptions.bin."""
    from hvmiex.compiler import compile_set
    from hvmiex.io import atomic_write_bytes

    ctx = click.get_current_context()

    def usage_no_input() -> None:
        click.echo(ctx.get_usage(), err=True)
        click.echo("hvmiex build: error: You must give at least one json file or folder.", err=True)
        ctx.exit(EXIT_USAGE)

    if not jsons:
        usage_no_input()
    try:
        result = compile_set(jsons, config, build, locations=False)
    except InputError as exc:
        if exc.diagnostics and exc.diagnostics[0].code == "no-input":  # every argument was ignored
            render_diagnostics(exc.diagnostics[1:])
            usage_no_input()
        raise
    shown = [d for d in result.diagnostics if d.severity is not Severity.INFO or verbose >= 1]
    render_diagnostics(shown)
    if strict:
        import importlib

        try:
            strict_gate_paths = importlib.import_module("hvmiex.lint").strict_gate_paths
        except (ImportError, AttributeError):
            raise click.UsageError("--strict needs hvmiex.lint, which is not available in this build") from None
        problems = list(strict_gate_paths(list(jsons), config))
        if any(d.severity is Severity.ERROR for d in problems):
            raise InputError("lint errors (--strict)", tuple(problems))
    atomic_write_bytes(output, result.data)
    if verbose >= 1:
        for f in result.files:
            click.echo(f"Loading file {f}")
        for name in result.dropped_signatures:
            click.echo(f"Remove unused signature {name}")
    if verbose >= 2:
        for r in result.exception_set.records:
            click.echo(_describe(r))
    if verbose >= 1:
        c = result.exception_set.header_counts()
        click.echo("")
        click.echo(f"Generated {c.kernel:04d} kernel exceptions")
        click.echo(f"Generated {c.user:04d} user exceptions")
        click.echo(f"Generated {c.kernel_user:04d} kernel-user exceptions")
        click.echo(f"Generated {c.glob:04d} user glob exceptions")
        click.echo(f"Generated {c.signatures:04d} signatures")
        click.echo("-" * 31)
        click.echo(f"Total     {c.kernel + c.user + c.kernel_user + c.glob + c.signatures:04d} objects")
        click.echo(f"Wrote {len(result.data)} bytes to {output}")


def _int_auto(value: str) -> int:
    try:
        return int(value, 0)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an integer (decimal or 0x...)") from None


@click.command(name="crc32", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("texts", nargs=-1)
@click.option("--wide", is_flag=True, help="Hash the UTF-16LE encoding (module and driver names).")
@click.option("--initial", "initial", default="-1", show_default=True,
              help="Initial CRC as upstream's initial_crc (chain: pass a previous result).")
@click.option("--file", "files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Hash the bytes of a file (repeatable).")
@FORMAT_OPTION
@handle_errors
def crc32_command(texts: tuple[str, ...], wide: bool, initial: str, files: tuple[Path, ...], output_format: str) -> None:
    """HVMI's CRC32 of TEXT (narrow UTF-8, or --wide UTF-16LE) or of files, printed in hex."""
    from hvmiex.crc32 import crc32

    if not texts and not files:
        raise click.UsageError("give at least one TEXT or --file")
    start = _int_auto(initial)
    rows: list[tuple[str, int]] = [(t, crc32(t, wide, start)) for t in texts]
    rows += [(str(f), crc32(f.read_bytes(), False, start)) for f in files]
    if output_format == "json":
        click.echo(json.dumps([{"input": k, "crc32": f"0x{v:08x}", "wide": wide} for k, v in rows]))
        return
    for k, v in rows:
        click.echo(f"0x{v:08x}" if len(rows) == 1 else f"0x{v:08x}  {k}")
