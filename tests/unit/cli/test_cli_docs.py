"""Every command documents itself: help text and a runnable example (STYLE.md 8)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from garde.cli import main


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
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


def test_unknown_config_is_a_located_usage_error(tmp_path) -> None:
    result = CliRunner().invoke(
        main, ["--config", str(tmp_path / "nope.toml"), "worklist", "-r", "r01"]
    )
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope.toml'}: (file): no such file" in result.output
