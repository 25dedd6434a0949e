"""Who is at the keyboard: personal tokens, issued by an operator, stored hashed.

A token is ``garde_`` followed by 32 random bytes (``secrets.token_urlsafe``); the store
keeps only its SHA-256 (a random 256-bit secret needs no slow hash: there is nothing to
guess). The CLI reads it from ``GARDE_TOKEN`` or from a token file that only its owner
may read (mode 0600 or 0400): a file others can read is refused, not silently used.

Until the first token of a region is issued, nobody is identified ("open" mode, kept so
a fresh install works as before); once any token exists, every command needs one.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Self

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime
    from types import TracebackType

    from garde.store.ports import UnitOfWork

TOKEN_PREFIX = "garde_"  # noqa: S105 - the public prefix, not a secret
TOKEN_ENV = "GARDE_TOKEN"  # noqa: S105 - a variable's name, not a secret
TOKEN_FILE_ENV = "GARDE_TOKEN_FILE"  # noqa: S105 - a variable's name, not a secret
DEFAULT_TOKEN_FILE = Path("~/.config/garde/token")


class Role(StrEnum):
    """What a token lets its holder do."""

    RADIOLOGIST = "radiologist"  # read their own studies
    OPERATOR = "operator"  # run the platform: tokens, manual assignment, audit


class IdentityError(Exception):
    """Base of identity and permission refusals (the CLI shows the message, exit 1)."""


class NoCredentialError(IdentityError):
    """No token was presented, or it is not (or no longer) valid."""


class TokenFileError(IdentityError):
    """The token file is missing, unreadable or readable by others."""


class PermissionDeniedError(IdentityError):
    """The identity is known but may not do this."""


@dataclass(frozen=True, slots=True)
class Identity:
    """The authenticated user of one command; ``subject`` is a radiologist id or a name."""

    subject: str
    role: Role

    @property
    def is_operator(self) -> bool:
        """True for operators."""
        return self.role is Role.OPERATOR


OPEN_MODE = Identity("unauthenticated", Role.RADIOLOGIST)
"""Who acts while no token was ever issued (fresh install)."""


class TokenHolding(Protocol):
    """Who a live token belongs to."""

    @property
    def subject(self) -> str:
        """A radiologist id or an operator's name."""
        ...

    @property
    def role(self) -> str:
        """A `Role` value."""
        ...


class TokenReader(Protocol):
    """The stored tokens, as `authenticate` reads them."""

    def count(self, role: str | None = None, *, live_only: bool = True) -> int:
        """How many tokens there are."""
        ...

    def holder(self, token_hash: str) -> TokenHolding | None:
        """The live token with this hash, or None."""
        ...


class TokenUnitOfWork(Protocol):
    """A unit of work with the tokens (the SQL one, or the lean read path's)."""

    @property
    def tokens(self) -> TokenReader:
        """The stored tokens."""
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


def authenticate(
    uow_factory: Callable[[], TokenUnitOfWork], token: str | None, *, open_mode: bool
) -> Identity:
    """The identity behind ``token`` (see `IdentityService.authenticate`).

    Raises
    ------
    NoCredentialError
        If no token is given (once tokens exist, or in production), or it is unknown or
        revoked.
    """
    with uow_factory() as uow:
        tokens = uow.tokens
        if token is None:
            if tokens.count(live_only=False) == 0:
                if open_mode:
                    return OPEN_MODE
                raise NoCredentialError(
                    "no credential: a production region needs a personal token; an "
                    "operator issues one with `garde user token RAD` (the first: "
                    "`garde user token --operator NAME`)"
                )
            raise NoCredentialError(
                f"no credential: set {TOKEN_ENV} or write your token to "
                f"{DEFAULT_TOKEN_FILE} (mode 0600); an operator issues one with "
                "`garde user token RAD`"
            )
        holder = tokens.holder(hash_token(token))
    if holder is None:
        raise NoCredentialError("no credential: the token is unknown or was revoked")
    return Identity(holder.subject, Role(holder.role))


