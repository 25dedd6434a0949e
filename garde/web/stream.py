"""Streaming stored instances as one ``multipart/related`` body (WADO-RS retrieve).

The files are sent as they are on disk (Part 10, as received; never decoded). Over plain
HTTP under Garde's server (`garde.web.server`), the body goes out by ``sendfile``: the
kernel copies each file from the page cache to the socket, with no Python buffer and no
copy through the event loop (see `ZeroCopy`). Otherwise (TLS, another server) each part
is read straight into a buffer that already holds its part header, in batches of about
`BATCH_BYTES` on a worker thread, the next batch read while the current one is sent:
memory stays at two batches whatever the study's size, and the event loop never waits
on the disk. The body's length is known before the first byte (the files are sized up
front), so there is no chunked framing to add. A client that goes away, or stops
reading for `SEND_TIMEOUT_S`, ends the response and frees what it held.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import anyio.to_thread

from garde.web.media import CLOSE, DICOM, PART_END, multipart_type, part_head

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from starlette.types import Message, Receive, Scope, Send

BATCH_BYTES = 8 << 20
ZERO_COPY = "garde.zero_copy"  # the scope extension `garde.web.server` adds
SEND_TIMEOUT_S = 60.0
_HEAD = part_head(DICOM)


class ClientGoneError(Exception):
    """The client disconnected."""


def _sizes(paths: Sequence[Path]) -> list[int]:
    return [p.stat().st_size for p in paths]


def _read_batch(paths: Sequence[Path], sizes: Sequence[int]) -> list[bytearray]:
    """Each file read into a buffer prefixed with its part header and suffixed with CRLF."""
    buffers = []
    head = len(_HEAD)
    for path, size in zip(paths, sizes, strict=True):
        buffer = bytearray(head + size + len(PART_END))
        buffer[:head] = _HEAD
        view = memoryview(buffer)
        with open(path, "rb", buffering=0) as handle:  # noqa: PTH123 - raw, unbuffered reads
            filled = head
            end = head + size
            while filled < end:
                got = handle.readinto(view[filled:end])
                if not got:
                    raise OSError(f"{path.name} shrank while being sent")
                filled += got
        buffer[end:] = PART_END
        buffers.append(buffer)
    return buffers


def _batches(sizes: Sequence[int]) -> list[tuple[int, int]]:
    """(start, end) index ranges of about `BATCH_BYTES` each."""
    ranges = []
    start = total = 0
    for i, size in enumerate(sizes):
        total += size
        if total >= BATCH_BYTES:
            ranges.append((start, i + 1))
            start, total = i + 1, 0
    if start < len(sizes):
        ranges.append((start, len(sizes)))
    return ranges


class InstancesResponse:
    """An ASGI response streaming ``paths`` as ``multipart/related; type=application/dicom``."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sizes = await anyio.to_thread.run_sync(_sizes, self.paths)
        length = sum(sizes) + len(self.paths) * (len(_HEAD) + len(PART_END)) + len(CLOSE)
        start = {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", multipart_type(DICOM).encode()),
                (b"content-length", str(length).encode()),
            ],
        }
        zero_copy = scope.get("extensions", {}).get(ZERO_COPY)
        if zero_copy is not None and zero_copy.usable():
            await zero_copy.send_files(start, self.paths, sizes)
            return
        await self._buffered(start, sizes, receive, send)

    async def _buffered(
        self, start: Message, sizes: Sequence[int], receive: Receive, send: Send
    ) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                    return

        watcher = asyncio.ensure_future(watch())
        pending: asyncio.Future[list[bytearray]] | None = None
        try:
            await send(start)
            batches = _batches(sizes)
            if batches:
                pending = asyncio.ensure_future(self._read(batches[0], sizes))
            for n in range(len(batches)):
                assert pending is not None
                buffers = await pending
                pending = (
                    asyncio.ensure_future(self._read(batches[n + 1], sizes))
                    if n + 1 < len(batches)
                    else None
                )
                for buffer in buffers:
                    await _send(send, buffer, gone)
                del buffers
            await _send(send, CLOSE, gone, more=False)
        except ClientGoneError:
            return  # nothing more to send to no one
        finally:
            watcher.cancel()
            if pending is not None:
                pending.cancel()

    async def _read(self, batch: tuple[int, int], sizes: Sequence[int]) -> list[bytearray]:
        start, end = batch
        return await anyio.to_thread.run_sync(_read_batch, self.paths[start:end], sizes[start:end])


async def _send(
    send: Send, body: bytes | bytearray, gone: asyncio.Event, *, more: bool = True
) -> None:
    if gone.is_set():
        raise ClientGoneError
    try:
        await asyncio.wait_for(
            send({"type": "http.response.body", "body": body, "more_body": more}),
            SEND_TIMEOUT_S,
        )
    except TimeoutError:
        # Raised out of the application: the server closes the connection.
        raise TimeoutError(f"client read nothing for {SEND_TIMEOUT_S:g} s") from None
