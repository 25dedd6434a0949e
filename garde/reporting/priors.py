"""Priors: the patient's earlier studies, fetched from the hospital's PACS for the reader
of a new study (C-FIND, then C-MOVE to Garde's priors receiver).

The PACS is asked for the patient's studies (PatientID with its issuer) of the last
``years``; the relevant ones (a relevant modality, the same body part when it says one,
not the new study itself) are moved to our receiver, an AE the PACS knows as a move
destination. What arrives is kept under ``storage/priors/<new study>/<prior study>/``,
never indexed as a study of its own: not dispatched, no SLA. An instance whose
PatientID is not the one asked for is refused (C-STORE failure), never attached. The
fetch runs beside dispatch, never before it: a stroke is dispatched at its first series
whatever its priors are doing.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydicom.dataset import Dataset
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelMove,
)

from garde.dicom_gateway.spool import received_dataset
from garde.reporting.errors import DeliveryError

if TYPE_CHECKING:
    from pathlib import Path

    from garde.config.reporting import PriorsPeer

logger = logging.getLogger(__name__)

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
REFUSED_OTHER_PATIENT = 0xA900  # "data set does not match SOP class": not the patient asked for


@dataclass(frozen=True, slots=True)
class NewStudy:
    """What the query needs to know of the new study (from its first stored image)."""

    study_uid: str
    patient_id: str
    issuer: str
    modalities: frozenset[str]
    body_part: str
    study_date: str  # YYYYMMDD


@dataclass(frozen=True, slots=True)
class PriorFound:
    """One earlier study the PACS answered with."""

    study_uid: str
    study_date: str
    modalities: str
    description: str
    body_part: str


@dataclass
class PriorsResult:
    """What one lookup did."""

    found: list[PriorFound] = field(default_factory=list)
    relevant: list[PriorFound] = field(default_factory=list)
    stored: dict[str, int] = field(default_factory=dict)  # prior study -> instances kept
    refused: int = 0  # instances of another patient


def _valid_uid(value: str) -> bool:
    return bool(_UID.match(value)) and len(value) <= 64


class PriorsReceiver:
    """Garde's move destination: a C-STORE SCP keeping priors of the lookups under way."""

    def __init__(self, storage_dir: Path, ae_title: str, host: str, port: int) -> None:
        self.storage_dir = storage_dir
        self.ae_title = ae_title
        self._expected: dict[str, tuple[str, str, PriorsResult]] = {}  # prior uid -> ...
        self._lock = threading.Lock()
        ae = AE(ae_title=ae_title)
        ae.supported_contexts = AllStoragePresentationContexts
        server = ae.start_server(
            (host, port), block=False, evt_handlers=[(evt.EVT_C_STORE, self.handle_store)]
        )
        assert server is not None
        self._server = server
        self.port = int(self._server.server_address[1])

    def expect(self, prior_uid: str, study_uid: str, patient_id: str, result: PriorsResult) -> None:
        """Instances of ``prior_uid`` go to ``study_uid``'s priors, if of ``patient_id``."""
        with self._lock:
            self._expected[prior_uid] = (study_uid, patient_id, result)

    def forget(self, prior_uid: str) -> None:
        with self._lock:
            self._expected.pop(prior_uid, None)

    def handle_store(self, event: evt.Event) -> int:
        """Keep one moved instance (durably) or refuse it."""
        ds = received_dataset(event)  # the gateway's spool may hold it in memory
        prior_uid = str(ds.get("StudyInstanceUID", ""))
        sop_uid = str(ds.get("SOPInstanceUID", ""))
        with self._lock:
            expected = self._expected.get(prior_uid)
        if expected is None or not (_valid_uid(prior_uid) and _valid_uid(sop_uid)):
            return 0xC211  # nobody asked for it
        study_uid, patient_id, result = expected
        if str(ds.get("PatientID", "")) != patient_id:
            with self._lock:
                result.refused += 1
            logger.warning(
                "study %s: prior %s refused: another patient than asked", study_uid, prior_uid
            )
            return REFUSED_OTHER_PATIENT
        folder = self.storage_dir / "priors" / study_uid / prior_uid
        folder.mkdir(parents=True, exist_ok=True)
        temp = folder / f"{sop_uid}.part"
        ds.save_as(temp, enforce_file_format=True)
        with temp.open("rb") as handle:
            os.fsync(handle.fileno())
        temp.replace(folder / f"{sop_uid}.dcm")
        with self._lock:
            result.stored[prior_uid] = result.stored.get(prior_uid, 0) + 1
        return 0x0000

    def close(self) -> None:
        self._server.shutdown()


