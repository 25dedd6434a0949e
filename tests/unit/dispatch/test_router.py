"""Every eligibility rule and tie-break of the router, on small hand-built boards."""

import json

import pytest

from garde.dispatch.board import Board
from garde.dispatch.explanation import Basis, ExclusionReason, Explanation
from garde.dispatch.model import Priority, SlaPolicy
from garde.dispatch.router import CANDIDATES_SHOWN, may_read, route
from tests.unit.dispatch.dispatch_factories import at, board_with, rad, shift, study

POLICY = SlaPolicy()
R = ExclusionReason


def decide(board, s, minute=0, **kw):
    return route(s, board, POLICY, at(minute), **kw)


def test_off_shift_radiologist_is_excluded():
    board = board_with(rad("a"), rad("b"), shifts=[shift("a", 60, 600), shift("b")])
    d = decide(board, study(), minute=10)
    assert d.radiologist_id == "b"
    assert d.explanation.excluded_reason("a") is R.OFF_SHIFT
    assert decide(board, study(), minute=900).radiologist_id is None  # everyone gone


def test_no_credential_for_the_site():
    board = board_with(rad("a", sites="h2"), rad("b", sites="h1"))
    d = decide(board, study(site="h1"))
    assert d.radiologist_id == "b"
    assert d.explanation.excluded_reason("a") is R.NO_CREDENTIAL


def test_unknown_site_means_nobody_is_credentialed():
    board = board_with(rad("a"))
    d = decide(board, study(site="h99"))
    assert (d.radiologist_id, d.fallback) == (None, True)
    assert d.explanation.excluded_reason("a") is R.NO_CREDENTIAL
    assert d.explanation.basis is Basis.NOBODY


def test_shift_that_covers_other_sites():
    board = board_with(rad("a"), rad("b"), shifts=[shift("a", sites="h2"), shift("b")])
    d = decide(board, study(site="h1"))
    assert d.radiologist_id == "b"
    assert d.explanation.excluded_reason("a") is R.SITE_NOT_IN_SHIFT
    assert decide(board, study(site="h2", minutes=1)).radiologist_id == "a"


def test_missing_skill_including_a_skill_nobody_has():
    board = board_with(rad("a", skills="body"), rad("b", skills="neuro body"))
    d = decide(board, study(skills="neuro body"))
    assert d.radiologist_id == "b"
    assert d.explanation.excluded_reason("a") is R.MISSING_SKILL
    nobody = decide(board, study(skills="paediatric"))
    assert nobody.radiologist_id is None
    assert nobody.explanation.excluded == (
        nobody.explanation.excluded[0].__class__(R.MISSING_SKILL, ("a", "b")),
    )


def test_at_capacity():
    board = board_with(rad("a", max_parallel=1), rad("b", max_parallel=3))
    board.assign(study(minutes=1), "a", at(0))
    d = decide(board, study())
    assert d.radiologist_id == "b"
    assert d.explanation.excluded_reason("a") is R.AT_CAPACITY


def test_reads_in_hand_count_towards_capacity():
    board = board_with(rad("a", max_parallel=1), rad("b"))
    s = study(minutes=1)
    board.assign(s, "a", at(0))
    board.start(s.uid, at(0))
    assert decide(board, study()).explanation.excluded_reason("a") is R.AT_CAPACITY


def test_excluded_by_the_caller():
    board = board_with(rad("a"), rad("b"))
    d = decide(board, study(), exclude=frozenset({"a", "ghost"}))
    assert d.radiologist_id == "b"
    assert d.explanation.excluded_reason("a") is R.EXCLUDED


def test_first_failing_check_is_the_reason():
    # Off shift AND uncredentialed AND unskilled: reported as off shift.
    board = board_with(rad("a", skills="body", sites="h2"), rad("b"), shifts=[shift("b")])
    assert decide(board, study(skills="neuro")).explanation.excluded_reason("a") is R.OFF_SHIFT


