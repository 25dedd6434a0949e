"""Who runs a command (the token), where from, the worklist services, and error translation.

Two sets of services: `Desk` over the whole runtime (the composition root: engine,
board, notifier), and `Lookout`, the lean read path of `garde worklist` (no SQLAlchemy,
no board: `garde.store.lean`), which a radiologist runs many times a night. The heavy
modules are imported inside `desk`, so that `worklist` and `--help` never load them.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn, Protocol

from garde.cli._clock import region_zone
from garde.cli._common import fail, state
from garde.config.model import Environment
from garde.dispatch.errors import DispatchError
from garde.services.audit_trail import record_refusal, request_origin
from garde.services.identity import (
    OPEN_MODE,
    Identity,
    IdentityError,
    NoCredentialError,
    authenticate,
    read_token,
)
from garde.services.worklist import UnknownRadiologistError, WorklistQueryError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import click

    from garde.bootstrap import Runtime
    from garde.config.model import Settings
    from garde.services.identity import IdentityService, TokenUnitOfWork
    from garde.services.operator import OperatorService
    from garde.services.ports import AuditUnitOfWork
    from garde.services.reading import ReadingService
    from garde.services.study_info import StudyInfoService
    from garde.services.worklist import WorklistService
    from garde.store.lean import LeanStore


class Authenticator(Protocol):
    """Whatever tells who holds a token."""

    def authenticate(self, token: str | None) -> Identity:
        """The identity behind ``token``."""
        ...


class Services(Protocol):
    """What `who` needs of either set of services."""

    @property
    def identity(self) -> Authenticator:
        """Who holds a token."""
        ...

    @property
    def origin(self) -> str:
        """Where the request comes from."""
        ...

    @property
    def uow(self) -> Callable[[], AuditUnitOfWork]:
        """A unit of work (refusals are audited in their own)."""
        ...

    def now(self) -> datetime:
        """The command's time."""
        ...


@dataclass(frozen=True, slots=True)
class Desk:
    """The services one worklist command needs, built on the runtime's store and board."""

    runtime: Runtime
    identity: IdentityService
    reading: ReadingService
    operator: OperatorService
    info: StudyInfoService
    origin: str

    @staticmethod
    def now() -> datetime:
        """The command's time (the CLI is allowed to read the clock)."""
        return datetime.now(tz=UTC)

    @property
    def uow(self) -> Callable[[], AuditUnitOfWork]:
        """The runtime's units of work."""
        return self.runtime.uow


@dataclass(frozen=True, slots=True)
class _LeanAuthenticator:
    uow_factory: Callable[[], TokenUnitOfWork]
    open_mode: bool

    def authenticate(self, token: str | None) -> Identity:
        return authenticate(self.uow_factory, token, open_mode=self.open_mode)


@dataclass(frozen=True, slots=True)
class Lookout:
    """The lean services of `garde worklist`: the driver itself, no runtime."""

    settings: Settings
    uow: Callable[[], LeanStore]
    identity: _LeanAuthenticator
    worklist: WorklistService
    origin: str

    @staticmethod
    def now() -> datetime:
        """The command's time (the CLI is allowed to read the clock)."""
        return datetime.now(tz=UTC)


def lookout(ctx: click.Context) -> Lookout:
    """The lean services of this invocation, on a database at the code's schema.

    Raises
    ------
    SchemaOutdatedError
        If the database needs `garde db upgrade` (the CLI says so in one line).
    """
    from garde.services.worklist import WorklistService  # noqa: PLC0415
    from garde.store.errors import SchemaOutdatedError  # noqa: PLC0415
    from garde.store.lean import LeanStore, code_head  # noqa: PLC0415

    settings = state(ctx).settings()
    url = settings.effective_database_url

    def uow() -> LeanStore:
        return LeanStore(url)

    with uow() as store:
        revision = store.revision()
    head = code_head()
    if revision != head:
        raise SchemaOutdatedError(revision, head)
    open_mode = settings.environment is not Environment.PRODUCTION
    return Lookout(
        settings=settings,
        uow=uow,
        identity=_LeanAuthenticator(uow, open_mode),
        worklist=WorklistService(uow, settings.previews.dir),
        origin=request_origin(),
    )


