"""The rules an operator's assignment breaks (credential, skill, shift), pure."""

from __future__ import annotations

from garde.dispatch.manual import Broken, Rule, broken_rules
from tests.unit.dispatch.dispatch_factories import at, rad, shift

NEURO = frozenset({"neuro"})


def test_an_eligible_reader_on_shift_breaks_nothing() -> None:
    reader = rad("a", skills="neuro", sites="h1")
    assert broken_rules(reader, "h1", NEURO, [shift("a")], at(5), flagged=False) == ()


def test_each_rule_is_named_with_what_the_user_needs() -> None:
    reader = rad("a", skills="body", sites="h2")
    later = shift("a", start=60, end=120)
    assert broken_rules(reader, "h1", NEURO, [later, shift("b")], at(5), flagged=False) == (
        Broken(Rule.NO_CREDENTIAL),
        Broken(Rule.MISSING_SKILL, missing=("neuro",)),
        Broken(Rule.OFF_SHIFT, next_shift=at(60)),
    )
    assert broken_rules(reader, "h2", frozenset(), [], at(5), flagged=False) == (
        Broken(Rule.OFF_SHIFT, next_shift=None),
    )


def test_the_fallback_pool_and_the_director_as_the_router_sees_them() -> None:
    pool = rad("fb", skills="body", sites="h1", fallback=True)
    assert broken_rules(pool, "h1", NEURO, [shift("fb")], at(5), flagged=True) == ()
    assert broken_rules(pool, "h1", NEURO, [shift("fb")], at(5), flagged=False) == (
        Broken(Rule.MISSING_SKILL, missing=("neuro",)),
    )
    director = rad("md", skills="", sites="h1", director=True)  # no shift: always reachable
    assert broken_rules(director, "h1", NEURO, [], at(5), flagged=True) == ()
    assert broken_rules(director, "h2", frozenset(), [], at(5), flagged=False) == (
        Broken(Rule.NO_CREDENTIAL),
    )


def test_an_operator_assigns_any_open_study_and_pins_one_where_it_is() -> None:
    from garde.dispatch.lifecycle import StudyEvent as E
    from garde.dispatch.manual import hand_event
    from garde.dispatch.model import StudyState as S

    assert hand_event(S.PENDING, None, "a") is E.HAND_ASSIGNED
    assert hand_event(S.ASSIGNED, "b", "a") is E.HAND_ASSIGNED
    assert hand_event(S.IN_PROGRESS, "b", "a") is E.HAND_ASSIGNED  # taken from its reader
    assert hand_event(S.ASSIGNED, "a", "a") is E.PINNED
    assert hand_event(S.IN_PROGRESS, "a", "a") is E.PINNED  # a read in hand stays in hand
    assert hand_event(S.RECEIVING, None, "a") is None
    assert hand_event(S.DONE, "a", "b") is None


def test_a_pin_where_it_is_already_pinned_and_the_rule_that_refuses() -> None:
    from garde.dispatch.manual import already_pinned, blocking

    assert already_pinned("a", "op", "a")
    assert not already_pinned("a", None, "a")  # assigned, not pinned: this pins it
    assert not already_pinned("b", "op", "a")
    off, skill = Broken(Rule.OFF_SHIFT), Broken(Rule.MISSING_SKILL, missing=("neuro",))
    assert blocking([skill, off], force=False) is skill
    assert blocking([skill, off], force=True) is None
    assert blocking([], force=False) is None
