"""Text form of a replay result: rich tables for people (summary, coverage, violations)."""

from __future__ import annotations

import io

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from hvmiex.replay import ReplayItem, ReplayResult

DEFAULT_ROWS = 50  # violation rows shown in text (the JSON and HTML forms hold them all)


def _count_table(title: str, header: str, pairs: tuple[tuple[str, int], ...], total: int) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column(header)
    table.add_column("count", justify="right")
    table.add_column("%", justify="right")
    for name, count in pairs:
        table.add_row(Text(name), str(count), f"{100.0 * count / total:.1f}" if total else "-")
    return table


def _verdict(item: ReplayItem) -> Text:
    return Text(item.reason, style="green" if item.allowed else "red")


def _logged(item: ReplayItem) -> Text:
    if item.logged_action is None:
        return Text("-", style="dim")
    reason = item.logged_reason or ("allowed" if item.logged_action == "allowed" else "blocked")
    if item.logged_beta:
        reason += " (B)"
    return Text(reason, style="green" if item.logged_action == "allowed" else "red")


def text_renderables(
    result: ReplayResult, *, rows: int = DEFAULT_ROWS, only_changed: bool = False, coverage: bool = True
) -> list[RenderableType]:
    """The report as rich renderables (for the CLI's console)."""
    s = result.summary
    refs = result.exception_index()
    out: list[RenderableType] = []
    head = Text()
    head.append("replay of ", style="bold")
    head.append(f"{len(result.inputs)} input(s)")
    head.append(" against ", style="bold")
    head.append(result.exceptions_path)
    if result.build is not None:
        head.append(f" (build {result.build})")
    out.append(head)
    line = Text(f"{s.total} violations: ")
    line.append(f"{s.allowed} allowed", style="green")
    line.append(", ")
    line.append(f"{s.blocked} blocked", style="red")
    if s.changed:
        line.append(f", {s.changed} decided otherwise than logged", style="yellow")
    line.append(f" — {result.elapsed:.2f} s")
    out.append(line)
    if result.interrupted:
        out.append(Text("interrupted: the figures cover what was replayed before Ctrl-C", style="bold yellow"))
    for note in result.notes:
        out.append(Text(f"note: {note}", style="yellow"))

    inputs = Table(title="inputs", title_justify="left", show_edge=False)
    for col, justify in (("file", "left"), ("type", "left"), ("bytes", "right"), ("violations", "right"),
                         ("problems", "right")):  # fmt: skip
        inputs.add_column(col, justify=justify)  # type: ignore[arg-type]
    for i in result.inputs:
        inputs.add_row(Text(i.path), i.input.value, f"{i.bytes:,}", str(i.violations), str(i.problems))
    out.append(inputs)

    if s.blocked_by_reason:
        out.append(_count_table("blocked by reason", "reason", s.blocked_by_reason, s.blocked))
    if s.top_processes:
        out.append(_count_table("top processes (blocked)", "process", s.top_processes, s.blocked))
    if s.top_originators:
        out.append(_count_table("top originators (blocked)", "originator", s.top_originators, s.blocked))
    if s.allowed_by_exception:
        table = Table(title="allowed by exception", title_justify="left", show_edge=False)
        table.add_column("#", justify="right")
        table.add_column("exception")
        table.add_column("count", justify="right")
        for index, count in s.allowed_by_exception:
            ref = refs.get(index)
            label = ref.label + (f" ({ref.source})" if ref and ref.source else "") if ref else "alert exception"
            table.add_row(str(index), Text(label), str(count))
        out.append(table)

    if coverage and result.coverage:
        fired, never = result.fired, result.never_fired
        table = Table(
            title=f"exception coverage: {len(fired)} of {len(result.coverage)} fired, {len(never)} never did",
            title_justify="left",
            show_edge=False,
        )
        table.add_column("#", justify="right")
        table.add_column("exception")
        table.add_column("flags")
        table.add_column("hits", justify="right")
        table.add_column("first hit")
        for c in fired + never:
            ref = c.exception
            label = ref.label + (f" ({ref.source})" if ref.source else "")
            table.add_row(
                str(ref.record_index),
                Text(label),
                Text(ref.flags),
                Text(str(c.hits), style="green" if c.hits else "dim"),
                Text(c.first or "never", style="" if c.first else "dim"),
            )
        out.append(table)

    items = [i for i in result.items if i.changed] if only_changed else list(result.items)
    if items and rows:
        shown = items[:rows]
        title = f"violations ({len(shown)} of {len(items) + (0 if only_changed else result.items_dropped)} shown)"
        table = Table(title=title, title_justify="left", show_edge=False)
        table.add_column("#", justify="right")
        table.add_column("where", overflow="fold")
        for col in ("kind", "process", "originator", "victim", "object", "access", "logged", "now"):
            table.add_column(col)
        table.add_column("exception", justify="right")
        for item in shown:
            table.add_row(
                str(item.number),
                Text(item.where),
                item.kind,
                Text(item.process or "-"),
                Text(item.originator or "-"),
                Text(item.victim or "-"),
                Text(item.object_type),
                Text(item.access),
                _logged(item),
                _verdict(item),
                "-" if item.exception is None else f"#{item.exception}",
            )
        out.append(table)

    if result.problems:
        table = Table(title=f"problems ({len(result.problems)})", title_justify="left", show_edge=False)
        table.add_column("where")
        table.add_column("problem")
        for p in result.problems[: max(rows, 1)]:
            table.add_row(Text(f"{p.source}:{p.line}" if p.line is not None else p.source), Text(p.message))
        out.append(table)
    return out


def render_text(result: ReplayResult, *, rows: int = DEFAULT_ROWS, width: int = 160, color: bool = False) -> str:
    """The text report as a string (no colour unless asked)."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=color, no_color=not color, highlight=False)
    console.print(Group(*text_renderables(result, rows=rows)))
    return buffer.getvalue()
