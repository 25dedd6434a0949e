"""`garde push` and `garde echo` against a live gateway: recursion, progress, per-file
summary, exit status, and resuming a push that was killed half-way."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
from click.testing import CliRunner
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from garde.cli import main
from garde.dicom_gateway.scu import _associate, push
from tests.helpers import free_port, make_dataset, write_series
from tests.integration.gateway.conftest import SITES, indexed
from tests.store_fixtures import sync_directory

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.dcmtk  # same tier as the other live-gateway tests


def garde(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def exam(root: Path) -> list[Path]:
    """Two series in nested folders, a non-DICOM note and a hidden file."""
    files = write_series(root / "CT" / "series1", 6, rows=16, columns=16)
    files += write_series(root / "CT" / "deep" / "series2", 4, rows=16, columns=16)
    (root / "NOTE.txt").write_text("not an image")
    (root / ".DS_Store").write_bytes(b"\x00\x01")
    return files


def test_push_sends_folders_recursively_with_progress_and_summary(
    gateway, session_factory, tmp_path
):
    files = exam(tmp_path / "exam")
    state = tmp_path / "state.jsonl"
    result = garde(
        "push", "--port", str(gateway.port), "--aet", "NORD_CT", "--state-file", str(state),
        str(tmp_path / "exam"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.splitlines()[0]
        == "10 stored, 0 failed, 0 skipped (already acknowledged), 1 not DICOM"
    )
    assert "pushing to GARDE@127.0.0.1" in result.stderr  # the progress bar
    uids = {dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in files}
    assert set(indexed(session_factory)) == uids
    assert len(state.read_text().splitlines()) == 10


def test_push_reports_each_failure_and_exits_non_zero(gateway, session_factory, tmp_path):
    good = write_series(tmp_path / "in", 3, rows=16, columns=16)
    bad = make_dataset(rows=16, columns=16)
    bad.StudyInstanceUID = "../../etc"  # refused with 0xC000
    bad.save_as(tmp_path / "in" / "hostile.dcm", enforce_file_format=True)
    result = garde(
        "push", "--port", str(gateway.port), "--aet", "NORD_CT", "--json",
        "--state-file", str(tmp_path / "s.jsonl"), str(tmp_path / "in"),
    )  # fmt: skip
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert (report["stored"], report["failed"]) == (3, 1)
    by_name = {Path(f["path"]).name: f for f in report["files"]}
    assert by_name["hostile.dcm"]["status"] == "0xC000"
    assert by_name["hostile.dcm"]["outcome"] == "failed"
    assert {by_name[p.name]["status"] for p in good} == {"0x0000"}
    text = garde(
        "push", "--port", str(gateway.port), "--aet", "NORD_CT",
        "--state-file", str(tmp_path / "s2.jsonl"), str(tmp_path / "in" / "hostile.dcm"),
    )  # fmt: skip
    assert text.exit_code == 1
    assert "FAILED" in text.stdout
    assert "hostile.dcm (0xC000)" in text.stdout


def test_push_names_why_the_gateway_refused_each_file(gateway, session_factory, tmp_path):
    """The gateway's Error Comment reaches the hospital's engineer: a conflicting re-send
    and a truncated file each say what was wrong, not just "failed"."""
    first = tmp_path / "first"
    (original,) = write_series(first, 1, rows=16, columns=16)
    assert garde("push", "--port", str(gateway.port), "--aet", "NORD_CT", "--state-file",
                 str(tmp_path / "a.jsonl"), str(first)).exit_code == 0  # fmt: skip
    again = tmp_path / "again"
    again.mkdir()
    changed = dcmread(original)
    changed.PixelData = bytes(len(changed.PixelData))  # same UID, pixels zeroed
    changed.save_as(again / "zeroed.dcm", enforce_file_format=True)
    whole = (TEST_FILES / "CT_small.dcm").read_bytes()
    (again / "cut.dcm").write_bytes(whole[:-3000])  # Pixel Data shorter than declared
    result = garde(
        "push", "--port", str(gateway.port), "--aet", "NORD_CT", "--json",
        "--state-file", str(tmp_path / "b.jsonl"), str(again),
    )  # fmt: skip
    assert result.exit_code == 1
    by_name = {Path(f["path"]).name: f for f in json.loads(result.stdout)["files"]}
    assert by_name["zeroed.dcm"]["status"] == "0x0111"
    assert "another content" in by_name["zeroed.dcm"]["detail"]
    assert by_name["cut.dcm"]["status"] == "0xC220"
    assert "(7FE0,0010)" in by_name["cut.dcm"]["detail"]
    assert by_name["cut.dcm"]["detail"].endswith("arrived")  # not cut mid-word
    stored = indexed(session_factory)[changed.SOPInstanceUID]
    assert (
        dcmread(gateway.settings.storage_dir / stored.path).PixelData == dcmread(original).PixelData
    )  # the first copy stays the stored truth


def test_push_by_an_unknown_ae_fails_with_the_reason(gateway, tmp_path):
    write_series(tmp_path / "in", 2, rows=16, columns=16)
    result = garde(
        "push", "--port", str(gateway.port), "--aet", "INTRUDER",
        "--state-file", str(tmp_path / "s.jsonl"), str(tmp_path / "in"),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "0 stored, 2 failed" in result.stdout
    assert "association rejected" in result.stdout
    echo = garde("echo", "--port", str(gateway.port), "--aet", "INTRUDER")
    assert echo.exit_code == 1
    assert "association rejected" in echo.output
    assert garde("echo", "--port", str(gateway.port), "--aet", "SUD_CT").exit_code == 0


def test_a_killed_push_resumes_with_only_the_rest(gateway, session_factory, tmp_path):
    files = write_series(tmp_path / "in", 150, rows=64, columns=64)
    state = tmp_path / "state.jsonl"
    args = [
        sys.executable, "-m", "garde", "push", "--port", str(gateway.port), "--aet", "NORD_CT",
        "--state-file", str(state), str(tmp_path / "in"),
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if state.exists() and len(state.read_text().splitlines()) >= 20:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "push finished before it could be killed"
    acknowledged = len(state.read_text().splitlines())
    assert 20 <= acknowledged < 150
    result = garde(
        "push", "--port", str(gateway.port), "--aet", "NORD_CT", "--resume", "--json",
        "--state-file", str(state), str(tmp_path / "in"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["skipped"] == acknowledged
    assert report["stored"] == 150 - acknowledged
    assert len(indexed(session_factory)) == 150  # whatever was in flight at the kill is in too
    again = json.loads(
        garde(
            "push", "--port", str(gateway.port), "--aet", "NORD_CT", "--resume", "--json",
            "--state-file", str(state), str(tmp_path / "in"),
        ).stdout
    )  # fmt: skip
    assert (again["skipped"], again["stored"]) == (150, 0)
    fresh = json.loads(
        garde(
            "push", "--port", str(gateway.port), "--aet", "NORD_CT", "--json",
            "--state-file", str(state), str(files[0]),
        ).stdout
    )  # fmt: skip
    assert (fresh["skipped"], fresh["stored"]) == (0, 1)  # without --resume: sent again
    assert len(indexed(session_factory)) == 150


def test_default_state_file_is_per_gateway_not_per_port(gateway, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    write_series(tmp_path / "in", 2, rows=16, columns=16)
    result = garde("push", "--port", str(gateway.port), "--aet", "NORD_CT", str(tmp_path / "in"))
    assert result.exit_code == 0, result.output
    state = tmp_path / "xdg" / "garde" / "push-127.0.0.1-GARDE.jsonl"
    assert len(state.read_text().splitlines()) == 2


def test_echo_and_push_take_the_gateway_from_the_config(gateway, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    config = tmp_path / "region.toml"
    config.write_text(
        '[region]\nmedical_director = "director@example.org"\n\n[[sites]]\nid = "h1"\nname = "One"\nae_titles = ["NORD_CT"]\n'
        f'[gateway]\nhost = "0.0.0.0"\nport = {gateway.port}\nae_title = "GARDE"\n'
    )
    result = garde("--config", str(config), "echo", "--aet", "NORD_CT")
    assert result.exit_code == 0, result.output
    assert result.output == f"C-ECHO to GARDE@127.0.0.1:{gateway.port}: success\n"
    write_series(tmp_path / "in", 2, rows=16, columns=16)
    pushed = garde("--config", str(config), "push", "--aet", "NORD_CT", str(tmp_path / "in"))
    assert pushed.exit_code == 0, pushed.output


def test_push_connections_do_not_wait_for_nagle(gateway):
    # Each C-STORE request is a few small PDUs: with Nagle's algorithm on, every one
    # waits for the gateway's delayed ACK (about 40 ms per instance).
    ae = AE(ae_title="NORD_CT")
    ae.add_requested_context(Verification)
    assoc = _associate(ae, "127.0.0.1", gateway.port, "GARDE", None)
    try:
        assert assoc.is_established
        raw = assoc.dul.socket.socket
        assert raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        assoc.release()


BIG_ENDIAN = ("MR_small_bigendian.dcm", "SC_rgb_small_odd_big_endian.dcm")


def test_push_converts_big_endian_files_the_gateway_does_not_accept(
    gateway, session_factory, tmp_path
):
    folder = tmp_path / "old"
    folder.mkdir()
    for name in BIG_ENDIAN:
        shutil.copy(TEST_FILES / name, folder / name)
    result = garde(
        "push", "--port", str(gateway.port), "--aet", "NORD_CT", "--json",
        "--state-file", str(tmp_path / "s.jsonl"), str(folder),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["stored"] == 2
    assert {f["detail"] for f in report["files"]} == {"converted from big endian"}
    rows = indexed(session_factory)
    for name in BIG_ENDIAN:
        original = dcmread(TEST_FILES / name)
        stored = dcmread(gateway.settings.storage_dir / rows[original.SOPInstanceUID].path)
        assert stored.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert np.array_equal(stored.pixel_array, original.pixel_array)
        assert stored.Rows == original.Rows
        assert stored.PatientName == original.PatientName


def test_push_to_a_dead_port_fails_fast_and_says_so_once(tmp_path):
    write_series(tmp_path / "in", 3, rows=16, columns=16)
    started = time.monotonic()
    result = garde(
        "push", "--port", str(free_port()), "--aet", "NORD_CT",
        "--state-file", str(tmp_path / "s.jsonl"), str(tmp_path / "in"),
    )  # fmt: skip
    assert time.monotonic() - started < 5
    assert result.exit_code == 1
    assert result.stdout.count("connection refused") == 1
    assert "3 files not sent" in result.stdout
    assert "aborted" not in result.output
    assert "ERROR" not in result.output  # pynetdicom's own lines stay quiet
    echo = garde("echo", "--port", str(free_port()), "--aet", "NORD_CT")
    assert echo.exit_code == 1
    assert "connection refused" in echo.output


def test_a_push_whose_gateway_dies_stops_at_once(tmp_path, migrated_url, session_factory):
    sync_directory(session_factory, SITES, ())
    # A gateway in its own process (its index slow, which answers do not wait for).
    run = [sys.executable, "-m", "tests.integration.gateway.slow_index_gateway"]
    proc = subprocess.Popen(
        [*run, migrated_url, str(tmp_path / "storage")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        files = write_series(tmp_path / "in", 60, rows=16, columns=16)
        killed: list[float] = []

        def progress(_path, _status):
            if not killed:
                proc.kill()
                killed.append(time.monotonic())

        report = push(
            files, host="127.0.0.1", port=port, calling_ae="NORD_CT", called_ae="GARDE",
            progress=progress,
        )  # fmt: skip
        # It used to wait out the 120 s DIMSE timeout. The bound tells stopping from that
        # wait, with room for a CI machine under load (10 s failed once at load 7).
        assert time.monotonic() - killed[0] < 40
        assert report.stored >= 1
        assert "connection refused" in report.unreachable
        assert report.stored + report.failed == 60
    finally:
        proc.kill()
        proc.communicate()
