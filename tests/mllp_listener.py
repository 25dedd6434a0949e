"""A hospital's RIS in tests: a real MLLP listener (python-hl7's asyncio server) that
parses each message with the library's parser and answers an ACK (AA, or AE/AR)."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any, Self

import hl7
from hl7.mllp import start_hl7_server

from tests.helpers import free_port

if TYPE_CHECKING:
    from hl7.mllp import HL7StreamReader, HL7StreamWriter


class MllpListener:
    """Receives ORU messages on ``port``; ``answer`` is the ACK code to give."""

    def __init__(self, answer: str = "AA", reason: str = "") -> None:
        self.port = free_port()
        self.answer = answer
        self.reason = reason
        self.received: list[Any] = []  # hl7.Message, as parsed
        self.raw: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.AbstractServer | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            start_hl7_server(self._client, "127.0.0.1", self.port, encoding="utf-8")
        )
        self._ready.set()
        self._loop.run_forever()

    async def _client(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
        try:
            while not writer.is_closing():
                message = await reader.readmessage()
                self.raw.append(str(message))
                self.received.append(message)
                ack = message.create_ack(self.answer)
                if self.reason:
                    ack.segment("MSA").assign_field(self.reason, 3)
                writer.writemessage(ack)
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()

    def __enter__(self) -> Self:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def parse(text: str) -> Any:
    """The library's own parse (what a RIS would read)."""
    return hl7.parse(text)
