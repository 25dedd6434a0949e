"""Every command documents itself: help text and a runnable example (STYLE.md 8)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from garde.cli import COMMANDS as COMMAND_TABLE
from garde.cli import main


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    context = click.Context(group)
    for name in group.list_commands(context):  # the lazily loaded ones too
        command = group.get_command(context, name)
        path = (*prefix, name)
        found.append(path)
        if isinstance(command, click.Group):
            found.extend(_commands(command, path))
    return found


COMMANDS = _commands(main)


def test_the_cli_has_the_foundation_commands() -> None:
    names = {" ".join(c) for c in COMMANDS}
    assert {"serve", "push", "echo", "worklist", "roster import", "db upgrade", "demo"} <= names


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_has_help_and_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "Example: garde" in result.output, f"`garde {' '.join(path)}` has no example"


@pytest.mark.parametrize("name", sorted(COMMAND_TABLE))
def test_the_help_listed_without_importing_is_the_commands_own(name: str) -> None:
    entry = COMMAND_TABLE[name]
    assert entry.short_help == entry.load().get_short_help_str(limit=1000)
    assert entry.load().name == name


def test_unknown_config_is_a_located_usage_error(tmp_path) -> None:
    result = CliRunner().invoke(
        main, ["--config", str(tmp_path / "nope.toml"), "worklist", "-r", "r01"]
    )
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope.toml'}: (file): no such file" in result.output
