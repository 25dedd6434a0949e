"""Domain types of the dispatch core: sites, radiologists, shifts, studies, priorities.

Everything here is a frozen value object, valid once built. Datetimes are timezone-aware
UTC; the core never reads the clock, time is always passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Protocol


class Priority(StrEnum):
    """How urgent a study is; the order of the members is the order of urgency."""

    STROKE = "stroke"
    EMERGENCY = "emergency"
    URGENT = "urgent"
    ROUTINE = "routine"

    @property
    def rank(self) -> int:
        """0 for the most urgent (the order of the members)."""
        return _PRIORITY_RANK[self]

    @property
    def queue_rank(self) -> int:
        """Where its work sorts in a queue, before the deadline: strokes first, then
        emergency and urgent work together, earliest deadline first (their SLA targets
        decide between them), routine work last.

        Every emergency before any urgent study, whatever their deadlines (the order
        before issue 16), read an urgent study due in 10 minutes after an emergency due
        in 50. Replayed through the services on 300 paired nights against a shared
        earliest-deadline queue (the example region: both due at 60 min), it won 3.3
        points of emergencies and lost 1.5 of urgent work within the hour (interval
        -1.8 to -1.2). By deadline: emergencies +0.3 (-0.03 to +0.6), urgent work -0.05
        (-0.16 to +0.05), weighted lateness -17 (-32 to -2), stroke p90 -0.2 min
        (`benchmarks/sla_bench.py`, seeds 0-299). An emergency sorted as if due 15 min
        sooner lost 0.6 point of urgent work on 40 nights.
        """
        return _QUEUE_RANK[self]


_PRIORITY_RANK = {p: i for i, p in enumerate(Priority)}
_QUEUE_RANK = {
    Priority.STROKE: 0,
    Priority.EMERGENCY: 1,
    Priority.URGENT: 1,
    Priority.ROUTINE: 2,
}


class StudyState(StrEnum):
    """Where a study is in its life; transitions live in `lifecycle.py`."""

    RECEIVING = "receiving"  # instances arriving, not yet stable
    PENDING = "pending"  # stable (or stroke first series), waiting for a reader
    ASSIGNED = "assigned"  # in a radiologist's tentative queue
    IN_PROGRESS = "in_progress"  # a radiologist started reading it
    DONE = "done"  # read and reported


class Placed(Protocol):
    """Where the store has a study, and who may not have it back: the facts the core's
    rules take from the store (`garde.store.records.StudyRecord` is one)."""

    @property
    def study_uid(self) -> str:
        """Its StudyInstanceUID."""
        ...

    @property
    def state(self) -> StudyState:
        """Its lifecycle state."""
        ...

    @property
    def assignee(self) -> str | None:
        """Who holds it (None: nobody)."""
        ...

    @property
    def released_by(self) -> str | None:
        """Who last handed it back."""
        ...

    @property
    def pinned_by(self) -> str | None:
        """The operator who pinned it to its holder (None: not pinned)."""
        ...

    @property
    def fallback(self) -> bool:
        """Whether it is flagged for the fallback pool (nobody eligible may read it)."""
        ...

    @property
    def site_id(self) -> str:
        """The hospital that sent it."""
        ...

    @property
    def skills(self) -> frozenset[str]:
        """The skills it needs."""
        ...

    @property
    def priority(self) -> Priority | None:
        """Its priority (None: not triaged yet)."""
        ...


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


@dataclass(frozen=True, slots=True)
class Site:
    """A hospital that sends studies.

    ``ae_titles`` are the calling AE titles of its modalities / PACS (the DICOM
    application entity names it is known by); ``timezone`` is an IANA name.
    """

    id: str
    name: str
    ae_titles: frozenset[str]
    timezone: str = "Europe/Paris"
    stable_age_s: float | None = None  # per-hospital override of the gateway default
    ip_allow: tuple[str, ...] = ()  # empty: any address

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("site id must not be empty")
        if not self.ae_titles:
            raise ValueError(f"site {self.id!r} needs at least one AE title")
        for ae in self.ae_titles:
            if not 0 < len(ae) <= 16:
                raise ValueError(f"site {self.id!r}: AE title {ae!r} must be 1 to 16 characters")


@dataclass(frozen=True, slots=True)
class Radiologist:
    """A reader on the on-call roster.

    ``sites`` are the hospitals the radiologist is credentialed for; ``skills`` the
    subspecialties held (neuro, paediatric, msk, body, chest...). ``speed`` scales
    reading times: 1.0 is nominal, 1.25 reads a quarter faster. ``max_parallel`` is the
    most studies that may be open for them at once (assigned or in progress).
    """

    id: str
    name: str
    skills: frozenset[str]
    sites: frozenset[str]
    max_parallel: int = 12
    speed: float = 1.0
    fallback: bool = False  # member of the fallback pool (reads what no one else may)
    supervisor: bool = False  # receives the last escalation tier
    # The region's medical director ([region] medical_director): takes what no one on
    # shift or on call may, whatever the roster says (see `router.decide`).
    medical_director: bool = False
    # Their RPPS number in the national directory ("" if not given): config and rosters
    # may name them by it, and the directory gives their display name.
    rpps: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("radiologist id must not be empty")
        if self.max_parallel < 1:
            raise ValueError(f"radiologist {self.id!r}: max_parallel must be >= 1")
        if not self.speed > 0:
            raise ValueError(f"radiologist {self.id!r}: speed must be > 0, got {self.speed}")


@dataclass(frozen=True, slots=True)
class Shift:
    """A period on call, [start, end) in UTC.

    ``sites`` narrows the hospitals covered during the shift; None means all the
    radiologist is credentialed for.
    """

    radiologist_id: str
    start: datetime
    end: datetime
    role: str = "oncall"
    sites: frozenset[str] | None = None

    def __post_init__(self) -> None:
        _require_aware("shift start", self.start)
        _require_aware("shift end", self.end)
        if self.end <= self.start:
            raise ValueError(
                f"shift of {self.radiologist_id!r} ends ({self.end.isoformat()}) "
                f"before it starts ({self.start.isoformat()})"
            )

    def covers(self, at: datetime) -> bool:
        """True if ``at`` falls within the shift."""
        return self.start <= at < self.end


@dataclass(frozen=True, slots=True)
class StudyFacts:
    """What triage looks at: header attributes of a study and where it came from.

    Text attributes are as received (any case, accents); triage normalises them.
    ``patient_key`` is a keyed hash of PatientID + site, never the ID itself.
    """

    study_uid: str
    site_id: str
    modalities: frozenset[str] = frozenset()
    body_part: str = ""
    description: str = ""  # StudyDescription
    requested_procedure: str = ""  # RequestedProcedureDescription
    requested_priority: str = ""  # RequestedProcedurePriority (STAT, HIGH, ROUTINE...)
    series_descriptions: tuple[str, ...] = ()
    patient_key: str = ""


@dataclass(frozen=True, slots=True)
class TriageRule:
    """One ordered triage rule; every non-empty criterion must match (AND), values
    within a criterion are alternatives (OR). Keywords match as whole words in the
    normalised (lower-case, accent-free) descriptions. First matching rule wins."""

    name: str
    priority: Priority
    skills: frozenset[str] = frozenset()
    reading_minutes: float | None = None  # None: the reading-time table decides
    modalities: frozenset[str] = frozenset()
    body_parts: frozenset[str] = frozenset()
    keywords: tuple[str, ...] = ()
    requested_priorities: frozenset[str] = frozenset()
    sites: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class TriageResult:
    """Triage's verdict, with the rule that set it (kept for the explanation)."""

    priority: Priority
    skills: frozenset[str]
    reading_minutes: float
    rule: str


