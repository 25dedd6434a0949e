"""Sending stored files with ``sendfile``: the retrieve path's zero-copy body.

uvicorn has no ASGI extension for sending files, so Garde's server (`garde.web.server`)
runs uvicorn's httptools protocol with one addition: each request's scope carries a
`ZeroCopy` that can write a response body straight to the connection's socket. The
status line and headers go through uvicorn as usual; once uvicorn's write buffer is
empty, a worker thread writes each part header and ``os.sendfile``s each file, waiting
for the socket to drain with ``poll`` (a client that reads nothing for `STALL_S`
seconds loses the connection); then uvicorn is told the body is complete, and
keep-alive, pipelining and disconnects stay uvicorn's business. Plain TCP only: over
TLS the bytes must go through the TLS layer (the buffered path).
"""

from __future__ import annotations

import asyncio
import os
import select
import socket
import time
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from garde.web.media import CLOSE, DICOM, PART_END, part_head

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from starlette.types import Message

STALL_S = 60.0
_HEAD = part_head(DICOM)
_SENDFILE_MAX = 1 << 30


class ZeroCopy:
    """Writes a response body to one connection's socket with ``sendfile``."""

    def __init__(self, cycle: Any, transport: asyncio.Transport) -> None:
        self._cycle = cycle  # uvicorn's RequestResponseCycle of this request
        self._transport = transport

    def usable(self) -> bool:
        """Plain TCP with a socket we can write to."""
        transport = self._transport
        return (
            transport.get_extra_info("sslcontext") is None
            and transport.get_extra_info("socket") is not None
            and not transport.is_closing()
        )

    async def send_files(self, start: Message, paths: Sequence[Path], sizes: Sequence[int]) -> None:
        """Send ``start`` (status, headers with the exact Content-Length), then every file
        as a multipart part, then the closing delimiter."""
        cycle = self._cycle
        await cycle.send(start)
        deadline = time.monotonic() + STALL_S
        while self._transport.get_write_buffer_size() > 0:  # the headers, out first
            if cycle.disconnected or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.0005)
        fd = self._transport.get_extra_info("socket").fileno()
        try:
            await anyio.to_thread.run_sync(_send_all, fd, list(paths), list(sizes))
        except OSError:
            # Gone or stalled: the body is cut short, so the connection must go.
            self._transport.close()
            return
        cycle.expected_content_length = 0  # written behind uvicorn's back: all of it
        await cycle.send({"type": "http.response.body", "body": b"", "more_body": False})


def _wait_writable(poller: select.poll) -> None:
    if not poller.poll(STALL_S * 1000):
        raise TimeoutError(f"the client read nothing for {STALL_S:g} s")


def _write(fd: int, data: bytes, poller: select.poll) -> None:
    view = memoryview(data)
    while view:
        try:
            sent = os.write(fd, view)
        except BlockingIOError:
            _wait_writable(poller)
            continue
        view = view[sent:]


def _send_all(fd: int, paths: list[Path], sizes: list[int]) -> None:
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    # Corked, the small part headers leave in the same segments as the file data around
    # them instead of as packets of their own (uvicorn sets TCP_NODELAY).
    cork = getattr(socket, "TCP_CORK", None)
    if cork is not None:
        _setsockopt(fd, cork, 1)
    try:
        _send_parts(fd, paths, sizes, poller)
    finally:
        if cork is not None:
            _setsockopt(fd, cork, 0)


def _setsockopt(fd: int, option: int, value: int) -> None:
    # A duplicate of the descriptor: the option is the socket's, the duplicate is closed.
    with socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM) as dup:
        dup.setsockopt(socket.IPPROTO_TCP, option, value)


def _send_parts(fd: int, paths: list[Path], sizes: list[int], poller: select.poll) -> None:
    for path, size in zip(paths, sizes, strict=True):
        _write(fd, _HEAD, poller)
        with path.open("rb") as handle:
            source = handle.fileno()
            offset = 0
            while offset < size:
                try:
                    sent = os.sendfile(fd, source, offset, min(size - offset, _SENDFILE_MAX))
                except BlockingIOError:
                    _wait_writable(poller)
                    continue
                if sent == 0:
                    raise OSError(f"{path.name} shrank while being sent")
                offset += sent
        _write(fd, PART_END, poller)
    _write(fd, CLOSE, poller)
