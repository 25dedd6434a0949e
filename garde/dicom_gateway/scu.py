"""`garde push` and `garde echo`: a C-STORE / C-ECHO user, so a hospital can test its link.

`push` sends files and folders (recursively) as they are stored, without decoding or
converting them (but a big-endian file, which a peer that does not accept it gets
converted, as storescu does), reports a status per file, and can resume: with a
``resume_file`` it records every acknowledged file and skips them when run again.

A gateway that cannot be reached (connection refused, no answer within
`CONNECT_TIMEOUT_S`, association rejected) stops the push at once: the report says why
once, and counts the files not sent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydicom import dcmread
from pydicom.errors import InvalidDicomError
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian
from pynetdicom import AE, _config, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.transport import AssociationSocket

from garde.dicom_gateway.endian import to_little_endian
from garde.dicom_gateway.resume import ResumeLog
from garde.log_hygiene import escape_controls

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from pathlib import Path

    from pydicom.dataset import Dataset
    from pynetdicom.association import Association

logger = logging.getLogger(__name__)

MAX_CONTEXTS = 128  # presentation contexts one association may propose (PS3.8 9.3.2.2)
NO_ASSOCIATION = -1  # `echo` status when no association could be established
NOT_DICOM = -2  # `progress` status of a file that is not DICOM
CONNECT_TIMEOUT_S = 5.0  # a gateway that does not answer a TCP connection by then is down
# Warning statuses (PS3.4 B.2.3): the instance was stored.
_STORED_WITH_WARNING = frozenset({0x0001, 0xB000, 0xB006, 0xB007})


class Outcome(StrEnum):
    """What happened to one file."""

    STORED = "stored"
    FAILED = "failed"
    SKIPPED = "skipped"  # acknowledged on an earlier run (resume)
    NOT_DICOM = "not_dicom"


@dataclass(frozen=True, slots=True)
class FileResult:
    """One file's fate: outcome, DICOM status (if one was answered), why it failed."""

    path: Path
    outcome: Outcome
    status: int | None = None
    detail: str = ""


@dataclass
class PushReport:
    """Per-file results of a `push`, with counts."""

    results: list[FileResult] = field(default_factory=list)
    unreachable: str = ""  # why no association could be made, if so (then the push stopped)

    def count(self, outcome: Outcome) -> int:
        """How many files had ``outcome``."""
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def stored(self) -> int:
        """Files acknowledged by the gateway in this run."""
        return self.count(Outcome.STORED)

    @property
    def failed(self) -> int:
        """Files the gateway refused or that could not be sent."""
        return self.count(Outcome.FAILED)

    @property
    def skipped(self) -> int:
        """Files skipped because an earlier run had them acknowledged."""
        return self.count(Outcome.SKIPPED)

    @property
    def not_dicom(self) -> int:
        """Files that are not DICOM (reported, not sent)."""
        return self.count(Outcome.NOT_DICOM)

    @property
    def ok(self) -> bool:
        """True if nothing failed (non-DICOM files found in a folder are not failures)."""
        return self.failed == 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary and per-file statuses."""
        return {
            "stored": self.stored,
            "failed": self.failed,
            "skipped": self.skipped,
            "not_dicom": self.not_dicom,
            "unreachable": self.unreachable or None,
            "files": [
                {
                    "path": str(r.path),
                    "outcome": r.outcome.value,
                    "status": None if r.status is None else f"0x{r.status:04X}",
                    "detail": r.detail,
                }
                for r in self.results
            ],
        }

    def summary(self) -> str:
        """A few human lines: counts, then each failure."""
        counts = (
            f"{self.stored} stored, {self.failed} failed, {self.skipped} skipped "
            f"(already acknowledged), {self.not_dicom} not DICOM"
        )
        lines = [counts]
        for r in self.results:
            if r.outcome is Outcome.FAILED and r.detail != _not_sent(self.unreachable):
                code = "" if r.status is None else f" (0x{r.status:04X})"
                lines.append(f"FAILED {r.path}{code}: {r.detail}")
        if self.unreachable:
            unsent = sum(r.detail == _not_sent(self.unreachable) for r in self.results)
            files = "file" if unsent == 1 else "files"
            lines.append(f"{self.unreachable}; {unsent} {files} not sent")
        return "\n".join(lines)


def _not_sent(why: str) -> str:
    return f"not sent: {why}" if why else "\0"  # "\0": no file's detail


@dataclass(frozen=True, slots=True)
class EchoResult:
    """A C-ECHO's status, and why no association was made if none was."""

    status: int
    detail: str = ""


