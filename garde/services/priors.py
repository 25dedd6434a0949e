"""Fetching a new study's priors in `garde serve` (issue 14): a thread beside dispatch.

Each new study of a hospital with a query/retrieve peer gets one lookup (claimed in the
store, so one process does it): C-FIND of the patient's earlier studies, C-MOVE of the
relevant ones to the priors receiver, a `priors` row for each kept. Dispatch never
waits for it: a stroke is routed at its first series, its priors come when they come.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from garde.store.records import PriorRecord

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from garde.config.reporting import ReportingSettings
    from garde.reporting.priors import PriorsReceiver
    from garde.store.ports import UnitOfWork

logger = logging.getLogger(__name__)

LOOK_BACK = timedelta(hours=12)  # a study older than this at start-up gets no lookup
POLL_S = 1.0


def _now() -> datetime:
    return datetime.now(tz=UTC)


@dataclass
class PriorsService:
    """Runs the lookups of new studies."""

    uow_factory: Callable[[], UnitOfWork]
    settings: ReportingSettings
    storage_dir: Path
    receiver: PriorsReceiver
    clock: Callable[[], datetime] = _now
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def run_due(self) -> int:
        """Look up the priors of every new study that has none yet; how many lookups."""
        now = self.clock()
        sites = [p.site_id for p in self.settings.priors]
        with self.uow_factory() as uow:
            due = uow.priors.unlooked(sites, now - LOOK_BACK)
        done = 0
        for study_uid, site_id in due:
            with self.uow_factory() as uow:
                claimed = uow.priors.claim(study_uid, site_id, now)
                uow.commit()
            if claimed:
                self._lookup(study_uid, site_id)
                done += 1
        return done

    def _lookup(self, study_uid: str, site_id: str) -> None:
        from pydicom import dcmread  # noqa: PLC0415

        from garde.reporting.priors import NewStudy, fetch_priors  # noqa: PLC0415

        peer = self.settings.peer(site_id)
        assert peer is not None
        error = None
        found = retrieved = 0
        try:
            with self.uow_factory() as uow:
                series = uow.studies.series(study_uid)
                paths = uow.studies.instance_paths(series[0].series_uid) if series else []
                record = uow.studies.get(study_uid)
            if not paths or record is None:
                raise LookupError("no stored image to query with")  # noqa: TRY301
            head = dcmread(self.storage_dir / paths[0], stop_before_pixels=True)
            new = NewStudy(
                study_uid,
                str(head.get("PatientID", "")),
                str(head.get("IssuerOfPatientID", "")),
                record.modalities,
                record.body_part,
                str(head.get("StudyDate", "")),
            )
            if not new.patient_id:
                raise LookupError("the study has no PatientID")  # noqa: TRY301
            result = fetch_priors(peer, new, self.receiver, now=self.clock())
            found = len(result.found)
            at = self.clock()
            with self.uow_factory() as uow:
                repo = uow.priors
                for prior in result.relevant:
                    count = result.stored.get(prior.study_uid, 0)
                    if count:
                        retrieved += 1
                        repo.add(
                            PriorRecord(
                                study_uid,
                                prior.study_uid,
                                prior.study_date,
                                prior.modalities,
                                prior.description,
                                count,
                            ),
                            at,
                            refused=result.refused,
                        )
                repo.finish(study_uid, at, found=found, retrieved=retrieved, error=None)
                uow.commit()
            logger.info("study %s: %d priors kept (%d found)", study_uid, retrieved, found)
        except Exception as exc:  # noqa: BLE001 - a boundary: the next study's lookup goes on
            error = f"{type(exc).__name__}: {exc}"
            logger.warning("study %s: priors lookup failed: %s", study_uid, error)
            with self.uow_factory() as uow:
                uow.priors.finish(study_uid, self.clock(), found=found, retrieved=0, error=error)
                uow.commit()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="priors", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due()
            except Exception:  # a boundary: the thread keeps going
                logger.exception("priors: round failed")
            self._stop.wait(POLL_S)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.receiver.close()
