"""`garde roster ...`: planners import, edit, check, generate and export rosters."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from garde.cli._common import echo_json, echo_table, fail, state
from garde.config.model import SiteCover
from garde.rosters.errors import RosterError
from garde.rosters.report_text import summary_text
from garde.services.rostering import (
    add_one_shift,
    change_lines,
    generate_roster,
    import_roster_file,
    remove_one_shift,
    roster_days,
    stored_shifts,
    swap_one_shift,
    validate_period,
)

if TYPE_CHECKING:
    from garde.rosters.edit import RosterChange
    from garde.rosters.generation import RosterSolution


def _day(first: str) -> date:
    try:
        return date.fromisoformat(first)
    except ValueError:
        raise click.BadParameter(f"expected a date YYYY-MM-DD, got {first!r}") from None


def _period(ctx: click.Context, first: str, days: int) -> tuple[datetime, datetime]:
    """The UTC bounds of ``days`` local days (the ``[rosters]`` zone) from ``first``."""
    return roster_days(state(ctx).settings(), _day(first), days)


_FIRST = click.option(
    "--from", "first", required=True, help="First day, YYYY-MM-DD (the [rosters] time zone)."
)
_DAYS = click.option("--days", default=7, show_default=True, type=click.IntRange(1, 366))


@click.group()
def roster() -> None:
    """Roster import (merged), one-shift edits, validation, generation and export.

    Example: garde roster import november.csv
    """


@roster.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--timezone",
    default=None,
    help="Zone of the file's local times and of the days (default: the [rosters] timezone).",
)
@click.option(
    "--from", "first", default=None, help="The file's first day (YYYY-MM-DD); default: the file's."
)
@click.option("--days", default=None, type=click.IntRange(1, 366), help="The file's days (--from).")
@click.option(
    "--replace",
    nargs=2,
    default=None,
    metavar="FROM TO",
    help="Replace these days (YYYY-MM-DD, both included): stored shifts starting in them "
    "that the file does not hold are removed.",
)
@click.pass_context
def roster_import(
    ctx: click.Context,
    file: Path,
    timezone: str | None,
    first: str | None,
    days: int | None,
    replace: tuple[str, str] | None,
) -> None:
    """Merge a roster file (CSV, iCalendar, XLSX; list or grid) into the stored roster.

    A shift of the file is added, or updates the stored shift of the same radiologist
    that it overlaps; nothing is removed unless --replace names the days to replace.
    With --from/--days every shift must start in those days (a month's first night may
    begin the evening before). Prints every shift added, changed or removed.

    Example: garde roster import december.csv --replace 2026-12-01 2026-12-31
    """
    if days is not None and first is None:
        raise click.UsageError("--days needs --from")
    first_day = _day(first) if first is not None else None
    window = (_day(replace[0]), _day(replace[1])) if replace else None
    if window is not None and window[1] < window[0]:
        raise click.UsageError(f"--replace: {replace[1]} is before {replace[0]}")  # type: ignore[index]
    runtime = state(ctx).runtime()
    try:
        result = import_roster_file(
            runtime, file, timezone=timezone, first_day=first_day, days=days or 1, replace=window
        )
    except RosterError as exc:
        fail(str(exc))
    change = result.change
    click.echo(
        f"{file.name}: {_shifts(len(result.imported.shifts))} read; {len(change.added)} added, "
        f"{len(change.changed)} changed, {len(change.removed)} removed, "
        f"{change.unchanged} unchanged"
    )
    _echo_change(ctx, change)


def _shifts(count: int) -> str:
    return "1 shift" if count == 1 else f"{count} shifts"


def _echo_change(ctx: click.Context, change: RosterChange) -> None:
    zone = ZoneInfo(state(ctx).settings().rosters.timezone)
    for line in change_lines(change, zone):
        click.echo(f"  {line}")


@roster.command("add")
@click.argument("radiologist")
@click.argument("start")
@click.argument("end")
@click.option("--role", default="oncall", show_default=True, help="A role or its alias (nuit).")
@click.option("--sites", default="", help="';'-separated site ids (default: all credentialed).")
@click.pass_context
def roster_add(
    ctx: click.Context, radiologist: str, start: str, end: str, role: str, sites: str
) -> None:
    """Add one shift (local times); refused if it overlaps one of the radiologist's.

    RADIOLOGIST is an id or a display name.

    Example: garde roster add r03 "2026-12-05 20:00" "2026-12-06 08:00" --role nuit
    """
    try:
        change = add_one_shift(
            state(ctx).runtime(), radiologist, start, end, role=role, sites=sites
        )
    except RosterError as exc:
        fail(str(exc))
    _echo_change(ctx, change)


@roster.command("remove")
@click.argument("radiologist")
@click.argument("at")
@click.pass_context
def roster_remove(ctx: click.Context, radiologist: str, at: str) -> None:
    """Remove the radiologist's shift starting (or under way) at AT, local time.

    Example: garde roster remove r03 "2026-12-05 20:00"
    """
    try:
        change = remove_one_shift(state(ctx).runtime(), radiologist, at)
    except RosterError as exc:
        fail(str(exc))
    _echo_change(ctx, change)


@roster.command("swap")
@click.argument("radiologist")
@click.argument("at")
@click.argument("other")
@click.argument("other_at", required=False)
@click.pass_context
def roster_swap(
    ctx: click.Context, radiologist: str, at: str, other: str, other_at: str | None
) -> None:
    """Give RADIOLOGIST's shift at AT to OTHER or, with OTHER_AT, exchange it for OTHER's
    shift then (local times; credentials and overlaps checked).

    Example: garde roster swap r03 "2026-12-05 20:00" r05 "2026-12-12 20:00"
    """
    try:
        change = swap_one_shift(state(ctx).runtime(), radiologist, at, other, other_at)
    except RosterError as exc:
        fail(str(exc))
    _echo_change(ctx, change)


@roster.command("validate")
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--from",
    "first",
    default=None,
    help="First day, YYYY-MM-DD (the [rosters] time zone); default with a file: the file's.",
)
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 366))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
@click.option(
    "--heatmap", type=click.Path(dir_okay=False, path_type=Path), help="Write a PNG heat map."
)
@click.option(
    "--site-cover",
    type=click.Choice([c.value for c in SiteCover]),
    default=None,
    help="When every site needs cover: on_call (nights, weekends, holidays) or always "
    "(default: the [rosters] site_cover). Stroke is checked every hour.",
)
@click.pass_context
def roster_validate(
    ctx: click.Context,
    file: Path | None,
    first: str | None,
    days: int,
    as_json: bool,
    heatmap: Path | None,
    site_cover: str | None,
) -> None:
    """Report coverage gaps and rest violations of a roster file, or of the stored roster.

    The rules are the config's [rosters] table; stroke cover is checked around the clock.

    With a file and no --from, the period is the file's own (first start to last end);
    the file's shifts outside the period are listed.

    Example: garde roster validate november.csv --from 2026-11-01 --days 30 --heatmap cover.png
    """
    from garde.rosters.heatmap import render_heatmap  # noqa: PLC0415 - Pillow on demand
    from garde.rosters.report_text import render_text  # noqa: PLC0415

    if first is None and file is None:
        raise click.UsageError("give --from to validate the stored roster")
    start, end = _period(ctx, first, days) if first is not None else (None, None)
    try:
        report = validate_period(
            state(ctx).runtime(), start, end, source=file, site_cover=site_cover
        )
    except RosterError as exc:
        fail(str(exc))
    if heatmap is not None:
        render_heatmap(report, heatmap)
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(render_text(report))
        if heatmap is not None:
            click.echo(f"heat map: {heatmap}")
    if not report.ok:
        raise SystemExit(1)


@roster.command("generate")
@_FIRST
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 62))
@click.option(
    "--availability",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV of days off, caps, part-time fractions and wishes.",
)
@click.option(
    "--demands",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV of nights needing more staff (garde forecast --demands-out).",
)
@click.option("--time-limit", default=30.0, show_default=True, help="Solver seconds.")
@click.option(
    "--patience",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Stop once no better roster has come for this many seconds.",
)
@click.option("--workers", default=2, show_default=True, help="Solver threads.")
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="Write CSV."
)
@click.option(
    "--ics", "ics_out", type=click.Path(dir_okay=False, path_type=Path), help="Write .ics."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
@click.pass_context
def roster_generate(
    ctx: click.Context,
    first: str,
    days: int,
    availability: Path | None,
    demands: Path | None,
    time_limit: float,
    patience: float,
    workers: int,
    seed: int,
    csv_out: Path | None,
    ics_out: Path | None,
    as_json: bool,
) -> None:
    """Propose a fair roster of nights, weekend days and weekday stroke cover with CP-SAT
    (the [rosters] rules are hard).

    Example: garde roster generate --from 2026-12-01 --days 31 --csv december.csv --ics december.ics
    """
    from garde.rosters.generation import SolverSettings  # noqa: PLC0415 - ortools on demand

    first_day = _day(first)
    settings = state(ctx).settings()
    stderr = sys.stderr
    with click.progressbar(length=int(time_limit * 10), label="solving", file=stderr) as bar:
        shown = 0

        def tick(progress: object) -> None:
            nonlocal shown
            seconds = float(getattr(progress, "seconds", 0.0))
            target = min(int(seconds * 10), bar.length or 0)
            if target > shown:
                bar.update(target - shown)
                shown = target

        try:
            solution = generate_roster(
                settings,
                first_day=first_day,
                days=days,
                availability=availability,
                demands=demands,
                solver=SolverSettings(
                    time_limit_s=time_limit, workers=workers, seed=seed, patience_s=patience
                ),
                progress=tick,
            )
        except RosterError as exc:
            fail(str(exc))
    _write_solution(solution, csv_out, ics_out, as_json=as_json)


def _write_solution(
    solution: RosterSolution, csv_out: Path | None, ics_out: Path | None, *, as_json: bool
) -> None:
    """Write the roster (a partial one too, its unfilled seats noted in the CSV), print the
    summary and per-person table; exit 1 when the rules could not all hold."""
    from garde.rosters.export import write_csv, write_ics  # noqa: PLC0415

    if as_json:
        echo_json(solution.to_dict())
    notes = [f"unfilled: {line}" for line in solution.unfilled]
    if csv_out:
        write_csv(solution.shifts, csv_out, notes=notes)
    if ics_out:
        write_ics(solution.shifts, ics_out)
    if not as_json:
        click.echo(summary_text(solution))
        for path in (csv_out, ics_out):
            if path:
                click.echo(f"written: {path}" + (" (partial roster)" if notes else ""))
    if not solution.feasible:
        fail("no roster satisfies the rules:\n" + "\n".join(solution.explanation))


@roster.command("show")
@_FIRST
@_DAYS
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def roster_show(ctx: click.Context, first: str, days: int, as_json: bool) -> None:
    """List the stored shifts of a period, in the [rosters] time zone.

    Example: garde roster show --from 2026-11-23 --days 7
    """
    start, end = _period(ctx, first, days)
    shifts = stored_shifts(state(ctx).runtime(), start, end)
    if as_json:
        echo_json(
            [
                {
                    "radiologist_id": s.radiologist_id,
                    "start": s.start,
                    "end": s.end,
                    "role": s.role,
                    "sites": sorted(s.sites) if s.sites is not None else "all",
                }
                for s in shifts
            ]
        )
        return
    zone = ZoneInfo(state(ctx).settings().rosters.timezone)
    echo_table(
        ["RADIOLOGIST", f"START ({zone.key})", "END", "ROLE", "SITES"],
        [
            [
                s.radiologist_id,
                f"{s.start.astimezone(zone):%a %d %b %H:%M}",
                f"{s.end.astimezone(zone):%a %d %b %H:%M}",
                s.role,
                ",".join(sorted(s.sites)) if s.sites is not None else "all",
            ]
            for s in shifts
        ],
    )


@roster.command("export")
@_FIRST
@_DAYS
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--ics", "ics_out", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def roster_export(
    ctx: click.Context, first: str, days: int, csv_out: Path | None, ics_out: Path | None
) -> None:
    """Write the stored roster of a period as CSV and/or iCalendar (re-importable).

    Example: garde roster export --from 2026-12-01 --days 31 --ics december.ics
    """
    from garde.rosters.export import write_csv, write_ics  # noqa: PLC0415

    if not csv_out and not ics_out:
        raise click.UsageError("give --csv and/or --ics")
    start, end = _period(ctx, first, days)
    shifts = stored_shifts(state(ctx).runtime(), start, end)
    if csv_out:
        write_csv(shifts, csv_out)
    if ics_out:
        write_ics(shifts, ics_out)
    click.echo(f"{len(shifts)} shifts exported")
