"""The association server: pynetdicom's threaded server with the gateway's transport rules.

What it adds to `pynetdicom.transport.ThreadedAssociationServer`:

- the association policy (calling AE, called AE, IP allow-list) checked on the
  A-ASSOCIATE request, answered with the standard rejection reasons;
- an association limit counted under a lock when a request is accepted and released
  when the association ends (pynetdicom counts live threads, including silent TCP
  connections that never sent a request and associations still tearing down, so
  concurrent senders are rejected or admitted racily);
- TCP_NODELAY on every accepted socket (a C-STORE response must not wait for Nagle);
- the TLS handshake in the connection's own thread, bounded by the ACSE timeout (the
  base class handshakes in the accept loop, where one silent client blocks everyone);
- a listening socket made elsewhere (the parent of several gateway processes shares one
  with them all), with each new connection left for a moment to the least loaded
  process (`garde.dicom_gateway.balance`); or SO_REUSEPORT;
- the bounds of `garde.dicom_gateway.pdu_guard` on every connection: an A-ASSOCIATE-RQ
  of at most a few kB arriving whole within the ACSE timeout, PDUs no longer than the
  Maximum Length Received announced, and a cap on connections not yet past their
  association request, per peer address and in total (each refusal logged once per
  peer and interval at most: `garde.dicom_gateway.log_throttle`).
"""

from __future__ import annotations

import copy
import logging
import select
import socket
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from pynetdicom import evt
from pynetdicom.acse import ACSE
from pynetdicom.transport import RequestHandler, ThreadedAssociationServer

from garde.dicom_gateway.log_throttle import PeerLogThrottle, held_back
from garde.dicom_gateway.pdu_guard import GuardedSocket, PendingConnections, PendingTicket
from garde.dicom_gateway.policy import Rejection, local_limit_exceeded
from garde.dicom_gateway.reactor import acceptor_association

if TYPE_CHECKING:
    import ssl

    from pynetdicom.ae import ApplicationEntity
    from pynetdicom.association import Association
    from pynetdicom.pdu_primitives import A_ASSOCIATE
    from pynetdicom.presentation import PresentationContext

    from garde.dicom_gateway.balance import ConnectionShare
    from garde.dicom_gateway.policy import AssociationPolicy

logger = logging.getLogger(__name__)