def fetch_priors(
    peer: PriorsPeer, study: NewStudy, receiver: PriorsReceiver, *, now: datetime
) -> PriorsResult:
    """Find the patient's relevant earlier studies at ``peer`` and move them to
    ``receiver``; what was found, moved and refused.

    Raises
    ------
    DeliveryError
        The PACS cannot be reached or refuses the association.
    """
    result = PriorsResult()
    ae = AE(ae_title=receiver.ae_title)
    for timeout in ("acse_timeout", "network_timeout", "dimse_timeout", "connection_timeout"):
        setattr(ae, timeout, peer.timeout_s)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
    assoc = ae.associate(peer.host, peer.port, ae_title=peer.ae_title)
    if not assoc.is_established:
        raise DeliveryError(f"priors: no association with {peer.ae_title}@{peer.host}:{peer.port}")
    try:
        result.found = _find(assoc, peer, study, now)
        result.relevant = [p for p in result.found if _relevant(p, peer, study)]
        for prior in result.relevant:
            receiver.expect(prior.study_uid, study.study_uid, study.patient_id, result)
            try:
                query = Dataset()
                query.QueryRetrieveLevel = "STUDY"
                query.StudyInstanceUID = prior.study_uid
                for _status, _ in assoc.send_c_move(
                    query, receiver.ae_title, StudyRootQueryRetrieveInformationModelMove
                ):
                    pass
            finally:
                receiver.forget(prior.study_uid)
    finally:
        assoc.release()
    return result


def _find(assoc: object, peer: PriorsPeer, study: NewStudy, now: datetime) -> list[PriorFound]:
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.PatientID = study.patient_id
    if study.issuer:
        query.IssuerOfPatientID = study.issuer
    since = (now - timedelta(days=365.25 * peer.years)).astimezone(UTC)
    query.StudyDate = f"{since:%Y%m%d}-"
    query.StudyInstanceUID = ""
    query.ModalitiesInStudy = ""
    query.StudyDescription = ""
    query.BodyPartExamined = ""
    found = []
    for status, answer in assoc.send_c_find(  # type: ignore[attr-defined]
        query, StudyRootQueryRetrieveInformationModelFind
    ):
        if status and status.Status in {0xFF00, 0xFF01} and answer is not None:
            uid = str(answer.get("StudyInstanceUID", ""))
            if not _valid_uid(uid):
                continue
            modalities = answer.get("ModalitiesInStudy", "")
            if not isinstance(modalities, str):
                modalities = "\\".join(str(m) for m in modalities)
            found.append(
                PriorFound(
                    uid,
                    str(answer.get("StudyDate", "")),
                    modalities,
                    str(answer.get("StudyDescription", "")),
                    str(answer.get("BodyPartExamined", "")),
                )
            )
    return found


def _relevant(prior: PriorFound, peer: PriorsPeer, study: NewStudy) -> bool:
    """Another study, of a relevant modality, of the same body part when both say one."""
    if prior.study_uid == study.study_uid:
        return False
    wanted = set(peer.modalities) or set(study.modalities)
    have = {m for m in prior.modalities.split("\\") if m}
    if wanted and have and not wanted & have:
        return False
    return not (
        peer.same_body_part
        and prior.body_part
        and study.body_part
        and prior.body_part.upper() != study.body_part.upper()
    )
