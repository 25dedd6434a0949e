"""Running the web part inside `garde serve`: uvicorn on its own thread and event loop.

uvicorn with httptools (HTTP parsing in C) and uvloop (a libuv event loop): the fastest
well-kept ASGI server, which is what a viewer pulling a 2 GB study needs. The listening
socket is bound before the thread starts, so a port taken is an error at start-up, and
port 0 (tests) is known at once.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, cast

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from garde.web.stream import ZERO_COPY
from garde.web.zero_copy import ZeroCopy

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from garde.config.model import TlsSettings

logger = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0


class _Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a `ZeroCopy` in each request's scope."""

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:
            extensions = cast("dict[str, Any]", self.scope.setdefault("extensions", {}))
            extensions[ZERO_COPY] = ZeroCopy(cycle, self.transport)


class WebServer:
    """uvicorn serving ``app`` on ``host:port`` (TLS if given), in a daemon thread."""

    def __init__(self, app: ASGIApp, host: str, port: int, tls: TlsSettings | None = None) -> None:
        self.app = app
        self.host = host
        self.tls = tls
        self._socket = socket.socket(
            socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM
        )
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self._socket.listen(1024)
        self._socket.set_inheritable(True)
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            loop="uvloop",
            http=_Protocol,
            lifespan="off",
            log_config=None,  # Garde's logging, configured by the CLI
            access_log=False,  # requests are audited; an access log would repeat UIDs
            timeout_keep_alive=30,
            ssl_certfile=str(tls.cert_file) if tls else None,
            ssl_keyfile=str(tls.key_file) if tls else None,
            ssl_ca_certs=str(tls.ca_file) if tls and tls.ca_file else None,
            ssl_cert_reqs=2 if tls and tls.require_client_cert else 0,  # ssl.CERT_REQUIRED
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="garde-web", daemon=True)

    @property
    def scheme(self) -> str:
        """``https`` with TLS, else ``http``."""
        return "https" if self.tls else "http"

    def _run(self) -> None:
        self._server.run(sockets=[self._socket])

    def start(self) -> None:
        """Start serving; returns once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                raise RuntimeError("the web server did not start within 10 s")
            time.sleep(0.01)
        if not self._thread.is_alive():
            raise RuntimeError("the web server stopped at start-up (see the log)")
        logger.info("web: DICOMweb on %s://%s:%d/dicom-web", self.scheme, self.host, self.port)

    def stop(self) -> None:
        """Stop accepting, let requests in flight finish (bounded), and close."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT_S)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(STOP_TIMEOUT_S)
        with contextlib.suppress(OSError):
            self._socket.close()
