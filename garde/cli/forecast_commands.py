"""`garde forecast`: the SLA a roster will give, night by night, before the nights."""

from __future__ import annotations

import sys
from datetime import date, time
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from garde.cli._common import echo_json, echo_table, fail, state

if TYPE_CHECKING:
    from garde.dispatch.model import Priority
    from garde.simulation.forecast.model import Forecast, Outlook


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _clock(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"expected a time HH:MM, got {text!r}") from None


def _write(
    result: Forecast,
    png: Path | None,
    demands_out: Path | None,
    chosen: str | None,
    zone: str,
    night_staff: int,
) -> None:
    """The PNG and the staffing demands, when asked for."""
    if png is not None:
        from garde.simulation.forecast.figure import render  # noqa: PLC0415

        render(result, png, zone, _day(chosen) if chosen else None)
    if demands_out is not None:
        from garde.rosters.demands import write_demands  # noqa: PLC0415
        from garde.simulation.forecast.staffing import staffing_needs  # noqa: PLC0415

        write_demands(demands_out, staffing_needs(result, night_staff))


def _required(values: tuple[str, ...]) -> dict[Priority, float]:
    """The shares each priority needs: the defaults, ``--require`` overriding."""
    from garde.dispatch.model import Priority  # noqa: PLC0415 - keeps --help fast
    from garde.simulation.forecast.model import DEFAULT_REQUIRED  # noqa: PLC0415

    out = dict(DEFAULT_REQUIRED)
    for value in values:
        name, _, pct = value.partition("=")
        try:
            share = float(pct)
        except ValueError:
            raise click.BadParameter(f"expected PRIORITY=PERCENT, got {value!r}") from None
        if not 0 <= share <= 100:
            raise click.BadParameter(f"{value!r}: the percentage must be within 0-100")
        try:
            out[Priority(name.strip())] = share
        except ValueError:
            raise click.BadParameter(f"unknown priority {name!r}", param_hint="--require") from None
    return out


@click.command()
@click.option("--from", "first", required=True, help="First night, YYYY-MM-DD (its evening).")
@click.option("--nights", default=30, show_default=True, type=click.IntRange(1, 62))
@click.option(
    "--roster",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A roster file (CSV, .ics, .xlsx); default: the stored roster.",
)
@click.option(
    "--scenario",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Arrivals from a scenario TOML; default: learned from the store's history.",
)
@click.option("--history-weeks", default=8, show_default=True, type=click.IntRange(1, 104))
@click.option("--replications", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option(
    "--require",
    "required",
    multiple=True,
    metavar="PRIORITY=PCT",
    help="Share within SLA a night needs (default stroke=95 emergency=95 urgent=90 routine=90).",
)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--seed", default=0, show_default=True)
@click.option("--no-staffing", is_flag=True, help="Skip the search for additions.")
@click.option(
    "--png",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a PNG: nights x priorities, and one night's hourly load against capacity.",
)
@click.option(
    "--demands-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the nights at risk's staffing needs for `roster generate --demands`.",
)
@click.option("--night", "chosen", help="The night of the load chart (default: first at risk).")
@click.option(
    "--night-start",
    default="18:00",
    show_default=True,
    help="When a night begins (local); it ends at the morning handover.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@click.pass_context
def forecast(
    ctx: click.Context,
    first: str,
    nights: int,
    roster: Path | None,
    scenario: Path | None,
    history_weeks: int,
    replications: int,
    required: tuple[str, ...],
    workers: int,
    seed: int,
    no_staffing: bool,
    png: Path | None,
    demands_out: Path | None,
    chosen: str | None,
    night_start: str,
    as_json: bool,
) -> None:
    """Forecast each night's share within SLA per priority for a roster, and what fixes
    the nights at risk.

    Example: garde forecast --from 2026-12-01 --nights 31 --scenario region-nights.toml
    """
    from garde.simulation.forecast import ForecastError, Request  # noqa: PLC0415
    from garde.simulation.forecast import forecast as run_forecast  # noqa: PLC0415
    from garde.simulation.forecast.inputs import gather  # noqa: PLC0415

    cli = state(ctx)
    settings = cli.settings()
    shares = _required(required)
    first_night = _day(first)
    try:
        inputs = gather(
            settings,
            cli.runtime,
            first_night=first_night,
            nights=nights,
            roster=roster,
            scenario=scenario,
            history_weeks=history_weeks,
            night_start=_clock(night_start),
        )
        request = Request(
            first_night,
            nights,
            inputs.shifts,
            replications=replications,
            required=shares,
            seed=seed,
            workers=workers,
            staffing=not no_staffing,
        )
        with click.progressbar(length=nights, label="replaying nights", file=sys.stderr) as bar:

            def night_done(_: date) -> None:
                bar.update(1)

            def search(count: int) -> None:
                # The nights at risk are known once every night is replayed: the bar grows
                # by one step per night whose addition is searched.
                if count:
                    bar.length = (bar.length or 0) + count
                    bar.label = "searching additions"
                else:
                    bar.update(1)

            result = run_forecast(
                inputs.region, inputs.model, request, on_night=night_done, on_search=search
            )
        _write(
            result, png, demands_out, chosen, inputs.region.timezone, settings.rosters.night_staff
        )
    except (ForecastError, OSError, ValueError) as exc:
        fail(str(exc))
    if as_json:
        echo_json(result.to_dict())
        return
    _print(result, ZoneInfo(inputs.region.timezone))
    for path in (png, demands_out):
        if path is not None:
            click.echo(f"written: {path}")


def _cell(outlook: Outlook) -> str:
    mark = " !" if outlook.at_risk else ""
    return f"{outlook.median:.1f} [{outlook.low:.0f}-{outlook.high:.0f}]{mark}"


def _print(result: Forecast, zone: ZoneInfo) -> None:
    rows = []
    for night in result.nights:
        addition = night.addition
        fix = ""
        if night.readers == 0:
            fix = "nobody on the roster"
        elif addition is not None:
            if addition.start is None or addition.end is None:
                fix = "one more reader all night is not enough"
            else:
                fix = (
                    f"+{addition.hours:g} h {addition.start.astimezone(zone):%H:%M}-"
                    f"{addition.end.astimezone(zone):%H:%M} " + (addition.skill or "every skill")
                )
        rows.append(
            [
                f"{night.night:%a %d/%m}",
                str(night.readers),
                *(_cell(o) for o in night.outlooks),
                fix,
            ]
        )
    headers = ["night", "readers", *(o.priority.value for o in result.nights[0].outlooks), "fix"]
    echo_table(headers, rows)
    click.echo(
        f"{len(result.at_risk)} of {len(result.nights)} nights at risk (!: median below the "
        f"share required); % within SLA, median [90 % interval] of {result.replications} "
        f"replications; arrivals: {result.source}; {result.seconds:.1f} s"
    )
    empty = [night for night in result.nights if night.readers == 0]
    if empty:
        first = empty[0].night
        click.echo(
            f"{len(empty)} night(s) have nobody on the roster (first {first:%a %d/%m}): "
            "import or generate the roster for them (garde roster import / generate)"
        )
