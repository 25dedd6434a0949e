"""Random boards and event sequences: the fast router agrees with the from-scratch
reference, never picks an ineligible radiologist, and no study is lost or duplicated."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from garde.dispatch import reference
from garde.dispatch.board import Board, Code
from garde.dispatch.errors import DispatchError
from garde.dispatch.model import Priority, SlaPolicy
from garde.dispatch.router import may_read, route
from tests.unit.dispatch.dispatch_factories import at, rad, shift, study

POLICY = SlaPolicy()
SKILLS = ["neuro", "body", "chest"]
SITES = ["h1", "h2", "h3"]


@st.composite
def rosters(draw):
    n = draw(st.integers(1, 6))
    director = draw(st.integers(-1, n - 1))  # -1: the region has none on this board
    rads, shifts = [], []
    for i in range(n):
        rid = f"r{i}"
        rads.append(
            rad(
                rid,
                " ".join(draw(st.sets(st.sampled_from(SKILLS)))),
                " ".join(draw(st.sets(st.sampled_from(SITES), min_size=1))),
                max_parallel=draw(st.integers(1, 5)),
                speed=draw(st.sampled_from([0.5, 0.8, 1.0, 1.25, 1.7])),
                fallback=draw(st.booleans()),
                director=i == director,
            )
        )
        start = 0.0
        for _ in range(draw(st.integers(0, 3))):
            start += draw(st.sampled_from([0, 0, 30, 120]))
            length = draw(st.sampled_from([60, 240, 600]))
            narrowed = draw(st.one_of(st.none(), st.sets(st.sampled_from(SITES), min_size=1)))
            shifts.append(
                shift(rid, start, start + length, None if narrowed is None else " ".join(narrowed))
            )
            start += length
    return rads, shifts


study_strategy = st.builds(
    lambda p, sk, site, minutes, arrived, patient: study(
        priority=p,
        skills=" ".join(sk),
        site=site,
        minutes=minutes,
        arrived=arrived,
        patient=patient,
    ),
    st.sampled_from(list(Priority)),
    st.sets(st.sampled_from(SKILLS), max_size=2),
    st.sampled_from(SITES),
    st.sampled_from([0.01, 3, 6, 15.5, 39]),
    st.sampled_from([0, 5, 5, 60]),
    st.sampled_from(["", "", "p1", "p2"]),
)

events = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "route",
                "route",
                "route",
                "start",
                "finish",
                "release",
                "remove",
                "reassign",
                "hand_back",
                "exclude",
            ]
        ),
        study_strategy,
        st.integers(0, 10**6),
        st.sampled_from([0, 1, 29, 60, 119, 300, 700]),
    ),
    max_size=30,
)


def assert_same_evaluation(board, s, now, exclude=frozenset()):
    fast = board.evaluate(s, now, exclude)
    slow = reference.evaluate(s, board, now, exclude)
    for name in ("code", "start_ms", "finish_ms", "late_ms", "load_ms", "within_shift"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), err_msg=name)


def assert_chosen_is_eligible(board, decision, s, now, exclude):
    slow = reference.evaluate(s, board, now, exclude)
    if decision.radiologist_id is None:
        assert decision.fallback
        assert not (slow.code == Code.ELIGIBLE).any()
        on_call = set(board.on_shift(now))
        assert not any(
            (r.fallback and r.id in on_call) or r.medical_director
            for r in board.radiologists()
            if s.site_id in r.sites and r.id not in exclude
        )
        return
    i = board.index_of(decision.radiologist_id)
    r = board.radiologist(decision.radiologist_id)
    # The reading actions accept what the router assigned (one rule for both).
    assert may_read(r, s.site_id, s.skills, flagged=decision.fallback) is None
    if decision.fallback:
        assert not (slow.code == Code.ELIGIBLE).any()
        # Nobody off shift, nobody unreachable: an on-call fallback reader, else the
        # medical director.
        assert (r.fallback and slow.code[i] != Code.OFF_SHIFT) or r.medical_director
        assert s.site_id in r.sites  # a credential is never waived
        assert decision.radiologist_id not in exclude
        return
    assert slow.code[i] == Code.ELIGIBLE
    assert s.site_id in r.sites
    assert s.skills <= r.skills
    assert decision.radiologist_id not in exclude
    assert decision.explanation.excluded_reason(decision.radiologist_id) is None


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(roster=rosters(), script=events)
def test_random_event_sequences(roster, script):
    rads, shifts = roster
    board = Board()
    board.set_roster(rads, shifts)
    expected: dict[str, str] = {}  # uid -> owner, kept by hand alongside the board
    started: set[str] = set()
    for action, s, pick, minute in script:
        now = at(minute)
        uids = sorted(expected)
        target = uids[pick % len(uids)] if uids else None
        if action in {"route", "exclude"}:
            exclude = frozenset({f"r{pick % 6}"}) if action == "exclude" else frozenset()
            assert_same_evaluation(board, s, now, exclude)
            decision = route(s, board, POLICY, now, exclude=exclude)
            assert decision == reference.route(s, board, POLICY, now, exclude=exclude)
            assert_chosen_is_eligible(board, decision, s, now, exclude)
            event(f"basis {decision.explanation.basis.value}")
            if decision.radiologist_id is not None:
                board.assign(s, decision.radiologist_id, now)
                expected[s.uid] = decision.radiologist_id
        elif target is None:
            continue
        elif action == "start":
            if target in started:
                try:
                    board.start(target, now)
                except DispatchError:
                    pass
                else:
                    raise AssertionError("a study in hand was started twice")
            else:
                board.start(target, now)
                started.add(target)
        elif action == "finish":
            if target in started:
                board.finish(target, now)
                started.discard(target)
                del expected[target]
        elif action == "release":
            assert board.release(target).uid == target
            started.discard(target)
            del expected[target]
        elif action == "remove":
            assert board.remove(target).uid == target
            assert board.remove(target) is None
            started.discard(target)
            del expected[target]
        elif action == "reassign" and target not in started:
            other = f"r{pick % len(rads)}"
            board.reassign(target, other, now)
            expected[target] = other
        elif action == "hand_back":
            owner = expected[target]
            handed = board.hand_back(owner)
            for h in handed:
                assert h.uid not in started
                del expected[h.uid]
        # Invariants: each study exactly once, with the expected owner and state.
        on_board = [x.uid for x in board.studies()]
        assert sorted(on_board) == sorted(expected)
        held = [
            uid for r in board.ids for uid in [*(x.uid for x in board.queue(r)), *board.reading(r)]
        ]
        assert sorted(held) == sorted(expected)
        for uid, owner in expected.items():
            assert board.owner(uid) == owner
            assert board.is_started(uid) == (uid in started)
        for r in board.ids:
            keys = [board.key_of(x.uid) for x in board.queue(r)]
            assert keys == sorted(keys)
        probe = study(priority=Priority.URGENT, arrived=minute)
        assert_same_evaluation(board, probe, now)
        if expected:
            queued = next(iter(sorted(expected)))
            assert_same_evaluation(board, board.get(queued), now)
