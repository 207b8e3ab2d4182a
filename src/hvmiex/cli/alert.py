"""``hvmiex alert``: decode serialized (base64) alerts and propose their exceptions."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import click

from hvmiex.cli.common import EXIT_REFUSED, FORMAT_OPTION, handle_errors, stderr_console
from hvmiex.errors import HvmiexError

PROGRESS_THRESHOLD = 200


@click.group(name="alert")
def alert_group() -> None:
    """Decode serialized (base64) alerts and propose their exceptions."""


@dataclass
class _Item:
    where: str
    source: str
    line: int | None
    serializer_id: int | None
    decoded: Any = None  # DecodedViolation
    alert: Any = None  # Alert
    error: HvmiexError | None = None
    warning: str | None = None


def _blob_texts(content: str | None, files: tuple[str, ...]) -> Iterator[Any]:
    from hvmiex.alerts.transport import BlobText, blobs_from_lines

    if content is not None:
        yield BlobText(content, "--content")
    for name in files:
        if name == "-":
            yield from blobs_from_lines(sys.stdin, "<stdin>")
            continue
        with open(name, encoding="utf-8", errors="replace") as handle:
            yield from blobs_from_lines(handle, name)
    if content is None and not files:
        yield from blobs_from_lines(sys.stdin, "<stdin>")


def _decode_items(texts: list[Any], progress: bool) -> list[_Item]:
    from hvmiex.alerts.convert import alert_to_violation
    from hvmiex.alerts.decode import decode_alert
    from hvmiex.alerts.transport import blob_bytes

    items: list[_Item] = []

    def one(text: Any) -> _Item:
        item = _Item(text.where, text.source, text.line, text.serializer_id, warning=text.error)
        try:
            data = blob_bytes(text)
            item.alert = decode_alert(data, text.where)
            item.decoded = alert_to_violation(item.alert, text.where)
        except HvmiexError as exc:
            item.error = exc
        return item

    if progress and len(texts) >= PROGRESS_THRESHOLD:
        from rich.progress import Progress

        with Progress(console=stderr_console(), transient=True) as bar:
            task = bar.add_task("decoding alerts", total=len(texts))
            for text in texts:
                items.append(one(text))
                bar.advance(task)
    else:
        items = [one(t) for t in texts]
    return items


def _summary(item: _Item) -> str:
    from hvmiex.alerts.render import header_line

    dv = item.decoded
    v = dv.violation
    victim = v.victim
    parts = [header_line(item.alert)]
    target = victim.name or (victim.process.name if victim.process else None) or "-"
    parts.append(
        f"  victim: {victim.object_type.json_name} in {victim.zone_type.json_name} zone, "
        f"flags {int(victim.zone_flags):#x}, name '{target}' (hash {victim.name_hash:#010x})"
    )
    orig = v.originator
    if hasattr(orig, "original"):
        o = orig.original
        r = orig.return_
        parts.append(f"  originator: {o.name or '-'} (hash {o.name_hash:#010x}), return {r.name or '-'}")
    else:
        proc = orig.process.name if orig.process else "-"
        parts.append(f"  originator: {orig.name or '-'} (hash {orig.name_hash:#010x}), process {proc}")
    for note in dv.notes:
        parts.append(f"  note: {note}")
    return "\n".join(parts)


def _report_error(item: _Item) -> None:
    from hvmiex.cli.common import render_diagnostics

    assert item.error is not None
    if item.error.diagnostics:
        render_diagnostics(item.error.diagnostics)
    else:
        click.echo(f"hvmiex: {item.where}: {item.error.message}", err=True)


@alert_group.command(name="decode")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-c", "--content", help="One base64 blob (as upstream's deserializer takes it).")
@click.option("-a", "--alert", "show_alert", is_flag=True, help="Print every object with its fields.")
@click.option("-e", "--exception", "show_exception", is_flag=True,
              help="Print the exception and signature JSON Introcore's AddExceptionFromAlert would create.")
@click.option("-o", "--output", "output_dir", type=click.Path(file_okay=False),
              help="With --exception: write the JSON documents into this directory (ready for hvmiex build).")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help=f"Progress bar on stderr for {PROGRESS_THRESHOLD}+ alerts.")
@FORMAT_OPTION
@handle_errors
def decode_command(
    files: tuple[str, ...],
    content: str | None,
    show_alert: bool,
    show_exception: bool,
    output_dir: str | None,
    progress: bool,
    output_format: str,
) -> None:
    """Decode base64 alerts from --content, FILEs or stdin.

    Inputs: one blob per line, or introspection logs whose blobs are logged as
    '[SERIALIZER] Start ...', slices and '[SERIALIZER] End ...' (reassembled). Without --alert or
    --exception, a summary of each alert's violation is printed. Exit 1 when any blob is refused.

    --exception uses Introcore's AddExceptionFromAlert rules (not upstream's deserializer): identical
    exceptions from several alerts are merged, their signatures joined.
    """
    if output_dir is not None and not show_exception:
        raise click.UsageError("--output needs --exception")
    if content is not None and not content.strip():
        raise click.UsageError("--content is empty")
    if content is None and not files and sys.stdin.isatty():
        raise click.UsageError("no input: give --content B64, FILE... or pipe blobs on stdin")
    texts = list(_blob_texts(content, files))
    if not texts:
        raise click.UsageError("no serialized alert found in the input")
    items = _decode_items(texts, progress and sys.stderr.isatty())
    failed = False
    for item in items:
        if item.warning:
            click.echo(f"hvmiex: warning: {item.where}: {item.warning}", err=True)
        if item.error is not None:
            failed = True
            _report_error(item)
    good = [i for i in items if i.error is None]
    proposals = _proposals(good) if show_exception else None
    if proposals is not None and output_dir is not None:
        from hvmiex.source.writer import write_documents

        for path in write_documents(output_dir, proposals["documents"]):
            click.echo(f"wrote {path}", err=True)
    if output_format == "json":
        payload: dict[str, Any] = {"alerts": [_item_json(i, show_alert) for i in items]}
        if proposals is not None:
            payload["exceptions"] = {
                "documents": {d.filename: d.data for d in proposals["documents"]},
                "merged": proposals["merged"],
                "refused": proposals["refused"],
            }
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        _print_text(good, show_alert, proposals, many=len(items) > 1)
    if proposals is not None:
        for line in proposals["refused"]:
            click.echo(f"hvmiex: note: {line}", err=True)
    if failed:
        sys.exit(EXIT_REFUSED)


def _item_json(item: _Item, show_alert: bool) -> dict[str, Any]:
    from hvmiex.alerts.render import alert_json
    from hvmiex.violation import violation_to_dict

    out: dict[str, Any] = {"source": item.source, "line": item.line, "serializer_id": item.serializer_id}
    if item.warning:
        out["warning"] = item.warning
    if item.error is not None:
        out["error"] = item.error.message
        out["diagnostics"] = [d.render() for d in item.error.diagnostics]
        return out
    if show_alert:
        out["alert"] = alert_json(item.alert)
    out["violation"] = violation_to_dict(item.decoded.violation)
    out["conversion_notes"] = list(item.decoded.notes)
    return out


def _print_text(items: list[_Item], show_alert: bool, proposals: dict[str, Any] | None, many: bool) -> None:
    from hvmiex.alerts.render import alert_text

    if show_alert or proposals is None:
        for item in items:
            if many:
                click.echo(f"== {item.where}")
            click.echo(alert_text(item.alert) if show_alert else _summary(item))
    if proposals is not None:
        for merged in proposals["merged"]:
            if merged["count"] > 1:
                click.echo(f"// {merged['count']} alerts merged into one exception: {', '.join(merged['sources'])}")
        for doc in proposals["documents"]:
            click.echo(f"// {doc.filename}")
            click.echo(doc.dumps())


def _proposals(items: list[_Item]) -> dict[str, Any]:
    """Propose (Introcore's AddExceptionFromAlert), merge identical exceptions, render via the writer."""
    from hvmiex.alerts.exceptions_json import proposals_documents
    from hvmiex.alerts.proposals import merge_proposals, propose_from_alert
    from hvmiex.engine.propose import ProposalError

    made: list[tuple[str, Any]] = []
    refused: list[str] = []
    for item in items:
        try:
            made.append((item.where, propose_from_alert(item.decoded)))
        except ProposalError as exc:
            refused.append(f"{item.where}: Introcore creates no exception: {exc.message}")
    merged = merge_proposals(made)
    return {
        "documents": proposals_documents(merged),
        "refused": refused,
        "merged": [{"sources": list(m.sources), "count": m.count} for m in merged],
    }


@alert_group.command(name="encode")
@click.argument("violations", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--log", "as_log", is_flag=True,
              help="Frame each blob as Introcore logs it ([SERIALIZER] Start / 1000-character slices / End).")
@click.option("--event", type=int, default=None, help="Event class for the header (default: from the zone type).")
@handle_errors
def encode_command(violations: tuple[str, ...], as_log: bool, event: int | None) -> None:
    """Make serialized alerts (base64, one per line) from violation JSON files, as Introcore's serializer
    would write them."""
    import base64

    from hvmiex.alerts.encode import encode_violation
    from hvmiex.alerts.transport import serializer_lines
    from hvmiex.violation import load_violations

    ident = 0
    for path in violations:
        for violation in load_violations(path):
            ident += 1
            text = base64.b64encode(encode_violation(violation, event)).decode("ascii")
            if as_log:
                for line in serializer_lines(text, ident):
                    click.echo(line)
            else:
                click.echo(text)
