"""DICOMweb: Garde's WADO-RS and QIDO-RS against Orthanc's DICOMweb plugin, in one run.

The same synthetic CT (``--slices`` instances of 512 x 512, 16-bit: 300 by default,
about 157 MB) is pushed over DICOM to a real `garde serve` (web part on, SQLite) and
uploaded to Debian's Orthanc 1.10 with its DICOMweb plugin 1.7. Measured, alternating
the servers, ``--rounds`` times each:

- ``wado``: whole-study WADO-RS retrieval (``GET /studies/{uid}``, multipart of Part 10
  files as stored) read to the end by curl (one C client for both), in MB/s;
- ``first_instance_ms``: from the request to the end of the first instance's part,
  read by a plain socket;
- ``qido``: ``GET /studies?PatientID=...`` against Garde with ``--studies`` studies in
  its index (10,000 by default; inserted into the store before `serve` starts), p50
  and p99 over ``--queries`` queries of random patients.

Medians are quoted, with the ratio to Orthanc's. Prints JSON.

    .venv/bin/python -m benchmarks.dicomweb            # 300 instances, 10,000 studies
    .venv/bin/python -m benchmarks.dicomweb --smoke    # seconds, for CI
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from benchmarks.live_region import SENDER, free_port, garde, start_serve, stop
from garde.bootstrap import build_runtime, patient_key_secret
from garde.config.loader import load_settings
from garde.dicom_gateway.header import patient_key
from garde.dicom_gateway.scu import push
from garde.runtime.synthetic_dicom import SyntheticStudy, write_study
from garde.store.engine import make_engine
from garde.store.models import StudyAttributesRow, StudyRow

ACCEPT_DICOM = 'multipart/related; type="application/dicom"'
ORTHANC_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"

CONFIG = """
environment = "test"
data_dir = "{data}"

[gateway]
port = {port}
workers = 1
stable_age_s = 3600

[web]
enabled = true
port = {web_port}

[region]
medical_director = "director@example.org"

[[sites]]
id = "h01"
name = "CH Bench"
ae_titles = ["{sender}"]

