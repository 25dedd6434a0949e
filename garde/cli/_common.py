"""What every command shares: lazy settings, logging set-up, error translation, output."""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from garde import log_hygiene
from garde.config import ConfigError, load_settings

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from garde.bootstrap import Runtime
    from garde.config.model import Settings

logger = logging.getLogger(__name__)

IDENTITY_VARIABLES = frozenset({"GARDE_TOKEN", "GARDE_TOKEN_FILE"})
"""Read by `garde.services.identity`; never taken as ``GARDE_*`` config overrides."""


class ConfigUsageError(click.ClickException):
    """A configuration that cannot be used: exit 2, one line per problem, no traceback."""

    exit_code = 2


@dataclass
class CliState:
    """Per-invocation state carried on ``click.Context.obj``."""

    config_path: Path | None
    data_dir: Path | None = None  # --data-dir: the same as GARDE_DATA_DIR
    _settings: Settings | None = None
    _runtime: Runtime | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        """The settings, loaded once; a bad config becomes a located, one-line error."""
        if self._settings is None:
            try:
                # The identity variables are the CLI's, not config overrides.
                overrides = {k: v for k, v in os.environ.items() if k not in IDENTITY_VARIABLES}
                if self.data_dir is not None:
                    overrides["GARDE_DATA_DIR"] = str(self.data_dir)
                self._settings = load_settings(self.config_path, overrides)
            except ConfigError as exc:
                raise ConfigUsageError(str(exc)) from None
        return self._settings

    def runtime(self, *, check_schema: bool = True) -> Runtime:
        """The composition root's runtime, built on first use."""
        if self._runtime is None:
            from garde.bootstrap import build_runtime  # noqa: PLC0415 - keeps --help fast

            self._runtime = build_runtime(self.settings(), check_schema=check_schema)
        return self._runtime

    def close(self) -> None:
        """Release what the runtime holds (engine, pools)."""
        if self._runtime is not None:
            self._runtime.close()


def state(ctx: click.Context) -> CliState:
    """The CliState of this invocation."""
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):  # pragma: no cover - main() always sets it
        raise click.UsageError("internal: no CLI state")
    return obj


def configure_logging(
    verbose: int, quiet: int, level: str | None, *, service: bool = False
) -> None:
    """One handler on the root logger, to stderr; -v/-q step the level.

    A command prints its results, warnings and errors only (-v: INFO, -vv: DEBUG; -q:
    errors only). A ``service`` (`garde serve`) logs at INFO by default: a line per
    study event. Libraries' per-tick and per-PDU chatter (APScheduler's "Running job"
    every few seconds, pynetdicom's association lines) shows only from -vv.
    """
    if level is None:
        steps = [logging.ERROR, logging.WARNING, logging.INFO, logging.DEBUG]
        base = 2 if service else 1
        numeric = steps[max(0, min(len(steps) - 1, base + verbose - quiet))]
    else:
        numeric = logging.getLevelName(level.upper())
        if not isinstance(numeric, int):
            raise click.BadParameter(f"unknown log level {level!r}", param_hint="--log-level")
    logging.basicConfig(
        level=numeric,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    log_hygiene.install()  # no patient value, no forged line from the network
    chatter = numeric if verbose >= 2 else max(numeric, logging.WARNING)
    # pynetdicom logs every association at INFO and every PDU at DEBUG: -vv for the
    # associations, -vvv for the PDUs.
    logging.getLogger("pynetdicom").setLevel(max(chatter, logging.INFO) if verbose < 3 else numeric)
    for name in ("apscheduler", "alembic"):
        # APScheduler announces every job run at INFO (every few seconds); Alembic its
        # dialect on every schema check.
        logging.getLogger(name).setLevel(chatter)


def fail(message: str) -> NoReturn:
    """Stop the command with exit status 1 and ``message``."""
    raise click.ClickException(message)


def echo_json(payload: Any, zone: tzinfo | None = None) -> None:
    """Print ``payload`` as stable JSON (sorted keys, ISO datetimes, with ``zone``'s
    offset when given: the region's, as everywhere a person reads)."""

    def default(value: Any) -> Any:
        if zone is not None and isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(zone).isoformat()
        return _json_default(value)

    click.echo(json.dumps(payload, indent=2, sort_keys=True, default=default))


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Path | set | frozenset):
        return sorted(value) if not isinstance(value, Path) else str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def echo_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    style: Callable[[int, str], str] | None = None,
) -> None:
    """Print rows as an aligned text table; ``style(row_index, line)`` may colour a line."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for i, row in enumerate(cells):
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        click.echo(style(i, line) if style else line)
