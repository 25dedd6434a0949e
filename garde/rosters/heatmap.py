"""Coverage heat map (PNG): one row per site plus stroke and broken rules, one column per hour.

Pillow rather than matplotlib: the picture is a grid of coloured cells with text labels,
which Pillow draws directly in a few milliseconds, and it is already a dependency
(matplotlib would add a heavy one for no visible gain). Text is drawn with DejaVu Sans
(Debian's ``fonts-dejavu-core``), which has every Latin-1 glyph: Pillow's bundled font
has no accents, and "Hôpital de Montélimar" came out as "H�pital de Mont�limar".
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

from garde.rosters._localtime import zone
from garde.rosters.validation import HOUR, STROKE

if TYPE_CHECKING:
    from collections.abc import Iterable

    from garde.rosters.validation import RosterReport

logger = logging.getLogger(__name__)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

# Colour per state: not needed, then 0 (a gap), 1, 2, 3+ credentialed on shift.
NOT_NEEDED = (236, 236, 236)
LEVELS = ((214, 39, 40), (253, 174, 97), (166, 217, 106), (26, 150, 65))
LEGEND = ("not needed", "gap (0 on shift)", "1", "2", "3+")
VIOLATION = (117, 40, 160)  # a broken rule (rest, nights in a row, weekly hours)
RULES_ROW = "rules"
RULE_WORDS = {
    "rest": "rest",
    "consecutive_nights": "nights",
    "weekly_hours": "week h",
    "unknown_radiologist": "unknown",
}
ROW_H = 22
PAD = 8
WEEKDAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
# Where Debian, Fedora and Alpine put DejaVu Sans; the first that exists is used.
FONT_PATHS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
)
_NOT_A_CHARACTER = "\U0010fffd"  # private use: every font draws its "missing glyph" box


def heatmap_font(size: int, paths: Iterable[Path] = FONT_PATHS) -> Font:
    """DejaVu Sans at ``size`` pixels; Pillow's default font, with a warning, if absent."""
    for path in paths:
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    logger.warning(
        "no DejaVu Sans font found (install fonts-dejavu-core): the heat map falls back "
        "to Pillow's font, which draws accented letters as boxes"
    )
    return ImageFont.load_default(size=size)


def missing_glyphs(font: Font, text: str) -> set[str]:
    """The characters of ``text`` that ``font`` draws as its missing-glyph box."""

    def drawn(character: str) -> tuple[tuple[int, int], bytes]:
        mask = font.getmask(character)
        return mask.size, bytes(mask)

    box = drawn(_NOT_A_CHARACTER)
    return {c for c in set(text) if not c.isspace() and drawn(c) == box}