def test_least_predicted_lateness_wins():
    board = board_with(rad("a"), rad("b"))
    board.assign(study(minutes=50, arrived=0, due=30), "a", at(0))
    d = decide(board, study(priority=Priority.URGENT, minutes=20, arrived=0, due=40))
    assert d.radiologist_id == "b"
    late = {c.radiologist_id: c.lateness_min for c in d.explanation.candidates}
    assert late == {"b": 0.0, "a": 30.0}


def test_speed_scales_reading_time():
    board = board_with(rad("a", speed=0.5), rad("b", speed=2.0))
    d = decide(board, study(minutes=30, due=20))
    assert d.radiologist_id == "b"
    finish = {c.radiologist_id: c.predicted_finish for c in d.explanation.candidates}
    assert finish == {"b": at(15), "a": at(60)}


def test_work_ahead_is_only_the_more_urgent_work():
    board = board_with(rad("a"), rad("b"))
    for _ in range(3):
        board.assign(study(priority=Priority.ROUTINE, minutes=30), "a", at(0))
    board.assign(study(priority=Priority.URGENT, minutes=10), "b", at(0))
    # An emergency overtakes a's routine work but queues behind b's urgent study? No:
    # an emergency ranks before urgent work too, so both start it at once: tie on
    # lateness and finish; fairness (night workload) picks b (10 min) over a (90 min).
    d = decide(board, study(priority=Priority.EMERGENCY, minutes=12))
    assert d.radiologist_id == "b"
    starts = {c.radiologist_id: c.predicted_start for c in d.explanation.candidates}
    assert starts == {"a": at(0), "b": at(0)}


def test_same_priority_queues_by_deadline_then_arrival():
    board = board_with(rad("a"))
    late_due = study(minutes=10, arrived=0, due=100)
    board.assign(late_due, "a", at(0))
    early_due = study(minutes=10, arrived=5, due=50)
    d = decide(board, early_due, minute=5)
    assert d.explanation.candidates[0].predicted_start == at(5)  # goes before late_due
    board.assign(early_due, "a", at(5))
    assert [s.uid for s in board.queue("a")] == [early_due.uid, late_due.uid]


def test_fairness_breaks_lateness_ties_then_id():
    board = board_with(rad("a"), rad("b"), rad("c"))
    board.assign(study(priority=Priority.ROUTINE, minutes=20), "a", at(0))
    d = decide(board, study(priority=Priority.URGENT))
    assert d.radiologist_id == "b"  # b and c tie on workload: the lower id
    assert [c.radiologist_id for c in d.explanation.candidates] == ["b", "c", "a"]
    assert d.explanation.ranking == ("lateness", "night_minutes", "id")


def test_finished_reads_count_in_the_night_workload():
    board = board_with(rad("a"), rad("b"))
    s = study(minutes=30)
    board.assign(s, "a", at(0))
    board.start(s.uid, at(0))
    board.finish(s.uid, at(30))
    assert board.night_minutes("a", at(31)) == 30
    assert decide(board, study(), minute=31).radiologist_id == "b"


def test_stroke_goes_to_the_soonest_finish_before_fairness():
    board = board_with(rad("a"), rad("b"))
    long_read = study(priority=Priority.URGENT, minutes=10)
    board.assign(long_read, "a", at(0))
    board.start(long_read.uid, at(0))
    for _ in range(3):
        board.assign(study(priority=Priority.ROUTINE, minutes=5), "b", at(0))
    stroke = study(priority=Priority.STROKE, minutes=6)
    d = decide(board, stroke, minute=1)
    # Both on time; b is idle (starts at 1), a is mid-read (starts at 10): soonest wins
    # although b's night is heavier.
    assert d.radiologist_id == "b"
    assert d.explanation.ranking == ("lateness", "finish", "night_minutes", "id")
    urgent = decide(board, study(priority=Priority.URGENT, minutes=6), minute=1)
    assert urgent.radiologist_id == "a"  # on time both; a's night is lighter


