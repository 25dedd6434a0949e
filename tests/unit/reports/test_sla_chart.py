"""The SLA chart draws both clocks of issue 14: arrival -> read and arrival -> delivered."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PIL import Image

from garde.reports.sla_chart import (
    COLOURS,
    HEIGHT,
    LEFT,
    RIGHT,
    TOP,
    WIDTH,
    render_sla_curves,
    sla_curves,
)

if TYPE_CHECKING:
    from pathlib import Path

READ = {"stroke": [10.0, 12.0], "routine": [90.0]}
DELIVERED = {"stroke": [100.0, 104.0], "routine": [150.0]}


def test_each_priority_has_a_read_and_a_delivered_curve() -> None:
    curves = sla_curves(READ, DELIVERED)
    assert [(c.priority, c.clock, c.dashed) for c in curves] == [
        ("stroke", "read", False),
        ("stroke", "delivered", True),
        ("routine", "read", False),
        ("routine", "delivered", True),
    ]
    assert curves[1].minutes == (100.0, 104.0)
    assert curves[1].label == "stroke delivered (2)"
    assert [c.clock for c in sla_curves(READ)] == ["read", "read"]


def _stroke_pixels_in_column(png: Path, minutes: float) -> int:
    image = Image.open(png).convert("RGB")
    x = round(LEFT + (WIDTH - LEFT - RIGHT) * minutes / 240.0)
    return sum(
        1
        for y in range(TOP + 1, HEIGHT - 61)
        for dx in (-1, 0, 1)
        if image.getpixel((x + dx, y)) == COLOURS["stroke"]
    )


def test_the_png_draws_the_delivered_curve_dashed(tmp_path: Path) -> None:
    both = render_sla_curves(READ, {}, tmp_path / "both.png", delivered_min=DELIVERED)
    read_only = render_sla_curves(READ, {}, tmp_path / "read.png")
    # the stroke delivered curve rises at 100 minutes; only the chart given it draws it there
    assert _stroke_pixels_in_column(both, 100.0) > 20
    assert _stroke_pixels_in_column(read_only, 100.0) == 0
    assert _stroke_pixels_in_column(both, 10.0) > 20  # the read curve is still drawn
    # dashed: the step at 100 minutes has gaps, the solid step at 10 minutes has none
    assert _stroke_pixels_in_column(both, 100.0) < _stroke_pixels_in_column(both, 10.0)
