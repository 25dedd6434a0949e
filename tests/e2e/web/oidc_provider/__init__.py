"""panva's oidc-provider (the certified npm package, `provider.mjs` here) run for the SSO test.

`make oidc-provider` installs it (package-lock.json pins it); without node_modules the test
skips, unless GARDE_TEST_REQUIRE_OIDC=1 (CI) makes that a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).parent
CLIENT_ID = "garde-test"
CLIENT_SECRET = "garde-test-secret"  # the test client's registration


def require_provider() -> str:
    """The node executable, once the package is installed; skip (or fail in CI) otherwise."""
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "oidc-provider").is_dir():
        message = "oidc-provider is not installed (run `make oidc-provider`; needs node and npm)"
        if os.environ.get("GARDE_TEST_REQUIRE_OIDC") == "1":
            pytest.fail(f"{message}, and this run requires it")
        pytest.skip(message)
    return node


@dataclass
class Provider:
    """One oidc-provider process with one client (Garde) and the given accounts."""

    node: str
    port: int
    redirect_uri: str
    accounts: dict[str, dict[str, str]] = field(default_factory=dict)
    process: subprocess.Popen[str] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Provider:
        self.process = subprocess.Popen(
            [
                self.node,
                str(HERE / "provider.mjs"),
                str(self.port),
                self.redirect_uri,
                CLIENT_ID,
                CLIENT_SECRET,
                json.dumps(self.accounts),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # its development-only warnings
            text=True,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # blocks until listening (or exit: "")
        assert line.startswith("ready "), f"oidc-provider did not start: {line!r}"
        return self

    def mode(self, mode: str) -> None:
        """Steer the token endpoint's ID token: "forge", "expired" or "none"."""
        httpx.post(self.issuer + "/test/mode", content=mode, timeout=5).raise_for_status()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
