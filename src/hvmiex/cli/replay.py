"""``hvmiex replay``: run logged or alerted violations through the engine loaded from an exceptions.bin."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from hvmiex.cli.common import FORMAT_OPTION, handle_errors, stderr_console, stdout_console

PROGRESS_BYTES = 4 << 20  # show a progress bar from this much input on (when stderr is a terminal)


def _version(text: str | None, parts: int, option: str) -> tuple[int, int, int, int] | None:
    if text is None:
        return None
    try:
        values = [int(p, 0) for p in text.replace("-", ".").split(".")]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a dotted version such as 1.133.0.186", param_hint=option) from None
    if not 1 <= len(values) <= parts or any(v < 0 for v in values):
        raise click.BadParameter(f"{text!r}: give 1 to {parts} non-negative numbers", param_hint=option)
    values += [0] * (4 - len(values))
    return (values[0], values[1], values[2], values[3])


def _resolver(names: tuple[Path, ...], no_builtin: bool) -> Any:
    from hvmiex.namedb import NameResolver, harvest_names
    from hvmiex.namedb.resolver import read_names_file

    collected: list[str] = []
    json_like = [p for p in names if p.is_dir() or p.suffix.lower() in (".json", ".jsonc")]
    collected.extend(harvest_names(json_like))
    for p in names:
        if p not in json_like:
            collected.extend(read_names_file(p))
    return NameResolver(collected, builtin=not no_builtin)


def _input_size(path: str) -> int:
    if path == "-":
        return 0
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


@click.command(name="replay")
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "--exceptions", "-e", "exceptions_path", required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The exceptions.bin to replay against.",
)  # fmt: skip
@click.option(
    "--input", "input_kind", type=click.Choice(["auto", "log", "alerts", "violations"]), default="auto",
    show_default=True,
    help="What the inputs are: introspection logs, base64 alerts (one per line, or [SERIALIZER] chunks), "
    "violation JSON; auto looks at each file (gzip is read through).",
)  # fmt: skip
@FORMAT_OPTION
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write an HTML report.")
@click.option(
    "--names", multiple=True, type=click.Path(exists=True, path_type=Path),
    help="Names that resolve exception hashes for display: JSON sources (files or folders) or plain name lists. "
    "Repeatable.",
)  # fmt: skip
@click.option("--no-builtin-names", is_flag=True, help="Do not use the bundled dictionary of common names.")
@click.option(
    "--sources", "-s", multiple=True, type=click.Path(exists=True, path_type=Path),
    help="The exception JSON the .bin was built from: shows file:line of each exception.",
)  # fmt: skip
@click.option("--rows", type=click.IntRange(min=0), default=50, show_default=True,
              help="Violation rows in the text output (JSON and HTML hold them all).")  # fmt: skip
@click.option("--max-rows", type=click.IntRange(min=0), default=200_000, show_default=True,
              help="Violation rows kept for JSON/HTML; later ones are counted only.")  # fmt: skip
@click.option("--os-version", type=click.IntRange(min=0), help="Windows build of the guests (logs do not print it).")
@click.option("--linux-version", help="Linux version of the guests, e.g. 5.15.0 (logs do not print it).")
@click.option("--introcore-version", help="Introcore version that logged, e.g. 1.133.0.186 (logs do not print it).")
@click.option("--progress/--no-progress", "progress", default=None,
              help="Progress bar on stderr (default: on a terminal, for inputs over 4 MiB).")  # fmt: skip
@handle_errors
def replay_command(
    inputs: tuple[str, ...],
    exceptions_path: Path,
    input_kind: str,
    output_format: str,
    html_path: Path | None,
    names: tuple[Path, ...],
    no_builtin_names: bool,
    sources: tuple[Path, ...],
    rows: int,
    max_rows: int,
    os_version: int | None,
    linux_version: str | None,
    introcore_version: str | None,
    progress: bool | None,
) -> None:
    """Replay the violations of INPUTS (logs, alert files or violation JSON; plain or gzip; - = stdin)
    against an exceptions.bin: for each, allowed (by which exception) or blocked (reason), with a summary
    and the exception coverage. Ctrl-C stops and reports what was replayed so far.

    Exit status 0 whatever the verdicts; 1 when the .bin or an input cannot be used.
    """
    from hvmiex.io import atomic_write_text
    from hvmiex.replay import GuestFacts, InputKind, Replayer
    from hvmiex.report import render_html, render_json, text_renderables

    for name in inputs:
        if name != "-" and not os.path.isfile(name):
            raise click.BadParameter(f"{name!r} is not a readable file", param_hint="INPUTS")
    facts = GuestFacts(
        os_version,
        _version(linux_version, 4, "--linux-version"),
        _version(introcore_version, 4, "--introcore-version"),
    )
    replayer = Replayer(
        exceptions_path,
        resolver=_resolver(names, no_builtin_names),
        sources=sources,
        max_items=max_rows,
        environment=facts,
    )
    kind = None if input_kind == "auto" else InputKind(input_kind)
    total = sum(_input_size(n) for n in inputs)
    show = progress if progress is not None else (sys.stderr.isatty() and total >= PROGRESS_BYTES)
    interrupted = False
    try:
        if show:
            _run_with_progress(replayer, inputs, kind, total)
        else:
            for name in inputs:
                for _ in replayer.replay_path(name, kind):
                    pass
    except KeyboardInterrupt:
        interrupted = True
    result = replayer.result(interrupted=interrupted)
    if html_path is not None:
        atomic_write_text(html_path, render_html(result))
    if output_format == "json":
        click.echo(render_json(result))
    else:
        console = stdout_console()
        for renderable in text_renderables(result, rows=rows):
            console.print(renderable)
    if html_path is not None:
        sys.stdout.flush()
        click.echo(f"HTML report written to {html_path}", err=True)


def _run_with_progress(replayer: Any, inputs: tuple[str, ...], kind: Any, total: int) -> None:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[violations]} violations"),
    )
    with Progress(*columns, console=stderr_console(), transient=True) as bar:
        task = bar.add_task("replaying", total=total or None, violations=0)
        done_before = 0
        count = 0
        for name in inputs:
            size = _input_size(name)
            bar.update(task, description=Path(name).name if name != "-" else "<stdin>")

            def tick(n: int, base: int = done_before) -> None:
                bar.update(task, completed=base + n)

            for _ in replayer.replay_path(name, kind, progress=tick):
                count += 1
                if not count & 0x3FF:
                    bar.update(task, violations=count)
            done_before += size
            bar.update(task, completed=done_before, violations=count)
