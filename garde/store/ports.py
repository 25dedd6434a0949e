"""The `UnitOfWork` port: what services need from the store (the SQL one is `uow.py`).

It names the concrete repositories for now; a fake for service tests can subclass or
duck-type them. (It may move to `garde.dispatch.ports` once the services settle.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Self

if TYPE_CHECKING:
    from types import TracebackType

    from garde.store.repositories import (
        AuditRepository,
        DirectoryRepository,
        RosterRepository,
        StudyRepository,
    )


class UnitOfWork(Protocol):
    """One transaction: repositories as attributes, rolled back unless committed."""

    studies: StudyRepository
    directory: DirectoryRepository
    roster: RosterRepository
    audit: AuditRepository

    def __enter__(self) -> Self:
        """Open the transaction."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed, and release the session."""
        ...

    def commit(self) -> None:
        """Make the work so far durable."""
        ...

    def rollback(self) -> None:
        """Discard the work not yet committed."""
        ...
