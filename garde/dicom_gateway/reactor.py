"""pynetdicom's acceptor association, its two threads woken by what they wait for.

pynetdicom 3.0 runs an association on two threads that poll. The DUL thread (the
upper layer: socket in, primitives out) checks the socket and its outgoing queue and
sleeps 1 ms whenever both are empty; the association thread sleeps 1 ms before every
look at its DIMSE message queue. Every C-STORE therefore waits about 1 ms for the
association thread to notice the complete request, and up to 1 ms more for the DUL
thread to notice the response: on a 2-core machine this polling, not the data, bounds a
pynetdicom receiver (about 300 CT slices a second discarded, against 900 for dcmtk's
storescp writing them).

`acceptor_association` builds the gateway's associations with the same two threads,
waiting instead of polling:

- the DUL thread blocks in ``poll`` on the socket and on a wake-up socket pair, written
  whenever another thread queues something for it (a response, a release, an abort);
- the association thread blocks on an `threading.Event`, set whenever the DUL thread
  queues a DIMSE message or an ACSE primitive for it, when the DUL thread ends and when
  the association is killed.

In an established association, a P-DATA-TF PDU read by the DUL thread goes straight to
the DIMSE provider as the P-DATA primitive the state machine's DT-2 would make of it
(`_EventDrivenDUL._read_pdu_data`), without decoding it into pynetdicom's PDU and item
objects, queueing its event and running the state machine: about nine PDUs per CT slice.
The association's C-STORE answers are encoded by `garde.dicom_gateway.response` when
plain (status, UIDs, message ID), without pydicom data sets (`_AnsweringDIMSE`).

Both still wake at least every ``TICK`` seconds (and the DUL thread when its ARTIM timer
is due), so the timers are checked as the polling loops checked them.

The two loops are pynetdicom's own (`DULServiceProvider.run_reactor`,
`Association._run_reactor`, read in the versions of ``SUPPORTED``) with only their waits
changed. On any other pynetdicom version the gateway keeps pynetdicom's classes (slower,
and said so once in the log) rather than run loops written for another version.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import select
import socket
import ssl
import struct
import threading
from typing import TYPE_CHECKING, Any, cast

import pynetdicom
from pynetdicom import evt
from pynetdicom.association import Association
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.dul import DULServiceProvider
from pynetdicom.pdu import A_ABORT_RQ
from pynetdicom.pdu_primitives import P_DATA

from garde.dicom_gateway.response import store_response

if TYPE_CHECKING:
    from collections.abc import Callable

    from pynetdicom.ae import ApplicationEntity
    from pynetdicom.transport import AssociationSocket

logger = logging.getLogger(__name__)

SUPPORTED = ("3.0.",)  # pynetdicom versions whose reactor loops these copy
TICK = 0.05  # longest wait without looking at the timers (seconds)
_MIN_WAIT = 0.001  # an overdue timer is looked at again after this (pynetdicom's delay)
_warned = threading.Event()
_P_DATA_TF = 0x04
_PDU_HEADER = struct.Struct(">BBL")
_DUL_LOGGER = logging.getLogger("pynetdicom.dul")  # pynetdicom's, for its own messages
# Events whose handlers expect the PDU objects the short way does not make.
_PDU_EVENTS = (evt.EVT_DATA_RECV, evt.EVT_PDU_RECV, evt.EVT_FSM_TRANSITION)


def supported(version: str = pynetdicom.__version__) -> bool:
    """True if this module's loops were read from pynetdicom ``version``."""
    return version.startswith(SUPPORTED)


def acceptor_association(ae: ApplicationEntity) -> Association:
    """A new acceptor association: event driven if pynetdicom's version is supported."""
    if supported():
        return EventDrivenAssociation(ae, "acceptor")
    if not _warned.is_set():
        _warned.set()
        logger.warning(
            "pynetdicom %s is not one this gateway's reactor was written for (%s); "
            "using pynetdicom's polling reactor (slower)",
            pynetdicom.__version__,
            ", ".join(f"{v}x" for v in SUPPORTED),
        )
    return Association(ae, "acceptor")


