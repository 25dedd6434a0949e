"""`garde demo`: a whole night on the embedded defaults."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from garde.cli._common import echo_table, state

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from garde.bootstrap import Runtime
    from garde.config.model import Settings
    from garde.runtime.demo import DemoReport, WorklistPeak


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
@click.option(
    "--serve",
    is_flag=True,
    help="Then serve the night over HTTP (DICOMweb, study pages, the viewer) until Ctrl-C.",
)
@click.option("--port", default=8042, show_default=True, help="The HTTP port of --serve.")
@click.option("--serve-seconds", default=0.0, hidden=True, help="Stop serving after N s (tests).")
@click.pass_context
def demo(
    ctx: click.Context,
    data_dir: Path,
    seed: int,
    hours: float | None,
    serve: bool,
    port: int,
    serve_seconds: float,
) -> None:
    """Run a whole synthetic night: push, store, triage, route, preview, read.

    It ends with a stroke study's viewer URL; --serve then serves the night over HTTP
    (DICOMweb, study pages, OHIF after `make viewer`) until Ctrl-C.

    Example: garde demo --seed 7 --serve
    """
    from garde.runtime.demo import (  # noqa: PLC0415 - heavy: only for this command
        DEMO_ZONE,
        demo_arrivals,
        demo_night_start,
        run_demo,
    )

    settings = state(ctx).settings()
    start = demo_night_start(datetime.now(tz=UTC))
    arrivals = demo_arrivals(settings, start, seed, hours)
    if not arrivals:
        raise click.UsageError(
            f"no study arrives in the first {hours:g} hours of the night with seed {seed}; "
            "give more --hours or another --seed"
        )
    slices = sorted({f"{a.study.modality} {a.study.slices}" for a in arrivals})
    click.echo(
        f"Demo night from {start.astimezone(DEMO_ZONE):%Y-%m-%d %H:%M} Paris time: "
        f"{len(arrivals)} studies from {len(settings.sites)} hospitals, "
        f"{len(settings.radiologists)} radiologists, in simulated time.\n"
        f"Synthetic studies are small: one series of {arrivals[0].study.size} px images "
        f"each (images per series: {', '.join(slices)})."
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
    _echo_summary(report)
    if report.peak is not None:
        _echo_peak(report.peak, settings, report, DEMO_ZONE)
    _serve_night(settings, report, port=port, serve=serve, seconds=serve_seconds)


def _serve_night(
    settings: Settings, report: DemoReport, *, port: int, serve: bool, seconds: float
) -> None:
    """Print the stroke study's viewer URL; with ``serve``, serve the night's data."""
    from dataclasses import replace  # noqa: PLC0415

    from garde.bootstrap import build_runtime  # noqa: PLC0415 - heavy: only for --serve
    from garde.runtime.demo import demo_settings  # noqa: PLC0415

    viewer_dir = settings.web.viewer_dir or Path("viewer/dist")
    web = replace(
        settings.web,
        enabled=True,
        port=port,
        viewer_dir=viewer_dir if (viewer_dir / "index.html").is_file() else None,
    )
    runtime = build_runtime(replace(demo_settings(settings, report.data_dir), web=web))
    try:
        reference = report.example_study or report.sample_study
        with runtime.uow() as uow:
            study = uow.studies.uid_for(reference) if reference else None
        if study is not None:
            url = web.viewer_url.format(base=web.base_url, study=study)
            kind = "A stroke study" if report.example_study else "A study"
            click.echo(
                f"\n{kind} in the viewer: {url}\nIts page: {web.base_url}/pages/{study}/"
                + ("" if serve else " (served with `garde demo --serve`)")
            )
        _echo_next(report)  # last: the commands to type, as printed
        if serve:
            _serve(runtime, port, seconds, web.base_url, has_viewer=web.viewer_dir is not None)
    finally:
        runtime.close()


def _serve(runtime: Runtime, port: int, seconds: float, base: str, *, has_viewer: bool) -> None:
    """Serve ``runtime``'s store over HTTP until Ctrl-C or SIGTERM (or ``seconds``)."""
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    server = runtime.build_web(port=port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    viewer = "" if has_viewer else " (no viewer: run `make viewer` first)"
    click.echo(f"Serving the night on {base}{viewer}; Ctrl-C to stop.")
    try:
        stop.wait(seconds or None)
    except KeyboardInterrupt:  # pragma: no cover - interactive
        pass
    finally:
        server.stop()


def _echo_summary(report: DemoReport) -> None:
    failed = f", {report.failed_instances} FAILED" if report.failed_instances else ""
    click.echo(
        f"\n{report.studies} studies ({report.instances} instances{failed}) received, "
        f"{report.previews} previews rendered, {report.fallback} to the fallback pool, "
        f"{report.unassigned} unassigned, {report.handed_to_day_team} unread at the end of the "
        "night (handed to the day team).\n"
    )
    echo_table(
        ["PRIORITY", "STUDIES", "READ", "WITHIN SLA", "MEAN", "P90", "DELIVERED", "TO HOSPITAL"],
        [
            [
                p.value,
                f.studies,
                f.read,
                f"{f.within_sla_pct:.1f} %",
                f"{f.mean_min:.1f} min",
                f"{f.p90_min:.1f} min",
                f.delivered,
                "-" if f.delivered_mean_min is None else f"{f.delivered_mean_min:.1f} min",
            ]
            for p, f in report.by_priority.items()
        ],
    )
    click.echo("")
    echo_table(["RADIOLOGIST", "READS"], sorted(report.reads_by_radiologist.items()))
    click.echo(f"\nData: {report.data_dir}")
    if report.chart:
        click.echo(f"SLA curves: {report.chart}")


def _echo_peak(peak: WorklistPeak, settings: Settings, report: DemoReport, zone: ZoneInfo) -> None:
    """Each on-shift radiologist's worklist at the evening's busiest minute."""
    previews = report.data_dir / "previews"
    click.echo(
        f"\nWorklists at the evening peak, {peak.at.astimezone(zone):%H:%M} Paris time: "
        f"{peak.open_studies} studies queued or being read (deadlines in Paris time).\n"
        f"Previews of a study: {previews}/<STUDY UID>/index.html (its page), with a "
        "thumbnail, key image and montage per series beside it; "
        "`garde --data-dir DIR open STUDY` prints it."
    )
    names = {r.id: r for r in settings.radiologists}
    for rid, rows in peak.worklists.items():
        rad = names[rid]
        skills = ", ".join(sorted(rad.skills)) or "general"
        click.echo(f"\n{rid} {rad.name} ({skills}): {len(rows) or 'nothing'} open")
        if not rows:
            continue
        echo_table(
            ["  STUDY", "PRIORITY", "STATE", "HOSPITAL", "DEADLINE", "PREVIEW"],
            [
                [
                    f"  {row.name}",
                    row.priority or "-",
                    row.state.value,
                    row.site_name,
                    f"{row.deadline.astimezone(zone):%H:%M}" if row.deadline else "-",
                    "yes" if row.preview_path else "not yet",
                ]
                for row in rows
            ],
        )
    if report.example_study:
        click.echo(f"\nA stroke study's page: {previews / report.example_study / 'index.html'}")


def _echo_next(report: DemoReport) -> None:
    """The commands to try next, on this night's data, exactly as they can be typed."""
    prefix = f"garde --data-dir {report.data_dir}"
    study = report.sample_study or "STUDY"
    click.echo(
        f"\nNext, on this night (its data is in {report.data_dir}):\n"
        f"  {prefix} worklist --radiologist r01\n"
        f"  {prefix} status\n"
        f"  {prefix} explain {study}\n"
        f"  {prefix} open {study}"
    )