def test_finishing_after_the_handover_is_avoided_when_someone_can():
    board = board_with(rad("a"), rad("b"), shifts=[shift("a", 0, 15), shift("b", 0, 600)])
    board.assign(study(priority=Priority.URGENT, minutes=25), "b", at(0))
    d = decide(board, study(priority=Priority.URGENT, minutes=20))
    assert d.radiologist_id == "b"
    assert d.explanation.excluded_reason("a") is R.SHIFT_ENDS


def test_when_nobody_finishes_before_handover_all_remain_candidates():
    board = board_with(rad("a"), rad("b"), shifts=[shift("a", 0, 10), shift("b", 0, 12)])
    d = decide(board, study(minutes=30))
    assert d.radiologist_id == "a"
    assert all(not c.within_shift for c in d.explanation.candidates)
    assert d.explanation.excluded == ()


def test_back_to_back_shifts_count_as_one_run():
    board = board_with(
        rad("a"), rad("b"), shifts=[shift("a", 0, 30), shift("a", 30, 600), shift("b", 0, 20)]
    )
    assert board.handover("a", at(5)) == at(600)
    assert board.handover("b", at(25)) is None
    d = decide(board, study(minutes=25), minute=5)
    assert d.radiologist_id == "a"
    assert d.explanation.excluded_reason("b") is R.SHIFT_ENDS


def test_continuity_same_patient_key():
    board = board_with(rad("a"), rad("b"))
    head = study(priority=Priority.URGENT, minutes=15, patient="p1")
    board.assign(head, "a", at(0))
    angio = study(priority=Priority.URGENT, minutes=10, patient="p1")
    d = decide(board, angio)
    assert (d.radiologist_id, d.explanation.basis) == ("a", Basis.CONTINUITY)
    # The same key from another hospital: only the INS gives one (a PatientID is keyed
    # with its site), so it is the same patient.
    other_site = study(priority=Priority.URGENT, minutes=10, patient="p1", site="h2")
    assert decide(board, other_site).explanation.basis is Basis.CONTINUITY
    other_patient = study(priority=Priority.URGENT, minutes=10, patient="p2")
    assert decide(board, other_patient).radiologist_id == "b"


def test_continuity_to_the_reader_of_a_recent_study_no_longer_on_the_board():
    from dataclasses import replace

    board = board_with(rad("a"), rad("b"))
    board.assign(study(priority=Priority.URGENT, minutes=30), "b", at(0))  # b is busier
    angio = replace(
        study(priority=Priority.URGENT, minutes=10, patient="p1"), recent_readers=("b",)
    )
    d = decide(board, angio)
    assert (d.radiologist_id, d.explanation.basis) == ("b", Basis.CONTINUITY)
    gone = replace(angio, recent_readers=("left-the-region",))
    assert decide(board, gone).explanation.basis is Basis.LEAST_LATENESS
    assert decide(board, replace(angio, patient_key="")).radiologist_id == "a"


def test_continuity_yields_when_it_would_break_the_deadline():
    board = board_with(rad("a"), rad("b"))
    board.assign(study(priority=Priority.URGENT, minutes=60, patient="p1"), "a", at(0))
    stroke = study(priority=Priority.STROKE, minutes=6, patient="p1")
    board.assign(study(priority=Priority.STROKE, minutes=18, due=15), "a", at(0))
    d = decide(board, stroke)
    assert (d.radiologist_id, d.explanation.basis) == ("b", Basis.LEAST_LATENESS)


