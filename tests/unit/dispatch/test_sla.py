from datetime import UTC, datetime, time, timedelta

import pytest

from garde.dispatch.model import EscalationTiers, Priority, SlaPolicy, Study
from garde.dispatch.sla import (
    EscalationTier,
    deadline,
    due_tier,
    limit_of,
    next_escalation,
    next_handover,
)

POLICY = SlaPolicy()
PARIS = "Europe/Paris"


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("priority", "minutes"),
    [(Priority.STROKE, 20), (Priority.EMERGENCY, 60), (Priority.URGENT, 240), ("urgent", 240)],
)
def test_targets_from_arrival(priority, minutes):
    arrived = utc(2025, 1, 10, 22, 0)
    assert deadline(POLICY, priority, arrived, PARIS) == arrived + timedelta(minutes=minutes)


def test_routine_is_due_at_the_next_local_morning_handover_in_winter():
    # 22:00 UTC = 23:00 in Paris (UTC+1); the handover 08:30 Paris = 07:30 UTC.
    assert deadline(POLICY, Priority.ROUTINE, utc(2025, 1, 10, 22), PARIS) == utc(
        2025, 1, 11, 7, 30
    )
    # Arrived after midnight local, before the handover: the same morning.
    assert deadline(POLICY, Priority.ROUTINE, utc(2025, 1, 11, 2), PARIS) == utc(2025, 1, 11, 7, 30)
    # Arrived after the handover: the next morning.
    assert deadline(POLICY, Priority.ROUTINE, utc(2025, 1, 11, 8), PARIS) == utc(2025, 1, 12, 7, 30)


def test_routine_in_summer_and_across_both_dst_changes():
    assert deadline(POLICY, Priority.ROUTINE, utc(2025, 7, 1, 20), PARIS) == utc(2025, 7, 2, 6, 30)
    # Night of 29-30 March 2025: clocks go forward at 02:00 local; 08:30 is UTC+2.
    assert deadline(POLICY, Priority.ROUTINE, utc(2025, 3, 29, 21), PARIS) == utc(
        2025, 3, 30, 6, 30
    )
    # Night of 25-26 October 2025: clocks go back at 03:00 local; 08:30 is UTC+1.
    assert deadline(POLICY, Priority.ROUTINE, utc(2025, 10, 25, 20), PARIS) == utc(
        2025, 10, 26, 7, 30
    )


def test_handover_inside_the_skipped_hour_lands_after_the_jump():
    policy = SlaPolicy(morning_handover=time(2, 30))
    due = next_handover(policy, utc(2025, 3, 29, 21), PARIS)
    assert due == utc(2025, 3, 30, 1, 30)  # 02:30 does not exist; 03:30 CEST


def test_other_time_zones_and_aware_non_utc_inputs():
    arrived = datetime(2025, 1, 10, 23, 0, tzinfo=UTC).astimezone()  # any aware zone
    assert deadline(POLICY, Priority.ROUTINE, arrived, "America/Cayenne") == utc(
        2025, 1, 11, 11, 30
    )
    assert deadline(POLICY, Priority.STROKE, arrived, PARIS).tzinfo is UTC


def test_routine_with_a_target_when_the_policy_sets_one():
    policy = SlaPolicy(targets={Priority.ROUTINE: timedelta(hours=24)})
    arrived = utc(2025, 1, 10, 22)
    assert deadline(policy, Priority.ROUTINE, arrived, PARIS) == arrived + timedelta(hours=24)
    assert deadline(policy, Priority.STROKE, arrived, PARIS) == utc(2025, 1, 11, 7, 30)


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="naive"):
        deadline(POLICY, Priority.ROUTINE, datetime(2025, 1, 1), PARIS)
    with pytest.raises(ValueError, match="naive"):
        due_tier(POLICY, _study(), datetime(2025, 1, 1))


def _study(priority=Priority.STROKE):
    arrived = utc(2025, 1, 10, 22)
    return Study(
        uid="1.2.3",
        site_id="h01",
        priority=priority,
        skills=frozenset(),
        reading_minutes=6,
        arrived_at=arrived,
        deadline=deadline(POLICY, priority, arrived, PARIS),
    )


