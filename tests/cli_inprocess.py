"""The `garde` command line run inside the test's process, answering like a subprocess.

A `python -m garde` subprocess spends about a second importing before its command runs;
the CLI walk-throughs ran dozens each. Where the process boundary is not what a test is
about, `run_garde` invokes the same click group with click's CliRunner (argument parsing,
error translation and exit codes as `main` gives them) and returns a
`subprocess.CompletedProcess` with the exit code, stdout and stderr kept apart. Tests of
the boundary itself (processes racing, signals, `serve`) keep real subprocesses.
"""

from __future__ import annotations

import logging
import subprocess
import traceback
from typing import TYPE_CHECKING

from click.testing import CliRunner

from garde.cli import main

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# Loggers `garde.cli._common.configure_logging` sets a level on: put back afterwards.
_TUNED_LOGGERS = ("", "pynetdicom", "apscheduler", "alembic")


def run_garde(
    args: Sequence[str],
    *,
    env: Mapping[str, str | None] | None = None,
    input: str | None = None,  # noqa: A002 - CliRunner's name for stdin
) -> subprocess.CompletedProcess[str]:
    """Run `garde *args` in-process; ``env`` is set (None: unset) for the command only.

    The command configures the root logger (to the runner's stderr): the test's own logging
    is put back afterwards. A crash's traceback is appended to stderr, as Python prints it.
    """
    loggers = [logging.getLogger(name) for name in _TUNED_LOGGERS]
    saved = [(logger, logger.handlers[:], logger.level) for logger in loggers]
    try:
        result = CliRunner().invoke(main, list(args), env=env, input=input)
    finally:
        for logger, handlers, level in saved:
            logger.handlers[:] = handlers
            logger.setLevel(level)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(["garde", *args], result.exit_code, result.stdout, stderr)
