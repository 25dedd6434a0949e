"""Waiting for stability (`garde.dispatch.stability`): what is dispatched when, pure."""

from datetime import timedelta

from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import Priority, Site
from garde.dispatch.stability import dispatch_event, next_quiet, site_stable_ages
from tests.unit.dispatch.dispatch_factories import at


def test_a_whole_stable_study_is_dispatched_whatever_its_priority():
    for priority in Priority:
        assert dispatch_event(priority, first_series=False) is StudyEvent.BECAME_STABLE


def test_only_a_stroke_goes_at_its_first_complete_series():
    assert dispatch_event(Priority.STROKE, first_series=True) is StudyEvent.FIRST_SERIES_STROKE
    for priority in set(Priority) - {Priority.STROKE}:
        assert dispatch_event(priority, first_series=True) is None


def test_only_sites_with_their_own_stable_age_override_the_default():
    sites = [
        Site(id="h1", name="One", ae_titles=frozenset({"H1"}), stable_age_s=10.0),
        Site(id="h2", name="Two", ae_titles=frozenset({"H2"})),
    ]
    assert site_stable_ages(sites) == {"h1": 10.0}


def test_the_next_sweep_is_the_first_quiet_moment_after_now():
    moments = [at(1), at(5), at(3), at(0)]
    assert next_quiet(moments, at(1)) == at(3)
    assert next_quiet(moments, at(5)) is None
    assert next_quiet([], at(0)) is None
    assert next_quiet([at(0) + timedelta(seconds=1)], at(0)) == at(0) + timedelta(seconds=1)
