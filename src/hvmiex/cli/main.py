"""Entry point of the ``hvmiex`` command.

Sub-commands live in their own modules and are imported only when used, so that
``hvmiex build`` does not pay for the engine, the alert decoder or the log parser.
"""

from __future__ import annotations

import importlib

import click

from hvmiex import __version__

# command name -> "module:attribute" (a click.Command or click.Group)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "build": ("hvmiex.cli.build", "build_command", "Compile exception and signature JSON into exceptions.bin."),
    "crc32": ("hvmiex.cli.build", "crc32_command", "HVMI's CRC32 of text, wide text or a file."),
    "check": ("hvmiex.cli.binfile", "check_command", "Would Introcore load this exceptions.bin?"),
    "inspect": ("hvmiex.cli.binfile", "inspect_command", "Show what an exceptions.bin holds."),
    "decompile": ("hvmiex.cli.binfile", "decompile_command", "Turn an exceptions.bin back into JSON."),
    "diff": ("hvmiex.cli.binfile", "diff_command", "Semantic difference of two exception sets."),
    "lint": ("hvmiex.cli.lint", "lint_command", "Check exception JSON for mistakes and upstream pitfalls."),
    "decide": ("hvmiex.cli.engine", "decide_command", "What would Introcore decide for a violation?"),
    "replay": ("hvmiex.cli.replay", "replay_command", "Replay logs or alerts against an exceptions.bin."),
    "alert": ("hvmiex.cli.alert", "alert_group", "Decode serialized (base64) alerts."),
    "log": ("hvmiex.cli.log", "log_group", "Parse introspection logs and propose exceptions."),
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attribute = entry[0], entry[1]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return _unavailable(cmd_name, entry[2])
            raise
        command = getattr(module, attribute)
        assert isinstance(command, click.Command)
        return command


def _unavailable(name: str, help_text: str) -> click.Command:
    @click.command(name=name, help=help_text + " (not available in this build)")
    def stub() -> None:
        raise click.UsageError(f"'hvmiex {name}' is not available in this build")

    return stub


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hvmiex")
def main() -> None:
    """hvmiex: build, read, test and mine HVMI exceptions."""


if __name__ == "__main__":  # pragma: no cover
    main()
