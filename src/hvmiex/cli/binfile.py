"""``hvmiex check``, ``inspect``, ``decompile`` and ``diff``: reading exceptions.bin files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from hvmiex.cli.common import EXIT_OK, EXIT_REFUSED, FORMAT_OPTION, handle_errors, stdout_console
from hvmiex.errors import Diagnostic

if TYPE_CHECKING:
    from hvmiex.binfile.diff import Side
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
                f"[bold green]{escape(str(r.path))}: Introcore would load this[/] (format {major}.{minor}, build {build})",
                highlight=False,
            )
        else:
            console.print(
                f"[bold red]{escape(str(r.path))}: Introcore would NOT load this[/]: {r.status.status_name} "
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


_EXCEPTION_COLUMNS = ("originator", "victim", "process", "object_type", "flags", "signatures")


@click.command(name="inspect")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@NAMES_OPTION
@NO_BUILTIN_OPTION
@CONFIG_OPTION
@click.option("--list", "lists", multiple=True, type=click.Choice(["kernel", "user", "kernel-user", "glob", "signatures"]),
              help="Show only these tables (repeatable; default all).")
@click.option("--limit", type=int, default=200, show_default=True,
              help="Rows per table in text output (0: all). JSON output always has every row.")
@FORMAT_OPTION
@handle_errors
def inspect_command(
    file: Path, names: tuple[Path, ...], no_builtin_names: bool, config_path: Path | None, lists: tuple[str, ...],
    limit: int, output_format: str,
) -> None:
    """Show what FILE holds: header summary, Introcore's verdict, and a table per list (kernel, user,
    kernel-user, glob, signatures) with names resolved from hashes where possible."""
    from hvmiex.binfile.inspect import LISTS, inspect_json, inspect_parsed
    from hvmiex.binfile.reader import load, parse_exceptions_bin

    data = file.read_bytes()
    result = load(data, str(file))
    parsed = result.parsed
    if parsed is None:
        # show what precedes the damage (header problems still refuse)
        parsed = parse_exceptions_bin(data, str(file), partial=True)
    config = _config(config_path)
    resolver = _resolver(names, no_builtin_names)
    shown = lists or LISTS
    if output_format == "json":
        click.echo(inspect_json(parsed, config=config, resolver=resolver, load=result, lists=shown))
        return
    report = inspect_parsed(parsed, config=config, resolver=resolver, load=result, limit=limit or None)
    console = stdout_console()
    h = report.header
    c, r = h["counts"], h["records"]
    console.print(f"[bold]{escape(str(file))}[/]: exceptions.bin format {h['version']}, build {h['build']}", highlight=False)
    console.print(
        f"  header counts: kernel {c['kernel']}, user {c['user']}, kernel-user {c['kernel_user']}, glob {c['glob']}, "
        f"signatures {c['signatures']}", highlight=False,
    )  # fmt: skip
    if (c["kernel"], c["user"], c["kernel_user"], c["glob"], c["signatures"]) != (
        r["kernel"], r["user"], r["kernel_user"], r["glob"], r["signatures"]
    ):  # fmt: skip
        console.print(f"  [yellow]records in the file differ: {r}[/]", highlight=False)
    intro = h["introcore"]
    verdict = "[green]would load it[/]" if intro["accepted"] else f"[red]would NOT load it ({intro['status_name']})[/]"
    console.print(
        f"  Introcore {verdict}: windows {intro['windows']['exceptions']} exc / {intro['windows']['signatures']} sig, "
        f"linux {intro['linux']['exceptions']} exc / {intro['linux']['signatures']} sig", highlight=False,
    )  # fmt: skip
    for reason in intro["reasons"]:
        console.print("    " + reason, markup=False, highlight=False)
    if parsed.error is not None:
        console.print(Text("  the file is damaged; records up to the damage are shown: " + parsed.error.render(),
                           style="yellow"))  # fmt: skip
    if h["missing_signatures"]:
        console.print(f"  [yellow]referenced but missing signatures: {', '.join(h['missing_signatures'])}[/]")
    if h["unused_signatures"]:
        console.print(f"  unused signatures (kept, upstream quirk Q1): {', '.join(h['unused_signatures'])}")
    for name in LISTS:
        if name not in shown:
            continue
        rows = report.tables[name]
        total = report.header["records"][name.replace("-", "_")]
        if not rows:
            continue
        table = Table(title=f"{name} ({total})", title_justify="left", show_lines=False)
        table.add_column("offset", justify="right", style="dim")
        if name == "signatures":
            for col in ("id", "label", "flags", "used by", "content"):
                table.add_column(col, overflow="fold")
            for row in rows[: limit or None]:
                table.add_row(*map(Text, (
                    f"0x{row['offset']:x}", row["id"], row["label"], " ".join(row["flags"]), str(row["used_by"]),
                    row.get("summary", ""),
                )))  # fmt: skip
        else:
            columns = [col for col in _EXCEPTION_COLUMNS if col != "process" or name != "kernel"]
            if name == "user":
                table.add_column("kind")
            for col in columns:
                table.add_column(col.replace("_", " "), overflow="fold")
            for row in rows[: limit or None]:
                cells = [f"0x{row['offset']:x}"]
                if name == "user":
                    cells.append("apc" if row["kind"] == "user-apc" else "user")
                for col in columns:
                    value = row[col]
                    if col == "flags":
                        value = " ".join(value)
                    elif col == "signatures":
                        value = " ".join(s["label"] + ("" if s["present"] else "(missing)") for s in value)
                    cells.append(str(value))
                table.add_row(*map(Text, cells))
        console.print(table)
        if total > len(rows):
            console.print(f"  ... {total - len(rows)} more row(s) (use --limit 0 or --format json)", highlight=False)
    for row in report.unknown_objects:
        console.print(f"  unknown object type {row['type']} ({row['size']} bytes) at 0x{row['offset']:x}", highlight=False)


def _side(path: Path, config: Config) -> Side:
    from hvmiex.binfile.diff import Side

    if path.is_file():
        with path.open("rb") as handle:
            magic = handle.read(4)
        if magic == b"EXNA":
            return Side(_parse(path).model, str(path), binary=True)
    from hvmiex.compiler import compile_set

    return Side(compile_set([path], config).exception_set, str(path), binary=False)


def _exc_text(row: dict[str, Any]) -> str:
    parts = [f"{row['kind']}: {row['originator']} -> {row['victim']}"]
    if row.get("process") not in (None, "*"):
        parts.append(f"in {row['process']}")
    parts.append(f"[{row['object_type']}]")
    parts.append(" ".join(row["flags"]))
    if row["signatures"]:
        parts.append("sigs: " + "; ".join(row["signatures"]))
    return " ".join(parts)


@click.command(name="diff")
@click.argument("a", type=click.Path(exists=True, path_type=Path))
@click.argument("b", type=click.Path(exists=True, path_type=Path))
@NAMES_OPTION
@NO_BUILTIN_OPTION
@CONFIG_OPTION
@FORMAT_OPTION
@handle_errors
def diff_command(
    a: Path, b: Path, names: tuple[Path, ...], no_builtin_names: bool, config_path: Path | None, output_format: str
) -> None:
    """Semantic difference from A to B (each an exceptions.bin, or a JSON file or folder that is compiled).

    Order-only differences are ignored; signatures are compared by content, not by id.
    Exit status 0 when A and B are equivalent, 1 when they differ.
    """
    from hvmiex.binfile.diff import diff_sets

    config = _config(config_path)
    side_a, side_b = _side(a, config), _side(b, config)
    json_sides = [p for p, s in ((a, side_a), (b, side_b)) if not s.binary]
    resolver = _resolver(tuple(names) + tuple(json_sides), no_builtin_names)
    result = diff_sets(side_a, side_b, config=config, resolver=resolver)
    if output_format == "json":
        click.echo(json.dumps({"a": str(a), "b": str(b), **result.to_dict()}, indent=1))
        sys.exit(EXIT_OK if result.equivalent else EXIT_REFUSED)
    console = stdout_console()

    def line(text: str, style: str = "") -> None:
        console.print(Text(text, style=style))

    for h in result.header:
        line(f"~ header {h['field']}: {h['a']} -> {h['b']}", "yellow")
    for row in result.removed:
        line("- " + _exc_text(row), "red")
    for row in result.added:
        line("+ " + _exc_text(row), "green")
    for ch in result.changed:
        line("~ " + _exc_text(ch["exception"]), "yellow")
        if "flags" in ch:
            f = ch["flags"]
            line(f"    flags: +{' +'.join(f['added']) or ''} -{' -'.join(f['removed']) or ''}".rstrip(" +-"), "yellow")
        if "signatures" in ch:
            for s in ch["signatures"]["removed"]:
                line(f"    - signature {s}", "red")
            for s in ch["signatures"]["added"]:
                line(f"    + signature {s}", "green")
    for row in result.signatures_removed:
        line(f"- signature {row['label']} ({row['kind']}) {row.get('summary', '')}", "red")
    for row in result.signatures_added:
        line(f"+ signature {row['label']} ({row['kind']}) {row.get('summary', '')}", "green")
    for ch in result.signatures_changed:
        line(f"~ signature {ch['id']} ({ch['a']['kind']}): {', '.join(ch['fields'])}", "yellow")
        line(f"    A: {ch['a'].get('summary', '')}", "red")
        line(f"    B: {ch['b'].get('summary', '')}", "green")
    for note in result.notes:
        line("note: " + note, "dim")
    if result.equivalent:
        line(f"{a} and {b} are equivalent", "bold green")
    else:
        total = len(result.added) + len(result.removed) + len(result.changed)
        sig_total = len(result.signatures_added) + len(result.signatures_removed) + len(result.signatures_changed)
        line(f"{total} exception difference(s), {sig_total} signature difference(s)", "bold")
    sys.exit(EXIT_OK if result.equivalent else EXIT_REFUSED)