def hash_token(token: str) -> str:
    """The stored form of a token: SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh personal token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def read_token(environ: Mapping[str, str], token_file: Path | None = None) -> str | None:
    """The token from ``GARDE_TOKEN``, else from the token file; None if neither is set.

    The file is ``token_file``, else ``GARDE_TOKEN_FILE``, else ``~/.config/garde/token``
    (used only if it exists). It must be a regular file that only its owner can read
    or write (0600 or 0400).

    Raises
    ------
    TokenFileError
        If the file named explicitly does not exist, or any token file has group or
        other permission bits, or is empty.
    """
    value = environ.get(TOKEN_ENV, "").strip()
    if value:
        return value
    explicit = token_file or (
        Path(environ[TOKEN_FILE_ENV]) if environ.get(TOKEN_FILE_ENV) else None
    )
    path = (explicit or DEFAULT_TOKEN_FILE).expanduser()
    try:
        info = path.stat()
    except FileNotFoundError:
        if explicit is not None:
            raise TokenFileError(f"token file {path}: no such file") from None
        return None
    if not stat.S_ISREG(info.st_mode):
        raise TokenFileError(f"token file {path}: not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise TokenFileError(
            f"token file {path}: permissions {mode:04o} let others read it; "
            f"run `chmod 600 {path}` (or issue a new token if it leaked)"
        )
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise TokenFileError(f"token file {path}: empty")
    return token


def write_token_file(path: Path, token: str) -> None:
    """Write ``token`` to a new file at ``path``, created with mode 0600 (never replaced)."""
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just issued: shown once, never stored in clear."""

    subject: str
    role: Role
    token: str
    revoked: int  # older tokens of the same subject now revoked


@dataclass
class IdentityService:
    """Authenticates tokens and issues new ones (every issue is audited).

    ``open_mode``: whether a region that never issued a token runs unauthenticated (a
    demo, a first test night); False for ``environment = "production"``.
    """

    uow_factory: Callable[[], UnitOfWork]
    open_mode: bool = True

    def authenticate(self, token: str | None) -> Identity:
        """The identity behind ``token``; open mode while no token was ever issued
        (where ``open_mode`` allows it).

        Raises
        ------
        NoCredentialError
            If no token is given (once tokens exist, or in production), or it is
            unknown or revoked.
        """
        return authenticate(self.uow_factory, token, open_mode=self.open_mode)

    def issue(
        self, subject: str, role: Role | str, *, by: Identity | None, now: datetime, origin: str
    ) -> IssuedToken:
        """Issue a personal token for ``subject`` (revoking theirs), audited.

        Only an operator may issue, except the very first operator token of a region
        (nobody could issue it otherwise), which whoever runs the platform may create
        without a token (``by`` None).

        Raises
        ------
        PermissionDeniedError
            If ``by`` is not an operator, unless this is that first operator token.
        LookupError
            If a radiologist token is asked for an unknown radiologist.
        """
        role = Role(role)
        token = new_token()
        actor = "bootstrap" if by is None else by.subject
        with self.uow_factory() as uow:
            tokens = uow.tokens
            bootstrap = role is Role.OPERATOR and tokens.count(Role.OPERATOR) == 0
            if not bootstrap and (by is None or not by.is_operator):
                who = "nobody identified" if by is None else by.subject
                raise PermissionDeniedError(
                    f"{who} may not issue tokens: only an operator may "
                    "(the first one is `garde user token --operator NAME`)"
                )
            if role is Role.RADIOLOGIST and subject not in {
                r.id for r in uow.directory.radiologists()
            }:
                raise LookupError(f"unknown radiologist {subject!r} (not in the config)")
            revoked = tokens.issue(
                hash_token(token), subject=subject, role=role.value, at=now, issued_by=actor
            )
            uow.audit.append(
                at=now,
                actor=actor,
                action="issue_token",
                radiologist_id=subject if role is Role.RADIOLOGIST else None,
                origin=origin,
                detail={"subject": subject, "role": role.value, "revoked": revoked},
            )
            uow.commit()
        return IssuedToken(subject, role, token, revoked)