[[radiologists]]
id = "r01"
name = "Dr Bench"
skills = ["neuro", "body"]
sites = ["h01"]
"""


def _orthanc(work: Path) -> tuple[subprocess.Popen[bytes], int] | None:
    binary = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
    if not Path(binary).exists() or not Path(ORTHANC_PLUGIN).exists():
        return None
    http = free_port()
    config = {
        "Name": "bench",
        "StorageDirectory": str(work / "orthanc"),
        "IndexDirectory": str(work / "orthanc"),
        "HttpPort": http,
        "DicomPort": free_port(),
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "Plugins": [ORTHANC_PLUGIN],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }
    (work / "orthanc.json").write_text(json.dumps(config), encoding="utf-8")
    log = (work / "orthanc.log").open("ab")
    process = subprocess.Popen(
        [binary, str(work / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{http}/system", timeout=2).read()
        except OSError:
            time.sleep(0.1)
            continue
        return process, http
    process.kill()
    raise RuntimeError("Orthanc did not answer within 30 s")


def _upload(http: int, files: list[Path]) -> None:
    for path in files:
        request = urllib.request.Request(
            f"http://127.0.0.1:{http}/instances", data=path.read_bytes(), method="POST"
        )
        urllib.request.urlopen(request, timeout=60).read()


def _curl(url: str) -> tuple[float, int]:
    """Seconds and bytes of a whole retrieval read by curl."""
    done = subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-H",
            f"Accept: {ACCEPT_DICOM}",
            "-w",
            "%{time_total} %{size_download} %{http_code}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, size, code = done.stdout.split()
    if code != "200":
        raise RuntimeError(f"{url}: HTTP {code}")
    return float(seconds), int(size)


def _first_instance_ms(port: int, path: str) -> float:
    """Milliseconds from sending the request to the end of the first part (socket)."""
    began = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {ACCEPT_DICOM}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        data = bytearray()
        boundary = b""
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise RuntimeError("connection closed before the first part ended")
            data += chunk
            if not boundary:
                head_end = data.find(b"\r\n\r\n")
                if head_end < 0:
                    continue
                head = data[:head_end].decode("latin-1").lower()
                marker = head.split("boundary=", 1)[1].split(";")[0].split("\r\n")[0]
                boundary = b"--" + marker.strip().strip('"').encode()
                body_at = head_end + 4
            first = data.find(boundary, body_at)
            if first >= 0 and data.find(boundary, first + len(boundary)) >= 0:
                return (time.perf_counter() - began) * 1000


def _fill_index(url: str, data_dir: Path, count: int) -> list[str]:
    """Insert ``count`` studies (with their attributes) of distinct patients; their IDs."""
    secret = patient_key_secret(data_dir)
    engine = make_engine(url)
    now = datetime.now(tz=UTC)
    patients = [f"P{n:07d}" for n in range(count)]
    studies = [
        {
            "study_uid": f"1.2.826.0.1.3680043.10.1.{n}",
            "site_id": "h01",
            "state": "done",
            "patient_key": patient_key(secret, "h01", pid),
            "accession": f"A{n:08d}",
            "description": "TDM THORAX",
            "modalities": "CT",
            "first_received_at": now - timedelta(minutes=n),
            "last_received_at": now - timedelta(minutes=n),
            "series_count": 1,
            "instance_count": 100,
            "handle": f"h01-x{n}",
        }
        for n, pid in enumerate(patients)
    ]
    with engine.begin() as connection:
        connection.execute(insert(StudyRow), studies)
        ids = dict(
            connection.exec_driver_sql("SELECT study_uid, id FROM studies").all()  # type: ignore[arg-type]
        )
        connection.execute(
            insert(StudyAttributesRow),
            [
                {
                    "study_id": ids[s["study_uid"]],
                    "study_date": "20261205",
                    "study_time": "020000",
                    "patient_name": f"BENCH^{pid}",
                    "patient_sex": "F",
                    "patient_age": "067Y",
                    "patient_birth_date": "19590101",
                    "referring_physician": "",
                    "requesting_physician": "",
                    "indication": "",
                    "dataset": {
                        "00100020": {"vr": "LO", "Value": [pid]},
                        "0020000D": {"vr": "UI", "Value": [s["study_uid"]]},
                    },
                }
                for s, pid in zip(studies, patients, strict=True)
            ],
        )
    engine.dispose()
    return patients


def _qido(port: int, patients: list[str], queries: int) -> list[float]:
    times = []
    rng = random.Random(13)
    for _ in range(queries):
        pid = rng.choice(patients)
        began = time.perf_counter()
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/dicom-web/studies?PatientID={pid}", timeout=10
        ) as response:
            found = json.loads(response.read())
        times.append((time.perf_counter() - began) * 1000)
        if len(found) != 1:
            raise RuntimeError(f"QIDO PatientID={pid}: {len(found)} studies, expected 1")
    return times


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(slices: int, size: int, rounds: int, studies: int, queries: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="garde-dicomweb-") as tmp:
        work = Path(tmp)
        study_uid, files = write_study(
            SyntheticStudy(
                modality="CT",
                body_part="CHEST",
                description="TDM THORAX",
                patient_ref="BENCH-WADO",
                acquired_at=datetime.now(tz=UTC),
                slices=slices,
                size=size,
            ),
            work / "study",
        )
        study_bytes = sum(p.stat().st_size for p in files)
        data = work / "data"
        port, web_port = free_port(), free_port()
        config = work / "garde.toml"
        config.write_text(
            CONFIG.format(data=data, port=port, web_port=web_port, sender=SENDER),
            encoding="utf-8",
        )
        garde(config, "db", "upgrade")
        runtime = build_runtime(load_settings(config))
        runtime.sync_directory()  # the site the inserted studies belong to
        runtime.close()
        patients = _fill_index(f"sqlite:///{data / 'garde.sqlite'}", data, studies)
        server = start_serve(config, work / "serve.log", port)
        orthanc = _orthanc(work)
        try:
            report = push(files, host="127.0.0.1", port=port, calling_ae=SENDER, called_ae="GARDE")
            if report.stored != len(files):
                raise RuntimeError("the push to garde did not store every file")
            time.sleep(1.0)  # indexed after the answers
            if orthanc is not None:
                _upload(orthanc[1], files)
            targets = {"garde": web_port} | ({"orthanc": orthanc[1]} if orthanc else {})
            mb_s: dict[str, list[float]] = {name: [] for name in targets}
            first: dict[str, list[float]] = {name: [] for name in targets}
            path = f"/dicom-web/studies/{study_uid}"
            for target in targets.values():  # warm-up: caches, first connections
                _curl(f"http://127.0.0.1:{target}{path}")
            for _ in range(rounds):
                for name, target in targets.items():
                    seconds, size_read = _curl(f"http://127.0.0.1:{target}{path}")
                    if size_read < study_bytes:
                        raise RuntimeError(f"{name}: {size_read} bytes for a {study_bytes} study")
                    mb_s[name].append(size_read / seconds / 1e6)
                    first[name].append(_first_instance_ms(target, path))
            qido_ms = _qido(web_port, patients, queries)
        finally:
            stop(server)
            if orthanc is not None:
                orthanc[0].terminate()
                orthanc[0].wait(timeout=30)
    garde_mb_s = statistics.median(mb_s["garde"])
    result: dict[str, object] = {
        "benchmark": "dicomweb",
        "study": {"instances": slices, "size_px": size, "mb": round(study_bytes / 1e6, 1)},
        "rounds": rounds,
        "wado": {"garde_mb_s": round(garde_mb_s, 1)},
        "first_instance_ms": {"garde": round(statistics.median(first["garde"]), 2)},
        "qido": {
            "studies_in_index": studies,
            "queries": queries,
            "p50_ms": round(_p(qido_ms, 0.5), 2),
            "p99_ms": round(_p(qido_ms, 0.99), 2),
            "target_p99_ms": 50,
        },
    }
    if "orthanc" in mb_s:
        orthanc_mb_s = statistics.median(mb_s["orthanc"])
        result["wado"] = {
            "garde_mb_s": round(garde_mb_s, 1),
            "orthanc_mb_s": round(orthanc_mb_s, 1),
            "ratio": round(garde_mb_s / orthanc_mb_s, 2),
            "target_ratio": 2.0,
        }
        result["first_instance_ms"] = {
            "garde": round(statistics.median(first["garde"]), 2),
            "orthanc": round(statistics.median(first["orthanc"]), 2),
        }
    else:
        result["orthanc"] = "not installed (Debian packages orthanc, orthanc-dicomweb)"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--studies", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--smoke", action="store_true", help="a tiny run, seconds (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.slices, args.size, args.rounds, args.studies, args.queries = 8, 64, 1, 50, 10
    result = run(args.slices, args.size, args.rounds, args.studies, args.queries)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
