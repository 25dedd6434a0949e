"""Repositories: one per aggregate, each over the unit of work's session."""

from garde.store.repositories.audit import AuditRepository
from garde.store.repositories.claim import ClaimRepository
from garde.store.repositories.directory import DirectoryRepository
from garde.store.repositories.outbox import OutboxRepository
from garde.store.repositories.roster import RosterRepository
from garde.store.repositories.study import StudyRepository

__all__ = [
    "AuditRepository",
    "ClaimRepository",
    "DirectoryRepository",
    "OutboxRepository",
    "RosterRepository",
    "StudyRepository",
]
