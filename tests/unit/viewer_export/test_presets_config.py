"""Window presets from config, chosen by triage; WebP and JPEG products by setting."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from pydicom.uid import generate_uid

from garde.config import ConfigError, load_settings
from garde.config.loader import example_path
from garde.config.model import BUILTIN_WINDOW_PRESETS, PreviewSettings
from garde.dispatch.triage import DEFAULT_RULES
from garde.viewer_export import (
    DEFAULT_PRESETS,
    DEFAULT_RULE_PRESETS,
    StudyPageInfo,
    VoiFunction,
    Window,
    choose,
    presets_from_settings,
    render_study,
    rule_presets_from_settings,
)
from garde.viewer_export.image_io import load_image
from tests.helpers import write_series


def _config(tmp_path: Path, previews: str) -> Path:
    """The example region with ``previews`` appended as extra preview tables."""
    text = example_path().read_text("utf-8")
    path = tmp_path / "region.toml"
    path.write_text(f"{text}\n{previews}\n", "utf-8")
    return path


def test_config_knows_every_built_in_preset_and_rule() -> None:
    assert set(BUILTIN_WINDOW_PRESETS) == set(DEFAULT_PRESETS)
    assert set(DEFAULT_RULE_PRESETS) <= {r.name for r in DEFAULT_RULES}
    assert set(DEFAULT_RULE_PRESETS.values()) <= set(DEFAULT_PRESETS)
    settings = load_settings()  # the example documents the defaults
    assert rule_presets_from_settings(settings.previews) == DEFAULT_RULE_PRESETS


def test_presets_from_config_merge_over_the_built_in_ones(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        """
[previews.presets.lung]
width = 1600
[previews.presets.liver]
center = 60
width = 160
function = "sigmoid"
body_parts = ["abdomen"]
keywords = ["foie"]
""",
    )
    previews = load_settings(path).previews
    presets = presets_from_settings(previews)
    assert presets["lung"].window == Window(-600, 1600)
    assert presets["lung"].keywords == DEFAULT_PRESETS["lung"].keywords
    assert presets["liver"].window == Window(60, 160, VoiFunction.SIGMOID)
    assert presets["liver"].body_parts == ("ABDOMEN",)
    assert presets["brain"] == DEFAULT_PRESETS["brain"]


def test_rule_presets_from_config_override_the_defaults(tmp_path: Path) -> None:
    text = example_path().read_text("utf-8").replace('ct-head = "brain"', 'ct-head = "bone"')
    path = tmp_path / "region.toml"
    path.write_text(text, "utf-8")
    table = rule_presets_from_settings(load_settings(path).previews)
    assert table["ct-head"] == "bone"
    assert table["stroke-alert"] == "stroke"


@pytest.mark.parametrize(
    ("tables", "key", "words"),
    [
        ("[previews.presets.lung]\nwidth = 0.5", "previews.presets.lung.width", ">= 1"),
        ('[previews.presets.lung]\nfunction = "CUBIC"', "previews.presets.lung.function", "CUBIC"),
        ("[previews.presets.liver]\ncenter = 60", "previews.presets.liver.center", "needs"),
        ('[previews.presets.lung]\ncolour = "red"', "previews.presets.lung.colour", "unknown"),
        ("[previews.presets.cta]\nmip_slab_mm = -1", "previews.presets.cta.mip_slab_mm", "> 0"),
    ],
)
def test_bad_presets_are_refused_naming_the_key(
    tmp_path: Path, tables: str, key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_config(tmp_path, tables))
    message = str(caught.value)
    assert key in message
    assert words in message


def test_a_rule_naming_an_unknown_preset_is_refused(tmp_path: Path) -> None:
    text = example_path().read_text("utf-8").replace('ct-head = "brain"', 'ct-head = "brian"')
    path = tmp_path / "region.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError, match=r"previews\.rule_presets\.ct-head.*'brian'"):
        load_settings(path)


def test_an_angio_series_of_a_stroke_study_gets_the_cta_window() -> None:
    stroke = {"modality": "CT", "study_description": "SCANNER CEREBRAL AVC"}
    axial = choose(DEFAULT_PRESETS, "stroke", series_description="AXIAL 5MM", **stroke)
    angio = choose(DEFAULT_PRESETS, "stroke", series_description="ANGIO TSA", **stroke)
    lung = choose(DEFAULT_PRESETS, "cta", series_description="PARENCHYME POUMON", **stroke)
    assert axial is not None and axial.name == "stroke"
    assert angio is not None and angio.name == "cta" and angio.mip_slab_mm
    assert lung is not None and lung.name == "lung"
    assert choose(DEFAULT_PRESETS, "stroke", modality="MR") is None  # the file's own window


@pytest.mark.parametrize(
    ("fmt", "suffix", "magic"), [("webp", ".webp", b"WEBP"), ("jpeg", ".jpg", b"JFIF")]
)
def test_products_come_in_the_configured_format_and_sizes(
    tmp_path: Path, fmt: str, suffix: str, magic: bytes
) -> None:
    files = write_series(tmp_path / "in", 12, description="ANGIO TSA", rows=96, columns=96)
    settings = replace(
        PreviewSettings(dir=tmp_path / "out"),
        format=fmt,
        thumbnail_px=48,
        key_px=80,
        montage_slices=4,
        montage_tile_px=32,
    )
    info = StudyPageInfo(generate_uid(), "CH test", "emergency")
    result = render_study(
        {"s": files}, tmp_path / "out", settings=settings, preset=None, study_info=info
    )
    [series] = result.series
    assert series.mip is not None  # "ANGIO" chose the CTA preset, which has a MIP
    for path in (series.thumbnail, series.key_image, series.montage, series.mip):
        assert path is not None
        assert path.suffix == suffix
        assert magic in path.read_bytes()[:32]
    assert max(load_image(series.thumbnail).shape[:2]) == 48  # type: ignore[arg-type]
    assert max(load_image(series.key_image).shape[:2]) == 80  # type: ignore[arg-type]
    montage = load_image(series.montage)  # type: ignore[arg-type]
    assert montage.shape[:2] == (2 * 32 + 2, 2 * 32 + 2)  # 4 tiles of 32 px, a 2 px gap
