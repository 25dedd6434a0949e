"""A synthetic night for the demo: the simulator's NIGHTS.md-shaped arrivals, mapped onto
the configured hospitals and turned into small DICOM studies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from garde.dispatch.simulation.scenario import default_night, generate_arrivals
from garde.services.synthetic_dicom import SyntheticStudy

if TYPE_CHECKING:
    from datetime import datetime

    from garde.config.model import Settings

# Slices per synthetic series by modality: enough for a montage, small enough to be quick.
_SLICES = {"CT": 12, "MR": 8}


@dataclass(frozen=True, slots=True)
class DemoArrival:
    """One study that arrives during the demo night."""

    at: datetime
    site_id: str
    study: SyntheticStudy
    true_minutes: float  # how long a nominal-speed reader really takes


def night_arrivals(settings: Settings, start: datetime, seed: int) -> list[DemoArrival]:
    """The scenario's arrivals from ``start``, its hospitals mapped onto ours in order."""
    scenario = default_night(start)
    ours = [s.id for s in settings.sites]
    mapping = {site.id: ours[i % len(ours)] for i, site in enumerate(scenario.sites)}
    arrivals = []
    for a in generate_arrivals(scenario, seed):
        study = SyntheticStudy(
            modality=a.modality,
            body_part=a.body_part,
            description=a.description,
            patient_ref=f"DEMO-{a.patient_key[:12]}",
            acquired_at=a.arrived_at,
            slices=_SLICES.get(a.modality, 1),
        )
        arrivals.append(DemoArrival(a.arrived_at, mapping[a.site_id], study, a.true_minutes))
    return arrivals
