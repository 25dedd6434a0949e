"""Issue 12, "nobody off shift, nobody unreachable": a whole night on the example region
(real store: SQLite and PostgreSQL; a real HTTP receiver for the notifications).

The only reader for CH de Bourg-en-Bresse's body work (r02) goes off shift with urgent
work queued; the fallback reader (r08) is on call only later. Nothing may ever be
assigned to someone the roster has off shift: the medical director (r00) takes the
work, is notified at once and again until someone on call takes it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from garde.config.model import RegionSettings
from garde.dispatch.model import Shift, StudyState
from garde.scheduling import jobs
from garde.services.handover import hand_over
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

    from garde.bootstrap import Runtime

H = timedelta(hours=1)
ABDOMEN = {"description": "TDM abdomen aigu", "body_part": "ABDOMEN"}  # urgent, body
SHIFTS = [
    Shift("r02", T0 - 4 * H, T0 + H),  # body, chest: h01-h04; the only one for h02 tonight
    Shift("r03", T0 - 4 * H, T0 + 9 * H),  # neuro, paediatric: not h02
    Shift("r08", T0 + 5 * H, T0 + 12 * H),  # the fallback pool, on call from 04:00
]


def _assignments(rt: Runtime, uids: list[str]) -> list[tuple[str, str, object]]:
    with rt.uow() as uow:
        return [
            (uid, a.radiologist_id, a.at)
            for uid in uids
            for a in uow.studies.assignments(uid)
            if a.radiologist_id is not None
        ]


def test_nobody_off_shift_the_medical_director_gets_the_work_and_the_notices(
    migrated_url: str, tmp_path: Path
) -> None:
    with Receiver() as receiver:
        settings = settings_for(migrated_url, tmp_path)
        settings = replace(settings, notify=replace(settings.notify, webhook_url=receiver.url))
        rt = start_night(settings, SHIFTS)
        rt.notifier.start_delivery()
        try:
            uids = [
                receive(rt, tmp_path, "h02", T0 + timedelta(minutes=m), **ABDOMEN)
                for m in (0, 5, 10)
            ]
            # A night on a 5-minute beat: the stability sweep, the SLA and night watch,
            # the handover, as `serve` runs them; a late study arrives with nobody on.
            late = None
            at = T0
            while at <= T0 + 6 * H:
                if late is None and at >= T0 + 2 * H:
                    late = receive(rt, tmp_path, "h02", at, **ABDOMEN)
                    uids.append(late)
                advance_to(rt, at)
                rt.dispatch.sweep(at)
                hand_over(rt.dispatch, at)
                jobs.watch_sla(rt)
                at += timedelta(minutes=5)
            history = _assignments(rt, uids)
            finals = [record(rt, uid) for uid in uids]
            with rt.uow() as uow:
                last_notice = max(
                    e.at
                    for uid in uids
                    for e in uow.audit.for_study(uid)
                    if e.action == "unassigned_notice"
                )
        finally:
            rt.close()  # posts what the outbox holds

    # Every assignment of the night, against the roster: on shift then, or the director.
    assert history
    for uid, rid, at in history:
        on_shift = any(s.radiologist_id == rid and s.covers(at) for s in SHIFTS)  # type: ignore[arg-type]
        assert on_shift or rid == "r00", f"{uid} assigned to {rid} off shift at {at}"
    # The director took the queued work at r02's handover and the late study at once;
    # r08 took everything once on call.
    assert {rid for _, rid, _ in history} == {"r02", "r00", "r08"}
    assert all(rid == "r00" for _, rid, at in history if T0 + H <= at < T0 + 5 * H)  # type: ignore[operator]
    for final in finals:
        assert (final.assignee, final.state) == ("r08", StudyState.ASSIGNED)

    # The director is told at once, and again while nobody on call takes the study.
    notices = [b for b in receiver.accepted if b["kind"] == "unassigned"]
    assert {n["payload"]["study_uid"] for n in notices} == set(uids)
    assert all(n["payload"]["medical_director"] == "r00" for n in notices)
    assert all(n["payload"]["radiologist_id"] == "r00" for n in notices)
    late_notices = [n for n in notices if n["payload"]["study_uid"] == late]
    assert len(late_notices) >= 2  # repeated every 5 minutes (the default)
    assert [n["payload"]["repeat"] for n in late_notices][:2] == [0, 1]
    assigned_to_director = {
        b["payload"]["study_uid"]
        for b in receiver.accepted
        if b["kind"] == "assigned" and b["payload"]["radiologist_id"] == "r00"
    }
    assert assigned_to_director == set(uids)  # urgent assignments are notified by default
    # At breach no supervisor is on shift (r08 comes at 04:00): the tier falls through
    # to the director, never "kept" in silence.
    breaches = [
        b["payload"]
        for b in receiver.accepted
        if b["kind"] == "escalation_supervisor" and b["payload"]["study_uid"] != late
    ]
    assert len(breaches) == 3  # the three first studies, due at 03:00
    assert all(p["supervisors"] == [] for p in breaches)
    assert all(
        (p["tier_reached"], p["recipients"]) == ("medical_director", ["r00"]) for p in breaches
    )
    # Nothing more once r08, on call, has them.
    assert last_notice < T0 + 5 * H + timedelta(minutes=1)


def test_a_director_reached_by_phone_is_told_again_until_someone_takes_the_study(
    migrated_url: str, tmp_path: Path
) -> None:
    phone = "+33 4 72 00 00 00"
    settings = settings_for(migrated_url, tmp_path)
    settings = replace(
        settings,
        region=RegionSettings(medical_director=phone),
        radiologists=tuple(replace(r, medical_director=False) for r in settings.radiologists),
    )
    rt = start_night(settings, [Shift("r02", T0 - H, T0 + 9 * H)])  # h01-h04 only
    try:
        stroke = receive(rt, tmp_path, "h06", T0, description="AVC alerte thrombolyse")
        for minutes in range(2, 14):
            at = advance_to(rt, T0 + timedelta(minutes=minutes))
            rt.dispatch.sweep(at)
            jobs.watch_sla(rt)
        waiting = record(rt, stroke)
        assert (waiting.state, waiting.assignee, waiting.fallback) == (
            StudyState.PENDING,
            None,
            True,
        )
        with rt.uow() as uow:
            notices = [e for e in uow.audit.for_study(stroke) if e.action == "unassigned_notice"]
        # At once (minute 2), then every 5 minutes: 7 and 12.
        assert [e.at - T0 for e in notices] == [timedelta(minutes=m) for m in (2, 7, 12)]
        assert {e.detail["medical_director"] for e in notices} == {phone}
    finally:
        rt.close()