@dataclass(frozen=True, slots=True)
class EscalationTiers:
    """Escalation points as fractions of the SLA target (alert < reassign <= supervisor)."""

    alert: float = 0.5
    reassign: float = 0.75
    supervisor: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.alert <= self.reassign <= self.supervisor:
            raise ValueError(
                "escalation tiers must satisfy 0 < alert <= reassign <= supervisor, got "
                f"{self.alert}, {self.reassign}, {self.supervisor}"
            )


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Targets per priority, measured from arrival.

    ``targets`` is what the router aims at (a study's ``deadline``); ``limits`` is the
    contractual limit per priority (the SLA watch calls the supervisor at it). A priority
    absent from ``limits`` has its target as its limit; a limit is never below its target.

    A priority absent from ``targets`` is due at the next ``morning_handover`` (local
    time of the sending site), which is what "routine: by morning" means. Work of that
    kind arriving less than ``routine_cutoff`` before the handover is the day team's:
    due ``day_routine_target`` after the handover, not at the handover minute (a night
    team cannot be late on a study it had minutes to read).
    """

    targets: dict[Priority, timedelta] = field(
        default_factory=lambda: {
            Priority.STROKE: timedelta(minutes=20),
            Priority.EMERGENCY: timedelta(minutes=60),
            Priority.URGENT: timedelta(hours=4),
        }
    )
    limits: dict[Priority, timedelta] = field(default_factory=dict)
    morning_handover: time = time(8, 30)
    routine_cutoff: timedelta = timedelta(hours=1)
    day_routine_target: timedelta = timedelta(hours=4)
    tiers: EscalationTiers = field(default_factory=EscalationTiers)
    weights: dict[Priority, float] = field(
        default_factory=lambda: {
            Priority.STROKE: 100.0,
            Priority.EMERGENCY: 20.0,
            Priority.URGENT: 5.0,
            Priority.ROUTINE: 1.0,
        }
    )

    def __post_init__(self) -> None:
        for priority, limit in self.limits.items():
            target = self.targets.get(priority)
            if target is None:
                raise ValueError(f"SLA limit for {priority.value} has no target to bound")
            if limit < target:
                raise ValueError(
                    f"SLA limit for {priority.value} ({limit}) is below its target ({target})"
                )

    def limit(self, priority: Priority) -> timedelta | None:
        """The contractual limit of ``priority`` (its target without one; None: by morning)."""
        return self.limits.get(priority, self.targets.get(priority))


@dataclass(frozen=True, slots=True)
class Study:
    """A triaged study as the router sees it."""

    uid: str  # StudyInstanceUID
    site_id: str
    priority: Priority
    skills: frozenset[str]
    reading_minutes: float
    arrived_at: datetime
    deadline: datetime
    patient_key: str = ""
    rule: str = ""
    # Who read this patient's other recent studies (off the board now): continuity may
    # send this one to them too, as to a reader who still holds one (`Board.same_patient`).
    recent_readers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require_aware("arrived_at", self.arrived_at)
        _require_aware("deadline", self.deadline)
        if not self.reading_minutes > 0:
            raise ValueError(f"study {self.uid}: reading_minutes must be > 0")


@dataclass(frozen=True, slots=True)
class ReadingTimes:
    """Expected reading minutes by modality and body part (NIGHTS.md figures).

    Keys are ``"CT"`` or ``"CT/HEAD"`` (upper case); the most specific key wins, then
    ``default``. A triage rule's own ``reading_minutes`` overrides the table.
    """

    table: dict[str, float] = field(default_factory=dict)
    default: float = 15.0

    def minutes(self, modalities: frozenset[str], body_part: str) -> float:
        """The expected reading minutes of a study with these modalities and body part."""
        part = body_part.upper()
        best: float | None = None
        for modality in sorted(modalities):
            specific = self.table.get(f"{modality.upper()}/{part}")
            if specific is not None:
                return specific
            if best is None:
                best = self.table.get(modality.upper())
        return self.default if best is None else best


@dataclass(frozen=True, slots=True)
class InstanceReceived:
    """Domain event: the gateway durably stored one instance (before answering success).

    ``path`` is relative to the storage directory. Header facts are copied from the
    instance so the store can assemble the study without re-reading the file. It
    carries ``patient_key`` (a keyed hash), never the patient's name, ID or birth date.
    """

    sop_instance_uid: str
    sop_class_uid: str
    series_uid: str
    study_uid: str
    transfer_syntax: str
    site_id: str
    calling_ae: str
    path: str
    size_bytes: int
    received_at: datetime
    modality: str = ""
    series_number: int | None = None
    instance_number: int | None = None
    series_description: str = ""
    study_description: str = ""
    body_part: str = ""
    requested_procedure: str = ""
    requested_priority: str = ""
    accession_number: str = ""
    patient_key: str = ""
    # How many instances the series declares (None: not declared); see the header.
    declared_images: int | None = None

    def __post_init__(self) -> None:
        _require_aware("received_at", self.received_at)


@dataclass(frozen=True, slots=True)
class InstanceConflict:
    """Domain event: a different content arrived under a SOP Instance UID already stored.

    The stored copy (``kept_path``, relative to storage) stays the instance; the new one
    is quarantined at ``conflict_path`` (in the conflicts folder) for an operator, and
    its sender was answered a failure. ``study_uid`` is the study the new copy names.
    """

    sop_instance_uid: str
    study_uid: str
    series_uid: str
    kept_path: str
    conflict_path: str
    digest: str  # SHA-256 of the conflicting dataset
    size_bytes: int
    calling_ae: str
    received_at: datetime

    def __post_init__(self) -> None:
        _require_aware("received_at", self.received_at)
