"""The national directory's professionals in the store, on SQLite and PostgreSQL: an
import upserts by RPPS number, flags (never deletes) the missing, and the radiologists
config names by RPPS number take the directory's display name (issue 18, item 1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from garde.directory.model import Professional
from garde.dispatch.model import Radiologist

if TYPE_CHECKING:
    from collections.abc import Callable

    from garde.store.uow import SqlUnitOfWork

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MOREL = Professional("10999000002", "MOREL", "CLAIRE", "Docteur", "Médecin", ("SM44",))
LEROY = Professional("10999000101", "LEROY", "BASTIEN", "Docteur", "Médecin", ("SM28",))


def test_import_upserts_flags_and_names_radiologists(
    uow_factory: Callable[[], SqlUnitOfWork],
) -> None:
    with uow_factory() as uow:
        counts = uow.professionals.import_all([MOREL, LEROY], T0)
        uow.commit()
    assert (counts.created, counts.updated, counts.missing) == (
        ("10999000002", "10999000101"),
        (),
        (),
    )
    changed = Professional("10999000002", "MOREL", "CLAIRE", "Docteur", "Médecin", ("SM28",))
    with uow_factory() as uow:
        counts = uow.professionals.import_all([changed], T0 + timedelta(days=30))
        uow.commit()
    assert (counts.updated, counts.unchanged, counts.missing) == (
        ("10999000002",),
        0,
        ("10999000101",),
    )
    with uow_factory() as uow:
        stored = {p.rpps: p for p in uow.professionals.all()}
        uow.directory.sync_radiologists(
            [Radiologist("r01", "r01", frozenset(), frozenset(), rpps="10999000002")]
        )
        uow.commit()
    assert stored["10999000002"].specialties == ("SM28",)
    assert stored["10999000101"].missing_since == T0 + timedelta(days=30)  # kept, flagged
    with uow_factory() as uow:
        [reader] = uow.directory.radiologists()
        assert uow.professionals.retire("10999000101", T0 + timedelta(days=31))
        assert not uow.professionals.retire("10999999999", T0)
        uow.commit()
    assert (reader.name, reader.rpps) == ("Dr Claire Morel", "10999000002")
    with uow_factory() as uow:
        assert "10999000101" not in uow.professionals.names()  # retired
