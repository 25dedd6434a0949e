"""The buffered retrieve path (TLS, or a server without zero copy): every file, in order,
each in its part, across batch boundaries, with the exact Content-Length."""

from __future__ import annotations

import asyncio

from garde.web import stream
from garde.web.media import BOUNDARY


def _call(app) -> tuple[dict, bytes]:
    sent: list[dict] = []

    async def receive() -> dict:
        await asyncio.sleep(3600)  # the client never goes away
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    asyncio.run(app(scope, receive, send))
    start = sent[0]
    body = b"".join(bytes(m.get("body", b"")) for m in sent[1:])
    assert sent[-1]["more_body"] is False
    return start, body


def test_files_are_streamed_whole_across_batches(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(stream, "BATCH_BYTES", 1000)  # several batches for a few files
    contents = [bytes([n]) * (300 + 97 * n) for n in range(12)]
    paths = []
    for n, content in enumerate(contents):
        path = tmp_path / f"{n}.dcm"
        path.write_bytes(content)
        paths.append(path)
    start, body = _call(stream.InstancesResponse(paths))
    assert start["status"] == 200
    assert int(dict(start["headers"])[b"content-length"]) == len(body)
    pieces = body.split(f"--{BOUNDARY}".encode())
    assert pieces[0] == b"" and pieces[-1] == b"--\r\n"
    bodies = [p.split(b"\r\n\r\n", 1)[1][:-2] for p in pieces[1:-1]]
    assert bodies == contents