def render_heatmap(
    report: RosterReport,
    out_png: Path,
    *,
    max_width: int = 1800,
    font_paths: Iterable[Path] = FONT_PATHS,
) -> Path:
    """Draw the report's hourly coverage to ``out_png`` and return the path.

    Each cell shows the fewest radiologists credentialed for the site (or able to read a
    stroke) on shift during that hour, on local time: days are labelled at local
    midnight, so a daylight-saving day has 23 or 25 columns, all in one format. The last
    row marks each broken rule at its hour, with who and which rule where it fits.
    """
    tz = zone(report.timezone)
    paths = tuple(font_paths)
    font, small = heatmap_font(13, paths), heatmap_font(11, paths)
    rows = [*report.sites, STROKE, RULES_ROW]
    labels = [_label(report, r) for r in rows]
    n = len(report.hours)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_w = max(int(probe.textlength(t, font=font)) for t in labels) + 2 * PAD
    cell_w = max(2, min(14, (max_width - label_w - PAD) // max(n, 1)))
    title_h, axis_h, legend_h = 24, 34, 30
    width = label_w + cell_w * n + PAD
    height = title_h + axis_h + ROW_H * len(rows) + legend_h + PAD
    image = Image.new("RGB", (max(width, 720), height), "white")
    draw = ImageDraw.Draw(image)
    local_start = report.start.astimezone(tz)
    local_end = report.end.astimezone(tz)
    draw.text(
        (PAD, 4),
        f"On-call coverage {local_start:%Y-%m-%d %H:%M} to {local_end:%Y-%m-%d %H:%M} "
        f"({report.timezone}): {len(report.gaps)} gap(s), "
        f"{len(report.violations)} broken rule(s)",
        fill="black",
        font=font,
    )
    day_format = _day_format(probe, small, cell_w)
    top = title_h + axis_h
    for col, hour in enumerate(report.hours):
        x = label_w + col * cell_w
        local = hour.astimezone(tz)
        if local.hour == 0 or col == 0:
            draw.line([(x, title_h + 14), (x, top + ROW_H * len(rows))], fill=(90, 90, 90))
            text = _day_label(local.weekday(), local.strftime(day_format), day_format)
            if text:
                draw.text((x + 2, title_h), text, fill="black", font=small)
        elif local.hour % 6 == 0 and cell_w * 6 >= 16:
            draw.text((x + 1, title_h + 16), f"{local.hour}h", fill=(90, 90, 90), font=small)
        for r, row in enumerate(rows[:-1]):
            colour = NOT_NEEDED
            needed = report.required.get(row, ())
            if needed and needed[col]:
                count = report.coverage.get(row, ())[col] if report.coverage.get(row) else 0
                colour = LEVELS[min(count, len(LEVELS) - 1)]
            y = top + r * ROW_H
            draw.rectangle([x, y + 1, x + cell_w - 1, y + ROW_H - 2], fill=colour)
    _violations(draw, report, (label_w, top + (len(rows) - 1) * ROW_H), cell_w, small)
    for r, text in enumerate(labels):
        draw.text((PAD, top + r * ROW_H + 3), text, fill="black", font=font)
    _legend(draw, PAD, top + ROW_H * len(rows) + 8, small)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    image.save(out_png, format="PNG", optimize=True)
    return out_png


def _day_format(probe: ImageDraw.ImageDraw, font: Font, cell_w: int) -> str:
    """One label format for every day of the picture: the longest that fits the shortest
    day (23 hours, spring forward); empty if none fits."""
    for fmt, sample in (("%d/%m", "Su 28/12"), ("%d", "28")):
        if cell_w * 23 >= probe.textlength(sample, font=font) + 4:
            return fmt
    return ""


def _day_label(weekday: int, date_text: str, fmt: str) -> str:
    if not fmt:
        return ""
    return f"{WEEKDAYS[weekday]} {date_text}" if fmt == "%d/%m" else date_text


def _violations(
    draw: ImageDraw.ImageDraw,
    report: RosterReport,
    origin: tuple[int, int],
    cell_w: int,
    font: Font,
) -> None:
    """Mark each broken rule's hour; write ``r03 rest`` beside it where it fits."""
    x0, y = origin
    draw.rectangle([x0, y + 1, x0 + cell_w * len(report.hours) - 1, y + ROW_H - 2], fill="white")
    free_from = x0
    for violation in report.violations:
        col = int((violation.at - report.start) / HOUR)
        if not 0 <= col < len(report.hours):
            continue
        x = x0 + col * cell_w
        draw.rectangle([x, y + 1, x + max(cell_w, 3) - 1, y + ROW_H - 2], fill=VIOLATION)
        text = f"{violation.radiologist_id} {RULE_WORDS.get(violation.rule, violation.rule)}"
        start = x + max(cell_w, 3) + 2
        if start >= free_from:
            draw.text((start, y + 4), text, fill=VIOLATION, font=font)
            free_from = start + int(draw.textlength(text, font=font)) + 6


def _label(report: RosterReport, row: str) -> str:
    if row == STROKE:
        return "stroke cover"
    if row == RULES_ROW:
        return "broken rules"
    name = report.site_names.get(row)
    return f"{row} {name}" if name else row


def _legend(draw: ImageDraw.ImageDraw, x: int, y: int, font: Font) -> None:
    entries = (*zip((NOT_NEEDED, *LEVELS), LEGEND, strict=True), (VIOLATION, "broken rule"))
    for colour, text in entries:
        draw.rectangle([x, y, x + 14, y + 14], fill=colour, outline=(120, 120, 120))
        draw.text((x + 18, y + 1), text, fill="black", font=font)
        x += 18 + int(draw.textlength(text, font=font)) + 16
    draw.text(
        (x, y + 1),
        "(credentialed radiologists on shift, fewest in the hour)",
        fill=(90, 90, 90),
        font=font,
    )
