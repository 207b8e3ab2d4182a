"""``hvmiex lint``: check exception JSON for mistakes and upstream pitfalls."""

from __future__ import annotations

import sys

import click

from hvmiex.cli.common import EXIT_OK, EXIT_REFUSED, handle_errors


def _list_checks() -> None:
    from hvmiex.lint.render import rule_table

    for code, name, severity, title in rule_table():
        click.echo(f"{code}  {severity:<7}  {name:<28}  {title}")


@click.command(name="lint")
@click.argument("paths", nargs=-1, type=click.Path(exists=False, dir_okay=True, file_okay=True))
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Configuration file (default: the stock config bundled with hvmiex).")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "sarif"]), default="text",
              show_default=True, help="Output for people (text), scripts (json) or code scanning (sarif).")
@click.option("--select", "select", multiple=True, metavar="CODES",
              help="Only these codes or prefixes, comma-separated (e.g. HX1,HX202). Repeatable.")
@click.option("--ignore", "ignore", multiple=True, metavar="CODES",
              help="Skip these codes or prefixes, comma-separated. Repeatable.")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), default=None,
              help="Write the report to this file instead of standard output.")
@click.option("--list-checks", is_flag=True, help="List every check with its code and severity, then exit.")
@handle_errors
def lint_command(
    paths: tuple[str, ...],
    config_path: str | None,
    output_format: str,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    output: str | None,
    list_checks: bool,
) -> None:
    """Check exception and signature JSON (files or folders) for mistakes and upstream pitfalls.

    Exit status 1 when an error-severity finding is reported, 0 otherwise. Suppress a finding for one
    exception with a `// hvmiex: disable=HX101` comment on its line or the line before, or with a field
    `"hvmiex-disable": ["HX101"]`.
    """
    if list_checks:
        _list_checks()
        return
    if not paths:
        raise click.UsageError("give at least one JSON file or folder")
    from hvmiex.io import atomic_write_text
    from hvmiex.lint import lint_paths
    from hvmiex.lint.render import render

    result = lint_paths(list(paths), config_path, select=select, ignore=ignore)
    text = render(result, output_format)
    if output is not None:
        atomic_write_text(output, text)
    else:
        click.echo(text, nl=False)
    sys.exit(EXIT_REFUSED if result.errors else EXIT_OK)
