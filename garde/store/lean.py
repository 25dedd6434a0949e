"""The lean read path: what `garde worklist` needs, over the database driver itself.

A radiologist types `garde worklist` many times a night; importing SQLAlchemy alone
costs more than the whole answer may take (about 150 ms of a 250 ms budget on the
development machine, the ORM and Alembic another 400 ms). This module answers the
worklist's few statements (schema revision, tokens, radiologists, the worklist, the
view's audit row) with the DB-API driver of the URL (`sqlite3`, or psycopg 3 for
PostgreSQL), and nothing else. Everything else goes through `uow.SqlUnitOfWork`.

The rows it returns are the same frozen records as the repositories' (a test runs
both on the same database and compares); the SQL is plain enough for both dialects,
written with ``:name`` parameters (turned into psycopg's ``%(name)s``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from garde.dispatch.model import Priority, Radiologist, StudyState
from garde.store.records import (
    REPORTS_ON_THEIR_WAY_SQL,
    PatientContext,
    ReportOnItsWay,
    WorklistRow,
    report_on_its_way,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

VERSIONS_DIR = Path(__file__).parent / "migrations" / "versions"
_REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")
_PARAM = re.compile(r"(?<![:\w]):(\w+)")
_SQLITE_BUSY_TIMEOUT_S = 30.0  # as `engine.SQLITE_BUSY_TIMEOUT_MS`
_WORKLIST_STATES = (StudyState.ASSIGNED.value, StudyState.IN_PROGRESS.value)
_MODALITY_SEPARATOR = "\\"


def code_head() -> str:
    """The newest migration's revision, read from the scripts without importing Alembic.

    The head is the one revision no other script names as its ``down_revision``; a
    test keeps it equal to `garde.store.migrate.head_revision`.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in VERSIONS_DIR.glob("*.py"):
        text = script.read_text(encoding="utf-8")
        found = _REVISION.search(text)
        if found is None:
            continue
        revisions.add(found.group(1))
        down = _DOWN.search(text)
        if down is not None:
            parents.update(_QUOTED.findall(down.group(1)))
    heads = sorted(revisions - parents)
    if len(heads) != 1:  # pragma: no cover - the package ships one linear history
        raise RuntimeError(f"expected one migration head, found {heads or 'none'}")
    return heads[0]


@dataclass(frozen=True, slots=True)
class LeanTokenHolder:
    """Who a live token belongs to (what `authenticate` reads)."""

    subject: str
    role: str


