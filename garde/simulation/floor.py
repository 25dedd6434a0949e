"""The simulated reading floor: cases, readers and what a policy may look at.

Times are float minutes after night start. A policy sees the expected reading minutes
of a case (triage's estimate); the true minutes stay with the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from garde.dispatch.model import Priority, Radiologist, Study
    from garde.simulation.scenario import NightScenario, SyntheticArrival


@dataclass(slots=True, eq=False)
class Case:
    """One study's life in the simulation (identity semantics: one object per study)."""

    index: int
    arrival: SyntheticArrival
    study: Study
    arrived: float
    deadline: float
    expected: float
    true: float
    started: float | None = None
    finished: float | None = None
    reader: str | None = None
    remaining: float | None = None  # minutes of reading left once started (reader speed)
    preempted: int = 0

    @property
    def priority(self) -> Priority:
        """The triaged priority."""
        return self.study.priority

    @property
    def rank(self) -> int:
        """0 for stroke ... 3 for routine."""
        return self.study.priority.rank


@dataclass(slots=True, eq=False)
class Reader:
    """One radiologist on the simulated floor."""

    radiologist: Radiologist
    shifts: tuple[tuple[float, float], ...]
    on_shift: bool = False
    current: Case | None = None
    current_end: float = 0.0  # true end of the current read (hidden from policies)
    current_started: float = 0.0
    token: int = 0  # bumped on pre-emption so a stale finish event is ignored
    queue: list[Case] = field(default_factory=list)  # the policy's tentative queue
    suspended: list[Case] = field(default_factory=list)  # pre-empted, resumed first
    read_minutes: float = 0.0

    @property
    def id(self) -> str:
        """The radiologist id."""
        return self.radiologist.id

    def shift_end(self, now: float) -> float:
        """End of the shift covering ``now`` (``now`` itself if off shift)."""
        for start, end in self.shifts:
            if start <= now < end:
                return end
        return now

    def shift_minutes(self) -> float:
        """Minutes on shift over the night."""
        return sum(end - start for start, end in self.shifts)

    def reading_time(self, case: Case) -> float:
        """Expected minutes for this reader to read ``case`` (speed-scaled estimate)."""
        return case.expected / self.radiologist.speed

    def expected_free_at(self, now: float) -> float:
        """When the reader is expected to be free, from what a policy may know."""
        if self.current is None:
            return now
        estimate = self.current_started + self.reading_time(self.current)
        # Past its estimate the read is still going: assume it ends very soon.
        return max(now + 0.5, estimate)


@dataclass(slots=True)
class Floor:
    """The state a policy acts on: readers, their queues and the shared pool."""

    scenario: NightScenario
    readers: dict[str, Reader]
    pool: list[Case] = field(default_factory=list)  # shared queue (pull policies, unroutable)
    cases: list[Case] = field(default_factory=list)

    def may_read(self, reader: Reader, case: Case) -> bool:
        """On shift, credentialed for the site and holding every required skill."""
        rad = reader.radiologist
        return (
            reader.on_shift and case.study.site_id in rad.sites and case.study.skills <= rad.skills
        )

    def may_ever_read(self, reader: Reader, case: Case) -> bool:
        """Credentialed and skilled, whether or not on shift now."""
        rad = reader.radiologist
        return case.study.site_id in rad.sites and case.study.skills <= rad.skills

    def on_shift(self) -> list[Reader]:
        """Readers on shift now, in id order."""
        return [r for r in self.readers.values() if r.on_shift]

    def unstarted(self) -> list[Case]:
        """Every case waiting (in a queue or the pool), not started."""
        waiting = list(self.pool)
        for reader in self.readers.values():
            waiting.extend(reader.queue)
        return waiting

    def remove(self, case: Case) -> None:
        """Take ``case`` out of whichever queue or pool holds it."""
        if case in self.pool:
            self.pool.remove(case)
            return
        for reader in self.readers.values():
            if case in reader.queue:
                reader.queue.remove(case)
                return
        raise ValueError(f"case {case.index} is not waiting anywhere")
