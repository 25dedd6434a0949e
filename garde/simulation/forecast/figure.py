"""The forecast as a picture (PNG, Pillow as for the roster's heat map): on the left one
row per night and one column per priority, each cell coloured by the median share within
SLA against the share required; on the right the chosen night's hourly load (expected
reading minutes arriving) against its reading capacity on shift."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw

from garde.rosters.heatmap import Font, heatmap_font

if TYPE_CHECKING:
    from datetime import date

    from garde.simulation.forecast.model import Forecast, NightForecast, Outlook

CELL_W, CELL_H = 118, 22
LEFT, TOP, GAP = 96, 56, 40
CHART_W, CHART_H = 560, 300
SAFE, CLOSE, RISK = (26, 150, 65), (253, 174, 97), (214, 39, 40)
LOAD, CAPACITY = (30, 110, 200), (90, 90, 90)
CLOSE_POINTS = 5.0  # within this many points above the share required: close


def _colour(outlook: Outlook) -> tuple[int, int, int]:
    if outlook.at_risk:
        return RISK
    return CLOSE if outlook.median < outlook.required + CLOSE_POINTS else SAFE


def render(result: Forecast, out: Path, zone: str, chosen: date | None = None) -> Path:
    """Draw ``result`` to ``out`` (written atomically); the load chart shows ``chosen``
    (default: the first night at risk, else the first night)."""
    nights = result.nights
    if not nights:
        raise ValueError("a forecast with no night has nothing to draw")
    priorities = [o.priority.value for o in nights[0].outlooks]
    grid_w = LEFT + CELL_W * len(priorities)
    height = max(TOP + CELL_H * len(nights) + 40, TOP + CHART_H + 80)
    image = Image.new("RGB", (grid_w + GAP + CHART_W + 60, height), "white")
    draw = ImageDraw.Draw(image)
    font = heatmap_font(13)
    draw.text(
        (8, 8),
        f"% within SLA, median of {result.replications} replications (red: at risk)",
        fill="black",
        font=font,
    )
    for j, name in enumerate(priorities):
        draw.text((LEFT + j * CELL_W + 6, TOP - 20), name, fill="black", font=font)
    for i, night in enumerate(nights):
        y = TOP + i * CELL_H
        draw.text((8, y + 4), f"{night.night:%a %d/%m}", fill="black", font=font)
        for j, outlook in enumerate(night.outlooks):
            x = LEFT + j * CELL_W
            draw.rectangle([x, y, x + CELL_W - 2, y + CELL_H - 2], fill=_colour(outlook))
            draw.text((x + 6, y + 4), f"{outlook.median:.1f} %", fill="black", font=font)
    picked = _chosen(nights, chosen)
    _load_chart(draw, picked, (grid_w + GAP, TOP), ZoneInfo(zone), font)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".png")
    os.close(fd)
    try:
        image.save(tmp, format="PNG")
        Path(tmp).replace(out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return out


def _chosen(nights: tuple[NightForecast, ...], chosen: date | None) -> NightForecast:
    if chosen is not None:
        for night in nights:
            if night.night == chosen:
                return night
        raise ValueError(f"night {chosen.isoformat()} is not in the forecast")
    return next((n for n in nights if n.at_risk), nights[0])


def _load_chart(
    draw: ImageDraw.ImageDraw,
    night: NightForecast,
    corner: tuple[int, int],
    zone: ZoneInfo,
    font: Font,
) -> None:
    left, top = corner
    hours = night.hours
    peak = max([*(h.load_min for h in hours), *(h.capacity_min for h in hours), 1.0])
    draw.text(
        (left, top - 40),
        f"night of {night.night:%a %d/%m}: reading minutes per hour",
        fill="black",
        font=font,
    )
    draw.text(
        (left, top - 22), "bars: expected load; line: capacity on shift", fill=LOAD, font=font
    )
    draw.rectangle([left, top, left + CHART_W, top + CHART_H], outline="black")
    step = CHART_W / max(1, len(hours))
    points = []
    for k, hour in enumerate(hours):
        x0 = left + k * step
        bar = CHART_H * hour.load_min / peak
        draw.rectangle([x0 + 2, top + CHART_H - bar, x0 + step - 2, top + CHART_H], fill=LOAD)
        points.append((x0 + step / 2, top + CHART_H - CHART_H * hour.capacity_min / peak))
        if k % 2 == 0:
            label = f"{hour.start.astimezone(zone):%H}h"
            draw.text((x0 + 2, top + CHART_H + 4), label, fill="black", font=font)
    if len(points) > 1:
        draw.line(points, fill=CAPACITY, width=3)
    draw.text((left - 30, top - 6), f"{peak:.0f}", fill="black", font=font)
    draw.text((left - 14, top + CHART_H - 8), "0", fill="black", font=font)
