"""Which assignments are notified: ``[notify] assigned_priorities`` (urgent by default)."""

from __future__ import annotations

from garde.dispatch.model import Priority
from garde.services.dispatcher import NOTIFY_PRIORITIES, notify_assigned
from tests.unit.dispatch.dispatch_factories import study


class Recorder:
    """A `Notifier` that keeps what it was told."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, object]]] = []

    def notify(self, kind: str, payload: dict[str, object]) -> None:
        self.sent.append((kind, payload))


def test_urgent_assignments_are_notified_by_default_and_the_set_is_configurable() -> None:
    assert Priority.URGENT in NOTIFY_PRIORITIES
    recorder = Recorder()
    for priority in Priority:
        notify_assigned(recorder, study(priority=priority), "r01", fallback=False)
    assert [p["priority"] for _, p in recorder.sent] == ["stroke", "emergency", "urgent"]

    strokes_only = Recorder()
    for priority in Priority:
        notify_assigned(
            strokes_only,
            study(priority=priority),
            "r01",
            fallback=False,
            priorities=frozenset({Priority.STROKE}),
        )
    assert [p["priority"] for _, p in strokes_only.sent] == ["stroke"]
    # A study left with nobody is always told, whatever its priority.
    notify_assigned(strokes_only, study(priority=Priority.ROUTINE), None, fallback=True)
    assert strokes_only.sent[-1][1]["radiologist_id"] is None
