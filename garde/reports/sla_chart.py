"""SLA curves: for each priority, the share of studies read (solid) and whose report was
delivered to the hospital (dashed) within t minutes of arrival."""

from __future__ import annotations

import itertools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

WIDTH, HEIGHT = 900, 520
LEFT, RIGHT, TOP, BOTTOM = 70, 220, 40, 60
COLOURS = {
    "stroke": (200, 30, 45),
    "emergency": (230, 120, 20),
    "urgent": (30, 110, 200),
    "routine": (90, 90, 90),
}


@dataclass(frozen=True, slots=True)
class Curve:
    """One drawn curve: which priority, which clock, and its sorted delays in minutes."""

    priority: str
    clock: str  # "read" (arrival -> read) or "delivered" (arrival -> report delivered)
    minutes: tuple[float, ...]

    @property
    def dashed(self) -> bool:
        return self.clock == "delivered"

    @property
    def label(self) -> str:
        return f"{self.priority} {self.clock} ({len(self.minutes)})"


def sla_curves(
    delays_min: Mapping[str, Sequence[float]],
    delivered_min: Mapping[str, Sequence[float]] | None = None,
) -> list[Curve]:
    """The curves the chart draws, per priority: read, then delivered when given."""
    delivered_min = delivered_min or {}
    curves: list[Curve] = []
    for name in dict.fromkeys([*delays_min, *delivered_min]):
        if name in delays_min:
            curves.append(Curve(name, "read", tuple(sorted(delays_min[name]))))
        if name in delivered_min:
            curves.append(Curve(name, "delivered", tuple(sorted(delivered_min[name]))))
    return curves


def _dashed(
    draw: ImageDraw.ImageDraw,
    points: Sequence[tuple[float, float]],
    colour: tuple[int, int, int],
    dash: float = 8.0,
) -> None:
    """A polyline drawn as dashes of `dash` pixels along its length (PIL has no dash style)."""
    on, left = True, dash
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        length = ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5
        done = 0.0
        while done < length:
            step = min(left, length - done)
            if on:
                a, b = done / length, (done + step) / length
                draw.line(
                    [
                        (x0 + (x1 - x0) * a, y0 + (y1 - y0) * a),
                        (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b),
                    ],
                    fill=colour,
                    width=3,
                )
            done += step
            left -= step
            if left <= 0:
                on, left = not on, dash


def _steps(
    ordered: Sequence[float],
    horizon_min: float,
    x_of: Callable[[float], float],
    y_of: Callable[[float], float],
) -> list[tuple[float, float]]:
    """The cumulative share as a staircase, in pixels, up to the horizon."""
    points = [(x_of(0), y_of(0))]
    for i, minutes in enumerate(ordered, start=1):
        points.append((x_of(minutes), y_of((i - 1) / len(ordered))))
        points.append((x_of(minutes), y_of(i / len(ordered))))
    within = len([v for v in ordered if v <= horizon_min])
    points.append((x_of(horizon_min), y_of(within / len(ordered))))
    return points


def _axes(
    draw: ImageDraw.ImageDraw,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    horizon_min: float,
    x_of: Callable[[float], float],
    y_of: Callable[[float], float],
) -> None:
    """Grid, tick labels and frame."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
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


def render_sla_curves(
    delays_min: Mapping[str, Sequence[float]],
    targets_min: Mapping[str, float],
    out: Path,
    *,
    delivered_min: Mapping[str, Sequence[float]] | None = None,
    title: str = "Studies read (solid) / report delivered (dashed) within t minutes of arrival",
    horizon_min: float = 240.0,
) -> Path:
    """Draw per priority the cumulative arrival -> read curve (solid) and, when given, the
    arrival -> report delivered curve (dashed, same colour), with each target as a dotted
    vertical line; PNG."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(minutes: float) -> float:
        return LEFT + plot_w * min(minutes, horizon_min) / horizon_min

    def y_of(share: float) -> float:
        return TOP + plot_h * (1 - share)

    draw.text((LEFT, 10), title, fill="black", font=font)
    _axes(draw, font, horizon_min, x_of, y_of)
    shown = {*delays_min, *(delivered_min or {})}
    for name, target in targets_min.items():
        if name in shown and target <= horizon_min:
            x, colour = x_of(target), COLOURS.get(name, (0, 0, 0))
            for y0 in range(TOP, TOP + plot_h, 10):
                draw.line([(x, y0), (x, min(y0 + 2, TOP + plot_h))], fill=colour, width=1)
    legend_y = TOP
    for curve in sla_curves(delays_min, delivered_min):
        colour = COLOURS.get(curve.priority, (0, 0, 0))
        if curve.minutes:
            points = _steps(curve.minutes, horizon_min, x_of, y_of)
            if curve.dashed:
                _dashed(draw, points, colour)
            else:
                draw.line(points, fill=colour, width=3)
        sample = [(WIDTH - RIGHT + 15, legend_y + 8), (WIDTH - RIGHT + 40, legend_y + 8)]
        if curve.dashed:
            _dashed(draw, sample, colour, dash=5.0)
        else:
            draw.line(sample, fill=colour, width=3)
        draw.text((WIDTH - RIGHT + 45, legend_y), curve.label, fill="black", font=font)
        legend_y += 22
    draw.text((WIDTH - RIGHT + 15, legend_y + 6), "dotted: SLA target", fill="black", font=font)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".png")
    with os.fdopen(fd, "wb") as handle:
        image.save(handle, format="PNG")
    Path(tmp).replace(out)
    return out
