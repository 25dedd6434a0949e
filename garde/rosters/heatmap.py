"""Coverage heat map (PNG): one row per site plus stroke, one column per hour.

Pillow rather than matplotlib: the picture is a grid of coloured cells with text labels,
which Pillow draws directly in a few milliseconds with its bundled font, and it is
already a dependency (matplotlib would add a heavy one for no visible gain).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

from garde.rosters._localtime import zone
from garde.rosters.validation import STROKE

if TYPE_CHECKING:
    from pathlib import Path

    from garde.rosters.validation import RosterReport

# Colour per state: not needed, then 0 (a gap), 1, 2, 3+ credentialed on shift.
NOT_NEEDED = (236, 236, 236)
LEVELS = ((214, 39, 40), (253, 174, 97), (166, 217, 106), (26, 150, 65))
LEGEND = ("not needed", "gap (0)", "1", "2", "3+")
ROW_H = 22
PAD = 8
WEEKDAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")


def render_heatmap(report: RosterReport, out_png: Path, *, max_width: int = 1800) -> Path:
    """Draw the report's hourly coverage to ``out_png`` and return the path.

    Each cell shows the fewest radiologists credentialed for the site (or able to read a
    stroke) on shift during that hour, on local time: days are labelled at local
    midnight, so a daylight-saving day has 23 or 25 columns.
    """
    tz = zone(report.timezone)
    rows = [*report.sites, STROKE]
    labels = [_label(report, r) for r in rows]
    n = len(report.hours)
    font = ImageFont.load_default(size=13)
    small = ImageFont.load_default(size=11)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_w = max(int(probe.textlength(t, font=font)) for t in labels) + 2 * PAD
    cell_w = max(2, min(14, (max_width - label_w - PAD) // max(n, 1)))
    title_h, axis_h, legend_h = 24, 34, 30
    width = label_w + cell_w * n + PAD
    height = title_h + axis_h + ROW_H * len(rows) + legend_h + PAD
    image = Image.new("RGB", (max(width, 520), height), "white")
    draw = ImageDraw.Draw(image)
    local_start = report.start.astimezone(tz)
    local_end = report.end.astimezone(tz)
    draw.text(
        (PAD, 4),
        f"On-call coverage {local_start:%Y-%m-%d %H:%M} to {local_end:%Y-%m-%d %H:%M} "
        f"({report.timezone}): {len(report.gaps)} gap(s)",
        fill="black",
        font=font,
    )
    top = title_h + axis_h
    for col, hour in enumerate(report.hours):
        x = label_w + col * cell_w
        local = hour.astimezone(tz)
        if local.hour == 0 or col == 0:
            draw.line([(x, title_h + 14), (x, top + ROW_H * len(rows))], fill=(90, 90, 90))
            day_label = f"{WEEKDAYS[local.weekday()]} {local:%d/%m}"
            if cell_w * 24 >= probe.textlength(day_label, font=small) + 4:
                draw.text((x + 2, title_h), day_label, fill="black", font=small)
            elif cell_w * 24 >= probe.textlength(f"{local:%d}", font=small) + 2:
                draw.text((x + 2, title_h), f"{local:%d}", fill="black", font=small)
        elif local.hour % 6 == 0 and cell_w * 6 >= 16:
            draw.text((x + 1, title_h + 16), f"{local.hour}h", fill=(90, 90, 90), font=small)
        for r, row in enumerate(rows):
            colour = NOT_NEEDED
            needed = report.required.get(row, ())
            if needed and needed[col]:
                count = report.coverage.get(row, ())[col] if report.coverage.get(row) else 0
                colour = LEVELS[min(count, len(LEVELS) - 1)]
            y = top + r * ROW_H
            draw.rectangle([x, y + 1, x + cell_w - 1, y + ROW_H - 2], fill=colour)
    for r, text in enumerate(labels):
        draw.text((PAD, top + r * ROW_H + 3), text, fill="black", font=font)
    _legend(draw, PAD, top + ROW_H * len(rows) + 8, small)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    image.save(out_png, format="PNG", optimize=True)
    return out_png


def _label(report: RosterReport, row: str) -> str:
    if row == STROKE:
        return "stroke cover"
    name = report.site_names.get(row)
    return f"{row} {name}" if name else row


def _legend(
    draw: ImageDraw.ImageDraw, x: int, y: int, font: ImageFont.FreeTypeFont | ImageFont.ImageFont
) -> None:
    for colour, text in zip((NOT_NEEDED, *LEVELS), LEGEND, strict=True):
        draw.rectangle([x, y, x + 14, y + 14], fill=colour, outline=(120, 120, 120))
        draw.text((x + 18, y + 1), text, fill="black", font=font)
        x += 18 + int(draw.textlength(text, font=font)) + 16
