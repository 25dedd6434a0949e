import pytest

from garde.dispatch.errors import DispatchError, IllegalTransition
from garde.dispatch.lifecycle import (
    TRANSITIONS,
    Action,
    StudyEvent,
    allowed_events,
    path,
    step,
    transition,
    walk,
)
from garde.dispatch.model import StudyState

S, E = StudyState, StudyEvent


@pytest.mark.parametrize(
    ("state", "event", "expected"),
    [
        (S.RECEIVING, E.BECAME_STABLE, S.PENDING),
        (S.RECEIVING, E.FIRST_SERIES_STROKE, S.PENDING),
        (S.RECEIVING, E.INSTANCE_RECEIVED, S.RECEIVING),
        (S.PENDING, E.ASSIGNED, S.ASSIGNED),
        (S.PENDING, E.UNASSIGNED, S.PENDING),
        (S.ASSIGNED, E.REASSIGNED, S.ASSIGNED),
        (S.ASSIGNED, E.STARTED, S.IN_PROGRESS),
        (S.ASSIGNED, E.RELEASED, S.PENDING),
        (S.IN_PROGRESS, E.FINISHED, S.DONE),
        (S.IN_PROGRESS, E.RELEASED, S.PENDING),
        (S.DONE, E.INSTANCE_RECEIVED, S.DONE),
        (S.PENDING, E.HAND_ASSIGNED, S.ASSIGNED),
        (S.ASSIGNED, E.HAND_ASSIGNED, S.ASSIGNED),
        (S.IN_PROGRESS, E.HAND_ASSIGNED, S.ASSIGNED),
        (S.ASSIGNED, E.PINNED, S.ASSIGNED),
        (S.IN_PROGRESS, E.PINNED, S.IN_PROGRESS),
    ],
)
def test_legal_transitions(state, event, expected):
    assert transition(state, event) is expected


def test_a_whole_life_from_strings():
    state = S.RECEIVING
    for event in ("became_stable", "assigned", "started", "finished"):
        state = transition(state.value, event)
    assert state is S.DONE


def test_every_pair_outside_the_table_is_illegal():
    illegal = [(s, e) for s in S for e in E if (s, e) not in TRANSITIONS]
    assert (S.DONE, E.STARTED) in illegal
    assert (S.RECEIVING, E.ASSIGNED) in illegal
    assert (S.IN_PROGRESS, E.REASSIGNED) in illegal  # a read in hand is no longer tentative
    for state, event in illegal:
        with pytest.raises(IllegalTransition, match=f"{event.value!r}.*{state.value!r}"):
            transition(state, event)


def test_illegal_transition_is_a_dispatch_error():
    with pytest.raises(DispatchError):
        transition(S.DONE, E.FINISHED)


def test_unknown_names_are_value_errors():
    with pytest.raises(ValueError):
        transition("lost", E.STARTED)
    with pytest.raises(ValueError):
        transition(S.PENDING, "teleported")


def test_actions_and_allowed_events():
    assert step(S.RECEIVING, E.BECAME_STABLE).action is Action.ROUTE
    assert step(S.ASSIGNED, E.STARTED).action is Action.LOCK
    assert step(S.ASSIGNED, E.RELEASED).action is Action.REROUTE
    assert allowed_events(S.IN_PROGRESS) == {
        E.FINISHED,
        E.RELEASED,
        E.INSTANCE_RECEIVED,
        E.HAND_ASSIGNED,
        E.PINNED,
    }
    assert allowed_events("done") == {E.INSTANCE_RECEIVED}


@pytest.mark.parametrize(("state", "event"), [(s, e) for s in S for e in E])
def test_every_pair_moves_as_its_row_says_or_refuses(state, event):
    row = TRANSITIONS.get((state, event))
    if row is None:
        with pytest.raises(IllegalTransition):
            step(state, event)
        assert event not in allowed_events(state)
    else:
        assert step(state, event) is row
        assert transition(state, event) is row.next
        assert event in allowed_events(state)


def test_a_path_folds_the_table_and_refuses_any_illegal_step():
    assert path(S.PENDING, [E.ASSIGNED, E.STARTED]) is S.IN_PROGRESS
    assert path("assigned", ["released", "unassigned"]) is S.PENDING
    with pytest.raises(IllegalTransition, match=r"'started'.*'pending'"):
        path(S.ASSIGNED, [E.RELEASED, E.STARTED])
    with pytest.raises(ValueError, match="at least one event"):
        path(S.PENDING, [])


def test_nothing_but_an_operator_takes_a_read_in_hand():
    # Late binding and re-plans move queued work only; a claim of a study being read is
    # refused by the table, while an operator's hand assignment is not.
    assert E.REASSIGNED not in allowed_events(S.IN_PROGRESS)
    assert step(S.IN_PROGRESS, E.HAND_ASSIGNED).next is S.ASSIGNED


def test_a_refused_move_names_the_study_the_event_and_the_state():
    with pytest.raises(IllegalTransition, match=r"^study 1\.2\.3: event 'started' .* 'pending'"):
        walk(S.PENDING, [E.STARTED], study_uid="1.2.3")
