"""What the radiologist's read path needs from a unit of work, as Protocols.

Every `garde.store.ports.UnitOfWork` satisfies them (the SQL store's
`garde.store.uow.SqlUnitOfWork`, the memory store's: fast service tests), and so does
`garde.store.lean.LeanStore` (`garde worklist`'s few statements, without SQLAlchemy).
The token reads are `garde.services.identity.TokenUnitOfWork`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, Self

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime
    from types import TracebackType

    from garde.dispatch.model import Radiologist
    from garde.store.records import ReportOnItsWay, WorklistRow


class AuditLog(Protocol):
    """The append-only audit trail."""

    def append(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        study_uid: str | None = None,
        radiologist_id: str | None = None,
        origin: str = "",
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Record one event."""
        ...


class RadiologistDirectory(Protocol):
    """The stored radiologists."""

    def radiologists(self) -> Sequence[Radiologist]:
        """The active radiologists, by id."""
        ...


class Worklists(Protocol):
    """Each radiologist's open studies."""

    def worklist(self, radiologist_id: str) -> list[WorklistRow]:
        """In progress first, then most urgent."""
        ...

    def reports_on_their_way(self, radiologist_id: str) -> list[ReportOnItsWay]:
        """The reader's drafts and signed reports not yet delivered, newest first."""
        ...


class AuditUnitOfWork(Protocol):
    """A unit of work that can write the audit trail."""

    @property
    def audit(self) -> AuditLog:
        """The audit trail."""
        ...

    def __enter__(self) -> Self:
        """Open the transaction."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back what was not committed."""
        ...

    def commit(self) -> None:
        """Make the work so far durable."""
        ...


class WorklistUnitOfWork(AuditUnitOfWork, Protocol):
    """What `garde.services.worklist.WorklistService` reads and writes."""

    @property
    def directory(self) -> RadiologistDirectory:
        """The radiologists."""
        ...

    @property
    def studies(self) -> Worklists:
        """The studies."""
        ...


if TYPE_CHECKING:  # mypy proves the store port covers the worklist's (nothing runs here)
    from garde.store.ports import UnitOfWork

    def _conform(uow: UnitOfWork) -> WorklistUnitOfWork:
        return uow
