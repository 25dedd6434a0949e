"""When a failed notification is tried again, or given up."""

from __future__ import annotations

from datetime import timedelta

import pytest

from garde.dispatch.model import StudyState
from garde.dispatch.retry import keeps_trying, next_attempt
from tests.unit.dispatch.dispatch_factories import at

NOW = at(0)


def _after(tries: int, *, study_open: bool = False, attempts: int = 5) -> float | None:
    retry = next_attempt(
        tries, NOW, attempts=attempts, study_open=study_open, backoff_s=1.0, backoff_max_s=60.0
    )
    return None if retry is None else (retry - NOW) / timedelta(seconds=1)


def test_each_try_waits_twice_as_long_up_to_the_cap() -> None:
    assert [_after(t, attempts=100) for t in (1, 2, 3, 6, 7, 10)] == [1, 2, 4, 32, 60, 60]


def test_given_up_after_the_attempts_unless_its_study_is_open() -> None:
    assert _after(4) == 8
    assert _after(5) is None
    assert _after(5, study_open=True) == 16
    assert _after(500, study_open=True) == 60  # never given up, never an overflow


@pytest.mark.parametrize("state", [*StudyState, None])
def test_a_notification_is_kept_alive_while_its_study_is_open(state: StudyState | None) -> None:
    assert keeps_trying(state) is (state is not None and state is not StudyState.DONE)
