"""A scenario file as an arrival model: bands per hour of the week, every problem named."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from garde.dispatch.model import Priority, Site
from garde.simulation.forecast import ScenarioError
from garde.simulation.forecast.scenario_file import load_scenario

if TYPE_CHECKING:
    from pathlib import Path

SITES = (
    Site("h1", "One", frozenset({"H1"})),
    Site("h2", "Two", frozenset({"H2"})),
)
SUNDAY_23H = 6 * 24 + 23


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nights.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_bands_split_over_hospitals_and_run_past_midnight(tmp_path: Path) -> None:
    model = load_scenario(
        write(
            tmp_path,
            """
name = "test"
[[rates]]
from = "22:30"
to = "01:00"
per_hour = 4.0
days = ["sun"]
[[rates]]
from = "20:00"
to = "21:00"
per_hour = 3.0
site = "h2"
""",
        ),
        SITES,
    )
    assert model.hourly("h1", SUNDAY_23H - 1) == pytest.approx(1.0)  # 22:30-23:00: half
    assert model.hourly("h1", SUNDAY_23H) == pytest.approx(2.0)
    assert model.hourly("h2", 0) == pytest.approx(2.0)  # Monday 00:00: the week wraps
    assert model.hourly("h1", 1) == 0.0
    assert model.hourly("h2", 20) == pytest.approx(3.0)  # every day, h2 alone
    assert model.hourly("h1", 20) == 0.0
    assert {e.priority for e in model.mix} >= {Priority.STROKE, Priority.URGENT}  # NIGHTS.md
    assert model.source == "scenario test (nights.toml)"


def test_every_problem_is_named_with_file_and_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
color = "blue"
[[rates]]
from = "25:00"
to = "01:00"
per_hour = -1
[[rates]]
from = "20:00"
to = "21:00"
per_hour = 2
site = "h9"
days = ["someday"]
[[mix]]
priority = "superurgent"
[speeds]
r1 = 0
""",
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, SITES)
    lines = str(caught.value).splitlines()
    assert all(line.startswith(f"{path}: ") for line in lines)
    keys = [line.split(": ")[1] for line in lines]
    assert keys == [
        "rates[0].from",
        "rates[0].per_hour",
        "rates[1].days",
        "mix[0].priority",
        "speeds.r1",
        "color",
    ]
