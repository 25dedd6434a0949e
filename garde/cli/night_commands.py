"""`garde demo`: a whole night on the embedded defaults."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from garde.cli._common import echo_table, state


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=Path("data/demo"),
    show_default=True,
    help="Where the demo night's database and files go (wiped first).",
)
@click.option("--seed", default=7, show_default=True, help="Seed of the synthetic night.")
@click.option(
    "--hours",
    type=click.FloatRange(0.25, 14.5),
    default=None,
    help="Only the first hours of arrivals (default: the whole night, 18:00 to 08:30).",
)
@click.pass_context
def demo(ctx: click.Context, data_dir: Path, seed: int, hours: float | None) -> None:
    """Run a whole synthetic night: push, store, triage, route, preview, read.

    Example: garde demo --seed 7
    """
    from garde.services.demo import demo_arrivals, demo_night_start, run_demo  # noqa: PLC0415

    settings = state(ctx).settings()
    start = demo_night_start(datetime.now(tz=UTC))
    arrivals = demo_arrivals(settings, start, seed, hours)
    slices = sorted({f"{a.study.modality} {a.study.slices}" for a in arrivals})
    click.echo(
        f"Demo night from {start:%Y-%m-%d %H:%M} UTC: {len(arrivals)} studies from "
        f"{len(settings.sites)} hospitals, {len(settings.radiologists)} radiologists, in "
        f"simulated time.\nSynthetic studies are small: one series of "
        f"{arrivals[0].study.size} px images each (images per series: {', '.join(slices)})."
    )
    with click.progressbar(length=len(arrivals), label="night", file=sys.stderr) as bar:
        report = run_demo(
            settings,
            data_dir=data_dir,
            seed=seed,
            night_start=start,
            hours=hours,
            progress=bar.update,
        )
    failed = f", {report.failed_instances} FAILED" if report.failed_instances else ""
    click.echo(
        f"\n{report.studies} studies ({report.instances} instances{failed}) received, "
        f"{report.previews} previews rendered, {report.fallback} to the fallback pool, "
        f"{report.unassigned} unassigned, {report.handed_to_day_team} unread at the end of the "
        "night (handed to the day team).\n"
    )
    echo_table(
        ["PRIORITY", "STUDIES", "READ", "WITHIN SLA", "MEAN", "P90"],
        [
            [
                p.value,
                f.studies,
                f.read,
                f"{f.within_sla_pct:.1f} %",
                f"{f.mean_min:.1f} min",
                f"{f.p90_min:.1f} min",
            ]
            for p, f in report.by_priority.items()
        ],
    )
    click.echo("")
    echo_table(["RADIOLOGIST", "READS"], sorted(report.reads_by_radiologist.items()))
    click.echo(f"\nData: {report.data_dir}")
    if report.chart:
        click.echo(f"SLA curves: {report.chart}")
    if report.example_study:
        click.echo(
            f"A stroke study: garde worklist / previews under "
            f"{report.data_dir / 'previews' / report.example_study}"
        )
