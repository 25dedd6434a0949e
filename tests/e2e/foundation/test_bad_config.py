"""`garde serve` with a bad config exits 2 with a one-line, located error and no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

GOOD = """
[region]
medical_director = "director@example.org"

[[sites]]
id = "h01"
name = "CH One"
ae_titles = ["ONE_CT"]

[[radiologists]]
id = "r01"
name = "Dr One"
skills = ["neuro"]
sites = ["h01"]
"""

CASES = {
    "missing-key": (GOOD.replace('name = "CH One"\n', ""), "sites[0].name: missing"),
    "wrong-type": (GOOD + "[gateway]\nport = 'x'\n", "gateway.port: expected an integer"),
    "unknown-site": (GOOD.replace('sites = ["h01"]', 'sites = ["h09"]'), "unknown site 'h09'"),
    "no-medical-director": (
        GOOD.replace('[region]\nmedical_director = "director@example.org"\n', ""),
        "region.medical_director: required",
    ),
    "unknown-medical-director": (
        GOOD.replace('"director@example.org"', '"r0O"'),
        "region.medical_director: unknown radiologist 'r0O'",
    ),
    "duplicate-ae": (
        GOOD + '[[sites]]\nid = "h02"\nname = "Two"\nae_titles = ["ONE_CT"]\n',
        "duplicate AE title 'ONE_CT'",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_serve_refuses_bad_config(case: str, tmp_path: Path) -> None:
    text, expected = CASES[case]
    config = tmp_path / "bad.toml"
    config.write_text(text, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "garde", "--config", str(config), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(config) in lines[0] and expected in lines[0]
    assert "Traceback" not in result.stderr


def test_serve_refuses_unreadable_config(tmp_path: Path) -> None:
    config = tmp_path / "folder.toml"
    config.mkdir()  # unreadable as a file, even for root
    result = subprocess.run(
        [sys.executable, "-m", "garde", "--config", str(config), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert f"{config}: (file): cannot read" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_database_that_needs_upgrading(tmp_path: Path) -> None:
    config = tmp_path / "garde.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n' + GOOD, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "garde", "--config", str(config), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "garde db upgrade" in result.stderr
    assert "Traceback" not in result.stderr