class LeanStore:
    """One connection's worth of the worklist's statements; a unit of work per use.

    Use it as a context manager: nothing is kept unless `commit` is called.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._connection: Any = None
        self.postgresql = not url.startswith("sqlite")
        self.tokens = _Tokens(self)
        self.directory = _Directory(self)
        self.studies = _Studies(self)
        self.audit = _Audit(self)

    # -- the unit of work --------------------------------------------------------------

    def __enter__(self) -> Self:
        self._connection = self._connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._connection.rollback()
        finally:
            self._connection.close()
            self._connection = None

    def commit(self) -> None:
        """Make the work so far durable."""
        self._connection.commit()

    def rollback(self) -> None:
        """Discard the work not yet committed."""
        self._connection.rollback()

    def revision(self) -> str | None:
        """The schema revision the database is at (None: never migrated)."""
        try:
            rows = self.rows("SELECT version_num FROM alembic_version")
        except Exception as exc:
            if not _missing_table(exc):
                raise
            self.rollback()
            return None
        return str(rows[0][0]) if rows else None

    # -- statements --------------------------------------------------------------------

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement, return its rows."""
        cursor = self._connection.cursor()
        try:
            cursor.execute(_PARAM.sub(r"%(\1)s", sql) if self.postgresql else sql, params or {})
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            cursor.close()

    def moment(self, value: Any) -> datetime | None:
        """A stored time as aware UTC (SQLite keeps naive UTC text)."""
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if not isinstance(value, datetime):  # pragma: no cover - the schema's types
            raise TypeError(f"not a time: {value!r}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def stored_moment(self, value: datetime) -> Any:
        """A time as the schema stores it (naive UTC on SQLite, as `types.UTCDateTime`)."""
        value = value.astimezone(UTC)
        return value if self.postgresql else f"{value:%Y-%m-%d %H:%M:%S.%f}"

    def document(self, value: Any) -> Any:
        """A stored JSON value as Python (SQLite keeps JSON text)."""
        return json.loads(value) if isinstance(value, str) else value

    def _connect(self) -> Any:
        if not self.postgresql:
            import sqlite3  # noqa: PLC0415 - the driver of the URL only

            path = self.url.split("///", 1)[1].split("?", 1)[0]
            if not Path(path).exists():
                # sqlite3 would create an empty file: say "never migrated" instead.
                return sqlite3.connect(":memory:", isolation_level=None)
            connection = sqlite3.connect(
                path, timeout=_SQLITE_BUSY_TIMEOUT_S, isolation_level="DEFERRED"
            )
            connection.execute("PRAGMA foreign_keys=ON")
            return connection
        import psycopg  # noqa: PLC0415 - the driver of the URL only

        scheme, _, rest = self.url.partition("://")
        return psycopg.connect(f"{scheme.split('+', 1)[0]}://{rest}")


class _Tokens:
    def __init__(self, store: LeanStore) -> None:
        self._store = store

    def count(self, role: str | None = None, *, live_only: bool = True) -> int:
        sql = "SELECT count(*) FROM access_tokens WHERE 1 = 1"
        if live_only:
            sql += " AND revoked_at IS NULL"
        if role is not None:
            sql += " AND role = :role"
        return int(self._store.rows(sql, {"role": role})[0][0])

    def holder(self, token_hash: str) -> LeanTokenHolder | None:
        found = self._store.rows(
            "SELECT subject, role FROM access_tokens"
            " WHERE token_hash = :hash AND revoked_at IS NULL",
            {"hash": token_hash},
        )
        return LeanTokenHolder(found[0][0], found[0][1]) if found else None


class _Directory:
    def __init__(self, store: LeanStore) -> None:
        self._store = store

    def radiologists(self) -> list[Radiologist]:
        """The active radiologists, by id (as `DirectoryRepository.radiologists`)."""
        store = self._store
        rows = store.rows(
            "SELECT id, name, skills, sites, max_parallel, speed, fallback, supervisor"
            " FROM radiologists WHERE active ORDER BY id"
        )
        return [
            Radiologist(
                id=rid,
                name=name,
                skills=frozenset(store.document(skills)),
                sites=frozenset(store.document(sites)),
                max_parallel=int(max_parallel),
                speed=float(speed),
                fallback=bool(fallback),
                supervisor=bool(supervisor),
            )
            for rid, name, skills, sites, max_parallel, speed, fallback, supervisor in rows
        ]


LINKED_SHOWN = 3  # as `garde.store.repositories.study.LINKED_SHOWN`


class _Studies:
    def __init__(self, store: LeanStore) -> None:
        self._store = store

    def worklist(self, radiologist_id: str) -> list[WorklistRow]:
        """As `StudyRepository.worklist`: in progress first, then most urgent."""
        store = self._store
        found = store.rows(
            "SELECT s.id, s.study_uid, s.site_id, sites.name, s.modalities, s.description,"
            " s.priority, s.deadline, s.first_received_at, s.state, s.assigned_at,"
            " s.started_at, s.version, s.handle, s.patient_key, s.accession, a.patient_age,"
            " a.patient_sex, a.requesting_physician, a.indication"
            " FROM studies s JOIN sites ON sites.id = s.site_id"
            " LEFT JOIN study_attributes a ON a.study_id = s.id"
            " WHERE s.assignee = :rid AND s.state IN (:assigned, :in_progress)",
            {
                "rid": radiologist_id,
                "assigned": _WORKLIST_STATES[0],
                "in_progress": _WORKLIST_STATES[1],
            },
        )
        previews = self._preview_paths([row[0] for row in found])
        linked = self._linked_names({(row[14], row[2]) for row in found})
        rows = [
            WorklistRow(
                study_uid=uid,
                site_id=site_id,
                site_name=site_name,
                modalities=frozenset(m for m in (modalities or "").split(_MODALITY_SEPARATOR) if m),
                description=description or "",
                priority=None if priority is None else Priority(priority),
                deadline=store.moment(deadline),
                first_received_at=_required(store.moment(first)),
                state=StudyState(state),
                assigned_at=store.moment(assigned_at),
                started_at=store.moment(started_at),
                preview_path=previews.get(study_id),
                version=int(version),
                handle=handle or "",
                linked=linked.get((patient_key, site_id), ()),
                patient=PatientContext(
                    age=age or "",
                    sex=sex or "",
                    accession=accession or "",
                    requesting_physician=requester or "",
                    indication=indication or "",
                ),
            )
            for (
                study_id,
                uid,
                site_id,
                site_name,
                modalities,
                description,
                priority,
                deadline,
                first,
                state,
                assigned_at,
                started_at,
                version,
                handle,
                patient_key,
                accession,
                age,
                sex,
                requester,
                indication,
            ) in found
        ]
        priors = self._priors([row.study_uid for row in rows])
        rows = [replace(row, priors=priors.get(row.study_uid)) for row in rows]
        return sorted(rows, key=_worklist_order)

    def reports_on_their_way(self, radiologist_id: str) -> list[ReportOnItsWay]:
        """As `StudyRepository.reports_on_their_way`."""
        try:
            found = self._store.rows(REPORTS_ON_THEIR_WAY_SQL, {"rid": radiologist_id})
        except Exception as exc:
            if _missing_table(exc):  # a database older than the reports (issue 14)
                return []
            raise
        return [report_on_its_way(row) for row in found]

    def _priors(self, study_uids: list[str]) -> dict[str, int]:
        """Priors kept per study (-1: its lookup is still running); absent: no lookup."""
        if not study_uids:
            return {}
        names = {f"u{i}": uid for i, uid in enumerate(study_uids)}
        try:  # only generated parameter names are spliced in
            found = self._store.rows(
                "SELECT l.study_uid, l.state,"  # noqa: S608
                " (SELECT count(*) FROM priors p WHERE p.study_uid = l.study_uid)"
                f" FROM prior_lookups l WHERE l.study_uid IN ({', '.join(':' + n for n in names)})",
                names,
            )
        except Exception as exc:
            if _missing_table(exc):  # a database older than the priors (issue 14)
                return {}
            raise
        return {uid: -1 if state == "waiting" else int(count) for uid, state, count in found}

    def _linked_names(
        self, patients: set[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[str, ...]]:
        """As `StudyRepository._linked_names`: the patient's studies at other sites."""
        keys = sorted({key for key, _ in patients if key})
        if not keys:
            return {}
        names = {f"k{i}": key for i, key in enumerate(keys)}
        # Only generated parameter names are spliced in; the values are bound.
        found = self._store.rows(
            "SELECT patient_key, site_id, handle, study_uid FROM studies"  # noqa: S608
            f" WHERE patient_key IN ({', '.join(':' + n for n in names)})"
            " ORDER BY first_received_at DESC, id DESC",
            names,
        )
        return {
            (key, site): tuple(
                (handle or uid) for k, other, handle, uid in found if k == key and other != site
            )[:LINKED_SHOWN]
            for key, site in patients
        }

    def _preview_paths(self, study_ids: list[int]) -> dict[int, str]:
        """As `StudyRepository._preview_paths`: study-level, else the first series' thumbnail."""
        if not study_ids:
            return {}
        names = {f"s{i}": study_id for i, study_id in enumerate(study_ids)}
        # Only generated parameter names are spliced in; the values are bound.
        found = self._store.rows(
            "SELECT p.study_id, p.path FROM previews p LEFT JOIN series ON series.id = p.series_id"  # noqa: S608
            f" WHERE p.study_id IN ({', '.join(':' + n for n in names)})"
            " ORDER BY CASE WHEN p.series_id IS NULL THEN 0 ELSE 1 END,"
            " CASE WHEN p.kind = 'thumbnail' THEN 0 ELSE 1 END,"
            " CASE WHEN series.number IS NULL THEN 1 ELSE 0 END, series.number, p.id",
            names,
        )
        paths: dict[int, str] = {}
        for study_id, path in found:
            paths.setdefault(study_id, path)
        return paths


class _Audit:
    def __init__(self, store: LeanStore) -> None:
        self._store = store

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
        """As `AuditRepository.append`: one row of the append-only trail."""
        store = self._store
        detail_value = "CAST(:detail AS JSON)" if store.postgresql else ":detail"
        store.rows(
            "INSERT INTO audit_events (at, actor, action, study_uid, radiologist_id, origin,"  # noqa: S608 - a fixed fragment
            f" detail) VALUES (:at, :actor, :action, :study_uid, :radiologist_id, :origin,"
            f" {detail_value})",
            {
                "at": store.stored_moment(at),
                "actor": actor,
                "action": action,
                "study_uid": study_uid,
                "radiologist_id": radiologist_id,
                "origin": origin,
                "detail": json.dumps(dict(detail or {})),
            },
        )


def _required(value: datetime | None) -> datetime:
    if value is None:  # pragma: no cover - first_received_at is NOT NULL
        raise ValueError("a study without an arrival time")
    return value


def _worklist_order(row: WorklistRow) -> tuple[bool, int, datetime, datetime]:
    far = datetime.max.replace(tzinfo=UTC)
    rank = row.priority.queue_rank if row.priority is not None else len(Priority)
    in_progress = row.state is StudyState.IN_PROGRESS
    return (not in_progress, rank, row.deadline or far, row.first_received_at)


def _missing_table(exc: Exception) -> bool:
    """A missing ``alembic_version`` table, on either driver."""
    text = str(exc).lower()
    return "no such table" in text or "does not exist" in text
