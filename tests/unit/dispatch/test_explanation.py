import json
from dataclasses import replace

import pytest

from garde.dispatch._time import to_ms
from garde.dispatch.explanation import (
    Basis,
    Candidate,
    Exclusion,
    ExclusionReason,
    Explanation,
)
from tests.unit.dispatch.dispatch_factories import at


def sample(chosen="r1", basis=Basis.LEAST_LATENESS):
    return Explanation(
        study_uid="1.2.3",
        priority="stroke",
        rule="stroke-alert",
        deadline=at(20),
        decided_at=at(1),
        chosen=chosen,
        basis=basis,
        candidates=(
            Candidate("r1", to_ms(at(1)), to_ms(at(7)), 0, 120 * 60_000),
            Candidate("r2", to_ms(at(9)), to_ms(at(15)), 1234, 30 * 60_000, within_shift=False),
        ),
        eligible=2,
        excluded=(
            Exclusion(ExclusionReason.OFF_SHIFT, ("r3", "r4")),
            Exclusion(ExclusionReason.MISSING_SKILL, ("r5",)),
        ),
        ranking=("lateness", "finish", "night_minutes", "id"),
    )


def test_round_trip_through_json():
    explanation = sample()
    data = json.loads(json.dumps(explanation.to_dict()))
    assert data["excluded"] == {"off_shift": ["r3", "r4"], "missing_skill": ["r5"]}
    assert data["candidates"][1]["within_shift"] is False
    assert data["candidates"][1]["lateness_min"] == 1234 / 60_000
    assert explanation.candidates[0].predicted_finish == at(7)
    assert explanation.candidates[0].night_minutes == 120
    assert Explanation.from_dict(data) == explanation
    nobody = sample(chosen=None, basis=Basis.NOBODY)
    assert Explanation.from_dict(nobody.to_dict()) == nobody


def test_malformed_records_are_value_errors():
    data = sample().to_dict()
    del data["candidates"]
    with pytest.raises(ValueError, match="not a routing explanation"):
        Explanation.from_dict(data)
    with pytest.raises(ValueError):
        Explanation.from_dict({**sample().to_dict(), "basis": "whim"})


def test_excluded_reason():
    explanation = sample()
    assert explanation.excluded_reason("r4") is ExclusionReason.OFF_SHIFT
    assert explanation.excluded_reason("r5") is ExclusionReason.MISSING_SKILL
    assert explanation.excluded_reason("r1") is None


def test_render_text_for_garde_explain():
    text = sample().render_text()
    assert "study 1.2.3: stroke (rule stroke-alert), due Fri 10/01 18:20 UTC" in text
    assert (
        "decided Fri 10/01 18:01 UTC: assigned to r1: least predicted lateness: 0 min, r2 1 s"
        in (text)
    )
    assert (
        "ranked by predicted lateness, then soonest finish, then least reading done tonight "
        "(fairness), then id; 2 eligible" in text
    )
    assert "r1           start 18:01 finish 18:07 late 0 min, 120 min read tonight" in text
    assert "(after handover)" in text
    assert "off shift: r3, r4" in text
    assert "missing skill: r5" in text
    bare = Explanation("1.2", "routine", "default", at(0), at(0), None, Basis.NOBODY, (), 0, ())
    assert "NOBODY may read it" in bare.render_text()
    assert "candidates" not in bare.render_text()


def test_times_are_the_regions_wall_clock_with_its_zone():
    from zoneinfo import ZoneInfo

    text = sample().render_text(ZoneInfo("Europe/Paris"))
    assert "due Fri 10/01 19:20 CET" in text
    assert "decided Fri 10/01 19:02 CET" in text or "decided Fri 10/01 19:01 CET" in text
    assert "start 19:01 finish 19:07" in text


def _ranked(first, second, ranking=("lateness", "night_minutes", "id")):
    return replace(sample(), candidates=(first, second), ranking=ranking)


def test_the_criterion_named_is_the_one_that_decided():
    late = Candidate("r1", 0, 0, 3 * 60_000, 90 * 60_000)
    later = Candidate("r2", 0, 0, 9 * 60_000, 10 * 60_000)
    assert _ranked(late, later).decided_by() == "least predicted lateness: 3 min, r2 9 min"
    # Both on time: not "least lateness" but the soonest finish (stroke ranking) ...
    soon = Candidate("r1", 0, 60_000, 0, 90 * 60_000)
    sooner_not = Candidate("r2", 0, 9 * 60_000, 0, 10 * 60_000)
    stroke_ranking = ("lateness", "finish", "night_minutes", "id")
    assert _ranked(soon, sooner_not, stroke_ranking).decided_by() == (
        "soonest finish: 8.0 min before r2"
    )
    # ... or, for urgent work, the night's reading so far.
    light = Candidate("r1", 0, 0, 0, 10 * 60_000)
    heavy = Candidate("r2", 0, 0, 0, 70 * 60_000)
    assert _ranked(light, heavy).decided_by() == (
        "least reading done tonight (fairness): 10 min, r2 70 min"
    )
    same = Candidate("r2", 0, 0, 0, 10 * 60_000)
    assert _ranked(light, same).decided_by() == "tied with r2 on every measure: first by id"
    alone = replace(sample(), candidates=(light,), eligible=1)
    assert alone.decided_by() == "the only eligible reader"


def test_a_preemption_names_the_interrupted_read_and_keeps_the_real_candidates():
    stroke = replace(sample(), basis=Basis.PREEMPT, interrupts="1.2.9", wait_without_ms=12 * 60_000)
    data = json.loads(json.dumps(stroke.to_dict()))
    assert (data["interrupts"], data["wait_without_min"]) == ("1.2.9", 12.0)
    assert Explanation.from_dict(data) == stroke
    assert "r1 is interrupted in their read of 1.2.9 (else the stroke waits 12 min)" in (
        stroke.render_text()
    )
