"""Figures over simulated nights: SLA per priority, times to read, workload spread."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from garde.dispatch.model import Priority

if TYPE_CHECKING:
    from collections.abc import Sequence

    from garde.simulation.simulator import NightResult, ReadRecord


def _stats(values: Sequence[float], prefix: str) -> dict[str, float]:
    if not values:
        return {}
    arr = np.asarray(values, dtype=float)
    return {
        f"{prefix}mean_min": round(float(arr.mean()), 2),
        f"{prefix}p90_min": round(float(np.percentile(arr, 90)), 2),
        f"{prefix}p99_min": round(float(np.percentile(arr, 99)), 2),
        f"{prefix}max_min": round(float(arr.max()), 2),
    }


def read_figures(reads: Sequence[ReadRecord], unread: int = 0) -> dict[str, float]:
    """SLA and timing figures for a group of reads.

    ``mean/p90/p99_min`` run from arrival to the report (the read is done); the
    ``wait_*`` figures from arrival to the start of reading. Unread studies count as
    missing their SLA.
    """
    total = len(reads) + unread
    if total == 0:
        return {"count": 0}
    on_time = sum(1 for r in reads if r.finished <= r.deadline)
    figures: dict[str, float] = {
        "count": total,
        "within_sla_pct": round(100.0 * on_time / total, 3),
        "mean_lateness_min": round(sum(r.lateness for r in reads) / total, 3),
    }
    figures.update(_stats([r.turnaround for r in reads], ""))
    figures.update(_stats([r.wait for r in reads], "wait_"))
    return figures


def within_pct(reads: Sequence[ReadRecord], minutes: float) -> float:
    """Share (%) of reads reported within ``minutes`` of arrival."""
    if not reads:
        return 100.0
    return round(100.0 * sum(1 for r in reads if r.turnaround <= minutes) / len(reads), 3)


def workload_figures(nights: Sequence[NightResult]) -> dict[str, float]:
    """How evenly the night's reading is shared.

    ``cv_per_shift_hour``: coefficient of variation of reading minutes per hour on shift
    across readers, averaged over nights (0 = perfectly even, relative to shift length).
    ``max_minus_min_per_hour``: the same spread as a range, minutes per shift hour.
    """
    cvs, ranges, totals = [], [], []
    for night in nights:
        rates = np.array(
            [night.read_minutes[r] / (night.shift_minutes[r] / 60.0) for r in night.read_minutes]
        )
        cvs.append(float(rates.std() / rates.mean()) if rates.mean() > 0 else 0.0)
        ranges.append(float(rates.max() - rates.min()))
        totals.append(night.read_minutes)
    per_reader = (
        {rid: round(float(np.mean([t[rid] for t in totals])), 1) for rid in totals[0]}
        if totals
        else {}
    )
    out: dict[str, float] = {
        "cv_per_shift_hour": round(float(np.mean(cvs)), 4) if cvs else 0.0,
        "max_minus_min_per_hour": round(float(np.mean(ranges)), 2) if ranges else 0.0,
    }
    out.update({f"read_minutes_{rid}": v for rid, v in per_reader.items()})
    return out


def summarize(nights: Sequence[NightResult]) -> dict[str, object]:
    """Per-priority figures, urgent-work aggregates, workload and off-subspecialty share."""
    reads = [r for n in nights for r in n.reads]
    unread_total = sum(n.unread for n in nights)
    out: dict[str, object] = {}
    for priority in Priority:
        group = [r for r in reads if r.priority == priority.value]
        figures = read_figures(group)
        # Left unread when the last shift ended (arrived just before the morning
        # handover): handed to the day team, shown apart rather than counted late.
        figures["unread"] = sum(n.unread_priorities.count(priority.value) for n in nights)
        out[priority.value] = figures
    hot = [r for r in reads if r.priority != Priority.ROUTINE.value]
    out["all_urgent_work"] = read_figures(hot)
    out["all"] = read_figures(reads, unread_total)
    out["workload"] = workload_figures(nights)
    preferred = [r for r in reads if r.preferred_skill]
    off = sum(1 for r in preferred if not r.reader_has_preferred)
    out["off_subspecialty_pct"] = round(100.0 * off / len(preferred), 3) if preferred else 0.0
    out["preempted_reads_per_night"] = round(
        sum(1 for r in reads if r.preempted) / max(1, len(nights)), 3
    )
    out["unread_per_night"] = round(unread_total / max(1, len(nights)), 3)
    out["nights"] = len(nights)
    return out
