"""The intake service: check, durably write and index one received instance.

This is what the C-STORE handler calls; it knows nothing of pynetdicom events, so it
is tested directly against a fake index. It only writes and indexes: triage, previews
and dispatch run elsewhere (``on_received`` wakes them), so the association thread
answers as soon as the instance is safe.
"""

from __future__ import annotations

import logging
import mmap
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydicom.filereader import read_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian

from garde.config.model import OverwritePolicy
from garde.dicom_gateway import status
from garde.dicom_gateway.completeness import check_complete, check_pixels, walk_dataset
from garde.dicom_gateway.errors import (
    DatasetMismatchError,
    IncompleteDatasetError,
    InvalidUIDError,
    TransferSyntaxMismatchError,
    UnknownSenderError,
)
from garde.dicom_gateway.header import (
    HEADER_TAGS,
    check_encoding,
    file_meta,
    header_from_elements,
    read_dataset_header,
    read_header,
)
from garde.dicom_gateway.indexer import BatchIndexer
from garde.dicom_gateway.uids import checked_uid, is_valid_uid
from garde.dicom_gateway.writer import FileSlice, dataset_offset
from garde.dispatch.model import InstanceConflict, InstanceReceived
from garde.log_hygiene import withhold_values

if TYPE_CHECKING:
    from collections.abc import Callable

    from garde.dicom_gateway.header import InstanceHeader
    from garde.dicom_gateway.policy import AssociationPolicy
    from garde.dicom_gateway.writer import DurableWriter, StagedFile
    from garde.dispatch.model import Site
    from garde.dispatch.ports import Clock, InstanceIndex

logger = logging.getLogger(__name__)

# A "Refused: not authorized" general status (PS3.7 C.4): the site left the config
# while one of its associations was open.
NOT_AUTHORIZED = 0x0124
_HEAD_BYTES = 1024  # enough to see the first element, even deflated (Huffman tables first)


_INS_WARNED_LIMIT = 4096  # studies remembered per process, then forgotten wholesale


