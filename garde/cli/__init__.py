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
from garde.cli._group import GardeGroup, LazyCommand

COMMANDS = {
    # name: where it lives, and its one-line help for `garde --help` (a test keeps it
    # equal to the command's own). Imported only when run: see `garde.cli._group`.
    "serve": LazyCommand(
        "garde.cli.server_commands:serve",
        "Run the gateway, dispatcher and scheduler until SIGTERM.",
    ),
    "db": LazyCommand("garde.cli.server_commands:db", "Database schema management."),
    "push": LazyCommand(
        "garde.cli.dicom_commands:push",
        "Send DICOM files and folders (recursively) with C-STORE.",
    ),
    "echo": LazyCommand(
        "garde.cli.dicom_commands:echo",
        "Check the link with a C-ECHO (DICOM verification).",
    ),
    "worklist": LazyCommand(
        "garde.cli.worklist_commands:worklist",
        "Show a radiologist's studies, most urgent first; late ones in red, at risk in yellow.",
    ),
    "roster": LazyCommand(
        "garde.cli.roster_commands:roster",
        "Roster import (merged), one-shift edits, validation, generation and export.",
    ),
    "demo": LazyCommand(
        "garde.cli.night_commands:demo",
        "Run a whole synthetic night: push, store, triage, route, preview, read.",
    ),
    "preview": LazyCommand(
        "garde.cli.preview_commands:preview",
        "Render previews and a static study page for a stored study or a DICOM folder.",
    ),
    "status": LazyCommand(
        "garde.cli.status_commands:status",
        "Show queues per radiologist, studies at risk and the night's SLA figures so far.",
    ),
    "reload": LazyCommand(
        "garde.cli.server_commands:reload_command",
        "Make every running `garde serve` on this store re-read its config and roster.",
    ),
    "next": LazyCommand(
        "garde.cli.reading_commands:next_study",
        "Claim and start the most urgent study you may read (atomic: never given twice).",
    ),
    "claim": LazyCommand(
        "garde.cli.reading_commands:claim",
        "Take a pending study (or another's, not yet started) into your worklist.",
    ),
    "start": LazyCommand(
        "garde.cli.reading_commands:start", "Start reading one of your assigned studies."
    ),
    "done": LazyCommand(
        "garde.cli.reading_commands:done",
        "Mark a study you are reading as read, with an optional report reference.",
    ),
    "release": LazyCommand(
        "garde.cli.reading_commands:release",
        "Hand a study back to the router, which gives it to someone else (never you).",
    ),
    "open": LazyCommand(
        "garde.cli.reading_commands:open_study",
        "Print a study's viewer URL (yours, or from a hospital you are credentialed for).",
    ),
    "explain": LazyCommand(
        "garde.cli.reading_commands:explain",
        "Print why a study is with whom it is (the stored explanation of its assignment).",
    ),
    "assign": LazyCommand(
        "garde.cli.operator_commands:assign",
        "Give a study to a radiologist by hand, pinned (operators; audited and explained).",
    ),
    "studies": LazyCommand(
        "garde.cli.operator_commands:studies",
        "List the studies in a state, oldest first (operators).",
    ),
    "audit": LazyCommand(
        "garde.cli.operator_commands:audit",
        "Print the audit trail of a study, a radiologist or an actor, oldest first"
        " (refused attempts included).",
    ),
    "unpin": LazyCommand(
        "garde.cli.operator_commands:unpin",
        "End an operator's pin: the router's moves may take the study again (operators).",
    ),
    "ack": LazyCommand(
        "garde.cli.notify_commands:ack",
        "Acknowledge the notifications of a study you read (stops their escalation).",
    ),
    "notify": LazyCommand(
        "garde.cli.notify_commands:notify",
        "The notifications kept in the outbox (operators).",
    ),
    "user": LazyCommand("garde.cli.user_commands:user", "Users of the CLI: personal tokens."),
    "forecast": LazyCommand(
        "garde.cli.forecast_commands:forecast",
        "Forecast each night's share within SLA per priority for a roster, and what fixes"
        " the nights at risk.",
    ),
    "directory": LazyCommand(
        "garde.cli.directory_commands:directory",
        "The national directory (RPPS): import its extract, list it, retire someone.",
    ),
    "report": LazyCommand(
        "garde.cli.report_commands:report",
        "Write a study's report (a file or $EDITOR), see its delivery, resend it.",
    ),
}


@click.group(
    cls=GardeGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
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
