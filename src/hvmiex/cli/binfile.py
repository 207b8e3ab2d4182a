"""``hvmiex check``, ``inspect``, ``decompile`` and ``diff``: reading exceptions.bin files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from hvmiex.cli.common import EXIT_OK, EXIT_REFUSED, FORMAT_OPTION, handle_errors, stdout_console
from hvmiex.errors import Diagnostic

if TYPE_CHECKING:
    from hvmiex.binfile.reader import ParsedBin
    from hvmiex.config import Config
    from hvmiex.namedb import NameResolver

GUEST_CHOICE = click.Choice(["windows", "linux", "both"])


def _buckets(values: tuple[int, ...]) -> str:
    """Total and the non-empty buckets (top nibble of the originator hash): ``5 (4:1 a:3 f:1)``."""
    parts = " ".join(f"{i:x}:{v}" for i, v in enumerate(values) if v)
    return f"{sum(values)} ({parts})" if parts else "0"


def _render_diag(d: Diagnostic) -> str:
    return d.render()


@click.command(name="check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--guest", type=GUEST_CHOICE, default="both", show_default=True, help="Guest OS(es) to load for.")
@click.option("--counts", is_flag=True, help="Show how many objects land in each of Introcore's lists.")
@FORMAT_OPTION
@handle_errors
def check_command(files: tuple[Path, ...], guest: str, counts: bool, output_format: str) -> None:
    """Would Introcore load FILES? Prints every reason it would not, with byte offsets.

    Exit status 0 when Introcore loads every file, 1 when it refuses one.
    """
    from hvmiex.binfile.reader import SCALAR_LISTS, GuestOS, load_file

    guests = [GuestOS.WINDOWS, GuestOS.LINUX] if guest == "both" else [GuestOS(guest)]
    results = [load_file(f) for f in files]
    refused = any(not r.accepted for r in results)
    if output_format == "json":
        out = [r.to_dict() for r in results]
        click.echo(json.dumps(out[0] if len(out) == 1 else out, indent=2))
        sys.exit(EXIT_REFUSED if refused else EXIT_OK)
    console = stdout_console()
    for r in results:
        report = r.windows
        if r.accepted:
            major, minor, build = report.version
            console.print(
                f"[bold green]{r.path}: Introcore would load this[/] (format {major}.{minor}, build {build})",
                highlight=False,
            )
        else:
            console.print(
                f"[bold red]{r.path}: Introcore would NOT load this[/]: {r.status.status_name} "
                f"(0x{r.status.value:08x})",
                highlight=False,
            )
            for d in r.reasons:
                console.print("  " + _render_diag(d), highlight=False, markup=False)
        for g in guests:
            rep = r.report(g)
            what = "loaded" if rep.accepted else "left in Introcore's lists before the failure"
            console.print(
                f"  {g.value} guest: {rep.total_exceptions} exception(s), {rep.total_signatures} signature(s) {what}",
                highlight=False,
            )
        notes = list(r.windows.notes) + [n for n in r.linux.notes if n not in r.windows.notes] + list(r.notes)
        for d in notes:
            console.print("  " + _render_diag(d), highlight=False, markup=False, style="yellow")
        if counts:
            table = Table(title="objects per Introcore list", title_justify="left")
            table.add_column("list")
            for g in guests:
                table.add_column(g.value, justify="right")
            for name in SCALAR_LISTS:
                table.add_row(name, *(str(r.report(g).counts[name]) for g in guests))
            for name in ("KernelExceptions", "UserExceptions", "KernelUserExceptions"):
                table.add_row(f"{name}[bucket]", *(_buckets(r.report(g).counts.buckets(name)) for g in guests))
            console.print(table)
    sys.exit(EXIT_REFUSED if refused else EXIT_OK)


NAMES_OPTION = click.option(
    "--names",
    "names",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="JSON sources (files or folders; config files too) whose names resolve hashes. Repeatable.",
)
NO_BUILTIN_OPTION = click.option(
    "--no-builtin-names", is_flag=True, help="Do not use the bundled dictionary of common names."
)
CONFIG_OPTION = click.option(
    "-c", "--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Compiler configuration (default: the stock config).",
)


def _resolver(names: tuple[Path, ...], no_builtin: bool) -> NameResolver:
    from hvmiex.namedb import NameResolver

    return NameResolver.from_paths(names, builtin=not no_builtin)


def _config(config_path: Path | None) -> Config:
    from hvmiex.config import load_config

    return load_config(config_path)


def _parse(path: Path) -> ParsedBin:
    from hvmiex.binfile.reader import read_exceptions_bin

    return read_exceptions_bin(path)


@click.command(name="decompile")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the JSON files (created if needed).")
@NAMES_OPTION
@NO_BUILTIN_OPTION
@CONFIG_OPTION
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Compile the written JSON again and compare with FILE byte for byte.")
@FORMAT_OPTION
@handle_errors
def decompile_command(
    file: Path, output: Path, names: tuple[Path, ...], no_builtin_names: bool, config_path: Path | None,
    verify: bool, output_format: str,
) -> None:
    """Turn an exceptions.bin back into exception and signature JSON that `hvmiex build` compiles to the
    same bytes. Unknown names are written as {"hash": "0x..."}, signature ids kept with "id"."""
    from hvmiex.io import atomic_write_text
    from hvmiex.source.writer import decompile, dumps, write_documents

    parsed = _parse(file)
    config = _config(config_path)
    result = decompile(parsed.model, config=config, resolver=_resolver(names, no_builtin_names))
    written = write_documents(output, result.documents)
    config_file = None
    if result.config is not None:
        config_file = output / "build-config.cfg"
        atomic_write_text(config_file, dumps(result.config))
    command = _build_command(result.build, config_file, written, output)
    atomic_write_text(output / "build.txt", command + "\n")
    identical: bool | None = None
    if verify:
        from hvmiex.compiler import compile_set
        from hvmiex.config import load_config

        built = compile_set(written, load_config(config_file) if config_file else config, result.build).data
        identical = built == file.read_bytes()
    notes = list(result.notes)
    if output_format == "json":
        click.echo(json.dumps({
            "file": str(file), "output": str(output), "files": [str(p) for p in written],
            "config": str(config_file) if config_file else None, "build": result.build, "command": command,
            "exact": result.exact, "verified_identical": identical,
            "notes": [n.render() for n in notes],
        }, indent=2))  # fmt: skip
    else:
        console = stdout_console()
        console.print(f"wrote {len(written)} JSON file(s) to {output}", highlight=False)
        console.print(f"rebuild with: {command}", highlight=False, markup=False)
        for n in notes:
            console.print("  " + n.render(), highlight=False, markup=False, style="yellow")
        if identical is True:
            console.print("[green]verified: the rebuild is byte-identical[/]")
        elif identical is False:
            console.print("[red]the rebuild differs from the input (see the notes above)[/]")
    sys.exit(EXIT_REFUSED if identical is False else EXIT_OK)


def _build_command(build: int, config_file: Path | None, files: list[Path], output: Path) -> str:
    parts = ["hvmiex", "build"]
    if config_file is not None:
        parts += ["-c", str(config_file)]
    parts += ["-b", str(build), "-o", "exceptions.bin"]
    parts += [str(p) for p in files]
    return " ".join(parts)
