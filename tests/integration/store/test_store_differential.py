"""Random scripts of store operations on the memory store and on SQLite give the same
answers, step by step and in every query afterwards.

The contract suite checks the cases someone thought of; this one lets Hypothesis look
for a sequence (intake, lifecycle events, conditional moves, assignments, triage,
escalation, rollbacks) on which the fake and the SQL store part ways.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from garde.dispatch.errors import IllegalTransition
from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import Priority, Radiologist, Site, StudyState, TriageResult
from garde.store.engine import make_engine, make_session_factory
from garde.store.errors import StoreError
from garde.store.instance_index import SqlInstanceIndex
from garde.store.memory import MemoryStore
from garde.store.uow import SqlUnitOfWork
from tests.store_fixtures import make_instance, sync_directory

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from garde.dispatch.ports import InstanceIndex
    from garde.store.ports import UnitOfWork

T0 = datetime(2026, 3, 6, 21, 0, tzinfo=UTC)
SITES = (
    Site(id="chu-a", name="CHU A", ae_titles=frozenset({"A"})),
    Site(id="ch-b", name="CH B", ae_titles=frozenset({"B"}), stable_age_s=10.0),
)
RADS = tuple(
    Radiologist(id=f"rad-{n}", name=f"R{n}", skills=frozenset(), sites=frozenset({"chu-a"}))
    for n in (1, 2)
)
STUDIES = 2  # few, so operations meet on the same study
E = StudyEvent
EVENTS = (
    (E.BECAME_STABLE,),
    (E.FIRST_SERIES_STROKE,),
    (E.ASSIGNED,),
    (E.ASSIGNED, E.STARTED),
    (E.STARTED,),
    (E.FINISHED,),
    (E.RELEASED,),
    (E.REASSIGNED,),
    (E.UNASSIGNED,),
    (E.HAND_ASSIGNED,),
    (E.PINNED,),
    (E.BECAME_STABLE, E.ASSIGNED, E.STARTED, E.FINISHED),
)
TRIAGE = (
    TriageResult(Priority.STROKE, frozenset({"neuro"}), 6.0, "stroke"),
    TriageResult(Priority.ROUTINE, frozenset(), 15.0, "default"),
)
_OMIT = "omit"
VIEWS = ("seen", "other assignee", "other state")
"""A claim expects the study as it is now, or with one thing changed since (stale)."""
OTHER_ASSIGNEE = {None: "rad-1", "rad-1": "rad-2", "rad-2": None}
OTHER_STATE = {
    StudyState.RECEIVING: StudyState.PENDING,
    StudyState.PENDING: StudyState.ASSIGNED,
    StudyState.ASSIGNED: StudyState.PENDING,
    StudyState.IN_PROGRESS: StudyState.ASSIGNED,
    StudyState.DONE: StudyState.IN_PROGRESS,
}


def uid(k: int) -> str:
    return f"1.2.9.{k}"


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


@dataclass(frozen=True)
class Op:
    """One operation, and whether its unit of work commits."""

    kind: str
    study: int
    args: tuple[Any, ...]
    commit: bool


seconds = st.integers(0, 300)
commits = st.sampled_from([True, True, True, False])  # mostly kept, some rolled back
receives = st.builds(
    Op,
    st.just("receive"),
    st.integers(0, STUDIES - 1),
    st.tuples(
        st.integers(1, 2),  # series
        st.integers(0, 2),  # instance
        st.sampled_from(["chu-a", "ch-b"]),
        seconds,
        st.sampled_from(["", "ins-1"]),
        st.sampled_from([None, 1, 2]),
    ),
    st.just(True),
)
moves = st.builds(
    Op,
    st.just("move"),
    st.integers(0, STUDIES),  # STUDIES: a study nobody stored
    st.tuples(st.sampled_from(EVENTS), seconds, st.sampled_from([None, 1, 2, 3])),
    commits,
)
claims = st.builds(
    Op,
    st.just("claim"),
    st.integers(0, STUDIES),
    st.tuples(
        st.sampled_from(EVENTS),
        seconds,
        st.sampled_from([_OMIT, None, "rad-1", "rad-2"]),
        st.sampled_from([None, "rad-1"]),
        st.sampled_from([_OMIT, None, "op"]),
        st.sampled_from([None, True, False]),
        st.sampled_from(VIEWS),
    ),
    commits,
)
assigns = st.builds(
    Op,
    st.just("assign"),
    st.integers(0, STUDIES),
    st.tuples(
        st.sampled_from([None, "rad-1", "rad-2"]),
        seconds,
        st.sampled_from(["router", "operator"]),
        st.booleans(),
    ),
    commits,
)
ops = st.one_of(  # the lifecycle's writes more often than the stamps
    receives,
    moves,
    moves,
    claims,
    claims,
    claims,
    assigns,
    st.builds(
        Op,
        st.just("triage"),
        st.integers(0, STUDIES - 1),
        st.tuples(st.sampled_from(TRIAGE), seconds),
        commits,
    ),
    st.builds(
        Op,
        st.just("escalate"),
        st.integers(0, STUDIES - 1),
        st.tuples(st.integers(0, 3)),
        commits,
    ),
    st.builds(Op, st.just("stable_again"), st.integers(0, STUDIES), st.tuples(seconds), commits),
    st.builds(Op, st.just("unpin"), st.integers(0, STUDIES), st.tuples(), commits),
    st.builds(
        Op,
        st.just("preview"),
        st.integers(0, STUDIES),
        st.tuples(st.sampled_from([None, 1, 2]), st.sampled_from(["thumbnail", "montage"])),
        commits,
    ),
    st.builds(Op, st.just("notice"), st.integers(0, STUDIES), st.tuples(seconds), commits),
)


@dataclass
class Store:
    uow_factory: Callable[[], UnitOfWork]
    index: InstanceIndex


def apply(store: Store, op: Op) -> Any:
    """Run ``op``; its result, or the name of the error it raised."""
    study = uid(op.study)
    if op.kind == "receive":
        series, instance, site, when, patient, declared = op.args
        return store.index.record(
            make_instance(
                study,
                series_uid=f"{study}.{series}",
                sop_instance_uid=f"{study}.{series}.{instance}",
                site_id=site,
                received_at=at(when),
                series_number=series,
                instance_number=instance,
                modality="CT" if series == 1 else "SR",
                patient_key=patient,
                declared_images=declared,
            )
        )
    seen = None
    if op.kind == "claim":
        with store.uow_factory() as uow:
            seen = uow.studies.get(study)
    try:
        with store.uow_factory() as uow:
            result = _run(uow, op, study, seen)
            if op.commit:
                uow.commit()
            return result
    except (IllegalTransition, StoreError, ValueError) as exc:
        return type(exc).__name__


def _run(uow: UnitOfWork, op: Op, study: str, seen: Any) -> Any:
    studies = uow.studies
    if op.kind == "move":
        events, when, version = op.args
        return studies.move(study, *events, at=at(when), expected_version=version)
    if op.kind == "claim":
        events, when, to, released, pinned, fallback, view = op.args
        state, assignee = (
            (StudyState.PENDING, None) if seen is None else (seen.state, seen.assignee)
        )
        if view == "other assignee":
            assignee = OTHER_ASSIGNEE[assignee]
        elif view == "other state":
            state = OTHER_STATE[state]
        changes: dict[str, Any] = {"released_by": released, "fallback": fallback}
        if to != _OMIT:
            changes["to_assignee"] = to
        if pinned != _OMIT:
            changes["pinned_by"] = pinned
        return uow.claims.move(
            study, *events, expect_state=state, expect_assignee=assignee, at=at(when), **changes
        )
    if op.kind == "assign":
        who, when, by, fallback = op.args
        return studies.assign(study, who, at=at(when), by=by, fallback=fallback)
    if op.kind == "triage":
        result, when = op.args
        return studies.set_triage(study, result, at(when))
    if op.kind == "escalate":
        return studies.set_escalation(study, op.args[0])
    if op.kind == "stable_again":
        return studies.mark_stable_again(study, at(op.args[0]))
    if op.kind == "unpin":
        return uow.claims.unpin(study)
    if op.kind == "preview":
        series, kind = op.args
        target = study if series is None else f"{study}.{series}"
        return studies.set_preview(target, kind, f"{target}/{kind}.jpg", T0)
    return uow.claims.mark_unassigned_notice(study, at(op.args[0]))


def snapshot(store: Store, now: datetime) -> dict[str, Any]:
    """Every query's answer at ``now``."""
    ages = {"ch-b": 10.0}
    with store.uow_factory() as uow:
        s = uow.studies
        view: dict[str, Any] = {
            "due": s.due_for_stability(now, 60, ages),
            "complete": s.with_complete_series(now, 60, ages, 5),
            "grown": s.grown_since_stable(now, 60, ages),
            "declared": s.declared_complete_since(now - timedelta(seconds=30)),
            "quiet": sorted(s.next_quiet_at(60, ages, 5)),
            "open": s.open_studies(),
            "states": [s.by_state(state) for state in StudyState],
            "releasers": s.releasers(uid(k) for k in range(STUDIES + 1)),
            "unrendered": s.open_without_previews(),
        }
        for k in range(STUDIES + 1):
            study = uid(k)
            record = s.get(study)
            view[study] = record
            if record is not None:
                view[f"{study} rest"] = (
                    s.assignments(study),
                    s.facts(study),
                    s.linked(study),
                    s.recent_readers(study, T0),
                    s.series(study),
                    s.previews(study),
                    [s.instance_paths(f"{study}.{n}") for n in (1, 2)],
                )
    return view


@contextmanager
def sqlite_store(template: Path) -> Iterator[Store]:
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "garde.sqlite"
        shutil.copyfile(template, target)
        engine = make_engine(f"sqlite:///{target}")
        factory = make_session_factory(engine)
        sync_directory(factory, SITES, RADS)
        try:
            yield Store(lambda: SqlUnitOfWork(factory), SqlInstanceIndex(factory))
        finally:
            engine.dispose()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    first=st.lists(receives, min_size=1, max_size=5),
    script=st.lists(ops, max_size=20),
    now=st.integers(0, 400),
)
def test_the_memory_store_answers_as_sqlite(
    sqlite_template: Path, first: list[Op], script: list[Op], now: int
) -> None:
    memory = MemoryStore(SITES, RADS)
    fake = Store(memory.uow_factory, memory.index)
    with sqlite_store(sqlite_template) as sql:
        for step, op in enumerate([*first, *script]):
            assert apply(fake, op) == apply(sql, op), f"step {step}: {op}"
        assert snapshot(fake, at(now)) == snapshot(sql, at(now))
