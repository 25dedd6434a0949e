"""A small live region for the benchmarks that drive real `garde serve` processes.

Shared by `stroke_to_reader` and `failover`: a config file for one hospital and one
neuroradiologist on call now, a real HTTP webhook receiver on loopback recording when
each notification arrives, `garde serve` started as a subprocess (its own process group),
and a synthetic stroke CT pushed over DICOM with the same SCU as `garde push`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from garde.dicom_gateway.scu import push
from garde.runtime.synthetic_dicom import SyntheticStudy, write_study

if TYPE_CHECKING:
    from pathlib import Path

SENDER = "BENCH_CT1"
STROKE = "TDM cerebral AVC alerte thrombolyse"  # ASCII: the default character set

CONFIG = """
environment = "test"
data_dir = "{data}"
database_url = "{database_url}"
roster_file = "{roster}"

[gateway]
port = {port}
workers = 1
storage_dir = "{storage}"
stable_age_s = {stable_age_s}
stroke_stable_age_s = {stroke_stable_age_s}

[previews]
dir = "{previews}"

[scheduler]
stability_sweep_s = {sweep_s}
sla_watch_s = {sla_watch_s}
{scheduler}

[notify]
webhook_url = "http://127.0.0.1:{hook}/hook"
webhook_timeout_s = 2
webhook_backoff_s = 0.2
ack_timeout_min = {ack_timeout_min}

[region]
medical_director = "director@example.org"

[[sites]]
id = "h01"
name = "CH Bench"
ae_titles = ["{sender}"]

[[radiologists]]
id = "r01"
name = "Dr Neuro"
skills = ["neuro", "body"]
sites = ["h01"]
"""


def free_port() -> int:
    """A TCP port free on loopback now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_roster(path: Path) -> Path:
    """r01 on call at every site from an hour ago for twelve hours (wall-clock now)."""
    now = datetime.now(tz=UTC)
    start = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%MZ")
    end = (now + timedelta(hours=11)).strftime("%Y-%m-%dT%H:%MZ")
    path.write_text(f"radiologist,start,end,role,sites\nr01,{start},{end},oncall,all\n", "utf-8")
    return path


def write_config(
    path: Path,
    *,
    data: Path,
    shared: Path,
    database_url: str,
    port: int,
    hook: int,
    stable_age_s: float = 60,
    stroke_stable_age_s: float = 3,
    sweep_s: float = 5,
    sla_watch_s: float = 30,
    ack_timeout_min: float = 5,
    scheduler: str = "",
) -> Path:
    """A region config: per-node ``data``, shared storage and previews under ``shared``;
    ``scheduler``: more ``[scheduler]`` lines."""
    roster = write_roster(shared / "roster.csv")
    path.write_text(
        CONFIG.format(
            data=data,
            database_url=database_url or f"sqlite:///{data / 'garde.sqlite'}",
            roster=roster,
            port=port,
            storage=shared / "storage",
            previews=shared / "previews",
            stable_age_s=stable_age_s,
            stroke_stable_age_s=stroke_stable_age_s,
            sweep_s=sweep_s,
            sla_watch_s=sla_watch_s,
            hook=hook,
            ack_timeout_min=ack_timeout_min,
            scheduler=scheduler,
            sender=SENDER,
        ),
        encoding="utf-8",
    )
    return path


def garde(config: Path, *args: str) -> str:
    """Run one `garde` command against ``config``; its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "garde", "--config", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"garde {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def start_serve(config: Path, log: Path, port: int) -> subprocess.Popen[bytes]:
    """`garde serve` in its own process group, once it listens on ``port``."""
    with log.open("ab") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "garde", "--config", str(config), "-v", "serve"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"garde serve exited early:\n{log.read_text()[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return server
        time.sleep(0.05)
    stop(server)
    raise RuntimeError("garde serve did not listen within 60 s")


def stop(server: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal the server's process group and reap it (SIGKILL after 30 s)."""
    try:
        os.killpg(server.pid, sig)
        server.wait(timeout=30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


class Receiver:
    """A real webhook receiver: records each POST's JSON body and arrival (epoch s)."""

    def __init__(self, port: int) -> None:
        self.posts: list[tuple[float, dict[str, Any]]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:
                    receiver.posts.append((time.time(), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def first(self, kind: str, study_uid: str) -> float | None:
        """When the first ``kind`` notification of ``study_uid`` arrived, if it did."""
        with self.lock:
            for at, body in self.posts:
                if body["kind"] == kind and body["payload"].get("study_uid") == study_uid:
                    return at
        return None

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [body for _, body in self.posts if body["kind"] == kind]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def stroke_ct(
    folder: Path, slices: int, size: int = 256, declared: int | None = None
) -> tuple[str, list[Path]]:
    """A synthetic stroke head CT of one series; its StudyInstanceUID and files.

    ``declared``: the Images in Acquisition each instance carries (None: not sent)."""
    study = SyntheticStudy(
        modality="CT",
        body_part="HEAD",
        description=STROKE,
        patient_ref=f"BENCH-{folder.name}",
        acquired_at=datetime.now(tz=UTC),
        slices=slices,
        size=size,
        declared_images=declared,
    )
    return write_study(study, folder)


def push_study(files: list[Path], port: int) -> float:
    """Push ``files`` over DICOM; the epoch time the last one was acknowledged."""
    report = push(files, host="127.0.0.1", port=port, calling_ae=SENDER, called_ae="GARDE")
    if report.failed or report.stored != len(files):
        raise RuntimeError(f"push to port {port}: not every file stored")
    return time.time()
