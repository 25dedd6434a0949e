"""The study page over HTTP: the static page `garde.viewer_export` wrote for the study,
with a banner carrying the patient context and the link to the viewer.

The banner is added when the page is served (the file stays as rendered, without
patient context: previews are rendered before anyone is allowed to read the study).
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from garde.store.records import PatientContext
    from garde.store.repositories.reports import PriorRecord

NOT_YET = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Garde</title></head>"
    "<body><p>The previews of this study are still being rendered.</p></body></html>"
)
_BODY = re.compile(r"<body[^>]*>", re.IGNORECASE)


def banner(study_uid: str, patient: PatientContext | None, viewer_url: str) -> str:
    """The banner: who the patient is (age, sex), the request, and the viewer link."""
    rows = []
    if patient is not None:
        rows = [
            ("Patient", patient.age_sex),
            ("Accession", patient.accession or "-"),
            ("Requested by", patient.requesting_physician.replace("^", " ").strip() or "-"),
            ("Indication", patient.indication or "-"),
        ]
    cells = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
        f"<td>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    link = (
        f"<p><a id='garde-viewer' href='{html.escape(viewer_url, quote=True)}'>"
        "Open the full study in the viewer</a></p>"
        if viewer_url
        else ""
    )
    return (
        "<section id='garde-context' style='font-family:sans-serif;border-bottom:1px solid #888;"
        f"padding:.5em 1em'><h2 style='margin:0'>Study {html.escape(study_uid)}</h2>"
        f"<table>{cells}</table>{link}</section>"
    )


def priors(kept: Sequence[tuple[PriorRecord, str]]) -> str:
    """The study's priors (issue 14): date, modality, description, a link to the viewer."""
    if not kept:
        return ""
    rows = []
    for prior, url in kept:
        date = prior.study_date
        shown = f"{date[:4]}-{date[4:6]}-{date[6:8]}" if len(date) == 8 else date or "-"
        link = (
            f"<a class='garde-prior-link' href='{html.escape(url, quote=True)}'>open</a>"
            if url
            else ""
        )
        rows.append(
            f"<tr class='garde-prior' data-uid='{html.escape(prior.prior_uid, quote=True)}'>"
            f"<td>{html.escape(shown)}</td><td>{html.escape(prior.modalities or '-')}</td>"
            f"<td>{html.escape(prior.description or '-')}</td>"
            f"<td>{prior.instances} images</td><td>{link}</td></tr>"
        )
    return (
        "<section id='garde-priors' style='font-family:sans-serif;border-bottom:1px solid #888;"
        "padding:.5em 1em'><h3 style='margin:0'>Priors</h3>"
        "<table><tr><th>Date</th><th>Modality</th><th>Description</th><th></th><th></th></tr>"
        f"{''.join(rows)}</table></section>"
    )


def with_banner(page: str, banner_html: str) -> str:
    """``page`` with ``banner_html`` first in its body."""
    found = _BODY.search(page)
    if found is None:
        return banner_html + page
    return page[: found.end()] + banner_html + page[found.end() :]
