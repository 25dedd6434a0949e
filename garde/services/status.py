"""`garde status`: queues per radiologist, studies at risk, the night's SLA figures so far.

Works from the store alone (it runs beside `garde serve`, not inside it): the board is
restored in this process, which gives every queued study's predicted finish. A study is
at risk when it has no reader, is predicted to finish after its deadline, has reached
an escalation tier, or is past its deadline already.

"The night" runs from the last morning handover (``[sla] morning_handover``, in the
first site's time zone) unless ``since`` is given.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from garde.dispatch import sla
from garde.dispatch.escalation import TIER_LEVEL
from garde.dispatch.model import Priority, StudyState
from garde.dispatch.risk import status_reason

if TYPE_CHECKING:
    from datetime import datetime

    from garde.config.model import Settings
    from garde.services.platform import DispatchingPlatform
    from garde.store.records import OutboxBacklog, StudyRecord

TIER_NAMES = {0: "", **{level: tier.value for tier, level in TIER_LEVEL.items()}}


@dataclass(frozen=True, slots=True)
class QueueLine:
    """One radiologist's desk."""

    radiologist_id: str
    name: str
    on_shift: bool
    in_progress: int
    queued: int
    queued_minutes: float
    shift_ends: datetime | None


@dataclass(frozen=True, slots=True)
class AtRisk:
    """An open study that may breach (or has breached) its SLA."""

    study_uid: str
    site_id: str
    priority: str
    state: str
    assignee: str | None
    deadline: datetime
    predicted_finish: datetime | None
    minutes_left: float
    escalation: str
    reason: str
    handle: str = ""  # the study's short name ("h03-12")


@dataclass(frozen=True, slots=True)
class SlaFigures:
    """One priority's figures over the night so far."""

    priority: str
    received: int
    read: int
    open: int
    within_sla: int
    breached: int
    within_sla_pct: float | None  # of the studies read
    mean_minutes_to_read: float | None
    # The clock that matters (issue 14): arrival -> report delivered to the hospital.
    delivered: int = 0
    mean_minutes_to_delivered: float | None = None


@dataclass(frozen=True, slots=True)
class ReportBacklog:
    """Reports on their way to the hospitals, for `garde status`."""

    waiting: int  # deliveries not yet through
    failing: int  # of which tried and failed (the last error says why)
    oldest_since: datetime | None
    undelivered: tuple[str, ...] = ()  # "study -> destination: last error", the failing ones


