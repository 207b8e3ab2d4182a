"""``hvmiex decide``: what Introcore would decide for violations, and why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from hvmiex.cli.common import FORMAT_OPTION, handle_errors, stdout_console


def _name_table(v: Any) -> dict[int, str]:
    """Names the violation itself carries, by hash, to render exception fields readably."""
    names: dict[int, str] = {}
    for value, text in v.carried_names():
        names.setdefault(value, text)
    return names


_PREDEFINED = {0: "*", 1: "[own]", 2: "[kernel]", 3: "[hal]", 4: "-", 0xFFFFFFFF: "<none>"}


def _label(value: int | str, names: dict[int, str], um: bool) -> str:
    if isinstance(value, str):
        return repr(value)
    if value in names:
        return names[value]
    if um and value == 2:
        return "[vdso]"
    if um and value == 3:
        return "[vsyscall]"
    return _PREDEFINED.get(value, f"0x{value:08x}")


def describe_exception(info: Any, names: dict[int, str]) -> str:
    from hvmiex.engine.verdict import ExceptionKindTag
    from hvmiex.model import STOCK_KERNEL_TYPE_NAMES, STOCK_KERNEL_USER_TYPE_NAMES, STOCK_USER_TYPE_NAMES

    kind = info.kind
    um = kind in (ExceptionKindTag.UM, ExceptionKindTag.UMG)
    table = {ExceptionKindTag.KM: STOCK_KERNEL_TYPE_NAMES, ExceptionKindTag.KUM: STOCK_KERNEL_USER_TYPE_NAMES}.get(
        kind, STOCK_USER_TYPE_NAMES
    )
    parts = [_label(info.originator, names, um), _label(info.victim, names, um)]
    if info.process is not None:
        parts.append(_label(info.process, names, um))
    parts.append(str(table.get(info.object_type, info.object_type)))
    where = f"{info.list_name} #{info.index}"
    if info.record_index is not None:
        where += f", record #{info.record_index}"
    if info.alert:
        where += ", alert exception"
    if info.source:
        where += f", {info.source}"
    kind_name = {"km": "kernel", "um": "user", "umg": "user-glob", "kum": "kernel-user"}[kind.value]
    return f"{kind_name} {'/'.join(parts)} flags 0x{info.flags:08x} ({where})"


def explain(verdict: Any, names: dict[int, str]) -> str:
    """One line a person can follow: verdict, reason, and the candidate that decided."""
    head = f"{'allowed' if verdict.allowed else 'blocked'}: {verdict.reason.json_name}"
    if verdict.note:
        return f"{head} — {verdict.note}"
    d = verdict.deciding
    if d is None:
        n = len(verdict.candidates)
        return f"{head} — no exception passed the name/flag checks ({n} candidate(s) tried)"
    return f"{head} — exception {describe_exception(d.exception, names)}: {d.why}"


@click.command(name="decide")
@click.argument("violations", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--exceptions", "-e", "exceptions_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The exceptions.bin to load (without it Introcore runs log-only: everything is allowed).",
)  # fmt: skip
@click.option(
    "--sources", "-s", multiple=True, type=click.Path(exists=True, path_type=Path),
    help="The exception JSON the .bin was built from (shows file:line of matched exceptions).",
)  # fmt: skip
@click.option("--candidates/--no-candidates", default=False, help="List every candidate tried, in order.")
@click.option("--propose", is_flag=True, help="Print the exception + signature JSON AddExceptionFromAlert would create.")
@FORMAT_OPTION
@handle_errors
def decide_command(
    violations: tuple[Path, ...],
    exceptions_path: Path | None,
    sources: tuple[Path, ...],
    candidates: bool,
    propose: bool,
    output_format: str,
) -> None:
    """What would Introcore decide for each violation in VIOLATIONS (JSON files, see docs/engine.md)?

    Exit status 0 when every file was read (whatever the verdicts), 1 on unreadable input.
    """
    from hvmiex.engine import Engine, UpdateStatus
    from hvmiex.engine.core import EngineError
    from hvmiex.violation import GuestOS, load_violations

    loaded = [(path, v) for path in violations for v in load_violations(path)]
    engines: dict[GuestOS, Engine] = {}
    compiled = None
    if sources:
        from hvmiex.compiler import compile_set

        compiled = compile_set(list(sources)).exception_set

    def engine_for(os: GuestOS) -> Engine:
        eng = engines.get(os)
        if eng is None:
            eng = Engine(os)
            if exceptions_path is not None:
                result = eng.update_exceptions(exceptions_path)
                if result.status is UpdateStatus.REJECTED:
                    raise EngineError(
                        f"{exceptions_path}: Introcore refuses this file for a {os.value} guest: {result.message}",
                        result.load.report.reasons if result.load else (),
                    )
                if result.status is UpdateStatus.FAILED:
                    click.echo(
                        f"hvmiex: warning: Introcore could not load {exceptions_path} for a {os.value} guest "
                        f"({result.message}); it runs as if no exceptions were loaded",
                        err=True,
                    )
                if compiled is not None:
                    eng.attach_sources(compiled)
            engines[os] = eng
        return eng

    results: list[dict[str, Any]] = []
    console = stdout_console()
    for path, v in loaded:
        verdict = engine_for(v.env.os).decide(v)
        names = _name_table(v)
        label = v.origin.label if v.origin and v.origin.label else (v.origin.path if v.origin else str(path))
        entry: dict[str, Any] = {"violation": label, "verdict": verdict.to_dict(), "explanation": explain(verdict, names)}
        if not candidates and output_format == "json":
            entry["verdict"].pop("candidates")
        if propose:
            entry["proposal"] = _proposal(v)
        results.append(entry)
        if output_format == "text":
            style = "green" if verdict.allowed else "red"
            # user text (names like "[own]", paths) must not be read as rich markup
            console.print(f"[bold]{escape(str(label))}[/]: [{style}]{escape(entry['explanation'])}[/]", highlight=False)
            for w in verdict.warnings:
                console.print(f"  warning: {w}", style="yellow", highlight=False, markup=False)
            if candidates:
                for i, c in enumerate(verdict.candidates, 1):
                    console.print(
                        f"  {i:2}. [{c.phase}] {c.result.value:<11} {describe_exception(c.exception, names)}: {c.why}",
                        highlight=False,
                        markup=False,
                    )
            if propose:
                p = entry["proposal"]
                if "error" in p:
                    console.print(f"  proposal: none ({p['error']})", highlight=False, markup=False)
                else:
                    for fname, text in p["files"].items():
                        console.print(f"  --- {fname}", highlight=False, markup=False)
                        console.print(text, highlight=False, markup=False)
    if output_format == "json":
        click.echo(json.dumps(results[0] if len(results) == 1 else results, indent=2))


def _proposal(v: Any) -> dict[str, Any]:
    from hvmiex.engine.propose import ProposalError, propose

    try:
        p = propose(v)
    except ProposalError as exc:
        return {"error": exc.message}
    out: dict[str, Any] = {"list": p.list.value, "notes": list(p.notes)}
    try:
        from hvmiex.source.writer import write_json_text

        out["files"] = write_json_text([p.exception], p.signatures)
    except ImportError:  # pragma: no cover - writer always present in full builds
        out["files"] = {}
    return out
