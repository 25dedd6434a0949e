"""Plain-text rendering of a `RosterReport` (the CLI's table output)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from garde.rosters._localtime import zone

if TYPE_CHECKING:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from garde.rosters.generation.request import RosterSolution
    from garde.rosters.validation import RosterReport

_FMT = "%a %Y-%m-%d %H:%M"


def render_text(report: RosterReport) -> str:
    """The report as aligned text tables: a summary line, then gaps, then violations."""
    tz = zone(report.timezone)
    lines = [
        f"Roster {_local(report.start, tz)} to {_local(report.end, tz)} ({report.timezone}): "
        f"{len(report.gaps)} gap(s), {len(report.violations)} violation(s)"
        + (" - OK" if report.ok else "")
    ]
    if report.gaps:
        lines += ["", "GAPS"]
        lines += _table(
            ("site", "from", "to", "hours", "on shift (not credentialed)"),
            [
                (
                    _site_label(report, g.site),
                    _local(g.start, tz),
                    _local(g.end, tz),
                    f"{g.hours:.1f}",
                    ", ".join(g.on_shift) or "nobody",
                )
                for g in report.gaps
            ],
        )
    if report.violations:
        lines += ["", "VIOLATIONS"]
        lines += _table(
            ("rule", "radiologist", "at", "detail"),
            [(v.rule, v.radiologist_id, _local(v.at, tz), v.detail) for v in report.violations],
        )
    if report.outside:
        lines += [
            "",
            f"OUTSIDE THE PERIOD ({len(report.outside)} shift(s) of the file: cover not checked)",
        ]
        lines += _table(
            ("radiologist", "role", "from", "to"),
            [
                (s.radiologist_id, s.role, _local(s.start, tz), _local(s.end, tz))
                for s in report.outside
            ],
        )
    return "\n".join(lines) + "\n"


def _site_label(report: RosterReport, site: str) -> str:
    name = report.site_names.get(site)
    return f"{site} ({name})" if name else site


def _local(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime(_FMT)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


def summary_text(solution: RosterSolution) -> str:
    """A generation's answer as text: the status line, one row per radiologist (nights,
    weekend and holiday shifts, stroke days, hours, and weighted hours beside the even
    share: what each would carry if every one could take every shift), then, for a
    partial roster, its unfilled seats."""
    lines = [
        f"{solution.status}: {len(solution.shifts)} shifts"
        + (
            f", objective {solution.objective:g}, bound {solution.bound:g}, "
            f"gap {solution.gap_pct:.1f} %"
            if solution.objective == solution.objective  # NaN when no roster was found
            else ""
        )
        + f" in {solution.seconds:.1f} s"
    ]
    if solution.loads:
        lines.append("")
        lines += _table(
            (
                "radiologist",
                "nights",
                "weekends",
                "holidays",
                "stroke days",
                "hours",
                "weighted",
                "even share",
            ),
            [
                (
                    load.radiologist_id,
                    str(load.nights),
                    str(load.weekend_shifts),
                    str(load.holiday_shifts),
                    str(load.stroke_days),
                    f"{load.hours:.0f}",
                    f"{load.weighted_hours:.0f}",
                    f"{load.fair_weighted_hours:.0f}",
                )
                for load in solution.loads
            ],
        )
    if solution.unfilled:
        lines += ["", f"UNFILLED ({len(solution.unfilled)})", *solution.unfilled]
    return "\n".join(lines)
