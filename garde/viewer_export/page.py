"""The static study page: one HTML file, no JavaScript, readable offline on a phone.

It shows the series and their previews, the priority, the sending hospital and the SLA
deadline. It never shows patient identifiers (name, patient ID, birth date): the Study
Instance UID and the accession number identify the study for the radiologist.
"""

from __future__ import annotations

import html
from importlib import resources
from string import Template
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from pathlib import Path

    from garde.viewer_export.model import SeriesPreviews, StudyPageInfo

PRIORITY_COLOURS = {
    "stroke": "#ff4d4d",
    "emergency": "#ff944d",
    "urgent": "#ffd24d",
    "routine": "#7fd67f",
}


def _template() -> Template:
    text = (
        resources.files("garde.viewer_export").joinpath("templates/study.html").read_text("utf-8")
    )
    return Template(text)


def local_time(moment: datetime, timezone: str) -> str:
    """``moment`` in the site's time zone, to the minute, with the zone's abbreviation."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _img(path: Path | None, out_dir: Path, caption: str, alt: str) -> str:
    if path is None:
        return ""
    src = html.escape(path.relative_to(out_dir).as_posix(), quote=True)
    return (
        f'<figure><a href="{src}"><img src="{src}" alt="{html.escape(alt, quote=True)}" '
        f'loading="eager"></a><figcaption>{html.escape(caption)}</figcaption></figure>'
    )


def _series_block(s: SeriesPreviews, out_dir: Path) -> str:
    title = s.description or s.modality or "série"
    count = f"{html.escape(s.modality)}, {s.slices} images"
    head = f"<h2>{html.escape(title)} <small>({count})</small></h2>"
    if s.error:
        error = f'<p class="error">Aperçu impossible : {html.escape(s.error)}</p>'
        return f"<section>{head}{error}</section>"
    window = f" — fenêtre C{s.window.center:g}/L{s.window.width:g}" if s.window else ""
    figures = "".join(
        (
            _img(s.key_image, out_dir, f"Coupe médiane{window}", f"{title}: coupe médiane"),
            _img(s.montage, out_dir, "Planche", f"{title}: planche"),
            _img(s.mip, out_dir, "MIP épais", f"{title}: MIP"),
        )
    )
    if not figures:
        figures = _img(s.thumbnail, out_dir, f"Vignette{window}", f"{title}: vignette")
    notes = "".join(f'<p class="note">Remarque : {html.escape(n)}</p>' for n in s.notes)
    return f'<section>{head}<div class="images">{figures}</div>{notes}</section>'


def render_page(
    info: StudyPageInfo, series: Sequence[SeriesPreviews], out_dir: Path, *, generated: datetime
) -> str:
    """The page's HTML; image links are relative to ``out_dir`` (where the page lives)."""
    priority = info.priority.lower()
    # On a phone the heading is what the exam is; the UID stays in the table below.
    name = info.description or f"Examen {info.accession or info.study_uid}"
    rows = []
    if info.description:
        rows.append(("Examen", info.description))
    if info.modality:
        rows.append(("Modalité", info.modality))
    if info.received is not None:
        rows.append(("Reçu", local_time(info.received, info.timezone)))
    if info.reason:
        rows.append(("Règle", info.reason))
    if info.accession:
        rows.append(("N° d'accès", info.accession))
    rows.append(("Study UID", info.study_uid))
    extra = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>\n" for k, v in rows)
    return _template().substitute(
        title=html.escape(name),
        priority=html.escape(priority),
        priority_colour=PRIORITY_COLOURS.get(priority, "#9ab"),
        site=html.escape(info.site_name),
        deadline=html.escape(local_time(info.deadline, info.timezone) if info.deadline else "—"),
        extra_rows=extra,
        series="\n".join(_series_block(s, out_dir) for s in series),
        footer=html.escape(f"Généré le {local_time(generated, info.timezone)} par Garde"),
    )