def test_fallback_pool_when_nobody_is_eligible():
    board = board_with(
        rad("a", skills="body"),
        rad("fb-off", skills="body", fallback=True),
        rad("fb-on", skills="body", fallback=True),
        shifts=[shift("a"), shift("fb-on")],
    )
    d = decide(board, study(skills="neuro"))
    assert (d.radiologist_id, d.fallback, d.explanation.basis) == ("fb-on", True, Basis.FALLBACK)
    assert d.explanation.eligible == 0
    # With the on-shift fallback excluded, the off-shift one is never called: nobody.
    d = decide(board, study(skills="neuro"), exclude=frozenset({"fb-on"}))
    assert (d.radiologist_id, d.fallback, d.explanation.basis) == (None, True, Basis.NOBODY)


def test_the_medical_director_takes_what_nobody_on_shift_or_on_call_may():
    board = board_with(
        rad("a", skills="body"),
        rad("fb-off", skills="body", fallback=True),
        rad("md", skills="", director=True),  # no shift, no skill: still the last resort
        shifts=[shift("a")],
    )
    d = decide(board, study(skills="neuro", priority=Priority.URGENT))
    assert (d.radiologist_id, d.fallback) == ("md", True)
    assert d.explanation.basis is Basis.MEDICAL_DIRECTOR
    assert "medical director" in d.explanation.render_text()
    assert may_read(board.radiologist("md"), "h1", frozenset({"neuro"}), flagged=True) is None
    # An on-shift fallback reader comes before the director; a director who released
    # it (excluded) or is not credentialed for the site leaves it with nobody.
    board = board_with(
        rad("fb", skills="body", fallback=True),
        rad("md", director=True),
        shifts=[shift("fb")],
    )
    assert decide(board, study(skills="neuro")).radiologist_id == "fb"
    alone = board_with(rad("md", sites="h1", director=True))
    assert decide(alone, study(site="h1"), exclude=frozenset({"md"})).radiologist_id is None
    assert decide(alone, study(site="h2")).radiologist_id is None


def test_the_fallback_pool_must_be_credentialed_for_the_site():
    board = board_with(
        rad("a", skills="body", sites="h1"),
        rad("fb-h2", sites="h2", fallback=True),  # on shift, every skill, not for h1
        rad("fb-off", skills="body", sites="h1", fallback=True),
        shifts=[shift("a"), shift("fb-h2")],
    )
    d = decide(board, study(site="h1", skills="neuro"))
    assert (d.radiologist_id, d.fallback) == (None, True)  # credentialed, but off shift
    assert may_read(board.radiologist("fb-off"), "h1", frozenset({"neuro"}), flagged=True) is None
    # Nobody in the pool is credentialed for h3: routed to nobody, flagged, kept.
    nobody = decide(board, study(site="h3"))
    assert (nobody.radiologist_id, nobody.fallback) == (None, True)
    assert nobody.explanation.basis is Basis.NOBODY


def test_may_read_needs_the_credential_always_and_the_skill_unless_flagged_fallback():
    pool = rad("fb", skills="body", sites="h1", fallback=True)
    reader = rad("r", skills="body", sites="h1")
    neuro = frozenset({"neuro"})
    assert may_read(pool, "h2", frozenset(), flagged=True) is R.NO_CREDENTIAL
    assert may_read(pool, "h1", neuro) is R.MISSING_SKILL  # not routed to the pool
    assert may_read(pool, "h1", neuro, flagged=True) is None
    assert may_read(reader, "h1", neuro, flagged=True) is R.MISSING_SKILL  # not in the pool
    assert may_read(reader, "h1", frozenset({"body"})) is None


def test_nobody_at_all_is_flagged_not_dropped():
    board = board_with(rad("a", skills="body"))
    d = decide(board, study(skills="neuro"))
    assert (d.radiologist_id, d.fallback) == (None, True)
    assert d.explanation.chosen is None
    assert "NOBODY" in d.explanation.render_text()


def test_empty_board():
    d = decide(Board(), study())
    assert (d.radiologist_id, d.fallback, d.explanation.excluded) == (None, True, ())


