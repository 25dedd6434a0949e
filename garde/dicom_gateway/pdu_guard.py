"""Bounds on what a peer can make a gateway process hold before (and after) it is trusted.

pynetdicom reads a PDU by its declared length: a 6-byte header claiming 2 GB and the
bytes that follow are accumulated in memory, before any AE title is checked (a worker
went from 151 to 562 MB in 0.6 s). Its association timer (ARTIM) is checked between
reads, so a peer trickling an A-ASSOCIATE-RQ a byte at a time holds a connection as long
as it likes. And nothing counts connections that never ask for an association.

`GuardedSocket` replaces pynetdicom's `AssociationSocket` on the gateway's connections:

- the first PDU must be an A-ASSOCIATE-RQ of at most ``request_limit`` bytes (256 kB:
  128 presentation contexts with 13 transfer syntaxes each make 47 kB), and it
  must have arrived whole ``deadline`` seconds (the ACSE timeout) after the connection
  was accepted, however slowly its bytes come;
- every later PDU is at most ``pdu_limit`` bytes, the Maximum Length Received the
  gateway announces (a peer that ignores it is cut off).

A refused PDU's header is answered as if the connection had closed: pynetdicom drops
the connection without reading the body, and the body is never allocated.

`PendingConnections` counts connections accepted and not yet past their A-ASSOCIATE-RQ,
per peer address and in total; the server refuses one more beyond either cap.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING

from pynetdicom.transport import AssociationSocket

if TYPE_CHECKING:
    from pynetdicom.association import Association

logger = logging.getLogger(__name__)

_A_ASSOCIATE_RQ = 0x01
_HEADER = 6


class PendingTicket:
    """One pending connection, counted until `release` (idempotent)."""

    def __init__(self, owner: PendingConnections, address: str) -> None:
        self._owner: PendingConnections | None = owner
        self.address = address

    def release(self) -> None:
        """The connection is past its A-ASSOCIATE-RQ, or ended."""
        owner, self._owner = self._owner, None
        if owner is not None:
            owner._release(self.address)  # noqa: SLF001 - the owner's own bookkeeping


class PendingConnections:
    """Connections accepted and not yet past their A-ASSOCIATE-RQ, capped per address
    and in total."""

    def __init__(self, total: int, per_address: int) -> None:
        if total < 1 or per_address < 1:
            raise ValueError(f"pending connection caps must be >= 1, got {total}, {per_address}")
        self.total = total
        self.per_address = per_address
        self._by_address: Counter[str] = Counter()
        self._lock = threading.Lock()

    def admit(self, address: str) -> PendingTicket | None:
        """Count one more pending connection from ``address``; None if over a cap."""
        with self._lock:
            if self._by_address.total() >= self.total:
                return None
            if self._by_address[address] >= self.per_address:
                return None
            self._by_address[address] += 1
            return PendingTicket(self, address)

    def _release(self, address: str) -> None:
        with self._lock:
            self._by_address[address] -= 1
            if self._by_address[address] <= 0:
                del self._by_address[address]

    @property
    def count(self) -> int:
        """Pending connections now."""
        with self._lock:
            return self._by_address.total()


class GuardedSocket(AssociationSocket):
    """pynetdicom's association socket, refusing oversized and overdue PDUs (see module).

    Parameters
    ----------
    assoc, client_socket
        As for `AssociationSocket`.
    address
        The peer's address (for the log).
    request_limit
        Largest first PDU (the A-ASSOCIATE-RQ), header included, in bytes.
    pdu_limit
        Largest later PDU's length field (the Maximum Length Received announced).
    deadline
        Seconds from now for the first PDU to arrive whole.
    ticket
        Released when the first PDU has arrived (the server releases it too when the
        connection ends).
    """

    def __init__(
        self,
        assoc: Association,
        client_socket: socket.socket,
        *,
        address: str,
        request_limit: int,
        pdu_limit: int,
        deadline: float,
        ticket: PendingTicket | None = None,
    ) -> None:
        super().__init__(assoc, client_socket=client_socket)
        self._address = address
        self._request_limit = request_limit
        self._pdu_limit = pdu_limit
        self._deadline: float | None = time.monotonic() + deadline
        self._ticket = ticket
        self._body = -1  # length of the PDU body the next ``recv`` reads; -1: a header

    def recv(self, nr_bytes: int) -> bytearray:
        """pynetdicom's read: a header (6 bytes), then the body its length announced."""
        if self._body < 0 and nr_bytes == _HEADER:
            header = self._read(_HEADER)
            if len(header) < _HEADER:  # the peer left: not pending any more
                self._release_ticket()
                return header
            pdu_type, _, length = struct.unpack(">BBL", header)
            if not self._admit(pdu_type, length):
                return self._hang_up()
            self._body = length
            return header
        body = self._read(nr_bytes)
        self._body = -1
        if self._deadline is not None:  # the A-ASSOCIATE-RQ arrived whole in time
            self._deadline = None
            cast_socket(self.socket).settimeout(None)
            self._release_ticket()
        return body

    def _release_ticket(self) -> None:
        if self._ticket is not None:
            self._ticket.release()
            self._ticket = None

    def _admit(self, pdu_type: int, length: int) -> bool:
        if self._deadline is not None:
            if pdu_type != _A_ASSOCIATE_RQ:
                logger.warning(
                    "refused %s: a PDU of type 0x%02X before any association request",
                    self._address,
                    pdu_type,
                )
                return False
            if _HEADER + length > self._request_limit:
                logger.warning(
                    "refused %s: an association request of %d bytes (limit %d)",
                    self._address,
                    _HEADER + length,
                    self._request_limit,
                )
                return False
        elif length > self._pdu_limit:
            logger.warning(
                "aborted the association with %s: a PDU of %d bytes (limit %d)",
                self._address,
                _HEADER + length,
                self._pdu_limit,
            )
            return False
        return True

    def _hang_up(self) -> bytearray:
        """End the connection now; to pynetdicom, it was closed by the peer (before the
        association, it would otherwise leave the socket open until the peer leaves)."""
        self._release_ticket()
        if self.socket is not None:
            with contextlib.suppress(OSError):
                self.socket.shutdown(socket.SHUT_RDWR)
        return bytearray()

    def _read(self, nr_bytes: int) -> bytearray:
        """``nr_bytes`` or fewer if the connection ends, or the deadline passes first."""
        if self._deadline is None:
            return _recv_exactly(cast_socket(self.socket), nr_bytes)
        sock = cast_socket(self.socket)
        data = bytearray()
        while len(data) < nr_bytes:
            left = self._deadline - time.monotonic()
            if left <= 0:
                logger.warning(
                    "dropped %s: no whole association request within the ACSE timeout",
                    self._address,
                )
                return self._hang_up()
            sock.settimeout(left)
            try:
                chunk = sock.recv(min(nr_bytes - len(data), 65536))
            except TimeoutError:
                continue
            if not chunk:
                return data
            data += chunk
        return data


def _recv_exactly(sock: socket.socket, nr_bytes: int) -> bytearray:
    """``nr_bytes`` read into one buffer (fewer if the connection ends first).

    pynetdicom's ``recv`` reads 4 kB at a time and appends each piece: 130 calls for one
    0.5 MB CT slice; this reads whatever the socket holds straight into place.
    """
    data = bytearray(nr_bytes)
    view = memoryview(data)
    got = 0
    while got < nr_bytes:
        read = sock.recv_into(view[got:], nr_bytes - got)
        if not read:
            del view
            del data[got:]
            return data
        got += read
    return data


def cast_socket(sock: socket.socket | None) -> socket.socket:
    """The raw socket of a connection still open."""
    if sock is None:
        raise OSError("the connection is closed")
    return sock