@dataclass(frozen=True, slots=True)
class StoreRequest:
    """One C-STORE as received: the request's UIDs (unchecked), the negotiated transfer
    syntax, the calling AE title and the encoded dataset (without file meta)."""

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: str
    calling_ae: str
    dataset: bytes | FileSlice


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to one C-STORE: its status and, for a failure, why (the response's
    Error Comment, at most 64 characters of it)."""

    status: int
    comment: str = ""


class _DecodeError(Exception):
    """The header did not parse (any pydicom error, wrapped to map it to one status)."""

    def __str__(self) -> str:
        # pydicom's errors quote the value they choke on: a PatientID, perhaps.
        return f"header does not decode: {withhold_values(str(self.__cause__ or self.args[0]))}"


_REFUSED = (
    IncompleteDatasetError,
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
    if isinstance(exc, IncompleteDatasetError):
        return status.INCOMPLETE
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
    overwrite_policy
        What a different content under a stored SOP Instance UID does (`OverwritePolicy`).
    index_after_answer
        Answer once the file is durably in place and index it afterwards, in batches
        (`BatchIndexer`; call `start` and `stop`); `recover` indexes at start-up what a
        crash left unindexed. False: each instance is indexed before its answer.
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
        overwrite_policy: OverwritePolicy | str = OverwritePolicy.REJECT,
        index_after_answer: bool = False,
    ) -> None:
        self.overwrite_policy = OverwritePolicy(overwrite_policy)
        self.writer = writer
        self.index = index
        self.policy = policy
        self._secret = patient_key_secret
        self._ins_warned: set[str] = set()  # studies whose unusable INS was logged
        self._clock = clock
        self._on_received = on_received
        self.indexer = BatchIndexer(index, self._indexed) if index_after_answer else None

    def start(self) -> None:
        """Start indexing after the answer (if configured), and making files ahead."""
        self.writer.make_ahead()
        if self.indexer is not None:
            self.indexer.start()

    def stop(self, timeout: float | None = None) -> None:
        """Index what was answered (up to ``timeout``) and stop."""
        if self.indexer is not None:
            self.indexer.stop(timeout)
        self.writer.stop_ahead()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every answered instance is indexed; False on timeout."""
        return self.indexer is None or self.indexer.flush(timeout)

    def store(self, request: StoreRequest) -> int:
        """Handle one C-STORE; the status to answer (0x0000 only once it is safe)."""
        return self.receive(request).status

    def receive(self, request: StoreRequest) -> Outcome:
        """Handle one C-STORE; the status to answer and, for a failure, why."""
        try:
            return self._store(request)
        except _REFUSED as exc:
            logger.warning(
                "refused instance %s from %s: %s",
                _printable(request.sop_instance_uid),
                request.calling_ae,
                exc,
            )
            return Outcome(_refusal_status(exc), str(exc))
        except OSError:
            logger.exception("could not store an instance from %s", request.calling_ae)
            return Outcome(status.OUT_OF_RESOURCES, "could not store the instance")
        except Exception:
            logger.exception("unexpected error storing an instance from %s", request.calling_ae)
            return Outcome(status.HANDLER_ERROR)

    def _store(self, request: StoreRequest) -> Outcome:
        site = self.policy.site_for(request.calling_ae)
        if site is None:
            raise UnknownSenderError(f"calling AE {request.calling_ae!r} has no site any more")
        sop_class = checked_uid("AffectedSOPClassUID", request.sop_class_uid)
        sop_instance = checked_uid("AffectedSOPInstanceUID", request.sop_instance_uid)
        transfer_syntax = checked_uid("TransferSyntaxUID", request.transfer_syntax)
        meta = file_meta(sop_class, sop_instance, transfer_syntax, request.calling_ae)
        header = _read(meta, request.dataset, transfer_syntax)
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
        # Written and fsynced beside its target, but not in place: whether it becomes the
        # stored instance is decided first (the target may hold another content).
        staged = self.writer.stage(relative, (meta, request.dataset), len(meta))
        try:
            return self._settle(staged, header, site, request)
        finally:
            self.writer.release(staged)

    def _settle(
        self, staged: StagedFile, header: InstanceHeader, site: Site, request: StoreRequest
    ) -> Outcome:
        """Decide what a staged instance becomes: new, a re-send, a replacement, a conflict."""
        if self.indexer is not None:
            return self._settle_then_index(staged, header, site, request)
        stored = self.writer.place(staged)
        if stored is None:  # a file is there under this study and series already
            return self._resend(staged, header, site, request, staged.relative)
        event = self._event(header, site, request, stored.relative, stored.size_bytes)
        try:
            new = self.index.record(event)
        except Exception:
            # A database error: the sender must retry, so nothing of it may remain.
            logger.exception("could not index instance %s; file removed", header.sop_instance_uid)
            self.writer.remove(stored)
            return Outcome(status.OUT_OF_RESOURCES, "could not index the instance")
        if new:
            logger.debug(
                "stored instance %s of study %s", header.sop_instance_uid, header.study_uid
            )
            self._notify(event)
            return Outcome(status.SUCCESS)
        # Indexed already under another study or series: take back what was just placed
        # (no empty folder stays), then compare with the indexed copy.
        self.writer.remove(stored)
        indexed = self.index.path_of(header.sop_instance_uid)
        if indexed is None:  # removed between the two statements (retention): send again
            return Outcome(status.OUT_OF_RESOURCES, "instance being removed; send it again")
        return self._resend(staged, header, site, request, indexed)

    def _settle_then_index(
        self, staged: StagedFile, header: InstanceHeader, site: Site, request: StoreRequest
    ) -> Outcome:
        """`_settle` when indexing follows the answer: the UID is looked up first (in the
        index, and among the answered instances not yet indexed), then the file placed."""
        assert self.indexer is not None
        sop = header.sop_instance_uid
        try:
            known = self.indexer.pending_path(sop) or self.index.path_of(sop)
        except Exception:
            logger.exception("could not look up instance %s", sop)
            return Outcome(status.OUT_OF_RESOURCES, "could not check the index")
        if known is not None and known != staged.relative:
            return self._resend(staged, header, site, request, known)
        stored = self.writer.place(staged)
        if stored is None:
            return self._resend(staged, header, site, request, staged.relative)
        self.indexer.submit(self._event(header, site, request, stored.relative, stored.size_bytes))
        return Outcome(status.SUCCESS)

    def _indexed(self, event: InstanceReceived, new: bool) -> None:
        """After a batch: wake dispatch for a new instance. One found indexed already
        under another path came from another process in the same fraction of a second:
        its file is set aside as a conflict (its sender was answered success)."""
        if new:
            self._notify(event)
            return
        indexed = self.index.path_of(event.sop_instance_uid)
        if indexed in {None, event.path}:
            return
        logger.error(
            "instance %s was answered under study %s while another process indexed it "
            "under %s; this copy is set aside as a conflict",
            event.sop_instance_uid,
            event.study_uid,
            indexed,
        )
        path, digest = self.writer.quarantine_stored(event.path, event.sop_instance_uid)
        self.index.record_conflict(
            InstanceConflict(
                sop_instance_uid=event.sop_instance_uid,
                study_uid=event.study_uid,
                series_uid=event.series_uid,
                kept_path=str(indexed),
                conflict_path=path.name,
                digest=digest,
                size_bytes=event.size_bytes,
                calling_ae=event.calling_ae,
                received_at=event.received_at,
            )
        )

    def recover(self) -> int:
        """Index every stored file the index lacks (what a kill -9 or a power cut left
        between an answer and its batch); returns how many. Run it at start-up.

        Temporary files a crash left (older than a write could last) are removed too.
        """
        stale = self.writer.remove_stale_temporaries()
        if stale:
            logger.warning("removed %d temporary files left by a crash", stale)
        stored = list(self.writer.stored_paths())
        if not stored:
            return 0  # a new storage: nothing to compare (nor a database to ask)
        indexed = self.index.indexed_paths()
        found = 0
        for relative in stored:
            if relative in indexed:
                continue
            try:
                event = self._recovered_event(relative)
            except Exception:  # a boundary: one bad file must not stop the start
                logger.exception("could not read stored file %s; left unindexed", relative)
                continue
            if event is None:
                continue
            if self.index.record(event):
                found += 1
                self._notify(event)
        if found:
            logger.warning("indexed %d stored instances the index lacked", found)
        return found

    def _recovered_event(self, relative: str) -> InstanceReceived | None:
        path = self.writer.root / relative
        with path.open("rb") as fp:
            offset = dataset_offset(fp)
        meta = read_file_meta_info(path)
        syntax = str(meta.TransferSyntaxUID)
        calling_ae = str(meta.get("SourceApplicationEntityTitle", "")).strip()
        site = self.policy.site_for(calling_ae)
        if site is None:
            logger.error("stored file %s came from AE %r, of no site now", relative, calling_ae)
            return None
        header = _read(b"", FileSlice(path, offset), syntax)
        received = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        request = StoreRequest(
            header.sop_class_uid, header.sop_instance_uid, syntax, calling_ae, b""
        )
        event = self._event(header, site, request, relative, path.stat().st_size)
        return replace(event, received_at=received)

    def _resend(
        self,
        staged: StagedFile,
        header: InstanceHeader,
        site: Site,
        request: StoreRequest,
        stored_relative: str,
    ) -> Outcome:
        """A SOP Instance UID stored already (at ``stored_relative``)."""
        sop = header.sop_instance_uid
        elsewhere = stored_relative != staged.relative
        if not elsewhere and self.writer.same_dataset(staged, stored_relative):
            # Idempotent: nothing is rewritten. The index is only asked in case a crash
            # came between an earlier copy's rename and its indexing.
            event = self._event(header, site, request, stored_relative, staged.size_bytes)
            try:
                new = self.index.record(event)
            except Exception:
                logger.exception("could not check the index for instance %s", sop)
                return Outcome(status.OUT_OF_RESOURCES, "could not index the instance")
            if new:
                logger.warning("instance %s was on disk but not indexed; indexed now", sop)
                self._notify(event)
            else:
                logger.info("instance %s received again, identical; nothing rewritten", sop)
            return Outcome(status.SUCCESS)
        if not elsewhere and self.overwrite_policy is OverwritePolicy.OVERWRITE:
            replaced = self.writer.replace(staged)
            event = self._event(header, site, request, replaced.relative, replaced.size_bytes)
            self.index.replace(event)
            logger.warning("instance %s received with another content; replaced (policy)", sop)
            return Outcome(status.SUCCESS)
        # The first copy stays the instance; this one is kept aside for an operator. A
        # copy under another study or series is never moved automatically, whatever the
        # policy: re-filing an image under another study is a clinical decision.
        path, digest = self.writer.quarantine(staged, sop)
        conflict = InstanceConflict(
            sop_instance_uid=sop,
            study_uid=header.study_uid,
            series_uid=header.series_uid,
            kept_path=stored_relative,
            conflict_path=path.name,
            digest=digest,
            size_bytes=staged.size_bytes,
            calling_ae=request.calling_ae,
            received_at=self._now(),
        )
        try:
            self.index.record_conflict(conflict)
        except Exception:  # the copy is kept on disk either way; the sender is told
            logger.exception("could not audit the conflicting copy of %s", sop)
        where = "under another study or series" if elsewhere else "with another content"
        logger.warning(
            "instance %s received again %s (study %s); first copy kept, this one in %s",
            sop,
            where,
            header.study_uid,
            path.name,
        )
        return Outcome(
            status.DUPLICATE_INSTANCE,
            f"SOP Instance UID already stored {where}; kept aside, not stored",
        )

    def _now(self) -> datetime:
        return self._clock.now() if self._clock is not None else datetime.now(UTC)

    def _event(
        self, header: InstanceHeader, site: Site, request: StoreRequest, path: str, size: int
    ) -> InstanceReceived:
        now = self._now()
        return InstanceReceived(
            sop_instance_uid=header.sop_instance_uid,
            sop_class_uid=header.sop_class_uid,
            series_uid=header.series_uid,
            study_uid=header.study_uid,
            transfer_syntax=request.transfer_syntax,
            site_id=site.id,
            calling_ae=request.calling_ae,
            path=path,
            size_bytes=size,
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
            patient_key=self._patient_key(header, site),
            declared_images=header.declared_images,
        )

    def _patient_key(self, header: InstanceHeader, site: Site) -> str:
        """The key linking the patient's studies (across hospitals with a valid INS).

        An INS that cannot be used (bad checksum, unknown issuer) is logged once per
        study, without its value; the patient is then known at this hospital only.
        """
        identity = header.identity
        if identity.ins_problem is not None and header.study_uid not in self._ins_warned:
            if len(self._ins_warned) >= _INS_WARNED_LIMIT:
                self._ins_warned.clear()
            self._ins_warned.add(header.study_uid)
            logger.warning(
                "study %s from %s: INS not used to link the patient (%s); known at this "
                "hospital only",
                header.study_uid,
                site.id,
                identity.ins_problem.value,
            )
        return identity.key(self._secret, site.id)

    def _notify(self, event: InstanceReceived) -> None:
        if self._on_received is None:
            return
        try:
            self._on_received(event)
        except Exception:
            logger.exception("on_received failed for instance %s", event.sop_instance_uid)