@dataclass(frozen=True, slots=True)
class NightStatus:
    """Everything `garde status` shows."""

    now: datetime
    since: datetime
    queues: tuple[QueueLine, ...]
    at_risk: tuple[AtRisk, ...]
    figures: tuple[SlaFigures, ...]
    waiting: int  # open studies with no reader
    webhook: OutboxBacklog  # notifications not yet posted, and those given up tonight
    reports: ReportBacklog = ReportBacklog(0, 0, None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (datetimes are left for the CLI's encoder)."""
        return asdict(self)


def night_start(settings: Settings, now: datetime) -> datetime:
    """The last morning handover at or before ``now`` (first site's time zone)."""
    timezone = settings.sites[0].timezone if settings.sites else "UTC"
    last = sla.next_handover(settings.sla, now - timedelta(days=1), timezone)
    return last if last <= now else last - timedelta(days=1)


def night_status(
    platform: DispatchingPlatform,
    now: datetime,
    since: datetime | None = None,
    *,
    actor: str = "operator",
    origin: str = "",
) -> NightStatus:
    """Gather the status at ``now`` (audited as ``actor``'s view)."""
    since = since or night_start(platform.settings, now)
    dispatch = platform.dispatch
    dispatch.restore(now)
    board = dispatch.board
    on_shift = set(board.on_shift(now))
    queues = []
    for rad in board.radiologists():
        queued = board.queue(rad.id)
        reading = board.reading(rad.id)
        if rad.id not in on_shift and not queued and not reading:
            continue
        queues.append(
            QueueLine(
                radiologist_id=rad.id,
                name=rad.name,
                on_shift=rad.id in on_shift,
                in_progress=len(reading),
                queued=len(queued),
                queued_minutes=round(sum(s.reading_minutes for s in queued), 1),
                shift_ends=board.handover(rad.id, now),
            )
        )
    with platform.uow() as uow:
        open_studies = uow.studies.open_studies()
        night = uow.night.received_since(since)
        webhook = uow.outbox.backlog(since)
        reports = uow.reports
        waiting, failing, oldest = reports.backlog()
        handles = {r.study_uid: r.name for r in open_studies}
        failures = tuple(
            f"{handles.get(d.study_uid or '', d.study_uid)} -> {d.destination}: {d.last_error}"
            for d in reports.deliveries(open_only=True)
            if d.attempts
        )
        delivered = reports.delivery_times(since)
        uow.audit.append(
            at=now,
            actor=actor,
            action="view_status",
            origin=origin,
            detail={"since": since.isoformat()},
        )
        uow.commit()
    at_risk = tuple(
        sorted(
            (r for r in (_risk(board, rec, now) for rec in open_studies) if r is not None),
            key=lambda r: (r.deadline, r.study_uid),
        )
    )
    return NightStatus(
        now=now,
        since=since,
        queues=tuple(queues),
        at_risk=at_risk,
        figures=_figures(night, now, delivered),
        waiting=sum(1 for r in open_studies if r.assignee is None),
        webhook=webhook,
        reports=ReportBacklog(waiting, failing, oldest, failures[:20]),
    )


def _risk(board: Any, record: StudyRecord, now: datetime) -> AtRisk | None:
    if record.deadline is None or record.priority is None:
        return None
    predicted = board.predicted_finish(record.study_uid, now) if record.study_uid in board else None
    reason = status_reason(
        holder=record.assignee,
        deadline=record.deadline,
        predicted_finish=predicted,
        escalation_level=record.escalation_tier,
        now=now,
    )
    if reason is None:
        return None
    return AtRisk(
        study_uid=record.study_uid,
        site_id=record.site_id,
        priority=record.priority.value,
        state=record.state.value,
        assignee=record.assignee,
        deadline=record.deadline,
        predicted_finish=predicted,
        minutes_left=round((record.deadline - now).total_seconds() / 60, 1),
        escalation=TIER_NAMES.get(record.escalation_tier, str(record.escalation_tier)),
        reason=reason.value,
        handle=record.name,
    )


def _figures(
    records: list[StudyRecord],
    now: datetime,
    delivered: list[tuple[str, datetime, datetime]] = [],  # noqa: B006 - read only
) -> tuple[SlaFigures, ...]:
    rows = []
    for priority in Priority:
        group = [r for r in records if r.priority is priority and r.deadline is not None]
        if not group:
            continue
        read = [r for r in group if r.state is StudyState.DONE and r.done_at is not None]
        within = [
            r for r in read if r.done_at is not None and r.deadline and r.done_at <= r.deadline
        ]
        open_late = [
            r for r in group if r.state is not StudyState.DONE and r.deadline and r.deadline < now
        ]
        minutes = [
            (r.done_at - r.first_received_at).total_seconds() / 60 for r in read if r.done_at
        ]
        to_hospital = [
            (at - arrived).total_seconds() / 60
            for p, arrived, at in delivered
            if p == priority.value
        ]
        rows.append(
            SlaFigures(
                priority=priority.value,
                received=len(group),
                read=len(read),
                open=len(group) - len(read),
                within_sla=len(within),
                breached=len(read) - len(within) + len(open_late),
                within_sla_pct=round(100 * len(within) / len(read), 1) if read else None,
                mean_minutes_to_read=round(statistics.fmean(minutes), 1) if minutes else None,
                delivered=len(to_hospital),
                mean_minutes_to_delivered=(
                    round(statistics.fmean(to_hospital), 1) if to_hospital else None
                ),
            )
        )
    return tuple(rows)
