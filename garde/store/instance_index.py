"""The gateway's index of durably written instances: the hot path of intake.

One short transaction per instance on a plain engine connection (no Session, no ORM
objects): four Core statements, built once per dialect, when the series is already
indexed. Study and series rows are created on first sight with insert-or-ignore (``ON
CONFLICT DO NOTHING`` on both dialects), so gateway threads or processes indexing
instances of the same new study at once converge on one study row and one series row.
Whether a row was new is read from ``RETURNING`` (psycopg reports no rowcount for these
inserts).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Integer, String, bindparam, case, cast, func, select
from sqlalchemy.dialects import postgresql, sqlite

from garde.dispatch.model import StudyState
from garde.store.handles import day_start
from garde.store.models import AuditEventRow, InstanceRow, SeriesRow, StudyRow
from garde.store.repositories.study import MODALITY_SEPARATOR
from garde.store.types import UTCDateTime

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from datetime import datetime

    from sqlalchemy import BindParameter, Column, Connection, Table
    from sqlalchemy.orm import Session, sessionmaker
    from sqlalchemy.sql.base import Executable

    from garde.dispatch.model import InstanceConflict, InstanceReceived

logger = logging.getLogger(__name__)

_studies: Table = StudyRow.__table__  # type: ignore[assignment]
_series: Table = SeriesRow.__table__  # type: ignore[assignment]
_instances: Table = InstanceRow.__table__  # type: ignore[assignment]
_audit: Table = AuditEventRow.__table__  # type: ignore[assignment]
_GATEWAY_ACTOR = "gateway"


class SqlInstanceIndex:
    """`garde.dispatch.ports.InstanceIndex` over the SQL store.

    Parameters
    ----------
    session_factory
        The process's session factory (see `garde.store.engine.make_session_factory`).
    """

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory
        # The statements are Core: a Connection from the engine the factory binds runs
        # them without a Session (whose set-up and teardown cost more than the inserts).
        bind = session_factory.kw.get("bind")
        self._engine: Engine | None = bind if isinstance(bind, Engine) else None

    def record(self, instance: InstanceReceived) -> bool:
        """Index one instance in its own transaction.

        Creates the study (state RECEIVING) and the series on first sight, adds the
        instance and bumps the counts and ``last_received_at``.

        Returns
        -------
        bool
            True if the instance was new; False if its SOP Instance UID was already
            indexed (a re-send: nothing changes).

        Raises
        ------
        sqlalchemy.exc.SQLAlchemyError
            On any database error (the gateway answers 0xA700 so the sender retries);
            the transaction is rolled back, nothing is half-indexed.
        """
        try:
            if self._engine is not None:
                with self._engine.begin() as connection:
                    _record(connection, instance)
            else:
                with self._session_factory() as session, session.begin():
                    _record(session.connection(), instance)
        except _AlreadyIndexed:
            new = False  # rolled back: no study or series row made for it either
        else:
            new = True
        if new:
            logger.debug(
                "indexed instance %s of series %s, study %s",
                instance.sop_instance_uid,
                instance.series_uid,
                instance.study_uid,
            )
        return new

    def record_many(self, instances: Sequence[InstanceReceived]) -> list[bool]:
        """Index several instances in one transaction (one commit for all of them).

        An instance of a series indexed already is one insert (a known one, False,
        changes nothing), and each such series and its study are counted once for all
        of its new instances in the batch: the gateway's indexer thread shares the
        interpreter with the associations, and per-instance statements (savepoint,
        lookup, insert, two updates, release) made it the process's largest consumer.
        An instance of a new series runs `record`'s statements in a savepoint of its
        own, so one already indexed rolls back only its own study and series rows.
        Raises on a database error; the whole batch is then rolled back (the caller
        retries it).
        """
        results = []
        with self._connection() as connection:
            statements = _statements_for(connection.dialect.name)
            known: set[str] = set()  # series indexed already (before or in this batch)
            added: dict[str, list[InstanceReceived]] = {}  # series -> its new instances
            for instance in instances:
                series = instance.series_uid
                if series not in known:
                    found = connection.execute(statements.find_series, _params(instance))
                    if found.first() is not None:
                        known.add(series)
                if series in known:
                    # Nothing is created before the insert: no savepoint to roll back.
                    params = _params(instance)
                    new = connection.execute(statements.insert_instance, params).first()
                    if new is not None:
                        added.setdefault(series, []).append(instance)
                    results.append(new is not None)
                    continue
                try:
                    with connection.begin_nested():
                        _record(connection, instance)
                except _AlreadyIndexed:
                    results.append(False)
                else:
                    results.append(True)
                    known.add(series)
            for group in added.values():
                _bump(connection, statements, group)
        return results

    def indexed_paths(self) -> set[str]:
        """The storage paths of every indexed instance (start-up recovery compares them
        with the files on disk)."""
        with self._connection() as connection:
            return set(connection.scalars(select(_instances.c.path)))

    def path_of(self, sop_instance_uid: str) -> str | None:
        """Where an indexed instance's file is (relative to storage), or None.

        Asked before every answer (a UID stored under another study is a conflict), so
        on the DBAPI connection directly: a twentieth of what a Core select costs.
        """
        if self._engine is None:
            query = select(_instances.c.path).where(
                _instances.c.sop_instance_uid == sop_instance_uid
            )
            with self._session_factory() as session:
                return session.execute(query).scalar()
        marker = "?" if self._engine.dialect.paramstyle == "qmark" else "%s"
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(
                    f"SELECT path FROM instances WHERE sop_instance_uid = {marker}",  # noqa: S608 - a constant marker
                    (sop_instance_uid,),
                )
                row = cursor.fetchone()
            finally:
                cursor.close()
        finally:
            connection.close()  # back to the pool (which rolls back any transaction)
        return None if row is None else str(row[0])

    def replace(self, instance: InstanceReceived) -> None:
        """The ``overwrite`` policy put a new file under an indexed instance's path.

        In one transaction: the instance row takes the new size, transfer syntax,
        sender and time; its series and study count as received again at that time (a
        dispatched study then counts as grown: once quiet, the sweep renders its
        previews again and audits it for its reader); an ``instance_replaced`` audit
        row names the study's assignee, if any.
        """
        params = _params(instance)
        with self._connection() as connection:
            connection.execute(
                _instances.update()
                .where(_instances.c.sop_instance_uid == instance.sop_instance_uid)
                .values(
                    transfer_syntax=instance.transfer_syntax,
                    size_bytes=instance.size_bytes,
                    calling_ae=instance.calling_ae,
                    received_at=instance.received_at,
                )
            )
            at = bindparam("p_at", type_=UTCDateTime())
            connection.execute(
                _series.update()
                .where(_series.c.series_uid == bindparam("p_series_uid", type_=String()))
                .values(**_widened(_series.c, at)),
                params,
            )
            connection.execute(
                _studies.update()
                .where(_studies.c.study_uid == bindparam("p_study_uid", type_=String()))
                .values(**_widened(_studies.c, at)),
                params,
            )
            assignee = connection.execute(
                select(_studies.c.assignee).where(_studies.c.study_uid == instance.study_uid)
            ).scalar()
            connection.execute(
                _audit.insert().values(
                    at=instance.received_at,
                    actor=_GATEWAY_ACTOR,
                    action="instance_replaced",
                    study_uid=instance.study_uid,
                    radiologist_id=assignee,
                    origin=instance.calling_ae,
                    detail={
                        "sop_instance_uid": instance.sop_instance_uid,
                        "path": instance.path,
                        "size_bytes": instance.size_bytes,
                        "transfer_syntax": instance.transfer_syntax,
                    },
                )
            )
        logger.info(
            "instance %s of study %s replaced (overwrite policy)",
            instance.sop_instance_uid,
            instance.study_uid,
        )

    def record_conflict(self, conflict: InstanceConflict) -> None:
        """Audit a conflicting copy kept in quarantine (``garde audit --study``)."""
        with self._connection() as connection:
            connection.execute(
                _audit.insert().values(
                    at=conflict.received_at,
                    actor=_GATEWAY_ACTOR,
                    action="instance_conflict",
                    study_uid=conflict.study_uid,
                    radiologist_id=None,
                    origin=conflict.calling_ae,
                    detail={
                        "sop_instance_uid": conflict.sop_instance_uid,
                        "series_uid": conflict.series_uid,
                        "kept_path": conflict.kept_path,
                        "conflict_path": conflict.conflict_path,
                        "sha256": conflict.digest,
                        "size_bytes": conflict.size_bytes,
                    },
                )
            )

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """One transaction, on a plain engine connection when there is one."""
        if self._engine is not None:
            with self._engine.begin() as connection:
                yield connection
        else:
            with self._session_factory() as session, session.begin():
                yield session.connection()


class _AlreadyIndexed(Exception):  # noqa: N818 - a signal to roll back, not an error
    """The instance is indexed already: undo this transaction's study and series rows
    (a re-send under another study or series UID must not leave an empty study)."""


def _record(connection: Connection, event: InstanceReceived) -> None:
    """The statements of `SqlInstanceIndex.record`, inside its transaction.

    Raises `_AlreadyIndexed` (rolling the transaction back) for a known instance.
    """
    statements = _statements_for(connection.dialect.name)
    params = _params(event)
    # Most instances belong to a series already indexed: one lookup instead of two
    # insert-or-ignore statements (the study exists whenever its series does).
    new_series = False
    if connection.execute(statements.find_series, params).first() is None:
        connection.execute(statements.insert_study, params)
        new_series = connection.execute(statements.insert_series, params).first() is not None
    if connection.execute(statements.insert_instance, params).first() is None:
        raise _AlreadyIndexed
    connection.execute(statements.bump_series, params)
    if new_series:
        modalities = _modalities(connection, event.study_uid)
        connection.execute(statements.bump_study_new_series, {**params, "p_modalities": modalities})
    else:
        connection.execute(statements.bump_study, params)


def _bump(connection: Connection, statements: _Statements, group: list[InstanceReceived]) -> None:
    """Count a batch's new instances of one indexed series on their series and study:
    one update each for the whole group (what a +1 per instance adds up to)."""
    ats = [instance.received_at for instance in group]
    declared = [i.declared_images for i in group if i.declared_images is not None]
    params = {
        "p_series_uid": group[0].series_uid,
        "p_study_uid": group[0].study_uid,
        "p_count": len(group),
        "p_first": min(ats),
        "p_last": max(ats),
        "p_declared": max(declared) if declared else None,
    }
    connection.execute(statements.bump_series_by, params)
    connection.execute(statements.bump_study_by, params)


def _params(event: InstanceReceived) -> dict[str, Any]:
    return {
        "p_study_uid": event.study_uid,
        "p_site_id": event.site_id,
        "p_patient_key": event.patient_key,
        "p_accession": event.accession_number,
        "p_description": event.study_description,
        "p_body_part": event.body_part,
        "p_requested_procedure": event.requested_procedure,
        "p_requested_priority": event.requested_priority,
        "p_series_uid": event.series_uid,
        "p_series_number": event.series_number,
        "p_modality": event.modality,
        "p_series_description": event.series_description,
        "p_declared": event.declared_images,
        "p_sop_instance_uid": event.sop_instance_uid,
        "p_sop_class_uid": event.sop_class_uid,
        "p_instance_number": event.instance_number,
        "p_transfer_syntax": event.transfer_syntax,
        "p_path": event.path,
        "p_size_bytes": event.size_bytes,
        "p_calling_ae": event.calling_ae,
        "p_at": event.received_at,
        "p_day_start": day_start(event.received_at),
    }


@dataclass(frozen=True, slots=True)
class _Statements:
    """The intake statements of one dialect, built once: constructing and cache-keying
    SQLAlchemy statements per call cost more than executing them."""

    find_series: Executable
    insert_study: Executable
    insert_series: Executable
    insert_instance: Executable
    bump_series: Executable
    bump_study: Executable
    bump_study_new_series: Executable
    bump_series_by: Executable  # several instances of a batch at once (``p_count``)
    bump_study_by: Executable


@cache
def _statements_for(dialect: str) -> _Statements:
    insert = _insert_for(dialect)
    at = bindparam("p_at", type_=UTCDateTime())
    study_uid = bindparam("p_study_uid", type_=String())
    series_uid = bindparam("p_series_uid", type_=String())
    site_id = bindparam("p_site_id", type_=String())
    declared = bindparam("p_declared", type_=Integer())
    # "<site>-<n>": n counts the site's studies since the day's start, this one included
    # (`garde.store.handles`); one statement, so SQLite's write lock makes it unique.
    today = (
        select(func.count() + 1)
        .select_from(_studies)
        .where(
            _studies.c.site_id == site_id,
            _studies.c.first_received_at >= bindparam("p_day_start", type_=UTCDateTime()),
        )
        .scalar_subquery()
    )
    insert_study = (
        insert(_studies)
        .values(
            study_uid=study_uid,
            site_id=site_id,
            handle=site_id + "-" + cast(today, String()),
            state=StudyState.RECEIVING,
            patient_key=bindparam("p_patient_key"),
            accession=bindparam("p_accession"),
            description=bindparam("p_description"),
            body_part=bindparam("p_body_part"),
            requested_procedure=bindparam("p_requested_procedure"),
            requested_priority=bindparam("p_requested_priority"),
            first_received_at=at,
            last_received_at=at,
        )
        .on_conflict_do_nothing(index_elements=["study_uid"])
    )
    study_id = select(_studies.c.id).where(_studies.c.study_uid == study_uid)
    insert_series = (
        insert(_series)
        .values(
            series_uid=series_uid,
            study_id=study_id.scalar_subquery(),
            number=bindparam("p_series_number"),
            modality=bindparam("p_modality"),
            description=bindparam("p_series_description"),
            declared_count=bindparam("p_declared", type_=Integer()),
            first_received_at=at,
            last_received_at=at,
        )
        .on_conflict_do_nothing(index_elements=["series_uid"])
        .returning(_series.c.id)
    )
    series_id = select(_series.c.id).where(_series.c.series_uid == series_uid)
    insert_instance = (
        insert(_instances)
        .values(
            sop_instance_uid=bindparam("p_sop_instance_uid"),
            sop_class_uid=bindparam("p_sop_class_uid"),
            series_id=series_id.scalar_subquery(),
            number=bindparam("p_instance_number"),
            transfer_syntax=bindparam("p_transfer_syntax"),
            path=bindparam("p_path"),
            size_bytes=bindparam("p_size_bytes"),
            calling_ae=bindparam("p_calling_ae"),
            received_at=at,
        )
        .on_conflict_do_nothing(index_elements=["sop_instance_uid"])
        .returning(_instances.c.id)
    )
    bump_series = (
        _series.update()
        .where(_series.c.series_uid == series_uid)
        .values(
            instance_count=_series.c.instance_count + 1,
            declared_count=_largest(_series.c.declared_count, declared),
            **_widened(_series.c, at),
        )
    )
    bump_study_values: dict[str, Any] = {
        "instance_count": _studies.c.instance_count + 1,
        **_widened(_studies.c, at),
    }
    bump_study = _studies.update().where(_studies.c.study_uid == study_uid)
    count = bindparam("p_count", type_=Integer())
    first = bindparam("p_first", type_=UTCDateTime())
    last = bindparam("p_last", type_=UTCDateTime())
    bump_series_by = (
        _series.update()
        .where(_series.c.series_uid == series_uid)
        .values(
            instance_count=_series.c.instance_count + count,
            declared_count=_largest(_series.c.declared_count, declared),
            **_widened(_series.c, first, last),
        )
    )
    bump_study_by = (
        _studies.update()
        .where(_studies.c.study_uid == study_uid)
        .values(
            instance_count=_studies.c.instance_count + count,
            **_widened(_studies.c, first, last),
        )
    )
    return _Statements(
        find_series=series_id,
        insert_study=insert_study,
        insert_series=insert_series,
        insert_instance=insert_instance,
        bump_series=bump_series,
        bump_study=bump_study.values(**bump_study_values),
        bump_study_new_series=bump_study.values(
            series_count=_studies.c.series_count + 1,
            modalities=bindparam("p_modalities", type_=String()),
            **bump_study_values,
        ),
        bump_series_by=bump_series_by,
        bump_study_by=bump_study_by,
    )


def _widened(
    columns: Any, at: BindParameter[datetime], until: BindParameter[datetime] | None = None
) -> dict[str, Any]:
    """SET clauses stretching [first_received_at, last_received_at] to include ``at``
    (to include [``at``, ``until``] if given).

    Portable CASE rather than LEAST/GREATEST (PostgreSQL) or scalar min/max (SQLite);
    threads may commit instances out of arrival order.
    """
    latest = at if until is None else until
    first: Column[Any] = columns.first_received_at
    last: Column[Any] = columns.last_received_at
    return {
        "first_received_at": case((first > at, at), else_=first),
        "last_received_at": case((last < latest, latest), else_=last),
    }


def _largest(column: Column[Any], value: BindParameter[int]) -> Any:
    """The larger of ``column`` and ``value``, either possibly NULL (portable CASE).

    The largest count any instance declared: an acquisition count smaller than its
    series (several acquisitions) must not make the series complete early.
    """
    return case(
        (value.is_(None), column),
        (column.is_(None), value),
        (value > column, value),
        else_=column,
    )


def _modalities(connection: Connection, study_uid: str) -> str:
    """The study's modalities, recomputed when it gains a series (rare: once per series).

    The study row is locked first (PostgreSQL; SQLite's writer lock already serialises),
    so two series committed at once cannot each overwrite the other's modality.
    """
    connection.execute(
        select(_studies.c.id).where(_studies.c.study_uid == study_uid).with_for_update()
    )
    query = (
        select(_series.c.modality)
        .distinct()
        .join(_studies, _studies.c.id == _series.c.study_id)
        .where(_studies.c.study_uid == study_uid, _series.c.modality != "")
    )
    return MODALITY_SEPARATOR.join(sorted(connection.scalars(query)))


def _insert_for(dialect: str) -> Any:
    """The dialect's INSERT construct (both have ``on_conflict_do_nothing``)."""
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"instance index: unsupported database dialect {dialect!r}")
