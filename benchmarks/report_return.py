"""Seconds from `done` with a report to the SR readable in the hospital's PACS (issue 14).

Orthanc (Debian's) plays the PACS on free ports. Each study is stored for real (image
files in the storage folder, indexed), being read by r1; `ReadingService.finish` with a
report is what `garde done --report-file` calls: it signs the report and queues it in
the outbox. The `ReportDelivery` thread `garde serve` runs sends it; the clock stops
when Orthanc's REST API lists the SR in the study. Baseline in the same run: the same
SR file stored straight into Orthanc by a bare pynetdicom C-STORE, then looked up the
same way (the floor: what the network and Orthanc cost, without Garde).

    .venv/bin/python -m benchmarks.report_return          # 20 reports
    .venv/bin/python -m benchmarks.report_return --smoke  # 2 reports (CI)
"""

from __future__ import annotations

import argparse
import json
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
from typing import Any

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE

from garde.config.reporting import Destination, DestinationKind, ReportingSettings
from garde.dispatch.board import Board
from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import (
    InstanceReceived,
    Priority,
    Radiologist,
    Site,
    TriageResult,
)
from garde.reporting.delivery import ReportDelivery
from garde.services.reading import ReadingService
from garde.services.reporting import ReportDraft, ReportService
from garde.store.engine import make_engine, make_session_factory
from garde.store.instance_index import SqlInstanceIndex
from garde.store.migrate import upgrade
from garde.store.uow import SqlUnitOfWork

TEXT = "Pas d'hémorragie intracrânienne.\nPas d'effet de masse. Ventricules de taille normale."
ORTHANC = ("/usr/sbin/Orthanc", "/usr/bin/Orthanc")


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Pacs:
    """Orthanc on free ports, in a temp folder (``mover``: an AE it may C-MOVE to)."""

    def __init__(self, binary: str, folder: Path, mover: tuple[str, int] | None = None) -> None:
        self.dicom_port, self.http_port = _port(), _port()
        config = {
            "StorageDirectory": str(folder / "orthanc"),
            "IndexDirectory": str(folder / "orthanc"),
            "DicomAet": "ORTHANC",
            "DicomPort": self.dicom_port,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowFind": True,
            "DicomAlwaysAllowMove": True,
            "DicomModalities": {"garde": [mover[0], "127.0.0.1", mover[1]]} if mover else {},
            "Plugins": [],
        }
        path = folder / "orthanc.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        self.process = subprocess.Popen(
            [binary, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self._post("/tools/find", {"Level": "Study", "Query": {}})
            except OSError:
                time.sleep(0.05)
                continue
            return
        raise RuntimeError("Orthanc did not start")

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}", data=json.dumps(body).encode()
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def has(self, sop_uid: str) -> bool:
        """Whether the instance is readable through the REST API."""
        query = {"Level": "Instance", "Query": {"SOPInstanceUID": sop_uid}}
        return bool(self._post("/tools/find", query))

    def wait_for(self, sop_uid: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.has(sop_uid):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{sop_uid} not in Orthanc after {timeout} s")
            time.sleep(0.01)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)


