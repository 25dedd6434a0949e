"""An in-memory store: the `garde.store.ports.UnitOfWork` port over dicts, for fast
service tests and the simulator's nights.

It keeps the SQL store's semantics (the contract suite,
`tests/integration/store/test_store_contract.py`, runs the same cases on both, and
`test_store_differential.py` random scripts of them): work is visible only after
``commit``, whole, and rolled back otherwise; a unit of work takes the store's write lock
at its first write and holds it to the end of its transaction, so conditional moves
("only if still in state X with reader Y") behave as the SQL UPDATEs do; query results
come in the same order; lifecycle writes bump ``version`` as SQLAlchemy's version counter
does. Studies, series, instances, previews, assignments, audit, the webhook outbox,
sites, radiologists, shifts, reports and their deliveries, prior lookups, personal tokens,
the national directory's professionals, the change counters and the attributes read from
the files (``store.attributes``, the patient context) are kept.

Build one from the region and hand its ``uow_factory`` to the services, its ``index``
(the gateway's `InstanceIndex`) to whatever plays the hospitals::

    store = MemoryStore(sites, radiologists, shifts)
    dispatch = DispatchService(uow_factory=store.uow_factory, ...)
    reading = ReadingService(store.uow_factory, dispatch.board, lock=dispatch.lock, ...)
    store.index.record(instance_received)        # intake, as the gateway does
    dispatch.sweep(now)                          # stable studies are dispatched

``store.studies()`` and ``store.audit()`` read what is committed, for tests and reports.

Where it differs from SQL, knowingly: reads are read committed (PostgreSQL's level; on
SQLite every transaction takes the write lock at BEGIN, so nothing interleaves at all);
foreign keys are not checked (an assignee or a site nobody stored is accepted); a
radiologist's name is the one given, not the national directory's; ids sort by code
point, not by the database's collation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from garde.store.memory.access import MemoryGenerations, MemoryProfessionals, MemoryTokens
from garde.store.memory.attributes import MemoryAttributeIndex
from garde.store.memory.intake import MemoryInstanceIndex
from garde.store.memory.night import MemoryNight
from garde.store.memory.reports import MemoryPriors, MemoryReports
from garde.store.memory.repositories import (
    MemoryAudit,
    MemoryClaims,
    MemoryDirectory,
    MemoryOutbox,
    MemoryRoster,
)
from garde.store.memory.studies import MemoryStudies
from garde.store.memory.tables import Tables, Transaction

if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import TracebackType

    from garde.dispatch.model import Radiologist, Shift, Site
    from garde.store.records import AuditEvent, StudyRecord

__all__ = ["MemoryAttributeIndex", "MemoryInstanceIndex", "MemoryStore", "MemoryUnitOfWork"]


class MemoryUnitOfWork:
    """One transaction over a `MemoryStore` (see the module docstring).

    Use it as a context manager; the repositories are attributes. Nothing is kept unless
    `commit` is called inside the block; leaving the block rolls back the rest. A unit
    of work is single-use; it stays usable after a commit (as `SqlUnitOfWork`).
    """

    def __init__(self, tables: Tables) -> None:
        self._tables = tables
        self._tx: Transaction | None = None
        self.commits = 0  # how many times `commit` was called: a fake's assertion hook

    def __enter__(self) -> Self:
        if self._tx is not None:
            raise RuntimeError("a unit of work cannot be entered twice")
        tx = Transaction(self._tables)
        self._tx = tx
        self.studies = MemoryStudies(tx)
        self.claims = MemoryClaims(tx)
        self.directory = MemoryDirectory(tx)
        self.roster = MemoryRoster(tx)
        self.audit = MemoryAudit(tx)
        self.outbox = MemoryOutbox(tx)
        self.night = MemoryNight(tx)
        self.reports = MemoryReports(tx)
        self.priors = MemoryPriors(tx)
        self.tokens = MemoryTokens(tx)
        self.professionals = MemoryProfessionals(tx)
        self.generations = MemoryGenerations(tx)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._require_tx().close()

    def commit(self) -> None:
        """Make everything done so far visible to other units of work."""
        self._require_tx().commit()
        self.commits += 1

    def rollback(self) -> None:
        """Discard everything not yet committed."""
        self._require_tx().rollback()

    def _require_tx(self) -> Transaction:
        if self._tx is None:
            raise RuntimeError("use the unit of work as a context manager (with ... as uow)")
        return self._tx


class MemoryStore:
    """A whole store in memory: sites, radiologists, shifts, studies, audit, outbox.

    Parameters
    ----------
    sites, radiologists, shifts
        The region and its roster, stored (and committed) at once.
    """

    def __init__(
        self,
        sites: Iterable[Site] = (),
        radiologists: Iterable[Radiologist] = (),
        shifts: Iterable[Shift] = (),
    ) -> None:
        self.tables = Tables()
        self.index = MemoryInstanceIndex(self.tables)
        self.attributes = MemoryAttributeIndex(self.tables)
        with self.uow_factory() as uow:
            uow.directory.sync_sites(sites)
            uow.directory.sync_radiologists(radiologists)
            uow.commit()
        self.tables.shifts = list(shifts)

    def uow_factory(self) -> MemoryUnitOfWork:
        """A new (not yet entered) unit of work: what services take as ``uow_factory``."""
        return MemoryUnitOfWork(self.tables)

    def studies(self) -> list[StudyRecord]:
        """Every committed study, in arrival (insertion) order."""
        return list(self.tables.studies.values())

    def audit(self) -> list[AuditEvent]:
        """The committed audit trail, in the order it was written."""
        return list(self.tables.audit)


if TYPE_CHECKING:  # mypy proves both stores satisfy the ports (nothing runs here)
    from garde.dispatch.ports import InstanceIndex
    from garde.store.dicomweb_index import DicomWebIndex
    from garde.store.instance_index import SqlInstanceIndex
    from garde.store.ports import StudyAttributeIndex, UnitOfWork
    from garde.store.uow import SqlUnitOfWork

    def _conform(
        memory: MemoryUnitOfWork,
        sql: SqlUnitOfWork,
        index: MemoryInstanceIndex,
        attributes: MemoryAttributeIndex,
        sql_attributes: DicomWebIndex,
    ) -> tuple[
        UnitOfWork,
        UnitOfWork,
        InstanceIndex,
        type[SqlInstanceIndex],
        StudyAttributeIndex,
        StudyAttributeIndex,
    ]:
        return memory, sql, index, SqlInstanceIndex, attributes, sql_attributes
