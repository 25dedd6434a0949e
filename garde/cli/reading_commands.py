"""A radiologist's actions: next, claim, start, done, release, open, explain."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from garde.cli._clock import clock, region_zone
from garde.cli._common import echo_json
from garde.cli._identity import desk, reader, refusals, study_uid, who
from garde.cli.json_forms import explained_item, released_item, study_summary

if TYPE_CHECKING:
    from garde.cli._identity import Desk
    from garde.store.records import StudyRecord

_JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.command(name="next")
@_JSON
@click.pass_context
def next_study(ctx: click.Context, as_json: bool) -> None:
    """Claim and start the most urgent study you may read (atomic: never given twice).

    JSON: the study (as `claim`) and patient (age, sex, accession, requesting_physician,
    indication).

    Example: garde next --json
    """
    services = desk(ctx)
    me = reader(services, "next")
    with refusals():
        record = services.reading.next(me, services.now(), origin=services.origin)
    zone = region_zone(services.runtime.settings)
    patient = services.info.patient(record.study_uid)
    if as_json:
        echo_json(study_summary(record) | {"patient": patient.as_dict()}, zone)
        return
    due = f", due {clock(record.deadline, zone)}" if record.deadline else ""
    click.echo(
        f"started {record.name}: {record.priority or '-'} from {record.site_id}, "
        f"{record.description or 'no description'}{due}"
    )
    click.echo(f"patient: {patient.line()}")
    click.echo(f"view: garde open {record.name}")


@click.command()
@click.argument("study")
@_JSON
@click.pass_context
def claim(ctx: click.Context, study: str, as_json: bool) -> None:
    """Take a pending study (or another's, not yet started) into your worklist.

    Example: garde claim h03-12
    """
    services = desk(ctx)
    me = reader(services, "claim")
    with refusals():
        record = services.reading.claim(
            study_uid(services, study), me, services.now(), origin=services.origin
        )
    _report(services, record, "claimed", as_json=as_json)


@click.command()
@click.argument("study")
@_JSON
@click.pass_context
def start(ctx: click.Context, study: str, as_json: bool) -> None:
    """Start reading one of your assigned studies.

    Example: garde start h03-12
    """
    services = desk(ctx)
    me = reader(services, "start")
    with refusals():
        record = services.reading.start(
            study_uid(services, study), me, services.now(), origin=services.origin
        )
    _report(services, record, "started", as_json=as_json)


@click.command()
@click.argument("study")
@click.option("--report", "report_ref", default="", help="Where the report is (RIS id, URL).")
@click.option(
    "--report-file",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="The report (UTF-8 text): signed and sent to the hospital.",
)
@click.option("--conclusion", default="", help="The report's conclusion (with --report-file).")
@click.option("--critical", is_flag=True, help="A critical finding: the hospital is told now.")
@_JSON
@click.pass_context
def done(
    ctx: click.Context,
    study: str,
    report_ref: str,
    report_file: Path | None,
    conclusion: str,
    critical: bool,
    as_json: bool,
) -> None:
    """Mark a study you are reading as read, with an optional report reference.

    With --report-file (or a draft kept by `garde report`), the report is signed and
    sent back to the hospital.

    Example: garde done h03-12 --report-file report.txt
    """
    from garde.cli.report_commands import parse_report, read_report_file  # noqa: PLC0415

    services = desk(ctx)
    me = reader(services, "done")
    with refusals():
        draft = None
        if report_file is not None:
            draft = parse_report(
                read_report_file(report_file), conclusion=conclusion, critical=critical
            )
        record = services.reading.finish(
            study_uid(services, study),
            me,
            services.now(),
            report_ref,
            origin=services.origin,
            report=draft,
        )
    _report(services, record, "done", as_json=as_json)


@click.command()
@click.argument("study")
@click.option("--reason", required=True, help="Why you hand it back (kept in the audit).")
@_JSON
@click.pass_context
def release(ctx: click.Context, study: str, reason: str, as_json: bool) -> None:
    """Hand a study back to the router, which gives it to someone else (never you).

    Example: garde release h03-12 --reason "called to the ER"
    """
    services = desk(ctx)
    me = reader(services, "release")
    with refusals():
        released = services.reading.release(
            study_uid(services, study), me, services.now(), reason, origin=services.origin
        )
    if as_json:
        echo_json(released_item(released))
        return
    target = released.radiologist_id or "nobody (pending, flagged for the operators)"
    click.echo(f"released {study}: now with {target}")


@click.command(name="open")
@click.argument("study")
@click.option("--path", "local", is_flag=True, help="Print the page's local path instead.")
@click.option("--browser", is_flag=True, help="Also open it in the default browser.")
@click.pass_context
def open_study(ctx: click.Context, study: str, local: bool, browser: bool) -> None:
    """Print a study's viewer URL (yours, or from a hospital you are credentialed for).

    Then its page's URL; `[web] viewer_url` sets the viewer (OHIF, Weasis, ...); --path
    prints the page's local file instead.

    Example: garde open h03-12
    """
    services = desk(ctx)
    identity = who(services, "open", allow_open=True)
    uid = study_uid(services, study)
    with refusals():
        if local:
            path = services.info.page(uid, by=identity, now=services.now(), origin=services.origin)
        else:
            services.info.opened(uid, by=identity, now=services.now(), origin=services.origin)
    if local:
        click.echo(str(path))
        target = str(path)
    else:
        web = services.runtime.settings.web
        target = web.viewer_url.format(base=web.base_url, study=uid)
        click.echo(target)
        click.echo(f"page: {web.base_url}/pages/{uid}/")
        if not web.enabled:
            click.echo("(served by `garde serve` once [web] enabled = true)")
    if browser:  # pragma: no cover - interactive
        click.launch(target)


@click.command()
@click.argument("study")
@_JSON
@click.pass_context
def explain(ctx: click.Context, study: str, as_json: bool) -> None:
    """Print why a study is with whom it is (the stored explanation of its assignment).

    Example: garde explain h03-12
    """
    services = desk(ctx)
    identity = who(services, "explain", allow_open=True)
    with refusals():
        found = services.info.explain(
            study_uid(services, study), by=identity, now=services.now(), origin=services.origin
        )
    if as_json:
        echo_json(explained_item(found), region_zone(services.runtime.settings))
        return
    click.echo(found.text)


def _report(services: Desk, record: StudyRecord, done: str, *, as_json: bool) -> None:
    if as_json:
        echo_json(study_summary(record), region_zone(services.runtime.settings))
    else:
        click.echo(f"{done} {record.name}")


READING_COMMANDS = (next_study, claim, start, done, release, open_study, explain)
