"""Every move of a stroke or emergency study tells its new reader: the "assigned"
webhook goes out from the handover, a re-route of orphans, a release, an operator's
assign and a claim, as it does from the first dispatch (a real receiver on loopback)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from garde.dispatch.model import Shift
from garde.services.handover import hand_over
from garde.services.identity import Identity, Role
from garde.services.operator import OperatorService
from garde.services.reading import ReadingService
from tests.integration.scheduling.night import (
    T0,
    advance_to,
    receive,
    record,
    settings_for,
    start_night,
)
from tests.integration.services.webhook_receiver import Receiver

if TYPE_CHECKING:
    from pathlib import Path

STROKE = "Scanner cérébral — alerte thrombolyse"
PAYLOAD_KEYS = {"study_uid", "site_id", "priority", "radiologist_id", "deadline", "fallback"}


def test_each_move_of_a_stroke_notifies_its_new_reader(migrated_url: str, tmp_path: Path) -> None:
    h = timedelta(hours=1)
    with Receiver() as receiver:
        settings = settings_for(migrated_url, tmp_path)
        settings = replace(
            settings,
            notify=replace(settings.notify, webhook_url=receiver.url, webhook_backoff_s=0.01),
        )
        shifts = [
            Shift("r01", T0 - 4 * h, T0 + h),  # neuro, body: every site
            Shift("r06", T0 + h / 2, T0 + 9 * h),  # neuro: h01, h02, h04
        ]  # r08, the fallback pool, is off shift all night
        rt = start_night(settings, shifts)
        rt.notifier.start_delivery()
        try:
            board = rt.dispatch.board
            reading = ReadingService(rt.uow, board, notifier=rt.notifier)
            operator = OperatorService(rt.uow, board, notifier=rt.notifier)
            uid = receive(rt, tmp_path, "h01", T0, description=STROKE, body_part="HEAD")
            rt.dispatch.sweep(advance_to(rt, T0 + timedelta(minutes=2)))
            assert record(rt, uid).assignee == "r01"

            assert hand_over(rt.dispatch, advance_to(rt, T0 + h)) == {uid: "r06"}
            now = T0 + h + timedelta(minutes=1)
            assert reading.release(uid, "r06", now, "busy with a polytrauma").radiologist_id == (
                "r00"  # the medical director: r08, the fallback pool, is off shift
            )
            alice = Identity("alice", Role.OPERATOR)
            operator.assign(uid, "r06", by=alice, reason="polytrauma done", now=now, origin="t")
            orphan = board.release(uid)  # as a reload taking r06 off the roster would
            assert rt.dispatch.reroute_orphans((orphan,), now, actor="reload") == 1
            assert record(rt, uid).assignee == "r00"  # not r06, who released it
            reading.claim(uid, "r06", now)
        finally:
            rt.close()  # posts what the webhook outbox holds

    assigned = [b["payload"] for b in receiver.accepted if b["kind"] == "assigned"]
    assert all(set(p) == PAYLOAD_KEYS for p in assigned)
    assert {p["study_uid"] for p in assigned} == {uid}
    assert [(p["radiologist_id"], p["fallback"]) for p in assigned] == [
        ("r01", False),  # dispatch
        ("r06", False),  # handover
        ("r00", True),  # release: only the medical director was left
        ("r06", False),  # operator's assign
        ("r00", True),  # re-route of an orphan
        ("r06", False),  # claim
    ]