class _WakingQueue(queue.Queue[Any]):
    """A queue that calls ``wake`` after each put from a thread other than ``owner``'s
    (the owner never needs waking: it looks at the queue before it waits)."""

    def __init__(self, wake: Callable[[], None], owner: Callable[[], int | None]) -> None:
        super().__init__()
        self._wake = wake
        self._owner = owner

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        super().put(item, block, timeout)
        if threading.get_ident() != self._owner():
            self._wake()


class EventDrivenAssociation(Association):
    """An acceptor `Association` whose threads wait on events (see the module)."""

    def __init__(self, ae: ApplicationEntity, mode: str) -> None:
        super().__init__(ae, mode)
        self._wake = threading.Event()
        self.dul = _EventDrivenDUL(self)
        self.dimse = _AnsweringDIMSE(self)
        # The association thread takes these; the DUL thread fills them.
        self.dimse.msg_queue = _WakingQueue(self._wake.set, lambda: self.ident)
        # The timeouts live on the DUL's timers: give them to the new DUL.
        self.acse_timeout = self.acse_timeout
        self.network_timeout = self.network_timeout

    def wake(self) -> None:
        """Make the association thread look at its queues and flags now."""
        self._wake.set()

    def kill(self) -> None:
        """pynetdicom's `kill`, waking the association thread to see it."""
        self._wake.set()
        super().kill()

    def _run_reactor(self) -> None:
        """`Association._run_reactor`, waiting on ``_wake`` instead of sleeping 1 ms.

        It serves at most one DIMSE message per turn (as pynetdicom's does) and waits
        only after a turn that found nothing to do.
        """
        self._is_paused = False
        idle = False
        while not self._kill:
            if idle:
                self._wake.wait(TICK)
            self._wake.clear()  # what arrives from now on sets it again
            idle = True

            # pynetdicom's pause, for its send_*() methods and release().
            self._is_paused = True
            self._reactor_checkpoint.wait()
            self._is_paused = False

            context_id, msg = self.dimse.get_msg(block=False)
            if msg:
                self._serve_request(msg, cast("int", context_id))
                idle = False

            if self.is_established and self.acse.is_release_requested():
                self.acse.send_release(is_response=True)
                logger.info("Association Released")
                self.is_released = True
                self.is_established = False
                evt.trigger(self, evt.EVT_RELEASED, {})
                self.kill()
                return

            if self.acse.is_aborted():
                logger.info(
                    "Association Aborted%s",
                    " (A-P-ABORT)" if self.acse.is_aborted("a-p-abort") else "",
                )
                self.dul.receive_pdu(wait=False)  # EVT_ACSE_RECV fires for subscribers
                self.is_aborted = True
                self.is_established = False
                evt.trigger(self, evt.EVT_ABORTED, {})
                self.kill()
                return

            if not self.dul.is_alive():
                self.kill()
                return

            if self.dul.idle_timer_expired():
                logger.error("Network timeout reached")
                if self.network_timeout_response == "A-RELEASE":
                    self._is_paused = True
                    self._reactor_checkpoint.wait()
                    self.release()
                    self._is_paused = False
                else:
                    self.abort()
                self.kill()
                return


class _AnsweringDIMSE(DIMSEServiceProvider):
    """pynetdicom's DIMSE provider, sending a plain C-STORE answer encoded by
    `store_response` (what pynetdicom's encoder makes, without its pydicom data sets)."""

    def send_msg(self, primitive: Any, context_id: int) -> None:
        """pynetdicom's `send_msg`; a plain C-STORE response goes the short way."""
        command = store_response(primitive) if isinstance(primitive, C_STORE) else None
        limit = self.maximum_pdu_size
        if (
            command is None
            or (limit and len(command) + 7 > limit)  # one PDV: item header and control
            or self.assoc.get_handlers(evt.EVT_DIMSE_SENT)  # they expect a message
        ):
            super().send_msg(primitive, context_id)
            return
        pdata = P_DATA()
        pdata.presentation_data_value_list.append((context_id, b"\x03" + command))
        self.dul.send_pdu(pdata)


