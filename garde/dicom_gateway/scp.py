"""The gateway of one process: C-ECHO and C-STORE service provider.

    with Gateway(settings.gateway, settings.sites, index, patient_key_secret=key) as gw:
        ...  # serving on gw.port until the block ends

`start` returns at once (the server runs in its own threads); `stop` refuses new
associations, lets those in flight finish, then returns.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Self

from pynetdicom import AE, _config, evt

from garde.dicom_gateway import spool
from garde.dicom_gateway.contexts import scp_contexts
from garde.dicom_gateway.handlers import handle_released, handle_store
from garde.dicom_gateway.intake import IntakeService
from garde.dicom_gateway.pdu_guard import PendingConnections
from garde.dicom_gateway.policy import AssociationPolicy
from garde.dicom_gateway.server import AssociationSlots, GatewayServer
from garde.dicom_gateway.tls import server_context
from garde.dicom_gateway.writer import DurableWriter

if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Sequence
    from types import TracebackType

    from garde.config.model import GatewaySettings
    from garde.dicom_gateway.balance import ConnectionShare
    from garde.dispatch.model import InstanceReceived, Site
    from garde.dispatch.ports import Clock, InstanceIndex

logger = logging.getLogger(__name__)

# pynetdicom's own association limit counts live threads (silent connections included);
# ours (`AssociationSlots`) replaces it, so its check is neutralised.
_UNLIMITED = 1_000_000


def configure_pynetdicom() -> None:
    """Process-wide pynetdicom settings the gateway relies on (idempotent).

    Identifiers (patient name, ID, birth date) never reach the logs.
    """
    _config.LOG_REQUEST_IDENTIFIERS = False
    _config.LOG_RESPONSE_IDENTIFIERS = False
    _config.LOG_HANDLER_LEVEL = "none"  # packages add no log handlers
    # Each C-STORE data set is spooled as it arrives: in memory up to a few MB, then to
    # a file, so a 512 MB instance costs an association no more memory than a small one.
    _config.STORE_RECV_CHUNKED_DATASET = True
    spool.install()


class Gateway:
    """The DICOM C-ECHO / C-STORE SCP of one process.

    Parameters
    ----------
    settings
        AE title, host, port (0: any free port), storage directory, association limit,
        timeouts, called-AE check and TLS.
    sites
        The hospitals allowed to send (their calling AE titles and IP allow-lists).
    index
        The store's `InstanceIndex`; each stored instance is recorded there before the
        sender hears success.
    patient_key_secret
        Key of the HMAC replacing each PatientID by ``patient_key``.
    on_received
        Called after each new instance is indexed (wakes the stability sweep / stroke
        fast path). Runs on the association thread: it must return quickly; its
        exceptions are logged and never reach the sender.
    clock
        Source of ``received_at`` (default: the system clock).
    reuse_port
        Listen with SO_REUSEPORT (several gateway processes on one port).
    listener, share
        A listening socket shared with other gateway processes (``settings.host`` and
        ``port`` are then its own), and the table of connections open in each, so the
        least loaded process takes each new one (`garde.dicom_gateway.balance`).
    """

    def __init__(
        self,
        settings: GatewaySettings,
        sites: Sequence[Site],
        index: InstanceIndex,
        *,
        patient_key_secret: bytes,
        on_received: Callable[[InstanceReceived], None] | None = None,
        clock: Clock | None = None,
        reuse_port: bool = False,
        listener: socket.socket | None = None,
        share: ConnectionShare | None = None,
    ) -> None:
        self.settings = settings
        self._listener = listener
        self._share = share
        self._policy = AssociationPolicy(
            sites, settings.ae_title, check_called_ae=settings.check_called_ae
        )
        self.service = IntakeService(
            DurableWriter(settings.storage_dir, settings.conflicts_dir),
            index,
            self._policy,
            patient_key_secret=patient_key_secret,
            clock=clock,
            on_received=on_received,
            overwrite_policy=settings.overwrite_policy,
            index_after_answer=settings.index_after_answer,
        )
        self._slots = AssociationSlots(settings.max_associations)
        self._reuse_port = reuse_port
        self._server: GatewayServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one the OS picked if the settings said 0)."""
        if self._server is None:
            raise RuntimeError("the gateway is not started")
        return int(self._server.server_address[1])

    @property
    def active_associations(self) -> int:
        """Associations accepted and not yet ended."""
        return self._slots.in_use

    def update_sites(self, sites: Sequence[Site]) -> None:
        """Apply a reloaded site registry to new associations and instances."""
        policy = AssociationPolicy(
            sites, self.settings.ae_title, check_called_ae=self.settings.check_called_ae
        )
        self._policy = policy
        self.service.policy = policy
        if self._server is not None:
            self._server.policy = policy

    def start(self) -> None:
        """Listen and serve in background threads; returns at once."""
        if self._server is not None:
            raise RuntimeError("the gateway is already started")
        configure_pynetdicom()
        self.service.recover()  # what a crash left between an answer and its indexing
        self.service.start()
        s = self.settings
        ae = AE(ae_title=s.ae_title)
        # Large PDUs are faster than the default 16 kB (about 30% here), but never unlimited:
        # pynetdicom holds a whole PDU in memory (a 256 MB one cost a worker 945 MB).
        ae.maximum_pdu_size = s.max_pdu_bytes
        ae.maximum_associations = _UNLIMITED
        ae.acse_timeout = s.acse_timeout_s
        ae.network_timeout = s.network_timeout_s
        ae.dimse_timeout = s.dimse_timeout_s
        ae.require_calling_aet = []  # the policy checks it, per site
        ae.require_called_aet = False
        handlers = [
            (evt.EVT_C_STORE, handle_store, [self.service]),
            (evt.EVT_RELEASED, handle_released),
            (evt.EVT_ABORTED, handle_released),
        ]
        server = GatewayServer(
            ae,
            (s.host, s.port),
            s.ae_title,
            scp_contexts(),
            policy=self._policy,
            slots=self._slots,
            ssl_context=server_context(s.tls) if s.tls is not None else None,
            evt_handlers=handlers,
            reuse_port=self._reuse_port,
            pending=PendingConnections(s.max_pending_connections, s.max_pending_per_address),
            request_limit=s.max_request_bytes,
            listener=self._listener,
            share=self._share,
        )
        # What AE.start_server(block=False) does, with our server class.
        ae._servers.append(server)  # noqa: SLF001 - so AE.shutdown() would find it
        self._thread = threading.Thread(
            target=server.serve_forever, name=f"gateway@{server.server_address[1]}", daemon=True
        )
        self._thread.start()
        self._server = server
        if self._share is not None:
            self._share.serving()
        logger.info(
            "gateway %s listening on %s:%d%s",
            s.ae_title,
            s.host,
            self.port,
            " (TLS)" if s.tls is not None else "",
        )

    def stop(self, timeout: float | None = None) -> None:
        """Refuse new associations, let those in flight finish, then close.

        Associations still open after ``timeout`` seconds (default: the network
        timeout) are aborted; anything they had not been answered for is retried by
        their sender, nothing acknowledged is lost.
        """
        server = self._server
        if server is None:
            return
        self._server = None
        if self._share is not None:
            self._share.leaving()  # the other processes take the new connections
        server.shutdown()  # stops the accept loop and closes the listening socket
        if self._thread is not None:
            self._thread.join()
        grace = self.settings.network_timeout_s if timeout is None else timeout
        if not self._slots.wait_idle(grace):
            logger.warning("aborting %d associations still open", self._slots.in_use)
        for assoc in server.active_associations:
            assoc.abort()
        self.service.stop(grace)
        logger.info("gateway on port %d stopped", server.server_address[1])

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
