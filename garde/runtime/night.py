"""A synthetic night for the demo: the simulator's NIGHTS.md-shaped arrivals, mapped onto
the configured hospitals and turned into small DICOM studies, written ahead of time."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

from garde.runtime.synthetic_dicom import SyntheticStudy, write_study
from garde.simulation.scenario import default_night, generate_arrivals

if TYPE_CHECKING:
    from collections.abc import Sequence
    from concurrent.futures import Future
    from datetime import datetime
    from pathlib import Path
    from types import TracebackType

    from garde.config.model import Settings

# Slices per synthetic series by modality: enough for a montage, small enough to be quick.
_SLICES = {"CT": 6, "MR": 6}


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


class NightFiles:
    """The arrivals' DICOM files, written by a helper process ahead of their pushes.

    Encoding DICOM with pydicom is CPU-bound Python: in the demo's own process it would
    take the GIL from the gateway and the jobs. A spawned process (never forked: the
    demo runs threads) writes the studies in arrival order on the other core.

    Parameters
    ----------
    arrivals
        The night's arrivals, in the order they will be asked for.
    folder
        Where study ``n`` is written, under ``folder/<n>``.
    """

    def __init__(self, arrivals: Sequence[DemoArrival], folder: Path) -> None:
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        self._studies: list[Future[tuple[str, list[Path]]]] = [
            self._pool.submit(write_study, a.study, folder / f"{n:04d}")
            for n, a in enumerate(arrivals)
        ]

    def study(self, index: int) -> tuple[str, list[Path]]:
        """The StudyInstanceUID and files of arrival ``index`` (waits until written)."""
        return self._studies[index].result()

    def close(self) -> None:
        """Stop writing (the studies not yet written are dropped)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
