"""The root group: commands loaded only when run, and the CLI's error boundary.

`garde --help` lists every command from `LazyCommand` entries (a name, where the
command lives, its one-line help) without importing a single command module;
`garde worklist` imports the worklist's module and nothing of the others (the
server's Alembic, the previews' numpy and Pillow, the roster solver...). A test keeps
each entry's help equal to its command's. Commands may also be added the usual way
(``main.add_command``).

Errors: no traceback reaches a user. Whatever a command did not translate itself
becomes one line naming the problem and the fix (`garde.cli._errors.one_line`), exit
1; ``-vv`` lets the traceback through.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from garde.cli._errors import one_line

if TYPE_CHECKING:
    from collections.abc import Mapping

logger = logging.getLogger(__name__)

TRACEBACK_VERBOSITY = 2
"""``-vv``: let the exception through, traceback and all."""


@dataclass(frozen=True, slots=True)
class LazyCommand:
    """A command known by name, imported from ``target`` (``module:attribute``) when run."""

    target: str
    short_help: str

    def load(self) -> click.Command:
        """Import the command."""
        module, _, attribute = self.target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):  # pragma: no cover - a wrong table entry
            raise TypeError(f"{self.target} is not a click command")
        return command


class GardeGroup(click.Group):
    """Lazily loaded commands, and one line (exit 1) for any error a command let through."""

    def __init__(
        self, *args: Any, lazy: Mapping[str, LazyCommand] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, LazyCommand] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:  # noqa: ARG002 - click's signature
        """Every command's name, loaded or not."""
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:  # noqa: ARG002
        """The command, imported on first use."""
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(self.lazy[cmd_name].load(), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, from the table: nothing is imported for it."""
        names = self.list_commands(ctx)
        # As click does: one line each, cut to what the terminal leaves beside the names.
        limit = formatter.width - 6 - max(map(len, names), default=0)
        rows: list[tuple[str, str]] = []
        for name in names:
            if name in self.commands:
                command = self.commands[name]
                if command.hidden:
                    continue
                rows.append((name, command.get_short_help_str(limit)))
            else:
                # A stand-in with the same help cuts it exactly as the command would.
                stand_in = click.Command(name, help=self.lazy[name].short_help)
                rows.append((name, stand_in.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; translate what it did not."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # The reader left (`garde status | head`): stop quietly, as Unix tools do.
            _silence_stdout()
            raise click.exceptions.Exit(SIGPIPE_EXIT) from None
        except Exception as exc:
            if ctx.params.get("verbose", 0) >= TRACEBACK_VERBOSITY:
                raise
            # STYLE.md asks a catch-all to call logger.exception; that would print the
            # very traceback the user must not see: DEBUG (shown with -vv) instead.
            logger.debug("command failed", exc_info=True)
            raise click.ClickException(one_line(exc, ctx.obj)) from None


SIGPIPE_EXIT = 141
"""A shell's status for a writer whose reader left (128 + SIGPIPE)."""


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real descriptor (a test runner's capture)
        pass
