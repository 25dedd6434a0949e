"""The store's generations: a roster edit by one process is seen by a running node's
watch, which puts the new reader in its board and routes waiting work to them; a reload
request is a generation of its own."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from garde.dispatch.model import Shift
from garde.runtime.reload import apply_roster
from garde.services.rostering import add_one_shift
from garde.services.store_watch import StoreWatch
from garde.store.enums import GenerationKind
from tests.integration.scheduling.night import (
    T0,
    advance_to,
    receive,
    record,
    settings_for,
    start_night,
)

if TYPE_CHECKING:
    from pathlib import Path

STROKE = "Scanner cerebral alerte thrombolyse"


def test_a_roster_edit_elsewhere_reaches_the_running_node_through_its_watch(
    migrated_url: str, tmp_path: Path
) -> None:
    h = timedelta(hours=1)
    settings = settings_for(migrated_url, tmp_path)
    node = start_night(settings, [Shift("r03", T0 - 3 * h, T0 - h)])  # nobody on shift now
    editor = start_night(settings, [Shift("r03", T0 - 3 * h, T0 - h)])  # the CLI's process
    ticks = [0.0]
    watch = StoreWatch(node.uow, period_s=5, monotonic=lambda: ticks[0])
    try:
        watch.prime()
        assert watch.poll() == set()
        stroke = receive(node, tmp_path, "h01", T0, description=STROKE, body_part="HEAD")
        node.dispatch.sweep(advance_to(node, T0 + timedelta(seconds=10)))
        assert record(node, stroke).assignee != "r06"  # nobody on shift may take it

        add_one_shift(editor, "r06", "2026-11-20 22:30", "2026-11-21 08:00")  # Paris time
        assert watch.poll() == set()  # not due yet: a look every 5 s
        ticks[0] = 5.0
        assert watch.poll() == {GenerationKind.ROSTER}
        assert apply_roster(node) >= 1
        assert "r06" in node.dispatch.board.ids
        assert record(node, stroke).assignee == "r06"
        ticks[0] = 10.0
        assert watch.poll() == set()  # seen once

        with editor.uow() as uow:
            uow.generations.bump(GenerationKind.CONFIG, T0)
            uow.commit()
        ticks[0] = 15.0
        assert watch.poll() == {GenerationKind.CONFIG}
    finally:
        node.close()
        editor.close()
