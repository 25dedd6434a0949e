"""The heat map a planner reads (issue 17, item 5): accented site names drawn with real
glyphs, one day-label format, broken rules drawn, a legend; a missing font falls back
with a warning."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

from garde.dispatch.model import Radiologist, Shift, Site
from garde.rosters.heatmap import (
    FONT_PATHS,
    PAD,
    ROW_H,
    VIOLATION,
    heatmap_font,
    missing_glyphs,
    render_heatmap,
)
from garde.rosters.validation import ValidationRules, validate

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

NAMES = ("Hôpital de Montélimar", "Chalon-sur-Saône", "CH d'Yssingeaux — Vénérieu")
SITES = tuple(
    Site(id=f"h0{n}", name=name, ae_titles=frozenset({f"CT{n}"}))
    for n, name in enumerate(NAMES, start=1)
)
ALL = frozenset(s.id for s in SITES)
RADS = (
    Radiologist(id="r01", name="Dr A", skills=frozenset({"neuro"}), sites=ALL),
    Radiologist(id="r02", name="Dr B", skills=frozenset({"neuro"}), sites=ALL),
)
TITLE_AND_AXIS = 24 + 34  # the title's and the day axis's heights
DAY0 = datetime(2026, 12, 6, 23, tzinfo=UTC)  # Monday 7 December, 00:00 in Paris


def _report():  # type: ignore[no-untyped-def]
    night = timedelta(hours=19)
    shifts = [
        # Monday night then Tuesday day for r01: only 0 h rest (repos de sécurité broken).
        Shift("r01", DAY0 + night, DAY0 + night + timedelta(hours=12)),
        Shift("r01", DAY0 + timedelta(days=1, hours=8), DAY0 + timedelta(days=1, hours=20)),
        Shift("r02", DAY0 + timedelta(days=1) + night, DAY0 + timedelta(days=2, hours=8)),
    ]
    return validate(
        shifts,
        radiologists=RADS,
        sites=SITES,
        start=DAY0,
        end=DAY0 + timedelta(days=3),
        rules=ValidationRules(),
    )


def test_the_font_has_every_glyph_of_accented_site_names() -> None:
    assert FONT_PATHS[0].is_file(), "fonts-dejavu-core is installed (see .ci/run)"
    font = heatmap_font(13)
    assert missing_glyphs(font, "".join(NAMES)) == set()
    # The check is real: Pillow's own font lacks these accents.
    assert missing_glyphs(ImageFont.load_default(size=13), "ôéâ") == {"ô", "é", "â"}


def test_site_labels_are_drawn_with_their_accents(tmp_path: Path) -> None:
    png = render_heatmap(_report(), tmp_path / "cover.png")
    font = heatmap_font(13)
    with Image.open(png) as image:
        rgb = image.convert("RGB")
        colours = {c for _, c in rgb.getcolors(maxcolors=1 << 16) or []}
        for row, site in enumerate(SITES):
            # The label drawn in the picture is DejaVu's rendering of the accented name.
            label = f"{site.id} {site.name}"
            top = TITLE_AND_AXIS + row * ROW_H
            box = (0, top, PAD + int(font.getlength(label)) + 1, top + ROW_H - 2)
            expected = Image.new("RGB", (box[2], ROW_H - 2), "white")
            ImageDraw.Draw(expected).text((PAD, 3), label, fill="black", font=font)
            assert rgb.crop(box).tobytes() == expected.tobytes(), label
    assert VIOLATION in colours  # the broken rest rule is drawn
    assert (214, 39, 40) in colours  # a gap


def test_the_broken_rule_is_marked_at_its_hour(tmp_path: Path) -> None:
    report = _report()
    (violation,) = [v for v in report.violations if v.rule == "rest"]
    png = render_heatmap(report, tmp_path / "cover.png")
    with Image.open(png) as image:
        rgb = image.convert("RGB")
        row = [rgb.getpixel((x, y)) for y in range(rgb.height) for x in range(rgb.width)]
    assert row.count(VIOLATION) > 0
    assert violation.radiologist_id == "r01"


def test_a_missing_font_falls_back_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="garde.rosters.heatmap"):
        png = render_heatmap(_report(), tmp_path / "cover.png", font_paths=[tmp_path / "no.ttf"])
    assert png.is_file()
    assert "install fonts-dejavu-core" in caplog.text