def _read(meta: bytes, dataset: bytes | FileSlice, transfer_syntax: str) -> InstanceHeader:
    """Check the encoding, walk the data set to its end (complete, or refused) and read
    its header from the elements the walk kept: one pass, pixels never decoded.

    A spooled data set is walked over a memory map (only element headers are touched:
    a large file costs a few pages). A deflated one is read by pydicom, which inflates it.
    """
    if transfer_syntax == DeflatedExplicitVRLittleEndian:
        header = _parse(meta, dataset, transfer_syntax)
        _check_complete(dataset, transfer_syntax, header)
        return header
    if not isinstance(dataset, FileSlice):
        return _walk_and_read(dataset, 0, transfer_syntax)
    with dataset.path.open("rb") as fp:
        if os.fstat(fp.fileno()).st_size <= dataset.offset:
            raise IncompleteDatasetError("the data set is empty")
        with mmap.mmap(fp.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return _walk_and_read(mapped, dataset.offset, transfer_syntax)


def _walk_and_read(data: bytes | mmap.mmap, start: int, transfer_syntax: str) -> InstanceHeader:
    check_encoding(data[start : start + _HEAD_BYTES], transfer_syntax)
    walk = walk_dataset(data, transfer_syntax, start=start, wanted=HEADER_TAGS)
    try:
        header = header_from_elements(walk.elements, transfer_syntax)
    except (InvalidUIDError, TransferSyntaxMismatchError):
        raise
    except Exception as exc:
        raise _DecodeError(str(exc)) from exc
    check_pixels(walk.pixel, header.geometry)
    return header


def _check_complete(
    dataset: bytes | FileSlice, transfer_syntax: str, header: InstanceHeader
) -> None:
    """`check_complete` over the received bytes, or over a memory map of the spooled file
    (only element headers are touched, so a large file costs a few pages)."""
    if not isinstance(dataset, FileSlice):
        check_complete(dataset, transfer_syntax, header.geometry)
        return
    with dataset.path.open("rb") as fp:
        if os.fstat(fp.fileno()).st_size <= dataset.offset:
            raise IncompleteDatasetError("the data set is empty")
        with mmap.mmap(fp.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            check_complete(mapped, transfer_syntax, header.geometry, start=dataset.offset)


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