class AssociationSlots:
    """At most ``limit`` accepted associations at once; acquiring never races."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"the association limit must be >= 1, got {limit}")
        self.limit = limit
        self._held: set[int] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)

    def acquire(self, key: int) -> bool:
        """Take a slot for ``key``; False if all are taken."""
        with self._lock:
            if len(self._held) >= self.limit:
                return False
            self._held.add(key)
            return True

    def release(self, key: int) -> None:
        """Give back ``key``'s slot, if it held one."""
        with self._lock:
            self._held.discard(key)
            if not self._held:
                self._idle.notify_all()

    @property
    def in_use(self) -> int:
        """How many slots are held now."""
        with self._lock:
            return len(self._held)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no slot is held; False if ``timeout`` passed first."""
        with self._lock:
            return self._idle.wait_for(lambda: not self._held, timeout)


class GatewayServer(ThreadedAssociationServer):
    """pynetdicom's threaded association server with the gateway's policy and transport.

    Parameters
    ----------
    ae
        The application entity (timeouts, PDU size).
    address
        ``(host, port)``; port 0 picks a free one (see ``server_address``).
    ae_title, contexts, ssl_context, evt_handlers
        As for `pynetdicom.ae.ApplicationEntity.start_server`.
    policy
        Who may associate; replaceable at run time (`GatewayServer.policy`).
    slots
        The association limit.
    reuse_port
        Set SO_REUSEPORT before binding (several processes on one port).
    pending
        The cap on connections not yet past their A-ASSOCIATE-RQ (default: none).
    request_limit
        The largest A-ASSOCIATE-RQ PDU accepted, in bytes.
    listener
        A socket bound and listening already, shared with other gateway processes
        (``address`` and ``reuse_port`` are then unused): accepted from without blocking,
        and never shut down here (closing this process's copy leaves the others').
    share
        With ``listener``: the table of connections open in each process; a connection
        is left for a moment to a less loaded one (`ConnectionShare.wait_turn`).
    """

    daemon_threads = True

    def __init__(
        self,
        ae: ApplicationEntity,
        address: tuple[str, int],
        ae_title: str,
        contexts: list[PresentationContext],
        *,
        policy: AssociationPolicy,
        slots: AssociationSlots,
        ssl_context: ssl.SSLContext | None = None,
        evt_handlers: list[Any] | None = None,
        reuse_port: bool = False,
        pending: PendingConnections | None = None,
        request_limit: int = 256 << 10,
        listener: socket.socket | None = None,
        share: ConnectionShare | None = None,
    ) -> None:
        self.policy = policy
        self.listener = listener
        self.share = share
        self.slots = slots
        self.reuse_port = reuse_port
        self.handshake_timeout = ae.acse_timeout
        self.pending = pending
        self.request_limit = request_limit
        self._tickets: dict[Any, PendingTicket] = {}
        self.refusals_logged = PeerLogThrottle()
        super().__init__(
            ae,
            address,
            ae_title,
            contexts,
            ssl_context,
            evt_handlers=evt_handlers,
            request_handler=_GatewayRequestHandler,
        )

    def server_bind(self) -> None:
        """Bind, with SO_REUSEPORT first when asked; or take the shared listener."""
        if self.listener is not None:
            cast("socket.socket", self.socket).close()  # the one socketserver made
            self.socket = self.listener
            # Several processes wait on it: the one that loses a race must not block.
            self.listener.setblocking(False)  # noqa: FBT003 - socket's API
            self.server_address = self.listener.getsockname()
            return
        if self.reuse_port:
            cast("socket.socket", self.socket).setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()

    def server_activate(self) -> None:
        """Listen (a shared listener listens already)."""
        if self.listener is None:
            super().server_activate()

    def server_close(self) -> None:
        """Close the listening socket; a shared one only in this process (pynetdicom's
        shuts it down first, which would stop every process's copy)."""
        if self.listener is not None:
            self.listener.close()
            return
        super().server_close()

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        """Accept a connection: TCP_NODELAY on, TLS wrapped but not yet handshaken.

        With a shared listener, a busier process first gives way to a less loaded one;
        BlockingIOError if another process took the connection (socketserver ignores it).
        """
        listener = cast("socket.socket", self.socket)
        share = self.share
        if share is not None and not share.wait_turn(lambda: _readable(listener)):
            raise BlockingIOError("the connection went to another gateway process")
        client, address = listener.accept()
        if share is not None:
            share.opened()
        try:
            client.settimeout(None)  # blocking, whatever the listener is
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl_context is not None:
                client = self.ssl_context.wrap_socket(
                    client, server_side=True, do_handshake_on_connect=False
                )
        except BaseException:
            client.close()
            if share is not None:
                share.closed()
            raise
        return client, address

    def process_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        """Start the connection's thread (its end is counted in that thread)."""
        try:
            super().process_request(request, client_address)
        except BaseException:
            if self.share is not None:
                self.share.closed()
            raise

    def verify_request(
        self,
        request: socket.socket | tuple[bytes, socket.socket],  # noqa: ARG002 - the base's
        client_address: Any,
    ) -> bool:
        """In the accept loop: refuse a connection over the pending caps (closed at once)."""
        if self.pending is None:
            return True
        address = str(client_address[0])
        ticket = self.pending.admit(address)
        if ticket is None:
            held = self.refusals_logged.admit(address)
            if held is not None:  # a peer retrying in a loop writes a line per interval
                logger.warning(
                    "refused a connection from %s: %d connections not yet associated "
                    "(caps: %d per address, %d in all)%s",
                    address,
                    self.pending.count,
                    self.pending.per_address,
                    self.pending.total,
                    held_back(held),
                )
            if self.share is not None:
                self.share.closed()
            return False
        self._tickets[client_address] = ticket
        return True

    def process_request_thread(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        """In the connection's thread: finish the TLS handshake, then run the association."""
        sock = cast("socket.socket", request)
        try:
            if self.ssl_context is not None and not _handshake(sock, self.handshake_timeout):
                self.shutdown_request(sock)
                return
            super().process_request_thread(request, client_address)
        finally:
            ticket = self._tickets.pop(client_address, None)
            if ticket is not None:
                ticket.release()
            if self.share is not None:
                self.share.closed()


def _readable(sock: socket.socket) -> bool:
    """True if a connection waits on the listening ``sock`` (nobody accepted it yet)."""
    try:
        ready, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):  # closed meanwhile
        return False
    return bool(ready)


def _handshake(sock: socket.socket, timeout: float | None) -> bool:
    """The TLS handshake, bounded by ``timeout``; False (logged) if it fails."""
    try:
        sock.settimeout(timeout)
        sock.do_handshake()  # type: ignore[attr-defined]
        sock.settimeout(None)
    except OSError as exc:
        peer = _peer(sock)
        logger.warning("TLS handshake with %s failed: %s", peer, exc)
        return False
    return True


def _peer(sock: socket.socket) -> str:
    try:
        return str(sock.getpeername()[0])
    except OSError:
        return "?"


class _GatewayRequestHandler(RequestHandler):
    """Runs one association in its own thread and waits for it, so its slot is released
    exactly when it ends, however it ends (release, abort, timeout, reject)."""

    server: GatewayServer

    def _create_association(self) -> Association:
        """pynetdicom's `RequestHandler._create_association`, on a `GuardedSocket`."""
        server = self.server
        assoc = acceptor_association(self.ae)
        assoc._server = server  # noqa: SLF001 - as pynetdicom's handler does
        assoc.name = f"AcceptorThread@{datetime.now(tz=UTC):%Y%m%d%H%M%S}"
        sock = GuardedSocket(
            assoc,
            cast("socket.socket", self.request),
            address=str(self.client_address[0]),
            request_limit=server.request_limit,
            pdu_limit=self.ae.maximum_pdu_size or 2**32,
            deadline=float(self.ae.acse_timeout or 0) or 2**31,
            ticket=server._tickets.get(self.client_address),  # noqa: SLF001
        )
        assoc.set_socket(sock)
        assoc.acceptor.maximum_length = self.ae.maximum_pdu_size
        assoc.acceptor.ae_title = server.ae_title
        assoc.acceptor.address_info = self.local
        assoc.acceptor.implementation_class_uid = self.ae.implementation_class_uid
        assoc.acceptor.implementation_version_name = self.ae.implementation_version_name
        assoc.acceptor.supported_contexts = _copy_contexts(server.contexts)
        assoc.requestor.address_info = self.remote
        for event, handlers in server._handlers.items():  # noqa: SLF001
            if event.is_intervention and handlers:
                assoc.bind(event, *handlers)
            elif isinstance(event, evt.NotificationEvent):
                for handler in cast("list[tuple[Any, Any]]", handlers):
                    assoc.bind(event, handler[0], handler[1])
        return assoc

    def handle(self) -> None:
        assoc = self._create_association()
        assoc.acse = _PolicyACSE(assoc, self.server, self.client_address[0])
        evt.trigger(assoc, evt.EVT_CONN_OPEN, {"address": self.client_address})
        try:
            assoc.start()
            assoc.join()
        finally:
            self.server.slots.release(id(assoc))


def _copy_contexts(contexts: list[PresentationContext]) -> list[PresentationContext]:
    """Each association's own copy of the server's contexts, as pynetdicom's `deepcopy`
    makes it, in 6 ms instead of 100 for the gateway's 201 contexts (deep-copying every
    transfer syntax UID): paid by every connection, before its AE title is checked."""
    copies = []
    for context in contexts:
        duplicate = copy.copy(context)
        duplicate._transfer_syntax = list(context._transfer_syntax)  # noqa: SLF001 - its only list
        copies.append(duplicate)
    return copies


class _PolicyACSE(ACSE):
    """pynetdicom's ACSE, with the gateway's admission check before negotiation."""

    def __init__(self, assoc: Association, server: GatewayServer, address: str) -> None:
        super().__init__(assoc)
        self._server = server
        self._address = address

    def _negotiate_as_acceptor(self) -> None:
        request = cast("A_ASSOCIATE", self.requestor.primitive)
        calling = str(request.calling_ae_title)
        called = str(request.called_ae_title)
        self.requestor.ae_title = calling
        decision = self._server.policy.check(calling, called, self._address)
        if not isinstance(decision, Rejection) and not self._server.slots.acquire(id(self.assoc)):
            decision = local_limit_exceeded(self._server.slots.limit)
        if isinstance(decision, Rejection):
            logger.warning(
                "rejected association from %s (%s): %s", self._address, calling, decision.why
            )
            self.send_reject(decision.result, decision.source, decision.diagnostic)
            evt.trigger(self.assoc, evt.EVT_REJECTED, {})
            self.assoc.kill()
            return
        logger.info("association from %s (AE %s, site %s)", self._address, calling, decision.id)
        super()._negotiate_as_acceptor()
