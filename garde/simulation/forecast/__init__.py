"""`garde forecast`: replay each night of a period through the dispatch core N times
and tell planners the SLA their roster will give, the nights at risk and what would
fix them."""

from garde.simulation.forecast.errors import ForecastError, NoHistoryError, ScenarioError
from garde.simulation.forecast.model import ArrivalModel, Forecast, Region, Request
from garde.simulation.forecast.service import forecast

__all__ = [
    "ArrivalModel",
    "Forecast",
    "ForecastError",
    "NoHistoryError",
    "Region",
    "Request",
    "ScenarioError",
    "forecast",
]