@pytest.mark.parametrize(
    ("minutes", "tier"),
    [
        (0, None),
        (9.9, None),
        (10, EscalationTier.ALERT),
        (14, EscalationTier.ALERT),
        (15, EscalationTier.REASSIGN),
        (20, EscalationTier.SUPERVISOR),
        (90, EscalationTier.SUPERVISOR),
    ],
)
def test_stroke_escalation_tiers(minutes, tier):
    study = _study()
    assert due_tier(POLICY, study, study.arrived_at + timedelta(minutes=minutes)) is tier


def test_routine_tiers_are_fractions_of_its_span_and_next_escalation():
    study = _study(Priority.ROUTINE)  # 22:00 -> 07:30 UTC: 9.5 h
    halfway = study.arrived_at + timedelta(hours=4, minutes=45)
    assert due_tier(POLICY, study, halfway) is EscalationTier.ALERT
    assert next_escalation(POLICY, study, halfway) == study.arrived_at + timedelta(hours=9.5 * 0.75)
    assert next_escalation(POLICY, study, study.deadline) is None


def test_equal_tiers_report_the_highest():
    policy = SlaPolicy(tiers=EscalationTiers(alert=0.5, reassign=1.0, supervisor=1.0))
    study = _study()
    assert due_tier(policy, study, study.deadline) is EscalationTier.SUPERVISOR


def test_routine_arriving_just_before_the_handover_is_the_day_teams():
    # 08:07 Paris (07:07 UTC), handover 08:30: the night team had 23 minutes. Due at
    # the day team's start (08:30) plus its routine SLA (4 h): 12:30 Paris.
    arrived = utc(2026, 12, 5, 7, 7)
    due = deadline(POLICY, Priority.ROUTINE, arrived, PARIS)
    assert due == utc(2026, 12, 5, 11, 30)
    study = Study("1.2.3", "h01", Priority.ROUTINE, frozenset(), 15.0, arrived, due)
    assert due_tier(POLICY, study, utc(2026, 12, 5, 7, 30)) is None  # not at risk at 08:30


def test_routine_cutoff_and_day_target_come_from_the_policy():
    policy = SlaPolicy(routine_cutoff=timedelta(minutes=10), day_routine_target=timedelta(hours=2))
    # 23 minutes before the handover is over a 10-minute cutoff: the night's, due at 08:30.
    assert deadline(policy, Priority.ROUTINE, utc(2026, 12, 5, 7, 7), PARIS) == utc(
        2026, 12, 5, 7, 30
    )
    # 5 minutes before: the day team's, handover + 2 h.
    assert deadline(policy, Priority.ROUTINE, utc(2026, 12, 5, 7, 25), PARIS) == utc(
        2026, 12, 5, 9, 30
    )
    # Timed priorities are unaffected by the handover.
    arrived = utc(2026, 12, 5, 7, 25)
    assert deadline(policy, Priority.URGENT, arrived, PARIS) == arrived + timedelta(hours=4)


def test_alert_and_reassign_aim_at_the_target_the_supervisor_comes_at_the_limit():
    policy = SlaPolicy(
        targets={Priority.URGENT: timedelta(minutes=60)},
        limits={Priority.URGENT: timedelta(minutes=240)},
    )
    arrived = utc(2026, 12, 5, 22)
    due = deadline(policy, Priority.URGENT, arrived, PARIS)
    assert due == arrived + timedelta(minutes=60)  # what the router aims at
    study = Study("1.2.4", "h01", Priority.URGENT, frozenset(), 15.0, arrived, due)
    assert limit_of(policy, study) == arrived + timedelta(minutes=240)
    for minutes, tier in ((30, "alert"), (45, "reassign"), (239, "reassign"), (240, "supervisor")):
        assert due_tier(policy, study, arrived + timedelta(minutes=minutes)) == tier


def test_a_limit_below_its_target_is_refused():
    with pytest.raises(ValueError, match="below its target"):
        SlaPolicy(limits={Priority.STROKE: timedelta(minutes=5)})
    with pytest.raises(ValueError, match="no target"):
        SlaPolicy(limits={Priority.ROUTINE: timedelta(hours=9)})
