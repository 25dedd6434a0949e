"""The `garde` command line: thin click commands, each calling one service.

Examples::

    garde --config region.toml db upgrade
    garde --config region.toml serve
    garde push --host 127.0.0.1 --port 11112 --aet VIENNE_CT ./exam/
    garde worklist --radiologist r01 --json
"""

from __future__ import annotations

from pathlib import Path

import click

from garde import __version__
from garde.cli._common import CliState, configure_logging
from garde.cli._errors import GardeGroup
from garde.cli.dicom_commands import echo, push
from garde.cli.night_commands import demo
from garde.cli.operator_commands import OPERATOR_COMMANDS
from garde.cli.preview_commands import preview
from garde.cli.reading_commands import READING_COMMANDS
from garde.cli.roster_commands import roster
from garde.cli.server_commands import db, reload_command, serve
from garde.cli.status_commands import status
from garde.cli.user_commands import user
from garde.cli.worklist_commands import worklist


@click.group(cls=GardeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(path_type=Path),
    envvar="GARDE_CONFIG",
    help="Settings TOML file (default: the embedded example region). Env: GARDE_CONFIG.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data folder (database, storage), e.g. data/demo after `make demo`. Env: GARDE_DATA_DIR.",
)
@click.option(
    "-v", "--verbose", count=True, help="More log output (-v: INFO, -vv: debug and tracebacks)."
)
@click.option("-q", "--quiet", count=True, help="Less log output.")
@click.option("--log-level", default=None, help="Explicit level: DEBUG, INFO, WARNING, ERROR.")
@click.version_option(__version__, prog_name="garde")
@click.pass_context
def main(
    ctx: click.Context,
    config_path: Path | None,
    data_dir: Path | None,
    verbose: int,
    quiet: int,
    log_level: str | None,
) -> None:
    """Garde: regional teleradiology on-call dispatch.

    Example: garde --config region.toml serve
    """
    configure_logging(verbose, quiet, log_level, service=ctx.invoked_subcommand == "serve")
    state = CliState(config_path, data_dir)
    ctx.obj = state
    ctx.call_on_close(state.close)


for command in (serve, db, push, echo, worklist, roster, demo, preview):
    main.add_command(command)
for command in (status, reload_command):
    main.add_command(command)
for command in (*READING_COMMANDS, *OPERATOR_COMMANDS, user):
    main.add_command(command)
