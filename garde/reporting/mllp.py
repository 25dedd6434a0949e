"""A blocking MLLP client: one message, one ACK, with timeouts.

python-hl7's own `MLLPClient` connects and reads without a timeout and returns after a
single ``recv`` (an ACK split in two TCP segments would be cut); delivery needs both
bounded, so the framing (start block 0x0B, end block 0x1C 0x0D) is done here.
"""

from __future__ import annotations

import socket
import time

from garde.reporting.errors import DeliveryError

START, END = b"\x0b", b"\x1c\x0d"
_MAX_ANSWER = 1 << 20


def send(host: str, port: int, message: str, *, timeout_s: float) -> str:
    """Send ``message`` (UTF-8) framed as MLLP; the answer, unframed.

    Raises
    ------
    DeliveryError
        Connection refused, timeout, or a connection closed before a whole answer.
    """
    deadline = time.monotonic() + timeout_s
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(START + message.encode("utf-8") + END)
            buffer = b""
            while END not in buffer:
                sock.settimeout(max(0.05, deadline - time.monotonic()))
                chunk = sock.recv(65536)
                if not chunk:
                    raise DeliveryError("MLLP peer closed the connection before its answer")
                buffer += chunk
                if len(buffer) > _MAX_ANSWER:
                    raise DeliveryError("MLLP answer too long")
    except TimeoutError as exc:
        raise DeliveryError(f"MLLP {host}:{port}: no answer within {timeout_s:g} s") from exc
    except OSError as exc:
        raise DeliveryError(f"MLLP {host}:{port}: {exc.strerror or exc}") from exc
    start = buffer.find(START)
    return buffer[start + 1 : buffer.index(END)].decode("utf-8", errors="replace")
