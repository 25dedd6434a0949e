"""SLA curves: for each priority, the share of studies read within t minutes of arrival."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

WIDTH, HEIGHT = 900, 520
LEFT, RIGHT, TOP, BOTTOM = 70, 190, 40, 60
COLOURS = {
    "stroke": (200, 30, 45),
    "emergency": (230, 120, 20),
    "urgent": (30, 110, 200),
    "routine": (90, 90, 90),
}


def render_sla_curves(
    delays_min: Mapping[str, Sequence[float]],
    targets_min: Mapping[str, float],
    out: Path,
    *,
    title: str = "Studies read within t minutes of arrival",
    horizon_min: float = 240.0,
) -> Path:
    """Draw one cumulative curve per priority with its target as a dashed line; PNG."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(minutes: float) -> float:
        return LEFT + plot_w * min(minutes, horizon_min) / horizon_min

    def y_of(share: float) -> float:
        return TOP + plot_h * (1 - share)

    draw.text((LEFT, 10), title, fill="black", font=font)
    for pct in range(0, 101, 20):
        y = y_of(pct / 100)
        draw.line([(LEFT, y), (LEFT + plot_w, y)], fill=(225, 225, 225))
        draw.text((LEFT - 45, y - 8), f"{pct} %", fill="black", font=font)
    step = 30 if horizon_min > 120 else 15
    for minute in range(0, int(horizon_min) + 1, step):
        x = x_of(minute)
        draw.line([(x, TOP + plot_h), (x, TOP + plot_h + 5)], fill="black")
        draw.text((x - 10, TOP + plot_h + 8), str(minute), fill="black", font=font)
    draw.text(
        (LEFT + plot_w / 2 - 60, HEIGHT - 25), "minutes since arrival", fill="black", font=font
    )
    draw.rectangle([LEFT, TOP, LEFT + plot_w, TOP + plot_h], outline="black")
    legend_y = TOP
    for name, values in delays_min.items():
        colour = COLOURS.get(name, (0, 0, 0))
        ordered = sorted(values)
        if ordered:
            points = [(x_of(0), y_of(0))]
            for i, minutes in enumerate(ordered, start=1):
                points.append((x_of(minutes), y_of((i - 1) / len(ordered))))
                points.append((x_of(minutes), y_of(i / len(ordered))))
            points.append(
                (
                    x_of(horizon_min),
                    y_of(len([v for v in ordered if v <= horizon_min]) / len(ordered)),
                )
            )
            draw.line(points, fill=colour, width=3)
        target = targets_min.get(name)
        if target is not None and target <= horizon_min:
            x = x_of(target)
            for y0 in range(TOP, TOP + plot_h, 10):
                draw.line([(x, y0), (x, min(y0 + 5, TOP + plot_h))], fill=colour, width=1)
        draw.line(
            [(WIDTH - RIGHT + 15, legend_y + 8), (WIDTH - RIGHT + 40, legend_y + 8)],
            fill=colour,
            width=3,
        )
        draw.text(
            (WIDTH - RIGHT + 45, legend_y), f"{name} ({len(ordered)})", fill="black", font=font
        )
        legend_y += 22
    draw.text((WIDTH - RIGHT + 15, legend_y + 6), "dashed: SLA target", fill="black", font=font)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".png")
    with os.fdopen(fd, "wb") as handle:
        image.save(handle, format="PNG")
    Path(tmp).replace(out)
    return out
