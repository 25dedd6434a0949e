"""Errors of the store: one base, `StoreError`, and what callers may want to catch."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the store raises on purpose."""


class NotFoundError(StoreError):
    """A study, series or radiologist that should exist does not."""


class StudyNotFoundError(NotFoundError):
    """No study with that StudyInstanceUID."""

    def __init__(self, study_uid: str) -> None:
        super().__init__(f"no study {study_uid}")
        self.study_uid = study_uid


class StaleStudyError(StoreError):
    """Optimistic concurrency: the study changed since it was read (re-read and retry)."""

    def __init__(
        self, study_uid: str | None, expected: int | None = None, found: int | None = None
    ) -> None:
        detail = f" (expected version {expected}, found {found})" if expected is not None else ""
        super().__init__(f"study {study_uid or '(unknown)'} was changed concurrently{detail}")
        self.study_uid = study_uid


class SchemaOutdatedError(StoreError):
    """The database schema is not at the revision this code needs."""

    def __init__(self, current: str | None, head: str) -> None:
        super().__init__(
            f"database schema is at {current or 'nothing (empty database)'}, "
            f"code needs {head}: run `garde db upgrade`"
        )
        self.current = current
        self.head = head


# The brief's name for it; both spellings are the same class.
SchemaOutdated = SchemaOutdatedError


class LeaseLostError(StoreError):
    """A scheduled job tried to commit after its node lost the job lease (it ran out, or
    another node took it): the commit is refused, the job's unit of work rolls back."""


class StoreUnavailableError(StoreError):
    """The database could not be reached or read (a poller looks again later)."""
