"""Who runs a command (the token), where from, the worklist services, and error translation."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn

from garde.cli._clock import region_zone
from garde.cli._common import fail, state
from garde.config.model import Environment
from garde.services.audit_trail import record_refusal, request_origin
from garde.services.identity import (
    OPEN_MODE,
    Identity,
    IdentityError,
    IdentityService,
    NoCredentialError,
    read_token,
)
from garde.services.operator import OperatorService
from garde.services.reading import ReadingRefusedError, ReadingService
from garde.services.study_info import StudyInfoService
from garde.services.worklist import UnknownRadiologistError, WorklistQueryError

if TYPE_CHECKING:
    from collections.abc import Iterator

    import click

    from garde.bootstrap import Runtime


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


def desk(ctx: click.Context) -> Desk:
    """The services of this invocation."""
    runtime = state(ctx).runtime()
    board = runtime.dispatch.board
    previews = runtime.settings.previews.dir
    return Desk(
        runtime=runtime,
        identity=IdentityService(
            runtime.uow, open_mode=runtime.settings.environment is not Environment.PRODUCTION
        ),
        reading=ReadingService(runtime.uow, board, runtime.settings.sla, notifier=runtime.notifier),
        operator=OperatorService(runtime.uow, board, notifier=runtime.notifier),
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


def who(services: Desk, action: str, *, allow_open: bool = False) -> Identity:
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
            services.runtime.uow,
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
    services: Desk, identity: Identity, action: str, audited: str, shown: str
) -> NoReturn:
    """Audit a refusal of ``action`` to ``identity`` (``audited``), then exit with ``shown``."""
    record_refusal(
        services.runtime.uow,
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
    except (ReadingRefusedError, IdentityError, WorklistQueryError, ValueError) as exc:
        fail(str(exc))
    except UnknownRadiologistError as exc:
        fail(f"unknown radiologist {exc.args[0]!r}" if exc.args else "unknown radiologist")
    except LookupError as exc:
        fail(str(exc.args[0]) if exc.args else str(exc))
