"""The audit trail: append-only, read back per study and per radiologist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 3, 6, 21, 0, tzinfo=UTC)


def test_audit_events_read_back_in_order(uow_factory) -> None:
    with uow_factory() as uow:
        uow.audit.append(
            at=T0 + timedelta(minutes=2),
            actor="rad-1",
            action="start",
            study_uid="1.2.3",
            radiologist_id="rad-1",
            origin="cli",
        )
        uow.audit.append(
            at=T0,
            actor="router",
            action="assign",
            study_uid="1.2.3",
            radiologist_id="rad-1",
            detail={"priority": "stroke", "fallback": False},
        )
        uow.audit.append(
            at=T0 + timedelta(minutes=1),
            actor="sla",
            action="alert",
            study_uid="1.2.4",
            detail={"tier": 1},
        )
        uow.commit()
    with uow_factory() as uow:
        study = uow.audit.for_study("1.2.3")
        rad = uow.audit.for_radiologist("rad-1")
        assert uow.audit.for_study("9.9") == []
    assert [(e.action, e.at) for e in study] == [
        ("assign", T0),
        ("start", T0 + timedelta(minutes=2)),
    ]
    assert study[0].detail == {"priority": "stroke", "fallback": False}
    assert study[1].origin == "cli"
    assert [e.action for e in rad] == ["assign", "start"]


def test_audit_is_discarded_with_an_uncommitted_unit_of_work(uow_factory) -> None:
    with uow_factory() as uow:
        uow.audit.append(at=T0, actor="router", action="assign", study_uid="1.2.3")
    with uow_factory() as uow:
        assert uow.audit.for_study("1.2.3") == []
