"""`garde report`: write a study's report (a file or $EDITOR), see where it went, resend."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from garde.cli._common import echo_json, echo_table, fail
from garde.cli._identity import desk, reader, refusals, study_uid, who

if TYPE_CHECKING:
    from garde.services.reporting import ReportDraft, Written

CONCLUSION_MARKS = ("conclusion :", "conclusion:")
TEMPLATE = """{draft}
# Compte rendu de {study}. Les lignes commençant par # sont ignorées.
# Une ligne « Conclusion : ... » commence la conclusion (facultative).
"""


class _ReportGroup(click.Group):
    """`garde report STUDY ...` writes; `garde report resend|show STUDY` act."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in {"-h", "--help"}:
            args = ["write", *args]
        return super().parse_args(ctx, args)


def parse_report(raw: str, *, conclusion: str = "", critical: bool = False) -> ReportDraft:
    """A report file's text: ``#`` lines dropped; a ``Conclusion :`` line starts the
    conclusion (unless ``conclusion`` is given)."""
    from garde.services.reporting import ReportDraft  # noqa: PLC0415

    body: list[str] = []
    found: list[str] = []
    target = body
    for line in raw.replace("\r\n", "\n").split("\n"):
        if line.lstrip().startswith("#"):
            continue
        lowered = line.strip().lower()
        mark = next((m for m in CONCLUSION_MARKS if lowered.startswith(m)), None)
        if mark is not None and target is body:
            target = found
            line = line.strip()[len(mark) :].strip()  # noqa: PLW2901 - the rest of the line
            if not line:
                continue
        target.append(line)
    return ReportDraft(
        "\n".join(body).strip(),
        conclusion or "\n".join(found).strip(),
        critical,
    )


def read_report_file(path: Path) -> str:
    """A report file's UTF-8 text (``-``: standard input)."""
    if str(path) == "-":
        data = sys.stdin.buffer.read()
        path, raw = Path("<stdin>"), data
    else:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            fail(f"{path}: {exc.strerror or exc}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        fail(f"{path}: not UTF-8 text (byte {exc.start}): save the report as UTF-8")


def say_written(written: Written, name: str) -> None:
    """One line for the radiologist: kept as a draft, or signed and where it goes."""
    report = written.report
    what = "report" if report.number == 1 else f"addendum {report.number - 1}"
    if report.state == "draft":
        click.echo(f"{what} of {name} kept as a draft: `garde done {name}` signs and sends it")
    elif written.undeliverable:
        click.echo(
            f"{what} of {name} signed and kept: its hospital has no report destination "
            "(the operators are told)"
        )
    else:
        click.echo(f"{what} of {name} signed, on its way to {', '.join(written.destinations)}")


@click.group(cls=_ReportGroup)
def report() -> None:
    """Write a study's report (a file or $EDITOR), see its delivery, resend it.

    `garde report STUDY --file report.txt` keeps the report as a draft until `garde done`
    signs and sends it (`garde done STUDY --report-file F` does both); written after
    `done`, it is an addendum, signed and sent at once.

    Example: garde report h03-12 --file report.txt
    """


@report.command(name="write")
@click.argument("study")
@click.option(
    "--file",
    "file_path",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="The report, UTF-8 text (- : standard input).",
)
@click.option("--edit", is_flag=True, help="Write it in $EDITOR (the draft, if any, to start).")
@click.option("--conclusion", default="", help="The conclusion (else a 'Conclusion :' line).")
@click.option("--critical", is_flag=True, help="A critical finding: the hospital is told now.")
@click.pass_context
def write(
    ctx: click.Context,
    study: str,
    file_path: Path | None,
    edit: bool,
    conclusion: str,
    critical: bool,
) -> None:
    """Write the report of a study you read (a draft until `done`; after: an addendum).

    Example: garde report h03-12 --file report.txt --critical
    """
    if (file_path is None) == (not edit):
        raise click.UsageError("give --file PATH or --edit (one of them)")
    services = desk(ctx)
    me = reader(services, "report")
    uid = study_uid(services, study)
    if edit:
        raw = click.edit(TEMPLATE.format(draft=_draft_text(services, uid), study=study))
        if raw is None:
            fail("nothing written: the editor was closed without saving")
    else:
        assert file_path is not None
        raw = read_report_file(file_path)
    with refusals():
        draft = parse_report(raw, conclusion=conclusion, critical=critical)
        written = services.runtime.reports.write(
            uid, me, draft, now=services.now(), origin=services.origin
        )
    say_written(written, study)


@report.command()
@click.argument("study")
@click.pass_context
def resend(ctx: click.Context, study: str) -> None:
    """Send a study's report again to every destination (operators; kept once there).

    Example: garde report resend h03-12
    """
    services = desk(ctx)
    identity = who(services, "report_resend")
    with refusals():
        count = services.runtime.reports.resend(
            study_uid(services, study), by=identity, now=services.now(), origin=services.origin
        )
    click.echo(f"{count} report deliveries of {study} queued again; the running serve sends them")


@report.command()
@click.argument("study")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def show(ctx: click.Context, study: str, as_json: bool) -> None:
    """Show a study's reports and where each went: delivered, waiting, failing (why).

    Example: garde report show h03-12
    """
    from garde.store.repositories.reports import ReportRepository  # noqa: PLC0415

    services = desk(ctx)
    identity = who(services, "report_show", allow_open=True)
    uid = study_uid(services, study)
    with refusals():
        services.info.check_visible(
            uid, by=identity, now=services.now(), origin=services.origin, action="report_show"
        )
    with services.runtime.uow() as uow:
        repo = ReportRepository(uow.session)
        reports = repo.of_study(uid)
        deliveries = repo.deliveries(uid)
    rows = [
        {
            "report": next((r.number for r in reports if r.id == d.report_id), None),
            "channel": d.channel,
            "destination": d.destination,
            "key": d.dedupe_key,
            "state": d.state,
            "attempts": d.attempts,
            "last_error": d.last_error,
            "delivered_at": d.delivered_at,
        }
        for d in deliveries
    ]
    if as_json:
        echo_json(
            {
                "reports": [
                    {
                        "number": r.number,
                        "state": r.state,
                        "author": r.author,
                        "critical": r.critical,
                        "final_at": r.final_at,
                        "delivered_at": r.delivered_at,
                        "sr_uid": r.sr_uid,
                        "pdf_uid": r.pdf_uid,
                    }
                    for r in reports
                ],
                "deliveries": rows,
            }
        )
        return
    if not reports:
        click.echo(f"{study}: no report yet")
        return
    for r in reports:
        sent = f"delivered {r.delivered_at:%H:%M:%S}" if r.delivered_at else "not delivered"
        click.echo(f"report {r.number} by {r.author}: {r.state}, {sent}")
    if rows:
        echo_table(
            ["REPORT", "CHANNEL", "DESTINATION", "STATE", "TRIES", "LAST ERROR"],
            [
                [
                    row["report"],
                    row["channel"],
                    row["destination"],
                    row["state"],
                    row["attempts"],
                    row["last_error"] or "-",
                ]
                for row in rows
            ],
        )


def _draft_text(services: object, uid: str) -> str:
    from garde.store.repositories.reports import DRAFT, ReportRepository  # noqa: PLC0415

    runtime = services.runtime  # type: ignore[attr-defined]
    with runtime.uow() as uow:
        drafts = [r for r in ReportRepository(uow.session).of_study(uid) if r.state == DRAFT]
    if not drafts:
        return ""
    text = drafts[-1].text
    return text + (f"\nConclusion : {drafts[-1].conclusion}" if drafts[-1].conclusion else "")
