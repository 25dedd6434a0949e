"""Running `garde serve` as a subprocess in end-to-end tests, and dcmtk's storescu at it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

SENDING = re.compile(r"Sending file: (.+\.dcm)\s*$")
SUCCESS = "Received Store Response (Success)"


def garde(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "garde", "--config", str(config), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


def serve(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "garde", "--config", str(config), "-v", "serve"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the gateway workers with it
        )


def wait_for_port(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"garde serve exited early:\n{log.read_text()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail("garde serve did not listen within 30 s")


def push_with_storescu(storescu: str, port: int, files: list[Path]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [storescu, "-v", "-aet", "TEST_CT1", "-aec", "GARDE", "127.0.0.1", str(port)]
        + [str(f) for f in files],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TCP_NODELAY": "1"},  # dcmtk: no Nagle delay per small PDU
    )


def acknowledged(output: str) -> set[Path]:
    """Files storescu saw answered with success (a response follows its 'Sending file')."""
    done: set[Path] = set()
    current: Path | None = None
    for line in output.splitlines():
        sending = SENDING.search(line)
        if sending:
            current = Path(sending.group(1))
        elif SUCCESS in line and current is not None:
            done.add(current)
            current = None
    return done


def wait_for_log(log: Path, text: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    pytest.fail(f"{text!r} not in the server log:\n{log.read_text()}")