class _EventDrivenDUL(DULServiceProvider):
    """pynetdicom's DUL service provider, blocking in ``poll`` when idle (see module)."""

    def __init__(self, assoc: EventDrivenAssociation) -> None:
        super().__init__(assoc)
        # Made when the thread starts (it looks at its queues before its first wait).
        self._writer: socket.socket | None = None
        self.to_provider_queue = _WakingQueue(self._poke, lambda: self.ident)
        self.event_queue = _WakingQueue(self._poke, lambda: self.ident)
        self.to_user_queue = _WakingQueue(assoc.wake, lambda: assoc.ident)

    def _poke(self) -> None:
        """Wake the DUL thread (from another thread); harmless before or after it ran."""
        writer = self._writer
        if writer is None:
            return
        # BlockingIOError: a wake-up is pending already; OSError: closed meanwhile.
        with contextlib.suppress(OSError):
            writer.send(b"\0")

    def kill_dul(self) -> None:
        """pynetdicom's `kill_dul`, waking the thread to see it."""
        super().kill_dul()
        self._poke()

    def stop_dul(self) -> bool:
        """pynetdicom's `stop_dul`: stop the thread if idle (``Sta1``), waking it to see
        the flag and joining it (pynetdicom polls ``is_alive`` every 1 ms)."""
        if self.state_machine.current_state != "Sta1":
            return False
        self._kill_thread = True
        self._poke()
        if threading.current_thread() is not self and self.ident is not None:
            self.join()
        return True

    def run_reactor(self) -> None:
        """`DULServiceProvider.run_reactor`, waiting in `_wait` instead of sleeping."""
        reader, writer = socket.socketpair()
        reader.setblocking(False)  # noqa: FBT003 - socket's API
        writer.setblocking(False)  # noqa: FBT003
        self._writer = writer
        try:
            self._react(reader)
        finally:
            self._writer = None
            writer.close()
            reader.close()
            cast("EventDrivenAssociation", self.assoc).wake()

    def _read_pdu_data(self) -> None:
        """`DULServiceProvider._read_pdu_data`: read one PDU and queue its event, except
        a P-DATA-TF in an established association with nothing queued before it, handed
        to DIMSE at once (what the state machine's DT-2 does with it: `_p_data`).
        """
        read = self._read_pdu()
        if read is None:
            return
        header, body = read
        if header[0] == _P_DATA_TF and self._takes_p_data():
            primitive = _p_data(body)
            if primitive is not None:
                self.assoc.dimse.receive_primitive(primitive)
                return
        try:
            pdu, event = self._decode_pdu(header + body)
            self.event_queue.put(event)
        except Exception as exc:
            _DUL_LOGGER.error("Unable to decode the received PDU data")  # noqa: TRY400
            _DUL_LOGGER.exception(exc)  # noqa: TRY401 - pynetdicom's two lines
            self.event_queue.put("Evt19")
            return
        self._recv_pdu.put(pdu)

    def _read_pdu(self) -> tuple[bytearray, bytearray] | None:
        """One whole PDU's header and body, read as pynetdicom reads them; None once the
        event for a closed connection or an unknown PDU type is queued (as it does)."""
        sock = cast("AssociationSocket", self.socket)
        try:
            header = sock.recv(6)
            pdu_type, _, pdu_length = _PDU_HEADER.unpack(header)
        except struct.error:
            self.event_queue.put("Evt17")
            return None
        except (OSError, TimeoutError) as exc:
            _DUL_LOGGER.error("Connection closed before the entire PDU was received")  # noqa: TRY400
            _DUL_LOGGER.exception(exc)  # noqa: TRY401
            self.event_queue.put("Evt17")
            return None
        if pdu_type not in (0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07):
            _DUL_LOGGER.error("Unknown PDU type received '0x%02X'", pdu_type)
            self.event_queue.put("Evt19")
            return None
        try:
            body = sock.recv(pdu_length)
        except (OSError, TimeoutError) as exc:
            _DUL_LOGGER.error("Connection closed before the entire PDU was received")  # noqa: TRY400
            _DUL_LOGGER.exception(exc)  # noqa: TRY401
            self.event_queue.put("Evt17")
            return None
        if len(body) != pdu_length:
            _DUL_LOGGER.error(
                "The received PDU is shorter than expected (%d of %d bytes received)",
                6 + len(body),
                6 + pdu_length,
            )
            self.event_queue.put("Evt17")
            return None
        return header, body

    def _takes_p_data(self) -> bool:
        """True if a P-DATA-TF received now may skip the state machine: established
        (Sta6, where Evt10 is DT-2 and leaves it there), no event queued before it, and
        no handler waiting for the PDU objects."""
        return (
            self.state_machine.current_state == "Sta6"
            and self.event_queue.empty()
            and not any(self.assoc.get_handlers(event) for event in _PDU_EVENTS)
        )

    def _react(self, reader: socket.socket) -> None:
        self._idle_timer.start()
        sock = cast("AssociationSocket", self.socket)
        while True:
            if not self.assoc._dul_ready.is_set():  # noqa: SLF001 - pynetdicom's handshake
                self.assoc._dul_ready.set()  # noqa: SLF001

            if self._kill_thread:
                break

            # The ARTIM timer first, so that its event is queued ahead of any other.
            if self.artim_timer.expired:
                self.event_queue.put("Evt18")

            try:
                # One primitive sent OR one PDU received per turn, as pynetdicom does.
                if self._process_recv_primitive():
                    pass
                elif self._is_transport_event():
                    self._idle_timer.restart()
            except Exception:
                logger.exception("Exception in DUL.run(), aborting association")
                # Bypass the state machine (its state is unknown now) and abort.
                abort_pdu = A_ABORT_RQ()
                abort_pdu.source = 0x02
                abort_pdu.reason_diagnostic = 0x00
                sock.send(abort_pdu.encode())
                self.assoc.is_aborted = True
                self.assoc.is_established = False
                self.assoc._kill = True  # noqa: SLF001 - pynetdicom's hard stop
                self._kill_thread = True
                return

            try:
                event = self.event_queue.get(block=False)
            except queue.Empty:
                self._wait(sock, reader)
                continue
            self.state_machine.do_action(event)

    def _wait(self, sock: AssociationSocket, reader: socket.socket) -> None:
        """Until the peer sends, another thread queues something, or a timer is due."""
        raw = sock.socket
        if isinstance(raw, ssl.SSLSocket) and raw.pending():
            return  # decrypted bytes wait in the TLS buffer, unseen by poll
        timeout = TICK
        if self.artim_timer.timeout is not None:
            timeout = min(timeout, max(self.artim_timer.remaining, _MIN_WAIT))
        poller = select.poll()
        poller.register(reader, select.POLLIN)
        if raw is not None and sock._is_connected:  # noqa: SLF001 - as pynetdicom's `ready`
            try:
                poller.register(raw, select.POLLIN)
            except (OSError, ValueError):  # closed meanwhile: the next turn sees it
                return
        poller.poll(timeout * 1000)
        with contextlib.suppress(BlockingIOError):  # drained
            while reader.recv(4096):
                pass


def _p_data(body: bytes | bytearray) -> P_DATA | None:
    """The P-DATA primitive of a P-DATA-TF PDU's body (its PDV items: length, context ID,
    data with its message control header), as pynetdicom's PDU decoding makes it; None
    if an item is malformed (pynetdicom's decoding then answers it as it does)."""
    values: list[tuple[int, bytes]] = []
    view = memoryview(body)
    offset, end = 0, len(body)
    while offset < end:
        if offset + 4 > end:
            return None
        length = int.from_bytes(view[offset : offset + 4], "big")
        if length < 2 or offset + 4 + length > end:  # context ID and control header
            return None
        values.append((body[offset + 4], bytes(view[offset + 5 : offset + 4 + length])))
        offset += 4 + length
    if not values:
        return None
    primitive = P_DATA()
    primitive.presentation_data_value_list.extend(values)
    return primitive
