"""``hvmiex log``: list the violations of introspection logs, propose exceptions for them."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from hvmiex.cli.common import handle_errors, stderr_console, stdout_console

_FILTERS = ("process", "originator", "victim", "reason", "mode")


def _progress(total: int | None) -> Any:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=stderr_console(),
        transient=True,
        disable=not stderr_console().is_terminal,
    )


def _size(path: str) -> int:
    try:
        return 0 if path == "-" else os.path.getsize(path)
    except OSError:
        return 0


@click.group(name="log", context_settings={"help_option_names": ["-h", "--help"]})
def log_group() -> None:
    """Parse introspection logs (plain, gzip or '-' for stdin) and propose exceptions."""


def _match(value: str | None, wanted: tuple[str, ...]) -> bool:
    if not wanted:
        return True
    text = (value or "-").lower()
    return any(w.lower() == text for w in wanted)


def _row(lv: Any) -> dict[str, Any]:
    v = lv.violation
    return {
        "source": lv.source,
        "line": lv.first_line,
        "last_line": lv.last_line,
        "guest": lv.guest,
        "mode": lv.mode.value,
        "os": v.env.os.value,
        "process": lv.process,
        "originator": lv.originator,
        "victim": lv.victim,
        "object": v.victim.object_type.json_name,
        "zone": v.victim.zone_type.json_name,
        "access": [n for n in ("write", "read", "execute") if v.victim.zone_flags & _ZONE_BITS[n]],
        "reason": lv.reason,
        "beta": lv.beta,
        "exports": list(lv.exports),
        "codeblocks": len(lv.codeblocks.hashes) if lv.codeblocks is not None else 0,
        "problems": list(lv.problems),
    }


_ZONE_BITS = {"write": 0x1000_0000, "read": 0x2000_0000, "execute": 0x4000_0000}


@log_group.command(name="violations")
@click.argument("logs", nargs=-1, required=True, type=click.Path(path_type=str, allow_dash=True))
@click.option("--format", "output_format", type=click.Choice(["text", "json", "jsonl"]), default="text",
              show_default=True, help="A table for people, JSON or JSON lines for scripts.")
@click.option("--process", multiple=True, help="Only violations in this process (repeatable).")
@click.option("--originator", multiple=True, help="Only this originator (base name, '[kernel]', '-').")
@click.option("--victim", multiple=True, help="Only this victim (base name).")
@click.option("--reason", multiple=True, help="Only this reason (no-exception, signature-not-matched, ...).")
@click.option("--mode", type=click.Choice(["kernel", "user", "kernel-user"]), multiple=True,
              help="Only this exception type.")
@handle_errors
def violations_command(logs: tuple[str, ...], output_format: str, process: tuple[str, ...],
                       originator: tuple[str, ...], victim: tuple[str, ...], reason: tuple[str, ...],
                       mode: tuple[str, ...]) -> None:  # fmt: skip
    """List the violations of LOGS."""
    from hvmiex.logs.blocks import LogStats
    from hvmiex.logs.parse import LogViolation, parse_log

    stats = LogStats()
    rows: list[dict[str, Any]] = []
    skipped: list[Any] = []
    out = sys.stdout
    interrupted = False
    total = sum(_size(p) for p in logs)
    done_before = 0

    def wanted(lv: LogViolation) -> bool:
        return (
            _match(lv.process, process)
            and _match(lv.originator, originator)
            and _match(lv.victim, victim)
            and _match(lv.reason, reason)
            and (not mode or lv.mode.value in mode)
        )

    with _progress(total) as bar:
        task = bar.add_task("parsing", total=total or None)
        try:
            for path in logs:

                def tick(n: int, base: int = done_before) -> None:
                    bar.update(task, completed=base + n)

                for item in parse_log(path, stats, tick):
                    if not isinstance(item, LogViolation):
                        skipped.append(item)
                        continue
                    if not wanted(item):
                        continue
                    row = _row(item)
                    if output_format == "jsonl":
                        out.write(json.dumps(row) + "\n")
                    else:
                        rows.append(row)
                done_before += _size(path)
        except KeyboardInterrupt:
            interrupted = True
    if output_format == "json":
        doc = {
            "violations": rows,
            "stats": _stats(stats),
            "skipped": [_skipped(s) for s in skipped],
            "interrupted": interrupted,
        }
        out.write(json.dumps(doc, indent=2) + "\n")
    elif output_format == "text":
        _table(rows)
    _summary(stats, skipped, interrupted, len(rows) if output_format != "jsonl" else None)


def _stats(stats: Any) -> dict[str, Any]:
    return {
        "lines": stats.lines,
        "bytes": stats.bytes,
        "blocks": stats.blocks,
        "skipped": stats.skipped,
        "unplaced": dict(sorted(stats.unplaced.items())),
    }


def _skipped(s: Any) -> dict[str, Any]:
    return {"source": s.source, "guest": s.guest, "first_line": s.first_line, "line": s.line, "reason": s.reason}


def _table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=False)
    for col in ("line", "mode", "process", "originator", "victim", "object", "access", "reason"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(*(Text(x) for x in (
            f"{Path(r['source']).name}:{r['line']}",
            r["mode"],
            r["process"] or "",
            r["originator"] or "",
            r["victim"] or "",
            r["object"],
            ",".join(r["access"]),
            r["reason"] + (" (B)" if r["beta"] else ""),
        )))
    console = stdout_console()
    if not console.is_terminal:
        console = Console(soft_wrap=True, width=200)
    console.print(table)


def _summary(stats: Any, skipped: list[Any], interrupted: bool, shown: int | None) -> None:
    err = stderr_console()
    parts = [f"{stats.blocks} block(s)", f"{stats.lines} line(s)"]
    if shown is not None:
        parts.insert(0, f"{shown} shown")
    if stats.skipped:
        parts.append(f"{stats.skipped} malformed block(s) skipped")
    err.print("hvmiex log: " + ", ".join(parts))
    for s in skipped[:20]:
        err.print(f"  skipped {s.source}:{s.first_line} (line {s.line}): {s.reason}", markup=False)
    if stats.unplaced:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(stats.unplaced.items()))
        err.print(f"  lines outside any block: {kinds}", markup=False)
    if interrupted:
        err.print("hvmiex log: interrupted; the output above covers what was read so far")


def _iter_paths(logs: tuple[str, ...]) -> Iterator[str]:
    for p in logs:
        path = Path(p)
        if path.is_dir():
            yield from sorted(str(x) for x in path.rglob("*") if x.is_file())
        else:
            yield p


@log_group.command(name="propose")
@click.argument("logs", nargs=-1, required=True, type=click.Path(path_type=str, allow_dash=True))
@click.option("-o", "--output", "output", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Write the JSON files into this folder (default: print them).")
@click.option("--jobs", "-j", type=int, default=1, show_default=True, help="Worker processes (one log each).")
@click.option("--dask", "dask_scheduler", default=None, metavar="SCHEDULER",
              help="Run the same map/merge on a Dask cluster (scheduler address).")
@click.option("--exact", is_flag=True,
              help="Exactly what AddExceptionFromAlert creates (no observed-architecture / export refinements).")
@click.option("--prefix", default="log", show_default=True, help="File name and sig_id prefix.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Summary for people or a JSON report (the JSON files themselves are always JSON).")
@handle_errors
def propose_command(logs: tuple[str, ...], output: str | None, jobs: int, dask_scheduler: str | None, exact: bool,
                    prefix: str, output_format: str) -> None:  # fmt: skip
    """Propose deduplicated exceptions for every violation of LOGS (spec 04 §10, AddExceptionFromAlert)."""
    from hvmiex.io import atomic_write_text
    from hvmiex.logs.mine import MineResult, mine_dask, mine_paths, result_documents

    paths = list(_iter_paths(logs))
    if jobs < 1:
        raise click.BadParameter("must be at least 1", param_hint="--jobs")
    sizes = [_size(p) for p in paths]
    total = sum(sizes)
    result: MineResult
    if dask_scheduler is not None:
        result = mine_dask(paths, dask_scheduler, exact=exact)
    else:
        with _progress(total) as bar:
            task = bar.add_task("mining", total=total or None)
            done: dict[int, int] = {}

            def on_done(i: int, _part: MineResult) -> None:
                done[i] = sizes[i]
                bar.update(task, completed=sum(done.values()))

            def progress(i: int, n: int) -> None:
                bar.update(task, completed=sum(done.values()) + n)

            try:
                result = mine_paths(paths, jobs=jobs, exact=exact, on_done=on_done, progress=progress)
            except KeyboardInterrupt:
                result = MineResult(interrupted=True)
    documents = result_documents(result, prefix=prefix)
    if output is not None:
        Path(output).mkdir(parents=True, exist_ok=True)
        for name, text in documents:
            atomic_write_text(Path(output) / name, text)
    elif output_format == "text":
        for name, text in documents:
            click.echo(f"// ---- {name}")
            click.echo(text, nl=False)
    report = {
        "logs": len(paths),
        "violations": result.violations,
        "exceptions": len(result.exceptions),
        "unsupported": result.unsupported,
        "skipped": [_skipped(s) for s in result.skipped],
        "stats": _stats(result.stats),
        "files": [name for name, _ in documents],
        "interrupted": result.interrupted,
    }
    if output_format == "json":
        if output is None:
            report["documents"] = dict(documents)
        click.echo(json.dumps(report, indent=2))
    err = stderr_console()
    err.print(
        f"hvmiex log propose: {result.violations} violation(s) -> {len(result.exceptions)} exception(s)"
        + (f" in {output}" if output else ""),
        markup=False,
    )
    for message, count in sorted(result.unsupported.items()):
        err.print(f"  no exception for {count} violation(s): {message}", markup=False)
    if result.skipped:
        err.print(f"  {len(result.skipped)} malformed block(s) skipped", markup=False)
    if result.interrupted:
        err.print("hvmiex log propose: interrupted; the files hold what was mined so far", markup=False)
