"""A synthetic on-call night: who is on shift, what arrives when, how long it takes to read.

Every figure comes from ``NIGHTS.md`` (French regional emergency teleradiology): a night
runs 18:00-08:30 local time, busiest 20:30-midnight; about 160 exams for 4 radiologists;
head CT about half of the work, abdominal CT a quarter, CT angiography a sixth; stroke
about a fifth of head imaging; log-normal reading times with the published means.

The scenario is plain data (`NightScenario`), so a benchmark can load variants from a
TOML file and the demo can push the same night through the real gateway. Nothing here
reads the clock or a file: `generate_arrivals` is a pure function of the scenario and a
seed.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from garde.dispatch.model import Priority, Radiologist, Shift, Site, SlaPolicy, Study

NEURO = "neuro"
BODY = "body"
CHEST = "chest"
MSK = "msk"
PAEDIATRIC = "paediatric"


@dataclass(frozen=True, slots=True)
class RateBand:
    """Poisson arrivals at ``per_hour`` between two offsets (minutes after night start)."""

    start_min: float
    end_min: float
    per_hour: float

    def __post_init__(self) -> None:
        if not 0 <= self.start_min < self.end_min:
            raise ValueError(f"rate band [{self.start_min}, {self.end_min}) is empty")
        if self.per_hour < 0:
            raise ValueError(f"rate band per_hour must be >= 0, got {self.per_hour}")


@dataclass(frozen=True, slots=True)
class ExamType:
    """One kind of exam in the night's case mix.

    ``priority``, ``skills`` and ``expected_minutes`` are what the default triage rules
    (``config/example.toml``) decide for its descriptions; ``preferred_skill`` is the
    subspecialty that should ideally read it (it may be stricter than the required
    skills, e.g. a chest CT anyone may read but a chest radiologist should).
    ``mean_minutes`` and ``sigma`` shape the true, log-normal reading time.
    """

    key: str
    modality: str
    body_part: str
    descriptions: tuple[str, ...]
    priority: Priority
    share: float
    mean_minutes: float
    sigma: float = 0.45
    skills: frozenset[str] = frozenset()
    preferred_skill: str = ""
    expected_minutes: float | None = None  # None: mean_minutes
    requested_priority: str = ""
    follow_up: str = ""  # key of an exam the same patient often has next
    follow_up_share: float = 0.0
    follow_up_delay_min: tuple[float, float] = (4.0, 12.0)  # uniform delay to the follow-up

    def __post_init__(self) -> None:
        if not self.descriptions:
            raise ValueError(f"exam type {self.key!r} needs at least one description")
        if self.share < 0 or not 0 <= self.follow_up_share <= 1:
            raise ValueError(f"exam type {self.key!r}: shares must be non-negative fractions")
        if not self.mean_minutes > 0 or self.sigma < 0:
            raise ValueError(f"exam type {self.key!r}: mean_minutes > 0 and sigma >= 0")

    @property
    def triage_minutes(self) -> float:
        """The reading minutes triage would predict (the router's estimate)."""
        return self.mean_minutes if self.expected_minutes is None else self.expected_minutes


@dataclass(frozen=True, slots=True)
class NightScenario:
    """Everything that shapes a synthetic night.

    Parameters
    ----------
    start
        Night start (18:00 local), timezone-aware UTC.
    duration_min
        Length of the night in minutes (870: 18:00-08:30).
    sites, radiologists, shifts
        The region: hospitals, the roster and its shifts (a gap is allowed).
    rates
        Poisson arrival rate bands over the night.
    exam_types
        The case mix; shares are normalised over the types with ``share > 0``.
    sla
        Targets per priority; routine work is due at the end of the night.
    preempt_overhead_min
        Minutes lost by a reader who is interrupted (re-opening the study later).
    """

    name: str
    start: datetime
    duration_min: float
    sites: tuple[Site, ...]
    radiologists: tuple[Radiologist, ...]
    shifts: tuple[Shift, ...]
    rates: tuple[RateBand, ...]
    exam_types: tuple[ExamType, ...]
    sla: SlaPolicy = field(default_factory=SlaPolicy)
    preempt_overhead_min: float = 1.0

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("scenario start must be timezone-aware")
        known = {r.id for r in self.radiologists}
        for shift in self.shifts:
            if shift.radiologist_id not in known:
                raise ValueError(f"shift for unknown radiologist {shift.radiologist_id!r}")
        keys = {e.key for e in self.exam_types}
        for exam in self.exam_types:
            if exam.follow_up and exam.follow_up not in keys:
                raise ValueError(f"exam {exam.key!r} follows up with unknown {exam.follow_up!r}")
        if not any(e.share > 0 for e in self.exam_types):
            raise ValueError("the case mix needs at least one exam type with share > 0")

    @property
    def end(self) -> datetime:
        """Night end (08:30 local): routine work is due then."""
        return self.start + timedelta(minutes=self.duration_min)

    def at(self, offset_min: float) -> datetime:
        """The instant ``offset_min`` minutes after night start."""
        return self.start + timedelta(minutes=offset_min)

    def offset(self, instant: datetime) -> float:
        """Minutes from night start to ``instant``."""
        return (instant - self.start).total_seconds() / 60.0

    def exam(self, key: str) -> ExamType:
        """The exam type called ``key``."""
        for exam in self.exam_types:
            if exam.key == key:
                return exam
        raise KeyError(key)

    def expected_count(self) -> float:
        """Mean number of primary (non follow-up) arrivals per night."""
        return sum((b.end_min - b.start_min) / 60.0 * b.per_hour for b in self.rates)

    def deadline(self, priority: Priority, arrived: datetime) -> datetime:
        """SLA deadline: arrival + target, or the morning handover for untimed priorities."""
        target = self.sla.targets.get(priority)
        return self.end if target is None else arrived + target


@dataclass(frozen=True, slots=True)
class SyntheticArrival:
    """One synthetic study as a hospital would send it, with its hidden truth.

    The DICOM-like fields (``modality``, ``body_part``, ``description``,
    ``requested_priority``, ``site_id``) are what the gateway and triage see; the
    ``priority``/``skills``/``expected_minutes`` fields are what the default triage rules
    should decide for them; ``true_minutes`` is how long it really takes a nominal-speed
    reader (the simulator's ground truth, never shown to a policy).
    ``patient_key`` stands for a keyed hash of PatientID + site: two studies of one
    patient (head CT then CT angiography) share it.
    """

    study_uid: str
    offset_min: float
    arrived_at: datetime
    site_id: str
    modality: str
    body_part: str
    description: str
    requested_priority: str
    patient_key: str
    exam: str
    priority: Priority
    skills: frozenset[str]
    preferred_skill: str
    expected_minutes: float
    true_minutes: float
    deadline: datetime

    def to_study(self) -> Study:
        """The triaged `Study` the router sees (expected, not true, reading minutes)."""
        return Study(
            uid=self.study_uid,
            site_id=self.site_id,
            priority=self.priority,
            skills=self.skills,
            reading_minutes=self.expected_minutes,
            arrived_at=self.arrived_at,
            deadline=self.deadline,
            patient_key=self.patient_key,
            rule=self.exam,
        )


def _lognormal_minutes(rng: np.random.Generator, mean: float, sigma: float) -> float:
    """A log-normal draw with the given mean (not median) and log-space sigma."""
    mu = math.log(mean) - sigma * sigma / 2.0
    return max(0.5, float(rng.lognormal(mu, sigma)))


def _study_uid(seed: int, index: int) -> str:
    """A valid, deterministic StudyInstanceUID (2.25 = UUID-derived root)."""
    digest = hashlib.sha256(f"garde-sim:{seed}:{index}".encode()).digest()
    return f"2.25.{int.from_bytes(digest[:15], 'big')}"


def _patient_key(seed: int, index: int) -> str:
    return hashlib.sha256(f"garde-sim-patient:{seed}:{index}".encode()).hexdigest()[:16]


def generate_arrivals(scenario: NightScenario, seed: int) -> list[SyntheticArrival]:
    """Draw one night of arrivals, sorted by time.

    Primary exams arrive as a Poisson process whose rate follows ``scenario.rates``; each
    draws its exam type from the case mix, a hospital uniformly, a description among the
    type's French and English wordings and a log-normal true reading time. Some exams
    bring a follow-up for the same patient a few minutes later (a stroke head CT then
    its CT angiography). The same scenario and seed always give the same night.

    Parameters
    ----------
    scenario
        The night's shape.
    seed
        Seed of the random generator (numpy PCG64).

    Returns
    -------
    list[SyntheticArrival]
        Arrivals in order of ``offset_min`` (ties keep draw order).
    """
    rng = np.random.default_rng(seed)
    mix = [e for e in scenario.exam_types if e.share > 0]
    weights = np.array([e.share for e in mix], dtype=float)
    weights /= weights.sum()
    site_ids = [s.id for s in scenario.sites]
    drafts: list[tuple[float, ExamType, str, str]] = []  # offset, exam, site, patient
    patient = 0
    for band in scenario.rates:
        count = int(rng.poisson(band.per_hour * (band.end_min - band.start_min) / 60.0))
        offsets = np.sort(rng.uniform(band.start_min, band.end_min, size=count))
        for offset in offsets:
            exam = mix[int(rng.choice(len(mix), p=weights))]
            site = site_ids[int(rng.integers(len(site_ids)))]
            patient += 1
            key = _patient_key(seed, patient)
            drafts.append((float(offset), exam, site, key))
            if exam.follow_up and rng.random() < exam.follow_up_share:
                low, high = exam.follow_up_delay_min
                later = float(offset) + float(rng.uniform(low, high))
                if later < scenario.duration_min:
                    drafts.append((later, scenario.exam(exam.follow_up), site, key))
    drafts.sort(key=lambda d: d[0])
    arrivals = []
    for index, (offset, exam, site, key) in enumerate(drafts):
        arrived = scenario.at(offset)
        description = exam.descriptions[int(rng.integers(len(exam.descriptions)))]
        arrivals.append(
            SyntheticArrival(
                study_uid=_study_uid(seed, index),
                offset_min=offset,
                arrived_at=arrived,
                site_id=site,
                modality=exam.modality,
                body_part=exam.body_part,
                description=description,
                requested_priority=exam.requested_priority,
                patient_key=key,
                exam=exam.key,
                priority=exam.priority,
                skills=exam.skills,
                preferred_skill=exam.preferred_skill,
                expected_minutes=exam.triage_minutes,
                true_minutes=_lognormal_minutes(rng, exam.mean_minutes, exam.sigma),
                deadline=scenario.deadline(exam.priority, arrived),
            )
        )
    return arrivals


def _default_exam_types() -> tuple[ExamType, ...]:
    """NIGHTS.md case mix: head CT ~50 %, abdomen ~27 %, CT angiography ~17 %, chest ~4 %."""
    u, e, s, r = Priority.URGENT, Priority.EMERGENCY, Priority.STROKE, Priority.ROUTINE
    return (
        ExamType(
            "stroke-ct", "CT", "HEAD",
            ("ALERTE THROMBOLYSE TDM CEREBRALE", "TDM CEREBRALE AVC", "CODE STROKE CT HEAD",
             "Scanner cérébral alerte AVC", "CT BRAIN STROKE PROTOCOL"),
            s, 0.07, 5.0, 0.35, frozenset({NEURO}), NEURO, 6.0,
            follow_up="stroke-cta", follow_up_share=0.7, follow_up_delay_min=(3.0, 8.0),
        ),
        ExamType(
            "stroke-cta", "CT", "HEAD",
            ("ANGIOSCANNER TSA ET WILLIS THROMBECTOMIE", "Angio-TDM AVC thrombectomie",
             "CTA HEAD NECK STROKE", "PERFUSION CEREBRALE AVC"),
            s, 0.0, 5.0, 0.35, frozenset({NEURO}), NEURO, 6.0,
        ),
        ExamType(
            "stroke-mr", "MR", "HEAD",
            ("IRM CEREBRALE ALERTE THROMBOLYSE", "IRM AVC", "MRI BRAIN STROKE"),
            s, 0.01, 6.0, 0.35, frozenset({NEURO}), NEURO, 6.0,
        ),
        ExamType(
            "head-trauma", "CT", "HEAD",
            ("TDM CEREBRALE TRAUMATISME CRANIEN", "Scanner cérébral traumatisme crânien",
             "CT HEAD HEAD INJURY", "TDM CEREBRALE CHUTE"),
            u, 0.20, 16.0, 0.45, frozenset({NEURO}), NEURO,
        ),
        ExamType(
            "head-ct", "CT", "HEAD",
            ("TDM CEREBRALE SANS INJECTION", "TDM ENCEPHALE", "CT HEAD WITHOUT CONTRAST",
             "Scanner cérébral"),
            u, 0.15, 16.0, 0.45, frozenset({NEURO}), NEURO,
        ),
        ExamType(
            "sah", "CT", "HEAD",
            ("TDM CEREBRALE SUSPICION HEMORRAGIE MENINGEE", "Scanner cérébral HSA",
             "CT HEAD SUBARACHNOID HAEMORRHAGE"),
            e, 0.03, 16.0, 0.45, frozenset({NEURO}), NEURO, 16.0,
        ),
        ExamType(
            "acute-abdomen", "CT", "ABDOMEN",
            ("TDM ABDOMINO-PELVIENNE ABDOMEN AIGU", "Scanner abdominal appendicite",
             "CT ABDOMEN PELVIS ACUTE ABDOMEN", "TDM ABDOMEN OCCLUSION",
             "Scanner abdomino-pelvien colique néphrétique"),
            u, 0.26, 18.0, 0.45, frozenset({BODY}), BODY,
        ),
        ExamType(
            "pulmonary-embolism", "CT", "CHEST",
            ("ANGIOSCANNER THORACIQUE EMBOLIE PULMONAIRE", "Angio-TDM thoracique embolie",
             "CTPA PULMONARY EMBOLISM"),
            e, 0.09, 12.0, 0.4, frozenset({CHEST}), CHEST, 12.0,
        ),
        ExamType(
            "polytrauma", "CT", "WHOLEBODY",
            ("BODYSCAN POLYTRAUMATISME", "TDM CORPS ENTIER POLYTRAUMA", "WHOLE BODY CT TRAUMA"),
            e, 0.03, 39.0, 0.35, frozenset({BODY}), BODY, 39.0,
        ),
        ExamType(
            "chest-ct", "CT", "CHEST",
            ("TDM THORACIQUE", "CT CHEST WITH CONTRAST", "Scanner thoracique injecté"),
            u, 0.04, 16.0, 0.45, frozenset(), CHEST,
        ),
        ExamType(
            "spine-ct", "CT", "SPINE",
            ("TDM RACHIS CERVICAL", "CT CERVICAL SPINE", "Scanner rachis lombaire"),
            u, 0.02, 9.0, 0.45, frozenset(), MSK,
        ),
        ExamType(
            "extremity-ct", "CT", "EXTREMITY",
            ("TDM POIGNET", "CT ANKLE", "Scanner du genou"),
            u, 0.02, 10.0, 0.45, frozenset(), MSK,
        ),
        ExamType(
            "paediatric-head", "CT", "HEAD",
            ("TDM CEREBRALE ENFANT", "CT HEAD PAEDIATRIC", "Scanner cérébral nourrisson"),
            u, 0.01, 16.0, 0.45, frozenset({PAEDIATRIC}), PAEDIATRIC,
        ),
        ExamType(
            "brain-mr", "MR", "HEAD",
            ("IRM CEREBRALE", "MRI BRAIN"),
            u, 0.01, 11.0, 0.45, frozenset({NEURO}), NEURO,
        ),
        ExamType(
            "chest-xray", "CR", "CHEST",
            ("RADIOGRAPHIE THORAX", "CHEST X-RAY", "Radio du thorax de face"),
            r, 0.06, 4.0, 0.4, frozenset(), CHEST,
        ),
    )  # fmt: skip


def default_night(start: datetime | None = None) -> NightScenario:
    """The regional night of the benchmarks and the demo.

    Six hospitals, four radiologists (three hold neuro, one is not credentialed for
    every hospital), one starting at 19:00 and one with a break 02:00-03:00 (a gap in
    the roster), about 160 exams, busiest 20:30-midnight.

    Parameters
    ----------
    start
        Night start (18:00 Paris time); defaults to 2025-01-15 17:00 UTC.
    """
    start = start or datetime(2025, 1, 15, 17, 0, tzinfo=UTC)
    all_sites = frozenset(f"h0{i}" for i in range(1, 7))
    sites = tuple(
        Site(id=f"h0{i}", name=name, ae_titles=frozenset({ae}))
        for i, (name, ae) in enumerate(
            [
                ("CH de Villefranche-sur-Saône", "VILLEFR_CT1"),
                ("CH de Bourg-en-Bresse", "BOURG_CT"),
                ("CH de Vienne", "VIENNE_CT"),
                ("CH de Roanne", "ROANNE_PACS"),
                ("CH de Montélimar", "MONTEL_CT"),
                ("Hôpital de Belley", "BELLEY_CT"),
            ],
            start=1,
        )
    )
    radiologists = (
        Radiologist("r01", "Dr Claire Morel", frozenset({NEURO, BODY, PAEDIATRIC}), all_sites,
                    speed=1.2, fallback=True, supervisor=True),
        Radiologist("r02", "Dr Hugo Bernard", frozenset({BODY, CHEST}),
                    all_sites - {"h06"}),
        Radiologist("r03", "Dr Inès Garnier", frozenset({NEURO, BODY}), all_sites, speed=1.1),
        Radiologist("r04", "Dr Pierre Chevalier", frozenset({NEURO, CHEST, MSK, BODY}),
                    all_sites),
    )  # fmt: skip

    def shift(rad: str, begin: float, end: float) -> Shift:
        return Shift(rad, start + timedelta(minutes=begin), start + timedelta(minutes=end))

    shifts = (
        shift("r01", 0, 870),  # 18:00-08:30
        shift("r02", 0, 870),  # 18:00-08:30
        shift("r03", 60, 870),  # 19:00-08:30
        shift("r04", 0, 480),  # 18:00-02:00
        shift("r04", 540, 870),  # 03:00-08:30: one hour's break, a gap in the roster
    )
    rates = (
        RateBand(0, 150, 10.0),  # 18:00-20:30
        RateBand(150, 360, 16.0),  # 20:30-00:00, the busiest
        RateBand(360, 540, 10.0),  # 00:00-03:00
        RateBand(540, 720, 6.0),  # 03:00-06:00
        RateBand(720, 870, 8.0),  # 06:00-08:30
    )
    return NightScenario(
        name="regional-night",
        start=start,
        duration_min=870.0,
        sites=sites,
        radiologists=radiologists,
        shifts=shifts,
        rates=rates,
        exam_types=_default_exam_types(),
    )
