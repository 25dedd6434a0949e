"""The unit of work: one session, one transaction, rolled back unless committed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from sqlalchemy.orm.exc import StaleDataError

from garde.store.errors import StaleStudyError, StoreError
from garde.store.leader import check_fence
from garde.store.repositories import (
    AuditRepository,
    ClaimRepository,
    DirectoryRepository,
    OutboxRepository,
    RosterRepository,
    StudyRepository,
)
from garde.store.repositories.generation import GenerationRepository
from garde.store.repositories.night import NightQueries
from garde.store.repositories.professionals import ProfessionalRepository
from garde.store.repositories.reports import PriorRepository, ReportRepository
from garde.store.repositories.token import TokenRepository

if TYPE_CHECKING:
    from types import TracebackType

    from sqlalchemy.orm import Session, sessionmaker


class SqlUnitOfWork:
    """A unit of work over SQLAlchemy: a received study, a job run, a CLI command.

    Use it as a context manager; the repositories are attributes. Nothing is kept unless
    `commit` is called inside the block; leaving the block rolls back the rest and
    closes the session. A unit of work is single-use.

    Examples
    --------
    >>> with SqlUnitOfWork(session_factory) as uow:  # doctest: +SKIP
    ...     uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=now)
    ...     uow.commit()
    """

    studies: StudyRepository
    claims: ClaimRepository
    directory: DirectoryRepository
    roster: RosterRepository
    audit: AuditRepository
    outbox: OutboxRepository
    tokens: TokenRepository
    generations: GenerationRepository
    professionals: ProfessionalRepository
    night: NightQueries
    reports: ReportRepository
    priors: PriorRepository

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory
        self._session: Session | None = None

    def __enter__(self) -> Self:
        if self._session is not None:
            raise StoreError("a unit of work cannot be entered twice")
        session = self._session_factory()
        self._session = session
        self.studies = StudyRepository(session)
        self.claims = ClaimRepository(session)
        self.directory = DirectoryRepository(session)
        self.roster = RosterRepository(session)
        self.audit = AuditRepository(session)
        self.outbox = OutboxRepository(session)
        self.tokens = TokenRepository(session)
        self.generations = GenerationRepository(session)
        self.professionals = ProfessionalRepository(session)
        self.night = NightQueries(session)
        self.reports = ReportRepository(session)
        self.priors = PriorRepository(session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self._require_session()
        try:
            session.rollback()
        finally:
            session.close()

    @property
    def session(self) -> Session:
        """The session, for repositories added by other parts of the store."""
        return self._require_session()

    def commit(self) -> None:
        """Make everything done so far durable (the unit of work stays usable)."""
        session = self._require_session()
        check_fence(session)  # a scheduled job commits only while its node leads
        try:
            session.commit()
        except StaleDataError as exc:
            raise StaleStudyError(None) from exc

    def rollback(self) -> None:
        """Discard everything not yet committed."""
        self._require_session().rollback()

    def _require_session(self) -> Session:
        if self._session is None:
            raise StoreError("use the unit of work as a context manager (with ... as uow)")
        return self._session
