"""The store contract, continued: personal tokens, the change counters, the national
directory's professionals and the roster's replacement of a range, the same
cases on SQLite, PostgreSQL (when configured) and the memory store, through the
`garde.store.ports.UnitOfWork` port only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from garde.directory.model import Professional
from garde.dispatch.model import Shift
from garde.store.enums import GenerationKind
from tests.integration.store.contract_store import SHIFTS, T0, Store


def test_a_new_token_revokes_its_subjects_live_ones(store: Store) -> None:
    with store.uow_factory() as uow:
        assert uow.tokens.count(live_only=False) == 0
        assert (
            uow.tokens.issue("h1", subject="rad-1", role="radiologist", at=T0, issued_by="op") == 0
        )
        assert uow.tokens.issue("op1", subject="op", role="operator", at=T0, issued_by="x") == 0
        uow.commit()
    later = T0 + timedelta(hours=1)
    with store.uow_factory() as uow:
        revoked = uow.tokens.issue(
            "h2", subject="rad-1", role="radiologist", at=later, issued_by="op"
        )
        assert revoked == 1
        uow.commit()
    with store.uow_factory() as uow:
        assert uow.tokens.holder("h1") is None  # revoked
        holder = uow.tokens.holder("h2")
        assert holder is not None
        assert (holder.subject, holder.role, holder.issued_at) == ("rad-1", "radiologist", later)
        assert uow.tokens.holder("unknown") is None
        assert uow.tokens.count() == 2
        assert uow.tokens.count(live_only=False) == 3
        assert uow.tokens.count("operator") == 1
        assert uow.tokens.count("radiologist", live_only=False) == 2
        assert uow.tokens.revoke("rad-1", later) == 1
        assert uow.tokens.revoke("rad-1", later) == 0
        uow.commit()
    with store.uow_factory() as uow:
        assert uow.tokens.count("radiologist") == 0


def test_tokens_are_kept_only_when_committed(store: Store) -> None:
    with store.uow_factory() as uow:
        uow.tokens.issue("h1", subject="rad-1", role="radiologist", at=T0, issued_by="op")
        assert uow.tokens.holder("h1") is not None  # its own writes
    with store.uow_factory() as uow:
        assert uow.tokens.count(live_only=False) == 0


def test_generations_count_each_kind_of_change_once_committed(store: Store) -> None:
    with store.uow_factory() as uow:
        assert uow.generations.current() == {GenerationKind.ROSTER: 0, GenerationKind.CONFIG: 0}
        uow.generations.bump(GenerationKind.ROSTER, T0)
        uow.generations.bump("roster", T0)
        assert uow.generations.current()[GenerationKind.ROSTER] == 2  # its own writes
    with store.uow_factory() as uow:
        assert uow.generations.current()[GenerationKind.ROSTER] == 0  # rolled back
        uow.generations.bump(GenerationKind.CONFIG, T0)
        uow.commit()
    with store.uow_factory() as uow:
        assert uow.generations.current() == {GenerationKind.ROSTER: 0, GenerationKind.CONFIG: 1}


def test_an_import_upserts_professionals_flags_the_missing_and_retires_on_demand(
    store: Store,
) -> None:
    morel = Professional("10999000002", "MOREL", "CLAIRE", "Docteur", "Médecin", ("SM44",))
    leroy = Professional("10999000101", "LEROY", "BASTIEN", "Docteur", "Médecin", ("SM28",))
    later = T0 + timedelta(days=30)
    with store.uow_factory() as uow:
        counts = uow.professionals.import_all([leroy, morel], T0)
        uow.commit()
    assert (counts.created, counts.updated, counts.unchanged, counts.missing) == (
        ("10999000101", "10999000002"),
        (),
        0,
        (),
    )
    changed = Professional("10999000002", "MOREL", "CLAIRE", "Docteur", "Médecin", ("SM28",))
    with store.uow_factory() as uow:
        counts = uow.professionals.import_all([changed], later)
        uow.commit()
    assert (counts.updated, counts.unchanged, counts.missing) == (
        ("10999000002",),
        0,
        ("10999000101",),
    )
    with store.uow_factory() as uow:
        counts = uow.professionals.import_all([changed, leroy], later)  # back in the extract
        assert (counts.updated, counts.unchanged) == (("10999000101",), 1)
        assert uow.professionals.retire("10999000101", later)
        assert uow.professionals.retire("10999000101", later + timedelta(days=1))  # kept once
        assert not uow.professionals.retire("10999999999", T0)
        uow.commit()
    with store.uow_factory() as uow:
        stored = uow.professionals.all()
        assert [p.rpps for p in stored] == ["10999000002", "10999000101"]
        assert (stored[0].display_name, stored[0].specialties) == ("Dr Claire Morel", ("SM28",))
        assert (stored[1].missing_since, stored[1].retired_at) == (None, later)
        assert uow.professionals.names() == {"10999000002": "Dr Claire Morel"}


def test_replacing_a_range_of_shifts_keeps_those_outside_it(store: Store) -> None:
    day = T0 + timedelta(days=10)
    inside = Shift("rad-3", day, day + timedelta(hours=12))
    with store.uow_factory() as uow:
        assert uow.roster.replace_shifts(day, day + timedelta(days=1), [inside]) == 1
        with pytest.raises(ValueError, match="outside the imported range"):
            uow.roster.replace_shifts(day, day + timedelta(hours=1), [SHIFTS[0]])
        uow.commit()
    with store.uow_factory() as uow:
        assert uow.roster.shifts_between(day, day + timedelta(days=1)) == [inside]
        assert uow.roster.replace_shifts(day, day + timedelta(days=1), []) == 0
        uow.commit()
    with store.uow_factory() as uow:
        assert uow.roster.shifts_between(day, day + timedelta(days=1)) == []
        assert len(uow.roster.shifts_between(T0, T0 + timedelta(hours=1))) == 2  # kept
