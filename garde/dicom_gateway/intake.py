"""The intake service: check, durably write and index one received instance.

This is what the C-STORE handler calls; it knows nothing of pynetdicom events, so it
is tested directly against a fake index. It only writes and indexes: triage, previews
and dispatch run elsewhere (``on_received`` wakes them), so the association thread
answers as soon as the instance is safe.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydicom.uid import DeflatedExplicitVRLittleEndian

from garde.dicom_gateway import status
from garde.dicom_gateway.errors import (
    DatasetMismatchError,
    InvalidUIDError,
    TransferSyntaxMismatchError,
    UnknownSenderError,
)
from garde.dicom_gateway.header import (
    check_encoding,
    file_meta,
    patient_key,
    read_dataset_header,
    read_header,
)
from garde.dicom_gateway.uids import checked_uid, is_valid_uid
from garde.dicom_gateway.writer import FileSlice
from garde.dispatch.model import InstanceReceived

if TYPE_CHECKING:
    from collections.abc import Callable

    from garde.dicom_gateway.header import InstanceHeader
    from garde.dicom_gateway.policy import AssociationPolicy
    from garde.dicom_gateway.writer import DurableWriter, StoredFile
    from garde.dispatch.model import Site
    from garde.dispatch.ports import Clock, InstanceIndex

logger = logging.getLogger(__name__)

# A "Refused: not authorized" general status (PS3.7 C.4): the site left the config
# while one of its associations was open.
NOT_AUTHORIZED = 0x0124
_HEAD_BYTES = 1024  # enough to see the first element, even deflated (Huffman tables first)


@dataclass(frozen=True, slots=True)
class StoreRequest:
    """One C-STORE as received: the request's UIDs (unchecked), the negotiated transfer
    syntax, the calling AE title and the encoded dataset (without file meta)."""

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: str
    calling_ae: str
    dataset: bytes | FileSlice


class _DecodeError(Exception):
    """The header did not parse (any pydicom error, wrapped to map it to one status)."""

    def __str__(self) -> str:
        return f"header does not decode: {self.__cause__ or self.args[0]}"


_REFUSED = (
    InvalidUIDError,
    DatasetMismatchError,
    TransferSyntaxMismatchError,
    _DecodeError,
    UnknownSenderError,
)


def _refusal_status(exc: Exception) -> int:
    """The failure status of a refused instance (the sender should not retry it as is)."""
    if isinstance(exc, InvalidUIDError):
        return status.INVALID_UID
    if isinstance(exc, DatasetMismatchError):
        return status.DATASET_MISMATCH
    if isinstance(exc, UnknownSenderError):
        return NOT_AUTHORIZED
    return status.DECODE_FAILURE


def _printable(uid: str) -> str:
    """A request UID for a log line: it may be hostile, so bounded and repr'd if odd."""
    return uid if is_valid_uid(uid) else repr(uid[:80])