def test_rerouting_a_queued_study_discounts_its_own_place():
    board = board_with(rad("a", max_parallel=1), rad("b"))
    s = study(minutes=30)
    board.assign(s, "a", at(0))
    board.assign(study(minutes=30), "b", at(0))
    d = decide(board, s)
    # a holds it: not at capacity for itself, and it is not queued ahead of itself.
    assert d.radiologist_id == "a"
    assert d.explanation.candidates[0].predicted_start == at(0)
    assert decide(board, s, exclude=frozenset({"a"})).radiologist_id == "b"


def test_candidates_are_capped_and_explanation_is_json_safe():
    board = board_with(*(rad(f"r{i:02}") for i in range(12)))
    d = decide(board, study())
    assert len(d.explanation.candidates) == CANDIDATES_SHOWN
    assert d.explanation.eligible == 12
    data = json.loads(json.dumps(d.explanation.to_dict()))
    assert Explanation.from_dict(data) == d.explanation


def test_continuity_reader_shown_even_outside_the_top_candidates():
    board = board_with(*(rad(f"r{i:02}") for i in range(8)))
    board.assign(study(minutes=40, patient="p9", priority=Priority.ROUTINE), "r07", at(0))
    d = decide(board, study(patient="p9"))
    assert d.radiologist_id == "r07"
    assert d.explanation.candidates[0].radiologist_id == "r07"
    assert len(d.explanation.candidates) == CANDIDATES_SHOWN


@pytest.mark.parametrize("priority", list(Priority))
def test_every_priority_routes(priority):
    board = board_with(rad("a"))
    assert decide(board, study(priority=priority)).radiologist_id == "a"


@pytest.mark.parametrize("priority", [Priority.STROKE, Priority.URGENT, Priority.ROUTINE])
def test_rerouting_a_retriaged_study_matches_the_reference(priority):
    from dataclasses import replace

    from garde.dispatch import reference

    board = board_with(rad("a"), rad("b"))
    s = study(priority=Priority.URGENT, minutes=30, arrived=0)
    board.assign(study(priority=Priority.URGENT, minutes=10, arrived=0, due=300), "a", at(0))
    board.assign(s, "a", at(0))
    board.assign(study(priority=Priority.URGENT, minutes=10, arrived=0, due=100), "a", at(0))
    retriaged = replace(s, priority=priority, deadline=at(250))
    fast = route(retriaged, board, POLICY, at(1))
    assert fast == reference.route(retriaged, board, POLICY, at(1))


def test_remembered_exclusions_follow_a_roster_change():
    # The same code vector (first eligible, second missing a skill) before and after a
    # roster change that renames the radiologists: the names must follow the roster.
    board = board_with(rad("a"), rad("b", skills="body"))
    first = decide(board, study(skills="neuro"))
    assert first.explanation.excluded_reason("b") is R.MISSING_SKILL
    again = decide(board, study(skills="neuro"))
    assert again.explanation.excluded == first.explanation.excluded
    board.set_roster([rad("c"), rad("d", skills="body")], [shift("c"), shift("d")])
    moved = decide(board, study(skills="neuro"))
    assert moved.radiologist_id == "c"
    assert moved.explanation.excluded_reason("d") is R.MISSING_SKILL
    assert moved.explanation.excluded_reason("b") is None


def test_the_router_aims_at_the_target_and_records_the_contractual_limit():
    from datetime import timedelta

    policy = SlaPolicy(
        targets={Priority.URGENT: timedelta(minutes=60)},
        limits={Priority.URGENT: timedelta(minutes=240)},
    )
    board = board_with(rad("a"))
    d = route(study(due=60), board, policy, at(0))
    assert d.explanation.deadline == at(60)
    assert d.explanation.limit == at(240)
    again = Explanation.from_dict(json.loads(json.dumps(d.explanation.to_dict())))
    assert again.limit == at(240)
    assert "contractual limit" in d.explanation.render_text()
    assert route(study(priority=Priority.STROKE), board, policy, at(0)).explanation.limit is None
