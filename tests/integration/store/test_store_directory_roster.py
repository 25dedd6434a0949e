"""Sites and radiologists synced from config; shifts re-imported range by range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from garde.dispatch.model import Radiologist, Shift, Site

T0 = datetime(2026, 3, 6, 18, 0, tzinfo=UTC)

SITES = [
    Site(id="chu-a", name="CHU A", ae_titles=frozenset({"CHUA_CT", "CHUA_MR"})),
    Site(
        id="ch-b",
        name="CH B",
        ae_titles=frozenset({"CHB_CT"}),
        timezone="Europe/Paris",
        stable_age_s=30.0,
        ip_allow=("10.0.0.0/8",),
    ),
]
RADIOLOGISTS = [
    Radiologist(id="rad-1", name="Dr One", skills=frozenset({"neuro"}), sites=frozenset({"chu-a"})),
    Radiologist(
        id="rad-2",
        name="Dr Two",
        skills=frozenset({"body", "chest"}),
        sites=frozenset({"chu-a", "ch-b"}),
        max_parallel=4,
        speed=1.25,
        fallback=True,
        supervisor=True,
    ),
]


def _sync(uow_factory, sites, radiologists) -> None:
    with uow_factory() as uow:
        uow.directory.sync_sites(sites)
        uow.directory.sync_radiologists(radiologists)
        uow.commit()


def test_sync_round_trips_sites_and_radiologists(uow_factory) -> None:
    _sync(uow_factory, SITES, RADIOLOGISTS)
    with uow_factory() as uow:
        assert uow.directory.sites() == sorted(SITES, key=lambda s: s.id)
        assert uow.directory.radiologists() == RADIOLOGISTS


def test_sync_updates_and_deactivates_without_deleting(uow_factory) -> None:
    _sync(uow_factory, SITES, RADIOLOGISTS)
    renamed = Site(id="chu-a", name="CHU A (new name)", ae_titles=frozenset({"CHUA_CT"}))
    _sync(uow_factory, [renamed], RADIOLOGISTS[:1])
    with uow_factory() as uow:
        assert uow.directory.sites() == [renamed]
        assert [s.id for s in uow.directory.sites(include_inactive=True)] == ["ch-b", "chu-a"]
        assert [r.id for r in uow.directory.radiologists()] == ["rad-1"]
        assert len(uow.directory.radiologists(include_inactive=True)) == 2
    # Coming back into config re-activates.
    _sync(uow_factory, SITES, RADIOLOGISTS)
    with uow_factory() as uow:
        assert len(uow.directory.radiologists()) == 2


def _shift(rad: str, start_h: float, hours: float = 12, **kw) -> Shift:
    start = T0 + timedelta(hours=start_h)
    return Shift(radiologist_id=rad, start=start, end=start + timedelta(hours=hours), **kw)


def test_replace_shifts_is_idempotent_and_keeps_other_ranges(uow_factory) -> None:
    _sync(uow_factory, SITES, RADIOLOGISTS)
    night1 = [_shift("rad-1", 0), _shift("rad-2", 2, sites=frozenset({"ch-b"}))]
    night2 = [_shift("rad-2", 24)]
    for _ in range(2):  # importing twice leaves the same shifts
        with uow_factory() as uow:
            assert uow.roster.replace_shifts(T0, T0 + timedelta(days=1), night1) == 2
            uow.roster.replace_shifts(T0 + timedelta(days=1), T0 + timedelta(days=2), night2)
            uow.commit()
    with uow_factory() as uow:
        assert uow.roster.shifts_between(T0, T0 + timedelta(days=3)) == night1 + night2
        # Re-import night 1 with one shift: night 2 is untouched.
        uow.roster.replace_shifts(T0, T0 + timedelta(days=1), night1[:1])
        uow.commit()
    with uow_factory() as uow:
        assert uow.roster.shifts_between(T0, T0 + timedelta(days=3)) == [night1[0], *night2]


def test_shifts_between_returns_overlapping_shifts(uow_factory) -> None:
    _sync(uow_factory, SITES, RADIOLOGISTS)
    shifts = [_shift("rad-1", 0, 12), _shift("rad-2", 12, 12)]
    with uow_factory() as uow:
        uow.roster.replace_shifts(T0, T0 + timedelta(days=1), shifts)
        uow.commit()
    with uow_factory() as uow:
        # [start, end): a window ending when a shift starts does not include it.
        assert (
            uow.roster.shifts_between(T0 - timedelta(hours=1), T0 + timedelta(hours=12))
            == shifts[:1]
        )
        assert (
            uow.roster.shifts_between(T0 + timedelta(hours=11), T0 + timedelta(hours=13)) == shifts
        )
        assert uow.roster.shifts_between(T0 + timedelta(hours=24), T0 + timedelta(hours=30)) == []


def test_replace_shifts_refuses_a_shift_outside_the_range(uow) -> None:
    with pytest.raises(ValueError, match="outside the imported range"):
        uow.roster.replace_shifts(T0, T0 + timedelta(hours=6), [_shift("rad-1", 7)])
    with pytest.raises(ValueError, match="empty range"):
        uow.roster.replace_shifts(T0, T0, [])