class IntakeService:
    """Checks, writes and indexes received instances; returns the DICOM status.

    Parameters
    ----------
    writer
        The durable writer over the storage directory.
    index
        The store's instance index (the `InstanceIndex` port).
    policy
        Resolves the calling AE title to its site.
    patient_key_secret
        Key of the HMAC that replaces the PatientID by ``patient_key``.
    clock
        Where ``received_at`` comes from (default: the system clock, UTC).
    on_received
        Called with each newly indexed instance, after indexing; must return quickly.
        Its exceptions are logged, never turned into a failure status.
    """

    def __init__(
        self,
        writer: DurableWriter,
        index: InstanceIndex,
        policy: AssociationPolicy,
        *,
        patient_key_secret: bytes,
        clock: Clock | None = None,
        on_received: Callable[[InstanceReceived], None] | None = None,
    ) -> None:
        self.writer = writer
        self.index = index
        self.policy = policy
        self._secret = patient_key_secret
        self._clock = clock
        self._on_received = on_received

    def store(self, request: StoreRequest) -> int:
        """Handle one C-STORE; the status to answer (0x0000 only once it is safe)."""
        try:
            return self._store(request)
        except _REFUSED as exc:
            logger.warning(
                "refused instance %s from %s: %s",
                _printable(request.sop_instance_uid),
                request.calling_ae,
                exc,
            )
            return _refusal_status(exc)
        except OSError:
            logger.exception("could not store an instance from %s", request.calling_ae)
            return status.OUT_OF_RESOURCES
        except Exception:
            logger.exception("unexpected error storing an instance from %s", request.calling_ae)
            return status.HANDLER_ERROR

    def _store(self, request: StoreRequest) -> int:
        site = self.policy.site_for(request.calling_ae)
        if site is None:
            raise UnknownSenderError(f"calling AE {request.calling_ae!r} has no site any more")
        sop_class = checked_uid("AffectedSOPClassUID", request.sop_class_uid)
        sop_instance = checked_uid("AffectedSOPInstanceUID", request.sop_instance_uid)
        transfer_syntax = checked_uid("TransferSyntaxUID", request.transfer_syntax)
        meta = file_meta(sop_class, sop_instance, transfer_syntax, request.calling_ae)
        header = _parse(meta, request.dataset, transfer_syntax)
        if header.sop_class_uid != sop_class:
            raise DatasetMismatchError(
                f"dataset SOP Class {header.sop_class_uid} differs from the request's {sop_class}"
            )
        if header.sop_instance_uid != sop_instance:
            raise DatasetMismatchError(
                f"dataset SOP Instance {header.sop_instance_uid} differs from the "
                f"request's {sop_instance}"
            )
        relative = self.writer.relative_path(header.study_uid, header.series_uid, sop_instance)
        stored = self.writer.write(relative, (meta, request.dataset))
        event = self._event(header, site, request, stored)
        try:
            new = self.index.record(event)
        except Exception:
            # A database error: the sender must retry, so nothing of it may remain.
            logger.exception("could not index instance %s; file removed", sop_instance)
            self.writer.discard(stored)
            return status.OUT_OF_RESOURCES
        if new:
            logger.debug("stored instance %s of study %s", sop_instance, header.study_uid)
            self._notify(event)
            return status.SUCCESS
        indexed = self._indexed_path(sop_instance)
        if indexed is not None and indexed != stored.relative:
            # The same SOP Instance UID under another study or series: the first copy
            # stays the indexed one (as Orthanc does by default); this one goes.
            logger.warning(
                "instance %s received again under study %s, series %s; kept the first copy",
                sop_instance,
                header.study_uid,
                header.series_uid,
            )
            self.writer.discard(stored)
        else:
            logger.info("instance %s received again; already indexed", sop_instance)
        return status.SUCCESS

    def _indexed_path(self, sop_instance: str) -> str | None:
        try:
            return self.index.path_of(sop_instance)
        except Exception:  # the instance is safe either way: a stray file is an orphan
            logger.exception("could not look up instance %s", sop_instance)
            return None

    def _event(
        self, header: InstanceHeader, site: Site, request: StoreRequest, stored: StoredFile
    ) -> InstanceReceived:
        now = self._clock.now() if self._clock is not None else datetime.now(UTC)
        return InstanceReceived(
            sop_instance_uid=header.sop_instance_uid,
            sop_class_uid=header.sop_class_uid,
            series_uid=header.series_uid,
            study_uid=header.study_uid,
            transfer_syntax=request.transfer_syntax,
            site_id=site.id,
            calling_ae=request.calling_ae,
            path=stored.relative,
            size_bytes=stored.size_bytes,
            received_at=now,
            modality=header.modality,
            series_number=header.series_number,
            instance_number=header.instance_number,
            series_description=header.series_description,
            study_description=header.study_description,
            body_part=header.body_part,
            requested_procedure=header.requested_procedure,
            requested_priority=header.requested_priority,
            accession_number=header.accession_number,
            patient_key=patient_key(self._secret, site.id, header.patient_id),
        )

    def _notify(self, event: InstanceReceived) -> None:
        if self._on_received is None:
            return
        try:
            self._on_received(event)
        except Exception:
            logger.exception("on_received failed for instance %s", event.sop_instance_uid)


def _parse(meta: bytes, dataset: bytes | FileSlice, transfer_syntax: str) -> InstanceHeader:
    """Check the encoding and read the header; any pydicom failure becomes `_DecodeError`.

    The dataset is read in place (no copy with its file meta in front), except a
    deflated one: pydicom inflates it when reading it as a file.
    """
    deflated = transfer_syntax == DeflatedExplicitVRLittleEndian
    try:
        if isinstance(dataset, FileSlice):
            with dataset.path.open("rb") as fp:
                fp.seek(dataset.offset)
                check_encoding(fp.read(_HEAD_BYTES), transfer_syntax)
                if deflated:
                    fp.seek(0)  # the spooled file starts with its file meta
                    return read_header(fp)
                fp.seek(dataset.offset)
                return read_dataset_header(fp, transfer_syntax)
        check_encoding(dataset[:_HEAD_BYTES], transfer_syntax)
        if deflated:
            return read_header(meta + dataset)
        return read_dataset_header(dataset, transfer_syntax)
    except (InvalidUIDError, TransferSyntaxMismatchError):
        raise
    except Exception as exc:
        raise _DecodeError(str(exc)) from exc
