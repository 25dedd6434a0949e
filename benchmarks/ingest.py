"""Ingest benchmark: a 300-instance 512x512 16-bit CT series pushed over loopback by
dcmtk's storescu, with 1 and 4 concurrent senders, into several receivers in one run:

- ``garde``: `garde serve`'s gateway (worker processes, one per core; durable writes:
  temporary file, fsync, rename, directory fsync; indexed in a migrated SQLite store);
- ``garde_single_process``: the same in one process (``gateway.workers = 1``);
- ``discard``: the same receive path (same server, contexts, PDU size, TCP_NODELAY,
  event-driven association threads of `garde.dicom_gateway.reactor`) with a handler
  that reads the encoded dataset and discards it: the ceiling of that path in one
  process;
- ``discard_pynetdicom``: the same with pynetdicom's own polling association threads
  (what ``discard`` measured before the reactor): the library's stock ceiling;
- ``discard_workers``: that discarding gateway in one process per core on one port
  (SO_REUSEPORT, as Garde's workers): the library's ceiling on this machine's cores;
- ``orthanc``: Debian's Orthanc with its default storage (files + SQLite, synced);
- ``storescp``: dcmtk's storescp writing each instance to disk (forking per association).

Every peer runs with TCP_NODELAY=1 in its environment (Debian's dcmtk 3.6.7 and Orthanc
leave Nagle's algorithm on otherwise). Each (receiver, senders) pair runs ``--rounds``
times against a fresh receiver, the receivers taking turns round by round (load from
other work on a shared machine then falls on all of them alike); the median is
reported, with every round. Prints JSON:
``results["1"|"4"][receiver] = {inst_per_s, mb_per_s, rounds, ...}``, the ratios and
whether the issue's targets hold.

Around the runs it measures the disk's price of one durable write as Garde makes it
(``disk.durable_write_ms_before`` / ``_after``), and prints the load average at the end:
on a shared machine both move the figures more than any change does.

It then measures the memory of one gateway process receiving one large instance (512
MB of native pixel data, sent by storescu): ``memory.peak_mb_512mb_instance`` is the
growth of that process's peak RSS (VmHWM) over its RSS before the association.

    .venv/bin/python benchmarks/ingest.py               # about 3 minutes on 2 cores
    .venv/bin/python benchmarks/ingest.py --rounds 1    # quick
    .venv/bin/python benchmarks/ingest.py --smoke       # seconds; figures not judged
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import multiprocessing
import os
import platform
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pynetdicom import _config
from pynetdicom.association import Association
from sqlalchemy import func, select

from garde.bootstrap import build_runtime, sql_instance_index
from garde.config.model import GatewaySettings, Settings
from garde.dicom_gateway import server as server_module
from garde.dicom_gateway import status
from garde.dicom_gateway.intake import Outcome
from garde.dicom_gateway.scp import Gateway
from garde.dicom_gateway.workers import GatewayWorkers
from garde.dicom_gateway.writer import DurableWriter
from garde.dispatch.model import Site
from garde.store.migrate import upgrade
from garde.store.models import InstanceRow

ENV = {**os.environ, "TCP_NODELAY": "1"}
SENDER_AE = "BENCH_CT"
SITES = (Site("bench", "Benchmark hospital", frozenset({SENDER_AE})),)
RECEIVERS = (
    "garde",
    "garde_single_process",
    "discard",
    "discard_pynetdicom",
    "discard_workers",
    "orthanc",
    "storescp",
)
TARGETS = {  # issue 15 (its discard ceiling was pynetdicom's stock one; both are shown)
    "1": {"garde_vs_discard": 0.75, "garde_vs_discard_pynetdicom": 0.75, "garde_vs_orthanc": 1.2},
    "4": {"garde_vs_orthanc": 1.2},
}
MEMORY_TARGET_MB = 100
_MB = 1 << 20


def make_series(folder: Path, count: int, size: int = 512) -> list[Path]:
    """``count`` 512x512 16-bit CT slices of one series (about 525 KB each)."""
    folder.mkdir(parents=True, exist_ok=True)
    study, series = generate_uid(), generate_uid()
    rng = np.random.default_rng(7)
    base = (rng.normal(1000, 200, (size, size))).clip(0, 4095).astype(np.uint16)
    paths = []
    for n in range(1, count + 1):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.Modality, ds.PatientID, ds.PatientName = "CT", "BENCH-1", "BENCH^PATIENT"
        ds.StudyDescription, ds.SeriesDescription = "TDM ABDOMEN", "AXIAL 1MM"
        ds.SeriesNumber, ds.InstanceNumber = 1, n
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.ImagePositionPatient = [0.0, 0.0, float(n)]
        ds.PixelData = np.roll(base, n, axis=0).tobytes()
        path = folder / f"IM{n:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def split(paths: list[Path], root: Path, senders: int) -> list[Path]:
    """Hard-link the series into ``senders`` folders of (nearly) equal share."""
    folders = []
    for i in range(senders):
        folder = root / f"sender{i}"
        if not folder.exists():  # made once per sender count
            folder.mkdir(parents=True)
            for path in paths[i::senders]:
                os.link(path, folder / path.name)
        folders.append(folder)
    return folders


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def send(port: int, called: str, folders: list[Path]) -> float:
    """Run one storescu per folder at once; the wall time until the last one is done."""
    storescu = shutil.which("storescu")
    assert storescu is not None
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [storescu, "-aet", SENDER_AE, "-aec", called, "+sd", "127.0.0.1", str(port), str(f)],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in folders
    ]
    errors = [p.communicate()[1] for p in procs]
    elapsed = time.perf_counter() - start
    failed = [(p.returncode, e) for p, e in zip(procs, errors, strict=True) if p.returncode]
    if failed:
        code, stderr = failed[0]
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        raise RuntimeError(f"storescu failed ({how}): {stderr[-500:]}")
    return elapsed


def wait_for_echo(port: int, called: str, timeout: float = 30.0) -> None:
    echoscu = shutil.which("echoscu")
    assert echoscu is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = [echoscu, "-aet", SENDER_AE, "-aec", called, "127.0.0.1", str(port)]
        if subprocess.run(run, capture_output=True, env=ENV, check=False).returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"no C-ECHO answer on port {port} after {timeout}s")


def count_files(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file())


# --- receivers: each is a context manager yielding (port, called AE, count of stored) ---


@contextlib.contextmanager
def garde_receiver(work: Path, workers: int):
    data = work / "garde"
    data.mkdir()
    url = f"sqlite:///{data / 'garde.sqlite'}"
    upgrade(url)
    settings = Settings(
        data_dir=data,
        database_url=url,
        gateway=GatewaySettings(port=0, storage_dir=data / "storage", workers=workers),
        sites=SITES,
    )
    runtime = build_runtime(settings)
    runtime.sync_directory()
    gateway = runtime.build_gateway()  # what `garde serve` runs
    gateway.start()
    try:
        yield gateway.port, "GARDE", lambda: _garde_count(runtime)
    finally:
        gateway.stop()
        runtime.close()


def _garde_count(runtime) -> int:
    with runtime.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(InstanceRow)) or 0)


@contextlib.contextmanager
def discard_receiver(work: Path, *, port: int = 0, reuse_port: bool = False, polling: bool = False):
    """A gateway that discards what it receives; ``polling``: with pynetdicom's own
    association classes instead of the event-driven ones."""
    if polling:
        with (
            _pynetdicom_associations(),
            discard_receiver(work, port=port, reuse_port=reuse_port) as receiving,
        ):
            yield receiving
        return

    class _NoIndex:
        def record(self, _instance) -> bool:
            return True

        def path_of(self, _sop_instance_uid: str) -> str | None:
            return None

        def record_many(self, instances) -> list[bool]:
            return [True for _ in instances]

        def indexed_paths(self) -> set[str]:
            return set()

    received = []
    settings = GatewaySettings(port=port, storage_dir=work / "unused")
    gateway = Gateway(
        replace(settings), SITES, _NoIndex(), patient_key_secret=b"bench", reuse_port=reuse_port
    )

    def discard(request) -> Outcome:  # the handler has already read the encoded dataset
        received.append(request.dataset)
        return Outcome(status.SUCCESS)

    gateway.service.receive = discard  # type: ignore[method-assign]
    gateway.start()
    # The library's ceiling: data sets received in memory (its fastest path), where
    # Garde's gateway spools each one to a file (bounded memory per association).
    _config.STORE_RECV_CHUNKED_DATASET = False
    try:
        yield gateway.port, "GARDE", lambda: len(received)
    finally:
        gateway.stop()


@contextlib.contextmanager
def _pynetdicom_associations():
    """The gateway's server builds pynetdicom's stock (polling) associations meanwhile."""
    original = server_module.acceptor_association
    server_module.acceptor_association = lambda ae: Association(ae, "acceptor")
    try:
        yield
    finally:
        server_module.acceptor_association = original


def _serve_discarding(work: Path, port: int, ready, stop, received) -> None:
    """A discarding gateway on a shared port, in a spawned process (``discard_workers``);
    adds what it received to the shared ``received`` counter when stopped."""
    with discard_receiver(work, port=port, reuse_port=True) as (_port, _called, stored):
        ready.set()
        stop.wait()
        with received.get_lock():
            received.value += stored()


@contextlib.contextmanager
def discard_workers_receiver(work: Path, workers: int):
    """``workers`` processes of `discard_receiver` sharing one port."""
    ctx = multiprocessing.get_context("spawn")
    port = free_port()
    stop = ctx.Event()
    received = ctx.Value("q", 0)
    readies = [ctx.Event() for _ in range(workers)]
    procs = [
        ctx.Process(
            target=_serve_discarding,
            args=(work / f"worker-{i}", port, ready, stop, received),
            daemon=True,
        )
        for i, ready in enumerate(readies)
    ]
    for proc in procs:
        proc.start()
    for ready in readies:
        if not ready.wait(60):
            raise RuntimeError("a discarding worker did not start")

    def discarded() -> int:
        """Stop the workers; the instances they received, all together."""
        stop.set()
        for proc in procs:
            proc.join(30)
        return int(received.value)

    try:
        yield port, "GARDE", discarded
    finally:
        stop.set()
        for proc in procs:
            proc.join(30)


@contextlib.contextmanager
def orthanc_receiver(work: Path):
    exe = shutil.which("Orthanc")
    if exe is None:
        raise FileNotFoundError("Orthanc is not installed (Debian package: orthanc)")
    storage = work / "orthanc"
    port, http = free_port(), free_port()
    config = work / "orthanc.json"
    config.write_text(
        json.dumps(
            {
                "Name": "bench",
                "StorageDirectory": str(storage),
                "IndexDirectory": str(storage),
                "DicomAet": "ORTHANC",
                "DicomPort": port,
                "HttpPort": http,
                "RemoteAccessAllowed": False,
                "AuthenticationEnabled": False,
                "DicomCheckCalledAet": False,
                "Plugins": [],
            }
        )
    )
    proc = subprocess.Popen(
        [exe, str(config)], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_echo(port, "ORTHANC")
        # Instance files only: Orthanc's storage also holds its SQLite index.
        yield port, "ORTHANC", lambda: _orthanc_count(storage)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _orthanc_count(storage: Path) -> int:
    return sum(1 for p in storage.rglob("*") if p.is_file() and len(p.name) == 36)


@contextlib.contextmanager
def storescp_receiver(work: Path):
    exe = shutil.which("storescp")
    if exe is None:
        raise FileNotFoundError("storescp is not installed (Debian package: dcmtk)")
    out = work / "storescp"
    out.mkdir()
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--fork", "-aet", "STORESCP", "-od", str(out), str(port)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its forked children go with it
    )
    try:
        wait_for_echo(port, "STORESCP")
        yield port, "STORESCP", lambda: count_files(out)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def receiver(name: str, work: Path, cores: int):
    if name == "garde":
        return garde_receiver(work, cores)
    if name == "garde_single_process":
        return garde_receiver(work, 1)
    if name == "discard":
        return discard_receiver(work)
    if name == "discard_pynetdicom":
        return discard_receiver(work, polling=True)
    if name == "discard_workers":
        return discard_workers_receiver(work, cores)
    if name == "orthanc":
        return orthanc_receiver(work)
    return storescp_receiver(work)


def measure_round(
    name: str, senders: int, paths: list[Path], root: Path
) -> tuple[float, float, float]:
    """One round of ``name`` with ``senders`` senders against a fresh receiver: the
    seconds until the last sender was done, the index lag after it, and the receiver's
    CPU seconds meanwhile (`_receiver_cpu`)."""
    folders = split(paths, root / f"split{senders}", senders)
    work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
    try:
        with receiver(name, work, os.cpu_count() or 1) as (port, called, stored):
            before = _receiver_cpu()
            elapsed = send(port, called, folders)
            after = _receiver_cpu(before)
            got, lag = _until_stored(stored, len(paths))
        if got != len(paths):
            raise RuntimeError(f"{name} stored {got} of {len(paths)} instances")
        return elapsed, lag, sum(after.values()) - sum(before.values())
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _receiver_cpu(among: dict[int, float] | None = None) -> dict[int, float]:
    """CPU seconds (user + system) of this process and of its descendants (the receiver's
    processes: Garde's workers, Orthanc), by pid; ``among``: only those pids (the
    senders started since are not the receiver's). Load from other work distorts this
    far less than wall-clock time. storescp's per-association forks are not counted."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = list(among) if among is not None else _descendants(os.getpid())
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile: counted as if it had used nothing
            out[pid] = (among or {}).get(pid, 0.0)
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
    return found


def summary(times: list[float], lags: list[float], cpu: list[float], paths: list[Path]) -> dict:
    """The median round of one receiver, with every round."""
    total_bytes = sum(p.stat().st_size for p in paths)
    best = statistics.median(times)
    return {
        # The receiver's CPU per instance (median round): what it costs, whatever the load
        # (None for storescp: its per-association forks are not counted).
        "cpu_ms_per_instance": round(statistics.median(cpu) * 1000 / len(paths), 2)
        if cpu
        else None,
        "inst_per_s": round(len(paths) / best, 1),
        "mb_per_s": round(total_bytes / best / 1e6, 1),
        "seconds": round(best, 3),
        "rounds_inst_per_s": [round(len(paths) / t, 1) for t in times],
        # After the last answer, until the last instance was indexed (Garde indexes
        # after answering; every answered instance is already fsynced on disk).
        "index_lag_s": round(max(lags), 3),
    }


def measure_all(
    chosen: list[str], senders: int, paths: list[Path], rounds: int, root: Path
) -> dict:
    """Every receiver in ``chosen``, ``rounds`` times, round by round: each round runs
    each receiver once, so load that comes and goes on a shared machine falls on all of
    them alike (one receiver's three rounds in a row, then the next's, let a neighbour's
    burst land on one receiver only and skew the ratios)."""
    times: dict[str, list[float]] = {name: [] for name in chosen}
    lags: dict[str, list[float]] = {name: [] for name in chosen}
    cpu: dict[str, list[float]] = {name: [] for name in chosen}
    missing: dict[str, str] = {}
    for _ in range(rounds):
        for name in chosen:
            if name in missing:
                continue
            try:
                elapsed, lag, seconds = measure_round(name, senders, paths, root)
            except RuntimeError as exc:
                raise RuntimeError(f"{name}, {senders} sender(s): {exc}") from exc
            except FileNotFoundError as exc:
                missing[name] = str(exc)
                continue
            times[name].append(elapsed)
            lags[name].append(lag)
            cpu[name].append(seconds)
    out: dict = {}
    for name in chosen:
        if name in missing:
            out[name] = {"inst_per_s": None, "mb_per_s": None, "missing": missing[name]}
        else:
            # storescp's work is in its per-association forks, which are not counted.
            seconds = [] if name == "storescp" else cpu[name]
            out[name] = summary(times[name], lags[name], seconds, paths)
    return out


def _until_stored(stored, expected: int, patience: float = 30.0) -> tuple[int, float]:
    """Read the receiver's count until it reaches ``expected`` (or stops in time)."""
    began = time.perf_counter()
    got = stored()
    while got < expected and time.perf_counter() - began < patience:
        time.sleep(0.01)
        got = stored()
    return got, time.perf_counter() - began


def make_large_instance(path: Path, megabytes: int) -> Path:
    """One CT instance with ``megabytes`` MB of native 16-bit pixel data, written in chunks
    (never whole in memory): Rows x 8192 columns."""
    columns = 8192
    rows = megabytes * _MB // (columns * 2)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PatientID = "CT", "BENCH-2"
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.save_as(path, enforce_file_format=True)
    length = rows * columns * 2
    chunk = bytes(8 * _MB)
    with path.open("ab") as fp:
        fp.write(b"\xe0\x7f\x10\x00OW\x00\x00" + length.to_bytes(4, "little"))
        left = length
        while left:
            fp.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))
    return path


