"""Radiologists named by their RPPS number in config and rosters (issue 18, item 1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from garde.config import ConfigError, load_settings
from garde.config.loader import example_path
from garde.dispatch.model import Radiologist
from garde.rosters.matching import match_radiologist

if TYPE_CHECKING:
    from pathlib import Path

CONFIG = """
[region]
medical_director = "10999000085"

[rosters]
stroke_pool = ["10999000002"]

[directory]
specialties = ["SM44"]

[[sites]]
id = "h01"
name = "CH One"
ae_titles = ["ONE_CT"]

[[radiologists]]
id = "r01"
rpps = "10999000002"
skills = ["neuro"]
sites = ["h01"]

[[radiologists]]
rpps = "10999000085"
skills = ["neuro"]
sites = "all"
"""


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "garde.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, {})


def test_an_rpps_number_stands_for_the_id_wherever_config_names_a_radiologist(
    tmp_path: Path,
) -> None:
    settings = _load(tmp_path, CONFIG)
    by_id = {r.id: r for r in settings.radiologists}  # type: ignore[attr-defined]
    assert by_id["r01"].rpps == "10999000002"
    assert by_id["r01"].name == "r01"  # until the directory names them
    director = by_id["10999000085"]  # no id: the number is the id
    assert director.medical_director
    assert settings.region.medical_director == "10999000085"  # type: ignore[attr-defined]
    assert settings.rosters.stroke_pool == frozenset({"r01"})  # type: ignore[attr-defined]
    assert settings.directory.specialties == frozenset({"SM44"})  # type: ignore[attr-defined]


def test_a_malformed_rpps_number_is_a_located_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, CONFIG.replace('rpps = "10999000002"', 'rpps = "10999000003"'))
    assert "radiologists[0].rpps" in str(caught.value) or "rpps" in str(caught.value)
    assert "'10999000003' is not an RPPS number" in str(caught.value)


def test_the_example_region_names_its_radiologists_by_rpps() -> None:
    settings = load_settings(example_path(), {})
    assert all(r.rpps for r in settings.radiologists)


def test_a_roster_may_name_a_radiologist_by_rpps() -> None:
    rads = (
        Radiologist("r01", "Dr A", frozenset(), frozenset(), rpps="10999000002"),
        Radiologist("r02", "Dr B", frozenset(), frozenset()),
    )
    assert match_radiologist("10999000002", rads).id == "r01"
    with pytest.raises(LookupError):
        match_radiologist("", rads)  # an empty RPPS never matches one without
