"""A production region has no open mode: every CLI user presents a personal token, even
before the first one is issued; a demo or test region lets the worklist open."""

from __future__ import annotations

from typing import TYPE_CHECKING

from click.testing import CliRunner

from garde.bootstrap import build_runtime
from garde.cli import main
from garde.config import load_settings
from garde.config.loader import example_path

if TYPE_CHECKING:
    from pathlib import Path


def _config(tmp_path: Path, url: str, environment: str) -> Path:
    text = example_path().read_text(encoding="utf-8")
    text = text.replace('environment = "demo"', f'environment = "{environment}"', 1)
    text = text.replace('data_dir = "data"', f'data_dir = "{tmp_path}"', 1)
    text = text.replace('database_url = ""', f'database_url = "{url}"', 1)
    path = tmp_path / f"{environment}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_only_demo_and_test_regions_have_an_open_mode(migrated_url: str, tmp_path: Path) -> None:
    runtime = build_runtime(load_settings(_config(tmp_path, migrated_url, "test")))
    runtime.sync_directory()  # the radiologists, as `garde serve` writes them at start
    runtime.close()
    runner = CliRunner()
    for environment, opens in (("production", False), ("demo", True), ("test", True)):
        config = _config(tmp_path, migrated_url, environment)
        for args in (["worklist", "-r", "r01"], ["status"]):
            run = runner.invoke(main, ["--config", str(config), *args], env={"GARDE_TOKEN": ""})
            assert (run.exit_code == 0) is opens, (environment, args, run.output)
            if not opens:
                assert "a production region needs a personal token" in run.output
