import json

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
    assert "study 1.2.3: stroke (rule stroke-alert), due 2025-01-10T18:20+00:00" in text
    assert "assigned to r1 (least lateness)" in text
    assert "ranking: lateness, then finish, then night_minutes, then id; 2 eligible" in text
    assert "r1           start 18:01 finish 18:07 late 0.0 min night 120 min" in text
    assert "(after handover)" in text
    assert "off shift: r3, r4" in text
    assert "missing skill: r5" in text
    bare = Explanation("1.2", "routine", "default", at(0), at(0), None, Basis.NOBODY, (), 0, ())
    assert "NOBODY may read it" in bare.render_text()
    assert "candidates" not in bare.render_text()
