"""One seeded night through the real services on the memory store and on SQL gives the
same night: every study's state, reader, times, version, assignments and audit trail.

The contract suite checks each repository method; this checks what the simulator relies
on, that the services behave the same on both stores over a whole night.
"""

from __future__ import annotations

from datetime import timedelta

from benchmarks.memory_night import memory_night, sqlite_night

STUDIES = 16
ARRIVALS = timedelta(hours=1)  # a busy hour: queues, late binding, a stroke or two


def test_a_night_on_the_memory_store_is_the_night_on_sqlite() -> None:
    memory = memory_night(STUDIES, seed=7, night=ARRIVALS)
    sql = sqlite_night(STUDIES, seed=7, night=ARRIVALS)
    assert memory["done"] == sql["done"] == STUDIES
    for mine, theirs in zip(memory["trail"], sql["trail"], strict=True):
        assert mine == theirs
