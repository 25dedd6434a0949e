"""When a study is at risk: by its clock (the worklist), and why (the night status)."""

from __future__ import annotations

import pytest

from garde.dispatch.risk import (
    AT_RISK_FRACTION,
    StatusReason,
    WindowRisk,
    status_reason,
    window_risk,
)
from tests.unit.dispatch.dispatch_factories import at

ARRIVED, DUE = at(0), at(60)  # a one-hour window: at risk in its last 15 minutes


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        (0, WindowRisk.OK),
        (45, WindowRisk.OK),  # exactly a quarter left: not yet
        (45.5, WindowRisk.AT_RISK),
        (59.9, WindowRisk.AT_RISK),
        (60, WindowRisk.LATE),  # no time left is late
        (90, WindowRisk.LATE),
    ],
)
def test_a_worklist_line_is_at_risk_in_the_last_quarter_of_its_window(
    minutes: float, expected: WindowRisk
) -> None:
    assert AT_RISK_FRACTION == 0.25
    assert window_risk(DUE, ARRIVED, at(minutes)) is expected


def test_a_study_without_a_deadline_is_not_at_risk() -> None:
    assert window_risk(None, ARRIVED, at(600)) is WindowRisk.OK
    assert WindowRisk.AT_RISK == "at_risk"  # the --filter risk= value


def _reason(
    holder: str | None = "r1",
    now: float = 10,
    predicted: float | None = 30,
    level: int = 0,
) -> StatusReason | None:
    return status_reason(
        holder=holder,
        deadline=DUE,
        predicted_finish=None if predicted is None else at(predicted),
        escalation_level=level,
        now=at(now),
    )


def test_the_status_gives_the_first_reason_that_holds() -> None:
    assert _reason() is None  # held, in time, predicted in time, never escalated
    assert _reason(predicted=None) is None  # not on this board: nothing predicted
    assert _reason(level=1) is StatusReason.ESCALATED
    assert _reason(predicted=60 + 1, level=1) is StatusReason.PREDICTED_LATE
    assert _reason(now=61, predicted=70) is StatusReason.BREACHED
    assert _reason(holder=None, now=61) is StatusReason.NO_READER
    assert _reason(now=60, predicted=60) is None  # at the deadline is not past it
    assert StatusReason.PREDICTED_LATE == "predicted late"  # as `garde status` prints it