@dataclass(frozen=True, slots=True)
class _Item:
    path: Path
    sop_class_uid: str
    transfer_syntax: str


def collect_files(paths: Iterable[Path]) -> list[Path]:
    """Files given and files under folders given (recursively, sorted, hidden skipped)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                files.extend(
                    path.__class__(root, n) for n in sorted(names) if not n.startswith(".")
                )
        elif path.is_file():
            files.append(path)
    return files


def push(
    paths: Sequence[Path],
    *,
    host: str,
    port: int,
    calling_ae: str,
    called_ae: str,
    tls: ssl.SSLContext | None = None,
    resume_file: Path | None = None,
    resume: bool = True,
    progress: Callable[[Path, int], None] | None = None,
) -> PushReport:
    """Send DICOM files (folders recursively) to a C-STORE SCP, each as it is encoded.

    Parameters
    ----------
    paths
        Files and folders.
    host, port, calling_ae, called_ae
        The gateway and our AE title (it must be a configured site's).
    tls
        A client TLS context (`garde.dicom_gateway.tls.client_context`), or None.
    resume_file
        Where acknowledged files are recorded, each as soon as its success arrives (so
        a push killed half-way can be resumed). Created if missing.
    resume
        Skip the files ``resume_file`` records (same path, size and modification
        time); if False, the record starts afresh and every file is sent.
    progress
        Called once per file with its path and status (0 for a skipped file,
        `NOT_DICOM` for a file that is not DICOM, `NO_ASSOCIATION` if none could be made).

    Returns
    -------
    PushReport
        Per-file outcomes; ``ok`` is False if any file failed.
    """
    report = PushReport()
    log = ResumeLog(resume_file, fresh=not resume) if resume_file is not None else None
    pending: list[_Item] = []
    for path in collect_files(paths):
        if log is not None and resume and log.acknowledged(path):
            _record(report, progress, FileResult(path, Outcome.SKIPPED, 0x0000))
            continue
        item = _inspect(path)
        if item is None:
            _record(report, progress, FileResult(path, Outcome.NOT_DICOM, None, "not DICOM"))
        else:
            pending.append(item)
    _config.STORE_SEND_CHUNKED_DATASET = True  # send the bytes as stored, never decoded
    run = _Push(host, port, calling_ae, called_ae, tls, report, log, progress)
    try:
        batches = list(_batches(pending))
        for n, batch in enumerate(batches):
            if not run.send_batch(batch):  # the gateway cannot be reached: say so once
                recorded = {r.path for r in report.results}
                run.fail_all([i for b in batches[n:] for i in b if i.path not in recorded])
                break
    finally:
        if log is not None:
            log.close()
    return report


def echo(
    host: str,
    port: int,
    calling_ae: str,
    called_ae: str,
    tls: ssl.SSLContext | None = None,
) -> int:
    """C-ECHO the gateway; its status (0 is success), `NO_ASSOCIATION` if refused."""
    return check_link(host, port, calling_ae, called_ae, tls).status


def check_link(
    host: str,
    port: int,
    calling_ae: str,
    called_ae: str,
    tls: ssl.SSLContext | None = None,
) -> EchoResult:
    """C-ECHO with the reason when no association could be made (rejection, refusal)."""
    ae = _ae(calling_ae)
    ae.add_requested_context(Verification)
    assoc = _associate(ae, host, port, called_ae, tls)
    if not assoc.is_established:
        return EchoResult(NO_ASSOCIATION, _why_not(assoc, host, port, called_ae))
    try:
        rsp = assoc.send_c_echo()
        code = int(rsp.Status) if "Status" in rsp else NO_ASSOCIATION
        return EchoResult(code, "" if code != NO_ASSOCIATION else "no response")
    finally:
        assoc.release()


def _inspect(path: Path) -> _Item | None:
    """SOP class and transfer syntax of a DICOM file, None if it is not one."""
    try:
        ds = dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
        sop_class = str(ds.file_meta.MediaStorageSOPClassUID)
        transfer_syntax = str(ds.file_meta.TransferSyntaxUID)
        _ = str(ds.file_meta.MediaStorageSOPInstanceUID)
    except (InvalidDicomError, AttributeError, OSError, ValueError, EOFError):
        return None
    return _Item(path, sop_class, transfer_syntax)


def _batches(items: list[_Item]) -> Iterator[list[_Item]]:
    """Runs of items whose (SOP class, transfer syntax) pairs fit in one association."""
    batch: list[_Item] = []
    pairs: set[tuple[str, str]] = set()
    for item in items:
        pair = (item.sop_class_uid, item.transfer_syntax)
        if pair not in pairs and len(pairs) == MAX_CONTEXTS:
            yield batch
            batch, pairs = [], set()
        pairs.add(pair)
        batch.append(item)
    if batch:
        yield batch


@dataclass
class _Push:
    """One `push` run: where to, and where results go."""

    host: str
    port: int
    calling_ae: str
    called_ae: str
    tls: ssl.SSLContext | None
    report: PushReport
    resume: ResumeLog | None
    progress: Callable[[Path, int], None] | None

    def send_batch(self, batch: list[_Item]) -> bool:
        """Send a batch on one association; reconnect once if it drops mid-way.

        False if no association could be made (the gateway is unreachable or refuses
        us: `PushReport.unreachable` says why); the batch's files are then not recorded.
        """
        ae = _ae(self.calling_ae)
        for sop_class, syntax in dict.fromkeys((i.sop_class_uid, i.transfer_syntax) for i in batch):
            # A big-endian file is converted if the peer accepts only little endian.
            alternatives = [ExplicitVRLittleEndian] if syntax == ExplicitVRBigEndian else []
            ae.add_requested_context(sop_class, [syntax, *alternatives])
        queue = list(batch)
        for _attempt in range(2):
            assoc = _associate(ae, self.host, self.port, self.called_ae, self.tls)
            if not assoc.is_established:
                self.report.unreachable = _why_not(assoc, self.host, self.port, self.called_ae)
                return False
            lost = True
            try:
                lost = self.send_on(assoc, queue)
            finally:
                if lost:  # a dead link: releasing would wait for an answer that never comes
                    assoc.abort()
                elif assoc.is_established:
                    assoc.release()
            if not queue:
                return True
        self.fail_all(queue, "association lost twice")
        return True

    def send_on(self, assoc: Association, queue: list[_Item]) -> bool:
        """Send from the head of ``queue`` until it is empty (False) or the association
        is lost (True: the head is retried on a new one)."""
        while queue:
            result = _send_one(assoc, queue[0])
            if result is None:
                return True
            item = queue.pop(0)
            _record(self.report, self.progress, result)
            if result.outcome is Outcome.STORED and self.resume is not None:
                self.resume.add(item.path)
        return False

    def fail_all(self, items: list[_Item], why: str = "") -> None:
        """Record every item as failed for ``why`` (default: not sent, unreachable)."""
        detail = why or _not_sent(self.report.unreachable)
        for item in items:
            _record(self.report, self.progress, FileResult(item.path, Outcome.FAILED, None, detail))


def _send_one(assoc: Association, item: _Item) -> FileResult | None:
    """Send one file; None if the association was lost before an answer."""
    converted = ""
    try:
        payload: Path | Dataset = item.path
        if item.transfer_syntax == ExplicitVRBigEndian and not _accepts(
            assoc, item.sop_class_uid, ExplicitVRBigEndian
        ):
            payload = to_little_endian(item.path)
            converted = "converted from big endian"
        rsp = assoc.send_c_store(payload)
    except (ValueError, AttributeError, OSError, InvalidDicomError, EOFError) as exc:
        # no accepted context for it, or an unreadable file: this file only
        return FileResult(item.path, Outcome.FAILED, None, f"{item.path.name}: {exc}")
    if "Status" not in rsp:
        # The link died (pynetdicom aborts after its DIMSE timeout too); whether the
        # abort is visible on ``assoc`` yet is a race, so never send on it again.
        return None
    code = int(rsp.Status)
    if code == 0 or code in _STORED_WITH_WARNING:
        return FileResult(item.path, Outcome.STORED, code, converted)
    return FileResult(item.path, Outcome.FAILED, code, _failure_text(code, rsp))


def _accepts(assoc: Association, sop_class: str, syntax: str) -> bool:
    return any(
        cx.abstract_syntax == sop_class and cx.transfer_syntax[0] == syntax
        for cx in assoc.accepted_contexts
    )


def _record(
    report: PushReport, progress: Callable[[Path, int], None] | None, result: FileResult
) -> None:
    report.results.append(result)
    if progress is not None:
        code = result.status
        if code is None:
            code = NOT_DICOM if result.outcome is Outcome.NOT_DICOM else NO_ASSOCIATION
        progress(result.path, code)


def _shutdown_and_close(self: AssociationSocket) -> None:
    """pynetdicom's ``_shutdown_socket`` skips ``close`` when ``shutdown`` raises, as it
    does on a socket whose connection was refused: the socket leaks (ResourceWarning)."""
    sock = self.socket
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def _ae(calling_ae: str) -> AE:
    AssociationSocket._shutdown_socket = _shutdown_and_close  # type: ignore[method-assign]  # noqa: SLF001
    ae = AE(ae_title=calling_ae)
    ae.maximum_pdu_size = 0
    ae.connection_timeout = CONNECT_TIMEOUT_S
    ae.acse_timeout = 30
    ae.network_timeout = 60
    ae.dimse_timeout = 120  # the gateway fsyncs before answering: allow slow disks
    return ae


def _associate(
    ae: AE, host: str, port: int, called_ae: str, tls: ssl.SSLContext | None
) -> Association:
    # The host as server_hostname: Python's ssl refuses an empty one (and checks it only
    # when the context asks for host name checking).
    tls_args = (tls, host) if tls is not None else None
    return ae.associate(
        host,
        port,
        ae_title=called_ae,
        tls_args=tls_args,
        evt_handlers=[(evt.EVT_CONN_OPEN, _no_delay)],
    )


def _no_delay(event: evt.Event) -> None:
    """TCP_NODELAY on our socket as soon as it connects.

    Without it each small C-STORE request PDU waits for the gateway's delayed ACK
    (Nagle): about 40 ms per instance, five times the cost of storing it.
    """
    transport = event.assoc.dul.socket
    raw = transport.socket if transport is not None else None
    if raw is not None:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _why_not(assoc: Association, host: str, port: int, called_ae: str) -> str:
    """Why no association was made: rejected, or the reason the connection failed."""
    where = f"{called_ae}@{host}:{port}"
    if assoc.is_rejected:
        primitive = assoc.acceptor.primitive
        reason = getattr(primitive, "reason_str", "") if primitive is not None else ""
        return f"association rejected by {where}: {reason}".rstrip(": ")
    # pynetdicom reports a failed connection as an abort; ask the network what it was.
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except ConnectionRefusedError:
        return f"could not reach {where}: connection refused (is the gateway running?)"
    except TimeoutError:
        return f"could not reach {where}: no answer within {CONNECT_TIMEOUT_S:g} s"
    except OSError as exc:
        return f"could not reach {where}: {exc.strerror or exc}"
    return f"association with {where} aborted by the peer"


_STATUS_TEXT = {
    0xA700: "refused: out of resources (retry later)",
    0xA900: "dataset does not match its SOP class / instance",
    0xC000: "cannot understand (invalid UID)",
    0xC210: "cannot understand (dataset does not decode)",
    0xC211: "gateway error",
    0x0124: "refused: not authorized",
    0x0111: "another content already stored under this SOP Instance UID",
    0xC220: "incomplete: the data set did not arrive whole",
}


def _status_text(code: int) -> str:
    return _STATUS_TEXT.get(code, "failed") if code >= 0 else "failed"


def _failure_text(code: int, rsp: Dataset) -> str:
    """Why the peer refused a file: its Error Comment (0000,0902) when it sent one (Garde's
    gateway names the conflict or the element that fell short), else what the status
    means. The comment comes from the network: control characters are escaped."""
    comment = str(rsp.get("ErrorComment", "") or "").strip()
    return escape_controls(comment) if comment else _status_text(code)
