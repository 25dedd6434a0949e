"""Several gateway processes on one port (one listening socket), writing to one storage and
store."""

from __future__ import annotations

import functools
import logging
import os
import signal
import subprocess
import time
from collections import Counter

import pytest
from pydicom import dcmread
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from garde.bootstrap import Runtime, sql_instance_index
from garde.config.model import GatewaySettings, Settings, TlsSettings
from garde.dicom_gateway import workers as workers_module
from garde.dicom_gateway.scp import Gateway
from garde.dicom_gateway.workers import GatewayWorkers, worker_count
from garde.dispatch.model import Site
from garde.services.clock import FrozenClock, SystemClock
from tests.helpers import require_executable, write_series
from tests.integration.gateway.conftest import SECRET, SITES, indexed, storage_files
from tests.store_fixtures import sync_directory

pytestmark = pytest.mark.dcmtk

ENV = {**os.environ, "TCP_NODELAY": "1"}


def start_workers(tmp_path, url):
    settings = GatewaySettings(
        port=0, storage_dir=tmp_path / "storage", acse_timeout_s=5.0, network_timeout_s=10.0
    )
    gateway = GatewayWorkers(
        settings,
        SITES,
        functools.partial(sql_instance_index, url),
        patient_key_secret=SECRET,
        workers=2,
    )
    gateway.start()
    return gateway


@pytest.fixture
def workers(tmp_path, migrated_url, session_factory, caplog):
    """Two workers indexing into the migrated database (SQLite and PostgreSQL)."""
    sync_directory(session_factory, SITES, ())
    caplog.set_level(logging.INFO, logger="garde")  # the workers log at the parent's level
    gateway = start_workers(tmp_path, migrated_url)
    yield gateway
    gateway.stop(timeout=5)


@pytest.fixture
def echo_workers(tmp_path):
    """Two workers for tests that store nothing (their database is never opened)."""
    gateway = start_workers(tmp_path, f"sqlite:///{tmp_path / 'unused.sqlite'}")
    yield gateway
    gateway.stop(timeout=5)


def echo(port: int, aet: str = "NORD_CT") -> subprocess.CompletedProcess[str]:
    exe = require_executable("echoscu")
    run = [exe, "-aet", aet, "-aec", "GARDE", "127.0.0.1", str(port)]
    return subprocess.run(run, capture_output=True, text=True, env=ENV, check=False, timeout=30)


def test_worker_count_zero_means_one_per_core():
    assert worker_count(3) == 3
    assert worker_count(0) == (os.cpu_count() or 1)
    with pytest.raises(ValueError, match="-1"):
        worker_count(-1)


def test_workers_share_one_port_storage_and_store(workers, session_factory, tmp_path, caplog):
    assert len(workers.pids) == 2
    assert os.getpid() not in workers.pids
    exe = require_executable("storescu")
    senders = {"NORD_CT": 12, "SUD_CT": 10, "EST_MR": 8, "NORD_PACS": 6}
    procs = []
    for aet, count in senders.items():
        write_series(tmp_path / aet, count)
        args = [exe, "-aet", aet, "-aec", "GARDE", "+sd", "127.0.0.1", str(workers.port)]
        procs.append(subprocess.Popen([*args, str(tmp_path / aet)], env=ENV, text=True))
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    for _ in range(20):  # more connections: the kernel spreads them over the workers
        assert echo(workers.port).returncode == 0
    # The workers index what they answered in batches, a moment after answering.
    assert _until(lambda: len(indexed(session_factory)) == sum(senders.values()))
    rows = indexed(session_factory)
    assert {aet: sum(r.calling_ae == aet for r in rows.values()) for aet in senders} == senders
    root = tmp_path / "storage"
    assert len(storage_files(root)) == len(rows)
    for row in rows.values():
        assert dcmread(root / row.path, stop_before_pixels=True).SOPInstanceUID == (
            row.sop_instance_uid
        )
    # Log records of the workers reach the parent's logging, tagged with their pid.
    serving = {r.process for r in caplog.records if r.getMessage().startswith("association from")}
    assert serving == set(workers.pids)


def test_unknown_ae_is_rejected_and_a_dead_worker_is_replaced(echo_workers):
    for _ in range(6):  # whichever worker the kernel picks
        run = echo(echo_workers.port, aet="INTRUDER")
        assert run.returncode != 0
        assert "Calling AE Title Not Recognized" in run.stderr
    victim = echo_workers.pids[0]
    os.kill(victim, signal.SIGKILL)
    # The workers accept from one listening socket: a connection the victim has not
    # accepted when it dies waits in the queue for the survivor.
    assert _until(lambda: victim not in echo_workers.pids, 10)
    for _ in range(10):  # the survivor answers while the victim is down
        assert echo(echo_workers.port).returncode == 0
    deadline = time.monotonic() + 60
    while (len(echo_workers.pids) < 2 or victim in echo_workers.pids) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert len(echo_workers.pids) == 2
    assert victim not in echo_workers.pids
    for _ in range(10):
        assert echo(echo_workers.port).returncode == 0


def _answers(port: int, aet: str, times: int = 8) -> set[bool]:
    """Whether ``aet`` was accepted, over enough tries to reach every worker."""
    return {echo(port, aet=aet).returncode == 0 for _ in range(times)}