def durable_write_ms(folder: Path, size: int, count: int = 40) -> float:
    """The disk's price of durability here and now: the median ms of Garde's own write of
    one ``size``-byte instance file (`DurableWriter` staging it, an fsync, linking it into
    place, a directory fsync), which Orthanc and storescp do not pay. On a machine shared
    with other writers it moves by 10x within minutes; it is measured before and after
    the receivers."""
    writer = DurableWriter(folder)
    data = os.urandom(size)
    times = []
    for n in range(1, count + 1):
        began = time.perf_counter()
        staged = writer.stage(writer.relative_path("1.2", "1.2.3", f"1.2.3.{n}"), [data], 0)
        try:
            writer.place(staged)
        finally:
            writer.release(staged)
        times.append(time.perf_counter() - began)
    shutil.rmtree(folder)
    return round(statistics.median(times[1:]) * 1000, 2)  # the first also made the folders


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def measure_memory(root: Path, megabytes: int) -> dict:
    """Peak RSS growth of one gateway process receiving one ``megabytes`` MB instance."""
    path = make_large_instance(root / "large.dcm", megabytes)
    data = root / "memory"
    data.mkdir()
    url = f"sqlite:///{data / 'garde.sqlite'}"
    upgrade(url)
    settings = GatewaySettings(port=0, storage_dir=data / "storage")
    runtime = build_runtime(
        Settings(data_dir=data, database_url=url, gateway=settings, sites=SITES)
    )
    runtime.sync_directory()
    runtime.close()
    gateway = GatewayWorkers(
        settings,
        SITES,
        functools.partial(sql_instance_index, url),
        patient_key_secret=b"bench",
        workers=1,
    )
    with gateway:
        [pid] = gateway.pids
        wait_for_echo(gateway.port, "GARDE")
        before = _kib(pid, "VmRSS")
        began = time.perf_counter()
        send(gateway.port, "GARDE", [path])
        elapsed = time.perf_counter() - began
        peak = _kib(pid, "VmHWM")
    stored = count_files(data / "storage")
    path.unlink()
    growth = (peak - before) / 1024
    key = f"peak_mb_{megabytes}mb_instance"
    return {
        key: round(growth, 1),
        "rss_before_mb": round(before / 1024, 1),
        "instance_mb": megabytes,
        "seconds": round(elapsed, 2),
        "stored": stored,
        "target_mb": MEMORY_TARGET_MB,
        "met": growth <= MEMORY_TARGET_MB,
    }