def desk(ctx: click.Context) -> Desk:
    """The services of this invocation."""
    # The whole runtime, and the services over it: imported only by the commands
    # that act (not by `worklist` or `--help`).
    from garde.services.identity import IdentityService  # noqa: PLC0415
    from garde.services.operator import OperatorService  # noqa: PLC0415
    from garde.services.reading import ReadingService  # noqa: PLC0415
    from garde.services.study_info import StudyInfoService  # noqa: PLC0415

    runtime = state(ctx).runtime()
    board = runtime.dispatch.board
    previews = runtime.settings.previews.dir
    return Desk(
        runtime=runtime,
        identity=IdentityService(
            runtime.uow, open_mode=runtime.settings.environment is not Environment.PRODUCTION
        ),
        reading=ReadingService.alongside(runtime.dispatch, reports=runtime.reports),
        operator=OperatorService(
            runtime.uow,
            board,
            notifier=runtime.notifier,
            notify_priorities=runtime.dispatch.notify_priorities,
            lock=runtime.dispatch.lock,
        ),
        info=StudyInfoService(runtime.uow, previews, region_zone(runtime.settings)),
        origin=request_origin(),
    )


def study_uid(services: Desk, reference: str) -> str:
    """The StudyInstanceUID behind a handle (``h03-12``) or a UID, as typed.

    An unknown reference is passed on as it is: the service refuses it ("unknown study
    h03-99") and audits the refusal like any other.
    """
    with services.runtime.uow() as uow:
        return uow.studies.uid_for(reference.strip()) or reference


def who(services: Services, action: str, *, allow_open: bool = False) -> Identity:
    """The identity behind the presented token (``GARDE_TOKEN`` or the token file).

    ``allow_open``: accept the open mode of a region that never issued a token
    (`garde worklist --radiologist` and `garde status`, for a demo or a first test
    night). A production region has no open mode: `environment = "production"`.
    """
    try:
        identity = services.identity.authenticate(read_token(os.environ))
        if identity == OPEN_MODE and not allow_open:
            raise NoCredentialError(
                "no credential: this command needs a personal token; an operator issues one "
                "with `garde user token RAD` (the first: `garde user token --operator NAME`)"
            )
    except IdentityError as exc:
        record_refusal(
            services.uow,
            actor="anonymous",
            action=action,
            now=services.now(),
            origin=services.origin,
            reason="no_credential",
            message=str(exc),
        )
        fail(str(exc))
    return identity


def reader(services: Desk, action: str) -> str:
    """The radiologist id of the token's holder (operators do not read studies)."""
    identity = who(services, action)
    if identity.is_operator:
        not_allowed(
            services,
            identity,
            action,
            "operators do not read studies",
            f"{identity.subject} is an operator: operators do not read (use `garde assign`)",
        )
    return identity.subject


def not_allowed(
    services: Services, identity: Identity, action: str, audited: str, shown: str
) -> NoReturn:
    """Audit a refusal of ``action`` to ``identity`` (``audited``), then exit with ``shown``."""
    record_refusal(
        services.uow,
        actor=identity.subject,
        action=action,
        now=services.now(),
        origin=services.origin,
        reason="not_allowed",
        message=audited,
    )
    fail(shown)


@contextmanager
def refusals() -> Iterator[None]:
    """Turn the services' refusals into one-line errors (exit 1)."""
    try:
        yield
    # DispatchError: the services' refusals (`ReadingRefusedError`) and the core's.
    except (DispatchError, IdentityError, WorklistQueryError, ValueError) as exc:
        fail(str(exc))
    except UnknownRadiologistError as exc:
        fail(f"unknown radiologist {exc.args[0]!r}" if exc.args else "unknown radiologist")
    except LookupError as exc:
        fail(str(exc.args[0]) if exc.args else str(exc))
