"""The store contract for state changes (issue 16 item 1): `garde.dispatch.lifecycle`'s
table drives every one. For every (state, event) pair, on the memory store, SQLite and
PostgreSQL (when configured), both writes that move a study (`Studies.move` and the
conditional `Claims.move`) reach the table's next state when the pair is in the table,
and refuse it with `IllegalTransition`, writing nothing, when it is not. Nothing else
writes the state: triage, assignments and escalation stamps leave it as it was."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from garde.dispatch.errors import IllegalTransition
from garde.dispatch.lifecycle import TRANSITIONS, StudyEvent
from garde.dispatch.model import StudyState
from tests.integration.store.contract_store import ROUTINE, T0

if TYPE_CHECKING:
    from tests.integration.store.contract_store import Store

READER = "rad-1"
LATER = T0 + timedelta(minutes=1)


def _paths() -> dict[StudyState, tuple[StudyEvent, ...]]:
    """The shortest events from RECEIVING to each state, found in the table itself."""
    paths: dict[StudyState, tuple[StudyEvent, ...]] = {StudyState.RECEIVING: ()}
    frontier = [StudyState.RECEIVING]
    while frontier:
        state = frontier.pop(0)
        for (start, event), step in TRANSITIONS.items():
            if start is state and step.next not in paths:
                paths[step.next] = (*paths[state], event)
                frontier.append(step.next)
    return paths


PATHS = _paths()


def _study_in(store: Store, state: StudyState) -> str:
    """A study brought to ``state`` through the table's own events (held by `READER`
    from the moment it is assigned)."""
    uid = store.receive()
    with store.uow_factory() as uow:
        for event in PATHS[state]:
            if event in {StudyEvent.ASSIGNED, StudyEvent.HAND_ASSIGNED}:
                uow.studies.assign(uid, READER, at=T0, by="router")
            uow.studies.move(uid, event, at=T0)
        uow.commit()
    record = store.get(uid)
    assert record.state is state
    return uid


def test_every_state_is_reachable_from_receiving_through_the_table() -> None:
    assert set(PATHS) == set(StudyState)


def _apply(store: Store, uid: str, event: StudyEvent, write: str) -> str | None:
    """Move the study by ``event`` through ``write``'s method, committed; the refusal's
    message if the store refused it."""
    before = store.get(uid)
    with store.uow_factory() as uow:
        try:
            if write == "studies":
                uow.studies.move(uid, event, at=LATER)
            else:
                assert uow.claims.move(
                    uid,
                    event,
                    expect_state=before.state,
                    expect_assignee=before.assignee,
                    at=LATER,
                )
        except IllegalTransition as exc:
            return str(exc)
        uow.commit()
    return None


@pytest.mark.parametrize("write", ["studies", "claims"])
def test_every_pair_moves_as_the_table_says_or_is_refused_unwritten(
    store: Store, write: str
) -> None:
    for state in StudyState:
        for event in StudyEvent:
            uid = _study_in(store, state)
            before = store.get(uid)
            step = TRANSITIONS.get((state, event))
            refused = _apply(store, uid, event, write)
            after = store.get(uid)
            if step is None:
                assert refused is not None, f"{state} + {event}: allowed, not in the table"
                assert refused.startswith(f"study {uid}: event {event.value!r} is not allowed")
                assert after == before, f"{state} + {event}: written though refused"
            else:
                assert refused is None, f"{state} + {event}: refused, the table allows it"
                assert after.state is step.next, f"{state} + {event} -> {after.state}"


def test_triage_assignments_and_escalation_never_change_the_state(store: Store) -> None:
    for state in StudyState:
        uid = _study_in(store, state)
        with store.uow_factory() as uow:
            uow.studies.set_triage(uid, ROUTINE, T0 + timedelta(hours=8))
            uow.studies.assign(uid, "rad-2", at=T0, by="operator")
            uow.studies.assign(uid, None, at=T0, by="router")
            uow.studies.set_escalation(uid, 2)
            uow.commit()
        assert store.get(uid).state is state
