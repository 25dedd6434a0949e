"""Garde's misses against the offline reference's, on the same nights (issue 16 item 4).

"Within" is one definition for every side: the report is done (the read finished) at
most the target's minutes after the study arrived, and a study left unread at the end
of the night is a miss (`offline.misses`). Stroke 15 min, emergency its SLA (60 min),
urgent 60 min: the benchmark's targets, not the router's deadlines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from garde.dispatch.model import Priority
from garde.simulation.offline import STROKE_WITHIN_MIN, URGENT_WITHIN_MIN, misses

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from garde.simulation.offline import OfflineNight, TimedRead

WITHIN_MIN: dict[Priority, float] = {
    Priority.STROKE: STROKE_WITHIN_MIN,
    Priority.EMERGENCY: 60.0,
    Priority.URGENT: URGENT_WITHIN_MIN,
}


class NightReads(Protocol):
    """What the figures need of a replayed night: its reads and its unread priorities."""

    @property
    def reads(self) -> Sequence[TimedRead]: ...

    @property
    def unread_priorities(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class MissCount:
    """Misses of one priority summed over the nights, for a policy and the reference."""

    policy: int
    offline: int

    @property
    def ratio(self) -> float | None:
        """Policy misses over the reference's; 1.0 when both are 0, None if only it is."""
        if self.offline:
            return round(self.policy / self.offline, 3)
        return 1.0 if not self.policy else None


def miss_counts(
    mine: Sequence[NightReads], offline: Sequence[OfflineNight]
) -> dict[Priority, MissCount]:
    """Per priority, the misses of ``mine`` and of the reference over the same nights."""
    if len(mine) != len(offline):
        raise ValueError(f"nights differ in number: {len(mine)} and {len(offline)}")
    out = {}
    for priority, minutes in WITHIN_MIN.items():
        out[priority] = MissCount(
            sum(misses(n.reads, n.unread_priorities, priority, minutes) for n in mine),
            sum(misses(n.reads, n.unread_priorities, priority, minutes) for n in offline),
        )
    return out


def solver_status(offline: Sequence[OfflineNight]) -> dict[str, object]:
    """How far the reference is proven: optimal nights, and per tier the proven nights
    and the mean relative gap of the others."""
    out: dict[str, object] = {
        "nights": len(offline),
        "proven_optimal_nights": sum(1 for n in offline if n.optimal),
    }
    names = [t.name for t in offline[0].tiers] if offline else []
    for k, name in enumerate(names):
        tiers = [n.tiers[k] for n in offline]
        open_gaps = [t.gap for t in tiers if not t.optimal]
        out[name] = {
            "proven_nights": sum(1 for t in tiers if t.optimal),
            "value": sum(t.value for t in tiers),
            "bound": sum(t.bound for t in tiers),
            "mean_gap_unproven": round(sum(open_gaps) / len(open_gaps), 4) if open_gaps else 0.0,
        }
    return out


def ratios(counts: Mapping[Priority, MissCount]) -> dict[str, dict[str, float | int | None]]:
    """The counts as JSON: per priority the policy's misses, the reference's, the ratio."""
    return {
        p.value: {"policy": c.policy, "offline": c.offline, "ratio": c.ratio}
        for p, c in counts.items()
    }
