"""The study attributes in memory: `garde.store.ports.StudyAttributeIndex`.

As the SQL `garde.store.dicomweb_index.DicomWebIndex`: a study with stored instances and
no attributes yet is "missing", with its first indexed instance (the lowest id) to read
them from; saving keeps the first attributes given for a study. Each call is one
transaction under the store's write lock; the units of work see the attributes in a
study's patient context (`MemoryStudies.patient_context`), as the SQL join does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from garde.store.records import MissingAttributes

if TYPE_CHECKING:
    from collections.abc import Sequence

    from garde.store.memory.tables import Tables
    from garde.store.records import StudyAttributes


class MemoryAttributeIndex:
    """The attributes read from stored files, kept in a `garde.store.memory.MemoryStore`."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def missing_attributes(self, limit: int = 500) -> list[MissingAttributes]:
        """Up to ``limit`` studies with no attributes yet, each with its first instance."""
        tables = self._tables
        with tables.publish:
            first: dict[str, tuple[int, str]] = {}  # series -> (instance id, path)
            for entry in tables.instances.values():
                known = first.get(entry.series_uid)
                if known is None or entry.seq < known[0]:
                    first[entry.series_uid] = (entry.seq, entry.path)
            found = []
            for uid, study_id in tables.seq.items():
                if uid in tables.attributes:
                    continue
                stored = [first[s] for s in tables.study_series.get(uid, ()) if s in first]
                if stored:
                    found.append(MissingAttributes(study_id, min(stored)[1]))
        return sorted(found, key=lambda m: m.study_id)[:limit]

    def save_attributes(self, values: Sequence[tuple[int, StudyAttributes]]) -> None:
        """Keep each study's attributes (a study that has them already keeps its own)."""
        tables = self._tables
        with tables.lock, tables.publish:
            by_id = {study_id: uid for uid, study_id in tables.seq.items()}
            for study_id, attributes in values:
                uid = by_id.get(study_id)
                if uid is not None:
                    tables.attributes.setdefault(uid, attributes)
