"""A peer repeating itself gets one log line per interval, the next one saying how many
were held back; other peers are not held back meanwhile."""

from __future__ import annotations

from garde.dicom_gateway import log_throttle
from garde.dicom_gateway.log_throttle import PeerLogThrottle, held_back


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_flood_writes_one_line_per_interval_then_the_count_it_held_back():
    clock = Clock()
    throttle = PeerLogThrottle(10.0, clock=clock)
    assert throttle.admit("10.0.0.9") == 0
    for _ in range(500):
        clock.now += 0.01
        assert throttle.admit("10.0.0.9") is None
    assert throttle.admit("10.0.0.7") == 0  # another peer: written at once
    clock.now = 10.0
    assert throttle.admit("10.0.0.9") == 500
    assert throttle.admit("10.0.0.9") is None
    clock.now = 30.0
    assert throttle.admit("10.0.0.9") == 1


def test_the_suffix_names_the_count():
    assert held_back(0) == ""
    assert held_back(3) == " (3 more since the last such line)"


def test_memory_stays_bounded_by_the_number_of_peers(monkeypatch):
    monkeypatch.setattr(log_throttle, "MAX_PEERS", 8)
    clock = Clock()
    throttle = PeerLogThrottle(10.0, clock=clock)
    for n in range(100):
        clock.now += 1
        assert throttle.admit(f"10.0.{n}.1") == 0
        assert len(throttle._peers) <= 8