def _until(predicate, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_reloaded_sites_reach_every_worker_and_the_ones_restarted_later(echo_workers):
    port = echo_workers.port
    assert _answers(port, "NORD_CT") == {True}
    assert _answers(port, "OUEST_CT") == {False}
    # A reload removes CH Nord and adds a new hospital.
    echo_workers.update_sites((*SITES[1:], Site("ouest", "CH Ouest", frozenset({"OUEST_CT"}))))
    assert _until(lambda: _answers(port, "NORD_CT") == {False})
    assert _answers(port, "OUEST_CT") == {True}
    victim = echo_workers.pids[0]
    os.kill(victim, signal.SIGKILL)
    assert _until(lambda: len(echo_workers.pids) == 2 and victim not in echo_workers.pids, 60)
    assert _answers(port, "NORD_CT") == {False}  # the new worker has the new sites too
    assert _answers(port, "OUEST_CT") == {True}


def test_a_worker_that_cannot_start_fails_start_with_the_reason(tmp_path):
    broken = GatewaySettings(
        port=0,
        storage_dir=tmp_path / "storage",
        tls=TlsSettings(tmp_path / "missing.pem", tmp_path / "missing.key"),
    )
    gateway = GatewayWorkers(
        broken,
        SITES,
        functools.partial(sql_instance_index, f"sqlite:///{tmp_path / 'unused.sqlite'}"),
        patient_key_secret=SECRET,
        workers=2,
    )
    with pytest.raises(RuntimeError, match="could not start"):
        gateway.start()
    assert gateway.pids == []


def test_runtime_builds_workers_only_with_the_system_clock(
    tmp_path, migrated_url, engine, session_factory
):
    gateway = GatewaySettings(port=0, storage_dir=tmp_path / "storage", workers=2)
    settings = Settings(data_dir=tmp_path, database_url=migrated_url, gateway=gateway, sites=SITES)
    real = Runtime(settings, SystemClock(), engine, session_factory)
    assert isinstance(real.build_gateway(), GatewayWorkers)
    demo = Runtime(settings, FrozenClock(real.clock.now()), engine, session_factory)
    assert isinstance(demo.build_gateway(), Gateway)
    single = Settings(
        data_dir=tmp_path, database_url=migrated_url, gateway=GatewaySettings(workers=1)
    )
    assert isinstance(
        Runtime(single, SystemClock(), engine, session_factory).build_gateway(), Gateway
    )


def test_a_reload_while_a_worker_is_being_spawned_reaches_it(tmp_path, monkeypatch):
    # The reload lands after the spawn read the old sites and before it registered the
    # new worker's pipe: update_sites cannot reach that worker, so the spawn must.
    gateway: GatewayWorkers | None = None
    reloaded = (*SITES[1:], Site("ouest", "CH Ouest", frozenset({"OUEST_CT"})))
    real = workers_module._CONTEXT

    class Context:
        Pipe = staticmethod(real.Pipe)
        RawArray = staticmethod(real.RawArray)

        @staticmethod
        def Process(*args, **kwargs):  # multiprocessing's name
            return ReloadAfterStart(real.Process(*args, **kwargs))

    class ReloadAfterStart:
        def __init__(self, proc) -> None:
            self.proc = proc

        def start(self) -> None:
            self.proc.start()
            if gateway is not None and self.proc.name.endswith("-0"):
                gateway.update_sites(reloaded)

        def __getattr__(self, name: str):
            return getattr(self.proc, name)

    monkeypatch.setattr(workers_module, "_CONTEXT", Context)
    settings = GatewaySettings(port=0, storage_dir=tmp_path / "storage", acse_timeout_s=5.0)
    gateway = GatewayWorkers(
        settings,
        SITES,
        functools.partial(sql_instance_index, f"sqlite:///{tmp_path / 'unused.sqlite'}"),
        patient_key_secret=SECRET,
        workers=2,
    )
    gateway.start()
    try:
        assert _until(lambda: _answers(gateway.port, "NORD_CT", times=12) == {False})
        assert _answers(gateway.port, "OUEST_CT", times=12) == {True}
    finally:
        gateway.stop(timeout=5)


def test_concurrent_associations_are_spread_evenly_over_the_workers(tmp_path, caplog):
    # With SO_REUSEPORT the kernel hashed each connection to a worker: four senders often
    # landed three or four on one. Now the least loaded worker takes each one.
    caplog.set_level(logging.INFO, logger="garde")  # before the workers take the level
    gateway = start_workers(tmp_path, f"sqlite:///{tmp_path / 'unused.sqlite'}")
    ae = AE(ae_title="NORD_CT")
    ae.add_requested_context(Verification)
    held = []
    try:
        for _ in range(4):
            assoc = ae.associate("127.0.0.1", gateway.port, ae_title="GARDE")
            assert assoc.is_established
            held.append(assoc)

        def serving() -> list[int | None]:
            return [r.process for r in caplog.records if r.getMessage().startswith("association")]

        assert _until(lambda: len(serving()) == 4)
        assert sorted(Counter(serving()).values()) == [2, 2]
        assert set(serving()) == set(gateway.pids)
        for assoc in held:
            assert assoc.send_c_echo().Status == 0
    finally:
        for assoc in held:
            assoc.release()
        gateway.stop(timeout=5)