def _image(study_uid: str, series_uid: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.Modality, ds.PatientID, ds.PatientName = "CT", "BENCH-1", "BENCH^PATIENT"
    ds.AccessionNumber, ds.StudyDescription = "ACC-1", "TDM CEREBRALE"
    ds.Rows = ds.Columns = 8
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = np.zeros((8, 8), dtype=np.uint16).tobytes()
    return ds


def _study(factory: Any, storage: Path) -> str:
    study_uid, series_uid = generate_uid(), generate_uid()
    ds = _image(study_uid, series_uid)
    relative = f"{study_uid}/{series_uid}/{ds.SOPInstanceUID}.dcm"
    (storage / relative).parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(storage / relative, enforce_file_format=True)
    now = datetime.now(tz=UTC)
    SqlInstanceIndex(factory).record(
        InstanceReceived(
            str(ds.SOPInstanceUID),
            CTImageStorage,
            series_uid,
            study_uid,
            ExplicitVRLittleEndian,
            "h1",
            "H1_CT",
            relative,
            1024,
            now,
            modality="CT",
        )
    )
    with SqlUnitOfWork(factory) as uow:
        uow.studies.move(study_uid, StudyEvent.BECAME_STABLE, at=now)
        uow.studies.set_triage(
            study_uid,
            TriageResult(Priority.URGENT, frozenset(), 10.0, "r"),
            now + timedelta(hours=1),
        )
        uow.studies.assign(study_uid, "r1", at=now, by="router", explanation={"kind": "bench"})
        uow.studies.move(study_uid, StudyEvent.ASSIGNED, StudyEvent.STARTED, at=now)
        uow.commit()
    return study_uid


def _baseline(pacs: Pacs, path: Path) -> float:
    """A bare C-STORE of a copy of the SR (new SOP Instance UID), then the same lookup."""
    ds = dcmread(path)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    began = time.perf_counter()
    ae = AE(ae_title="BASELINE")
    ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", pacs.dicom_port, ae_title="ORTHANC")
    assoc.send_c_store(ds)
    assoc.release()
    pacs.wait_for(str(ds.SOPInstanceUID))
    return time.perf_counter() - began


def run(count: int, prior_instances: int, rounds: int) -> dict[str, Any]:
    binary = shutil.which("Orthanc") or next((p for p in ORTHANC if Path(p).exists()), None)
    if binary is None:
        return {"benchmark": "report_return", "skipped": "Orthanc is not installed"}
    with tempfile.TemporaryDirectory(prefix="garde-bench-report-") as tmp:
        folder = Path(tmp)
        receiver_port = _port()
        pacs = Pacs(binary, folder, ("GARDE_PRIORS", receiver_port))
        try:
            result = _measure(pacs, folder, count)
            result["priors"] = _priors(pacs, folder, receiver_port, prior_instances, rounds)
            return result
        finally:
            pacs.close()


def _priors(
    pacs: Pacs, folder: Path, receiver_port: int, instances: int, rounds: int
) -> dict[str, Any]:
    """Seconds of one lookup (C-FIND, then C-MOVE of a prior of ``instances`` images into
    the receiver `garde serve` runs), ``rounds`` times, each into a new study."""
    from garde.config.reporting import PriorsPeer  # noqa: PLC0415
    from garde.reporting.priors import NewStudy, PriorsReceiver, fetch_priors  # noqa: PLC0415

    study_uid, series_uid = generate_uid(), generate_uid()
    files = folder / "prior"
    files.mkdir()
    for _ in range(instances):
        ds = _image(study_uid, series_uid)
        ds.StudyDate = "20250101"
        path = files / f"{ds.SOPInstanceUID}.dcm"
        ds.save_as(path, enforce_file_format=True)
        request = urllib.request.Request(
            f"http://127.0.0.1:{pacs.http_port}/instances", data=path.read_bytes()
        )
        with urllib.request.urlopen(request, timeout=30):
            pass
    receiver = PriorsReceiver(folder / "storage", "GARDE_PRIORS", "127.0.0.1", receiver_port)
    peer = PriorsPeer("h1", "127.0.0.1", pacs.dicom_port, "ORTHANC", timeout_s=60)
    seconds = []
    try:
        for _ in range(rounds):
            new = NewStudy(generate_uid(), "BENCH-1", "", frozenset({"CT"}), "", "")
            began = time.perf_counter()
            result = fetch_priors(peer, new, receiver, now=datetime.now(tz=UTC))
            seconds.append(time.perf_counter() - began)
            if result.stored.get(study_uid) != instances:
                raise RuntimeError(f"priors: {result.stored} stored, {instances} expected")
    finally:
        receiver.close()
    return {
        "instances": instances,
        "rounds": rounds,
        "median_s": round(statistics.median(seconds), 3),
        "runs_s": [round(s, 3) for s in seconds],
    }


def _measure(pacs: Pacs, folder: Path, count: int) -> dict[str, Any]:
    url = f"sqlite:///{folder / 'garde.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    storage = folder / "storage"
    with SqlUnitOfWork(factory) as uow:
        uow.directory.sync_sites([Site("h1", "CH One", frozenset({"H1_CT"}))])
        uow.directory.sync_radiologists(
            [Radiologist("r1", "Dr Bench", frozenset(), frozenset({"h1"}))]
        )
        uow.commit()
    settings = ReportingSettings(
        destinations=(
            Destination(
                "h1",
                "pacs",
                DestinationKind.DICOM,
                host="127.0.0.1",
                port=pacs.dicom_port,
                ae_title="ORTHANC",
                objects=("sr",),
            ),
        ),
    )

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(factory)

    reports = ReportService(uow, settings, storage, {"h1": "CH One"})
    reading = ReadingService(uow, Board(), reports=reports)
    delivery = ReportDelivery(uow, settings, calling_ae="GARDE")
    delivery.start()  # the thread `garde serve` runs
    studies = [_study(factory, storage) for _ in range(count)]
    seconds, floor = [], []
    try:
        for study in studies:
            began = time.perf_counter()
            reading.finish(
                study, "r1", datetime.now(tz=UTC), origin="bench", report=ReportDraft(TEXT)
            )
            with uow() as work:
                (report,) = reports_of(work, study)
            pacs.wait_for(str(report.sr_uid))
            seconds.append(time.perf_counter() - began)
            floor.append(_baseline(pacs, storage / "reports" / study / f"{report.sr_uid}.dcm"))
    finally:
        delivery.close()
        engine.dispose()
    return {
        "benchmark": "report_return",
        "reports": count,
        "report": _summary(seconds),
        "baseline_bare_c_store": _summary(floor),
        "median_ratio": round(statistics.median(seconds) / statistics.median(floor), 1),
        "target_median_s": 2.0,
    }


def reports_of(work: SqlUnitOfWork, study: str) -> list[Any]:
    from garde.store.repositories.reports import ReportRepository  # noqa: PLC0415

    return ReportRepository(work.session).of_study(study)


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_s": round(statistics.median(ordered), 3), "p95_s": round(p95, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="2 reports (CI)")
    parser.add_argument("--reports", type=int, default=20)
    args = parser.parse_args()
    result = run(
        2 if args.smoke else args.reports, 10 if args.smoke else 300, 1 if args.smoke else 3
    )
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
