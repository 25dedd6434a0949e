"""The store contract, continued: personal tokens and the change counters, the same
cases on SQLite, PostgreSQL (when configured) and the memory store, through the
`garde.store.ports.UnitOfWork` port only."""

from __future__ import annotations

from datetime import timedelta

from garde.store.enums import GenerationKind
from tests.integration.store.contract_store import T0, Store


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
