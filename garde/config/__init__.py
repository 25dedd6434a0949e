"""Typed settings loaded from TOML, validated, with every default documented."""

from garde.config.errors import ConfigError, ConfigProblem
from garde.config.loader import example_path, load_settings
from garde.config.model import Settings

__all__ = ["ConfigError", "ConfigProblem", "Settings", "example_path", "load_settings"]
