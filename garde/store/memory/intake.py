"""The gateway's instance index in memory: `garde.dispatch.ports.InstanceIndex`.

As `garde.store.instance_index.SqlInstanceIndex`: the study (RECEIVING, with its
handle) and the series are made on first sight, counts and the received window widen,
the study's modalities are recomputed when it gains a series, and a SOP Instance UID
already indexed changes nothing. Each call is one transaction (under the store's write
lock); the version of the study does not change (intake is not a lifecycle write).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, TypeVar

from garde.dispatch.model import StudyState
from garde.store.handles import day_start, handle_for
from garde.store.memory.tables import InstanceEntry, SeriesEntry, replaced, utc
from garde.store.records import AuditEvent, StudyRecord
from garde.store.repositories.study import MODALITY_SEPARATOR

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from garde.dispatch.model import InstanceConflict, InstanceReceived
    from garde.store.memory.tables import Tables

_GATEWAY_ACTOR = "gateway"
_Row = TypeVar("_Row", SeriesEntry, StudyRecord)


class MemoryInstanceIndex:
    """Indexes received instances into a `garde.store.memory.MemoryStore`."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def record(self, instance: InstanceReceived) -> bool:
        """Index one instance; False if its SOP Instance UID was already indexed."""
        with self._tables.lock, self._tables.publish:
            return self._record(instance)

    def record_many(self, instances: Sequence[InstanceReceived]) -> list[bool]:
        """Index several instances in one transaction; for each, whether it was new."""
        with self._tables.lock, self._tables.publish:
            return [self._record(instance) for instance in instances]

    def indexed_paths(self) -> set[str]:
        """The storage paths of every indexed instance."""
        return {entry.path for entry in list(self._tables.instances.values())}

    def path_of(self, sop_instance_uid: str) -> str | None:
        """Where an indexed instance's file is (relative to storage), or None."""
        entry = self._tables.instances.get(sop_instance_uid)
        return None if entry is None else entry.path

    def replace(self, instance: InstanceReceived) -> None:
        """The ``overwrite`` policy replaced an indexed instance's file (see the SQL one)."""
        tables = self._tables
        at = utc(instance.received_at)
        with tables.lock, tables.publish:
            entry = tables.instances.get(instance.sop_instance_uid)
            if entry is not None:
                tables.instances[entry.sop_instance_uid] = dataclasses.replace(
                    entry,
                    transfer_syntax=instance.transfer_syntax,
                    size_bytes=instance.size_bytes,
                    calling_ae=instance.calling_ae,
                    received_at=at,
                )
            series = tables.series.get(instance.series_uid)
            if series is not None:
                tables.series[series.series_uid] = _widened(series, at)
            study = tables.studies.get(instance.study_uid)
            if study is not None:
                tables.put_study(_widened(study, at))
            self._audit(
                at,
                "instance_replaced",
                instance.study_uid,
                None if study is None else study.assignee,
                instance.calling_ae,
                {
                    "sop_instance_uid": instance.sop_instance_uid,
                    "path": instance.path,
                    "size_bytes": instance.size_bytes,
                    "transfer_syntax": instance.transfer_syntax,
                },
            )

    def record_conflict(self, conflict: InstanceConflict) -> None:
        """Audit a conflicting copy kept in quarantine."""
        with self._tables.lock, self._tables.publish:
            self._audit(
                utc(conflict.received_at),
                "instance_conflict",
                conflict.study_uid,
                None,
                conflict.calling_ae,
                {
                    "sop_instance_uid": conflict.sop_instance_uid,
                    "series_uid": conflict.series_uid,
                    "kept_path": conflict.kept_path,
                    "conflict_path": conflict.conflict_path,
                    "sha256": conflict.digest,
                    "size_bytes": conflict.size_bytes,
                },
            )

    # -- helpers -------------------------------------------------------------------------

    def _record(self, event: InstanceReceived) -> bool:
        tables = self._tables
        if event.sop_instance_uid in tables.instances:
            return False  # a re-send: nothing of it is indexed, not even a new study
        at = utc(event.received_at)
        series = tables.series.get(event.series_uid)
        new_series = series is None
        if series is None:
            if event.study_uid not in tables.studies:
                tables.put_study(self._new_study(event, at))
            series = SeriesEntry(
                series_uid=event.series_uid,
                study_uid=event.study_uid,
                seq=tables.next_id(),
                number=event.series_number,
                modality=event.modality,
                description=event.series_description,
                declared_count=event.declared_images,
                instance_count=0,
                first_received_at=at,
                last_received_at=at,
            )
            tables.study_series.setdefault(event.study_uid, []).append(series.series_uid)
        tables.instances[event.sop_instance_uid] = InstanceEntry(
            sop_instance_uid=event.sop_instance_uid,
            series_uid=event.series_uid,
            seq=tables.next_id(),
            number=event.instance_number,
            path=event.path,
            size_bytes=event.size_bytes,
            transfer_syntax=event.transfer_syntax,
            calling_ae=event.calling_ae,
            received_at=at,
        )
        declared = _largest(series.declared_count, event.declared_images)
        tables.series[series.series_uid] = _widened(
            dataclasses.replace(
                series, instance_count=series.instance_count + 1, declared_count=declared
            ),
            at,
        )
        study = tables.studies[series.study_uid]
        changes: dict[str, object] = {
            "instance_count": study.instance_count + 1,
            "first_received_at": min(study.first_received_at, at),
            "last_received_at": max(study.last_received_at, at),
        }
        if new_series:
            changes["series_count"] = study.series_count + 1
            changes["modalities"] = frozenset(self._modalities(series.study_uid))
        tables.put_study(replaced(study, changes))
        return True

    def _new_study(self, event: InstanceReceived, at: datetime) -> StudyRecord:
        since = day_start(at)
        today = sum(
            1
            for s in list(self._tables.studies.values())
            if s.site_id == event.site_id and s.first_received_at >= since
        )
        return StudyRecord(
            study_uid=event.study_uid,
            site_id=event.site_id,
            state=StudyState.RECEIVING,
            first_received_at=at,
            last_received_at=at,
            series_count=0,
            instance_count=0,
            version=1,
            patient_key=event.patient_key,
            accession=event.accession_number,
            description=event.study_description,
            body_part=event.body_part,
            requested_procedure=event.requested_procedure,
            requested_priority=event.requested_priority,
            handle=handle_for(event.site_id, today + 1),
        )

    def _modalities(self, study_uid: str) -> set[str]:
        tables = self._tables
        found = {tables.series[uid].modality for uid in tables.study_series.get(study_uid, ())}
        # As the SQL store, which joins them into one string and splits it back.
        joined = MODALITY_SEPARATOR.join(sorted(m for m in found if m))
        return {m for m in joined.split(MODALITY_SEPARATOR) if m}

    def _audit(  # noqa: PLR0917 - the audit row's columns
        self,
        at: datetime,
        action: str,
        study_uid: str | None,
        radiologist_id: str | None,
        origin: str,
        detail: dict[str, object],
    ) -> None:
        self._tables.audit.append(
            AuditEvent(
                id=self._tables.next_id(),
                at=at,
                actor=_GATEWAY_ACTOR,
                action=action,
                study_uid=study_uid,
                radiologist_id=radiologist_id,
                origin=origin,
                detail=dict(detail),
            )
        )


def _widened(row: _Row, at: datetime) -> _Row:
    """The row with its received window stretched to include ``at`` (threads may index
    instances out of arrival order)."""
    return dataclasses.replace(
        row,
        first_received_at=min(row.first_received_at, at),
        last_received_at=max(row.last_received_at, at),
    )


def _largest(stored: int | None, declared: int | None) -> int | None:
    """The largest count any instance declared (None where none did)."""
    if declared is None:
        return stored
    if stored is None:
        return declared
    return max(stored, declared)
