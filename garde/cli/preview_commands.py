"""`garde preview`: render a study's previews and its static page on demand."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from garde.cli._common import echo_json, fail, state
from garde.cli._identity import Desk, desk, refusals, study_uid, who
from garde.services.identity import OPEN_MODE
from garde.services.previewing import UnknownStudyError, render_files
from garde.viewer_export import PreviewError

if TYPE_CHECKING:
    from collections.abc import Callable

    from garde.viewer_export import StudyPreviews


def _advance(bar: Any) -> Callable[[int, int], None]:
    """A (done, total) callback moving click's progress bar; the total may grow."""

    def progress(done: int, total: int) -> None:
        bar.length = max(total, 1)
        if done > bar.pos:
            bar.update(done - bar.pos)

    return progress


@click.command()
@click.argument("target")
@click.option(
    "--out",
    "-o",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the images and index.html (created if missing).",
)
@click.option(
    "--preset", default=None, help="Window preset (brain, lung, cta...); default: triage's."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def preview(
    ctx: click.Context, target: str, out_dir: Path, preset: str | None, as_json: bool
) -> None:
    """Render previews and a static study page for a stored study or a DICOM folder.

    TARGET is a stored study (its handle, h03-12, or its Study Instance UID), or a
    DICOM file or folder (one study).
    Per series: a thumbnail, a 512 px key image, a montage and, for CT angiography, a
    thick-slab MIP; then OUT/index.html, readable offline on a phone.

    Example: garde preview ./exam/ --out /tmp/exam-preview
    """
    cli = state(ctx)
    settings = cli.settings()
    path = Path(target)
    with click.progressbar(length=1, label="rendering", file=sys.stderr) as bar:
        try:
            if path.exists():
                result = render_files(
                    path, out_dir, settings.previews, preset=preset, progress=_advance(bar)
                )
            else:
                services = desk(ctx)
                uid = study_uid(services, target)
                actor, origin = _allowed_to_see(services, uid)
                result = cli.runtime().previews.render_to(
                    uid,
                    out_dir,
                    actor=actor,
                    origin=origin,
                    preset=preset,
                    progress=_advance(bar),
                )
        except UnknownStudyError:
            fail(f"{target}: neither a file or folder nor a stored Study Instance UID")
        except KeyError as exc:
            raise click.BadParameter(str(exc.args[0]), param_hint="--preset") from None
        except PreviewError as exc:
            fail(str(exc))
    _report(result, as_json=as_json)


def _allowed_to_see(services: Desk, uid: str) -> tuple[str, str]:
    """Who renders a stored study, from where: an operator, its reader or a radiologist
    credentialed for its hospital (the images are patient data); in the open mode of a
    demo or test region, the local user."""
    identity = who(services, "render_previews", allow_open=True)
    if identity == OPEN_MODE:
        return getpass.getuser(), services.origin
    with refusals():
        services.info.check_visible(
            uid,
            by=identity,
            now=services.now(),
            origin=services.origin,
            action="render_previews",
        )
    return identity.subject, services.origin


def _report(result: StudyPreviews, *, as_json: bool) -> None:
    if as_json:
        echo_json(
            {
                "study_uid": result.study_uid,
                "page": result.page,
                "preset": result.preset,
                "series": [
                    {
                        "series_uid": s.series_uid,
                        "description": s.description,
                        "slices": s.slices,
                        "files": [p for p in (s.thumbnail, s.key_image, s.montage, s.mip) if p],
                        "error": s.error or None,
                    }
                    for s in result.series
                ],
            }
        )
        return
    for s in result.series:
        status = f"error: {s.error}" if s.error else f"{s.slices} slices"
        click.echo(f"{s.series_uid}  {s.description or s.modality}  {status}")
    click.echo(f"page: {result.page}")
