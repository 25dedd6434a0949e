"""The forecast's errors."""

from __future__ import annotations


class ForecastError(Exception):
    """Base of the forecast's errors."""


class ScenarioError(ForecastError):
    """A scenario file that cannot be read, listing every problem with file and key."""


class NoHistoryError(ForecastError):
    """The store has too little history to learn arrivals from (use a scenario file)."""
