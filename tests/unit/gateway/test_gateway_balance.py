"""The table of open connections that spreads associations over the gateway's processes."""

from __future__ import annotations

import time

import pytest

from garde.dicom_gateway.balance import ABSENT, ConnectionShare


def test_counts_follow_connections_only_while_serving():
    counts = [ABSENT, ABSENT]
    share = ConnectionShare(counts, 1)
    share.opened()  # accepted while starting: counted, not yet published
    assert counts == [ABSENT, ABSENT]
    share.serving()
    assert counts == [ABSENT, 1]
    share.opened()
    share.closed()
    share.closed()
    share.closed()  # never below zero
    assert counts[1] == 0
    assert share.open == 0
    share.leaving()
    assert counts[1] == ABSENT


def test_the_least_loaded_worker_accepts_at_once_and_the_others_give_way():
    counts = [0, 0]
    mine, other = ConnectionShare(counts, 0), ConnectionShare(counts, 1)
    mine.serving()
    other.serving()
    assert mine.wait_turn(lambda: True)  # a tie: either may take it
    mine.opened()
    assert other.least_loaded()
    assert not mine.least_loaded()
    # The busier one waits while the connection waits, and lets it go once taken.
    looks = iter([True, True, False])
    began = time.monotonic()
    assert not mine.wait_turn(lambda: next(looks))
    assert time.monotonic() - began < 0.2


def test_a_busier_worker_takes_the_connection_when_the_other_does_not():
    counts = [3, 0]
    share = ConnectionShare(counts, 0, patience_s=0.02)
    began = time.monotonic()
    assert share.wait_turn(lambda: True)  # the other one may be stuck
    assert time.monotonic() - began >= 0.02


def test_nobody_gives_way_to_a_worker_that_is_not_serving():
    counts = [2, ABSENT]
    assert ConnectionShare(counts, 0, patience_s=5).wait_turn(lambda: True)


def test_the_slot_must_be_one_of_the_workers():
    with pytest.raises(ValueError, match="slot 2"):
        ConnectionShare([0, 0], 2)