def ratios(results: dict) -> dict:
    def rate(senders: str, name: str) -> float | None:
        return results[senders].get(name, {}).get("inst_per_s")

    out: dict = {}
    for senders, targets in TARGETS.items():
        garde = rate(senders, "garde")
        out[senders] = {}
        for key, target in targets.items():
            other = rate(senders, key.removeprefix("garde_vs_"))
            ratio = round(garde / other, 2) if garde and other else None
            out[senders][key] = {
                "ratio": ratio,
                "target": target,
                "met": None if ratio is None else ratio >= target,
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--receivers", default=",".join(RECEIVERS))
    parser.add_argument("--memory-mb", type=int, default=512, help="0: skip the memory run")
    parser.add_argument(
        "--smoke", action="store_true", help="a few instances, one round, 16 MB: seconds"
    )
    args = parser.parse_args()
    if args.smoke:
        args.instances, args.rounds, args.memory_mb = 12, 1, min(args.memory_mb, 16)
    logging.basicConfig(level=logging.WARNING)
    chosen = [r for r in args.receivers.split(",") if r]
    with tempfile.TemporaryDirectory(prefix="garde-ingest-") as tmp:
        root = Path(tmp)
        paths = make_series(root / "series", args.instances)
        size = sum(p.stat().st_size for p in paths) // len(paths)
        disk = {"durable_write_ms_before": durable_write_ms(root / "probe", size)}
        results: dict = {
            str(senders): measure_all(chosen, senders, paths, args.rounds, root)
            for senders in (1, 4)
        }
        disk["durable_write_ms_after"] = durable_write_ms(root / "probe", size)
        memory = measure_memory(root, args.memory_mb) if args.memory_mb else {}
    print(
        json.dumps(
            {
                "benchmark": "ingest",
                "instances": args.instances,
                "instance_kb": round(size / 1024, 1),
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "rounds": args.rounds,
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "smoke": args.smoke,
                "results": results,
                "ratios": ratios(results),
                "memory": memory,
                "disk": disk,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
