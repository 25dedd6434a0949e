"""The gateway against dcmtk's storescu and echoscu (real DICOM peers)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pydicom
import pytest
from pydicom import dcmread
from pydicom.uid import JPEGLossless, JPEGLSNearLossless

from garde.dicom_gateway.uids import is_valid_uid
from tests.helpers import make_dataset, require_executable, write_series
from tests.integration.gateway.conftest import indexed, storage_files

pytestmark = pytest.mark.dcmtk

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
# One shipped pydicom test file per transfer syntax the gateway accepts (the smallest
# with valid study and series UIDs; checked by `test_every_syntax_has_a_sample`).
SAMPLES = {
    "1.2.840.10008.1.2": "rtdose_1frame.dcm",
    "1.2.840.10008.1.2.1": "CT_small.dcm",
    "1.2.840.10008.1.2.1.99": "image_dfl.dcm",
    "1.2.840.10008.1.2.4.50": "SC_rgb_small_odd_jpeg.dcm",
    "1.2.840.10008.1.2.4.51": "JPEG-lossy.dcm",
    "1.2.840.10008.1.2.4.70": "SC_rgb_jpeg_gdcm.dcm",
    "1.2.840.10008.1.2.4.80": "MR_small_jpeg_ls_lossless.dcm",
    "1.2.840.10008.1.2.4.90": "MR_small_jp2klossless.dcm",
    "1.2.840.10008.1.2.4.91": "JPEG2000.dcm",
    "1.2.840.10008.1.2.5": "SC_rgb_rle.dcm",
}
ENV = {**os.environ, "TCP_NODELAY": "1"}  # Debian's dcmtk leaves Nagle on otherwise


def storescu(port: int, *files: str, options=(), aet: str = "NORD_CT", aec: str = "GARDE", **kw):
    exe = require_executable("storescu")
    return subprocess.run(
        [exe, "-aet", aet, "-aec", aec, *options, "127.0.0.1", str(port), *files],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
        check=False,
        **kw,
    )


def exact_syntax(tmp_path: Path, source: Path) -> list[str]:
    """storescu options proposing exactly the file's SOP class in its own transfer syntax
    (by default storescu proposes uncompressed syntaxes and would decompress)."""
    meta = dcmread(source, stop_before_pixels=True).file_meta
    config = tmp_path / "storescu.cfg"
    config.write_text(
        "[[TransferSyntaxes]]\n[Exact]\n"
        f"TransferSyntax1 = {meta.TransferSyntaxUID}\n"
        "[[PresentationContexts]]\n[ExactContexts]\n"
        f"PresentationContext1 = {meta.MediaStorageSOPClassUID}\\Exact\n"
        "[[Profiles]]\n[ExactProfile]\nPresentationContexts = ExactContexts\n"
    )
    return ["-xf", str(config), "ExactProfile"]


def test_every_syntax_has_a_sample():
    for ts, name in SAMPLES.items():
        ds = dcmread(TEST_FILES / name, stop_before_pixels=True)
        assert ds.file_meta.TransferSyntaxUID == ts
        assert is_valid_uid(ds.StudyInstanceUID)


def test_echoscu_known_unknown_and_wrong_called_ae(gateway_factory):
    exe = require_executable("echoscu")
    lax = gateway_factory()
    strict = gateway_factory(check_called_ae=True)

    def echo(port, aet, aec="GARDE"):
        run = [exe, "-aet", aet, "-aec", aec, "127.0.0.1", str(port)]
        return subprocess.run(run, capture_output=True, text=True, env=ENV, check=False)

    assert echo(lax.port, "SUD_CT").returncode == 0
    unknown = echo(lax.port, "INTRUDER")
    assert unknown.returncode != 0
    assert "Calling AE Title Not Recognized" in unknown.stderr
    assert echo(lax.port, "SUD_CT", "SOMEONE_ELSE").returncode == 0
    wrong = echo(strict.port, "SUD_CT", "SOMEONE_ELSE")
    assert wrong.returncode != 0
    assert "Called AE Title Not Recognized" in wrong.stderr
    assert echo(strict.port, "SUD_CT").returncode == 0


@pytest.mark.parametrize("ts", sorted(SAMPLES))
def test_storescu_pushes_every_transfer_syntax(gateway, session_factory, tmp_path, ts):
    source = TEST_FILES / SAMPLES[ts]
    run = storescu(gateway.port, str(source), options=exact_syntax(tmp_path, source))
    assert run.returncode == 0, run.stderr
    original = dcmread(source)
    row = indexed(session_factory)[original.SOPInstanceUID]
    stored = dcmread(gateway.service.writer.root / row.path)
    assert stored.file_meta.SourceApplicationEntityTitle == "NORD_CT"
    assert stored.file_meta.TransferSyntaxUID == row.transfer_syntax
    assert row.transfer_syntax == ts  # kept as sent: never decoded nor re-encoded
    assert stored.PixelData == original.PixelData
    assert row.calling_ae == "NORD_CT"


@pytest.mark.parametrize(
    ("tool", "flag", "ts"),
    [("dcmcjpeg", "+el", JPEGLossless), ("dcmcjpls", "+en", JPEGLSNearLossless)],
)
def test_storescu_pushes_syntaxes_made_by_dcmtk(gateway, session_factory, tmp_path, tool, flag, ts):
    exe = require_executable(tool)
    plain = tmp_path / "plain.dcm"
    make_dataset(rows=32, columns=32).save_as(plain, enforce_file_format=True)
    compressed = tmp_path / "compressed.dcm"
    subprocess.run([exe, flag, str(plain), str(compressed)], check=True, capture_output=True)
    assert dcmread(compressed).file_meta.TransferSyntaxUID == ts
    run = storescu(gateway.port, str(compressed), options=exact_syntax(tmp_path, compressed))
    assert run.returncode == 0, run.stderr
    row = indexed(session_factory)[dcmread(compressed).SOPInstanceUID]
    assert row.transfer_syntax == ts


def test_storescu_series_and_resend_are_idempotent(gateway, session_factory, tmp_path):
    files = write_series(tmp_path / "in", 12)
    assert storescu(gateway.port, str(tmp_path / "in"), options=["+sd"]).returncode == 0
    assert storescu(gateway.port, str(tmp_path / "in"), options=["+sd"]).returncode == 0
    rows = indexed(session_factory)
    assert len(rows) == 12
    assert len(storage_files(gateway.service.writer.root)) == 12
    for path in files:
        sent = dcmread(path)
        stored = dcmread(gateway.service.writer.root / rows[sent.SOPInstanceUID].path)
        assert stored.PixelData == sent.PixelData


def test_several_hospitals_push_concurrently(gateway, session_factory, tmp_path):
    senders = {"NORD_CT": 20, "SUD_CT": 15, "EST_MR": 10}
    exe = require_executable("storescu")
    procs = []
    for aet, count in senders.items():
        write_series(tmp_path / aet, count)
        args = [exe, "-aet", aet, "-aec", "GARDE", "+sd", "127.0.0.1", str(gateway.port)]
        args.append(str(tmp_path / aet))
        procs.append(subprocess.Popen(args, env=ENV, stderr=subprocess.PIPE, text=True))
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    rows = indexed(session_factory).values()
    by_ae = {aet: sum(1 for r in rows if r.calling_ae == aet) for aet in senders}
    assert by_ae == senders


def test_sender_killed_mid_association_loses_nothing_acknowledged(
    gateway, session_factory, tmp_path
):
    write_series(tmp_path / "in", 400, rows=128, columns=128)
    exe = require_executable("storescu")
    args = [exe, "-v", "-aet", "NORD_CT", "-aec", "GARDE", "+sd", "127.0.0.1", str(gateway.port)]
    proc = subprocess.Popen(
        [*args, str(tmp_path / "in")],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    acknowledged: list[str] = []
    sending: str | None = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if m := re.search(r"Sending file: (\S+)", line):
            sending = m.group(1)
        if "Received Store Response (Success)" in line and sending:
            acknowledged.append(sending)
            if len(acknowledged) == 40:
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait(timeout=30)
    proc.stdout.close()
    assert len(acknowledged) == 40
    deadline = time.monotonic() + 10
    while gateway.active_associations and time.monotonic() < deadline:
        time.sleep(0.05)  # the gateway notices the dead peer and ends the association
    rows = indexed(session_factory)
    for path in acknowledged:
        uid = dcmread(path, stop_before_pixels=True).SOPInstanceUID
        assert uid in rows
    files = storage_files(gateway.service.writer.root)
    assert not [f for f in files if f.name.endswith(".tmp")]
    assert len(files) == len(rows)  # nothing on disk that is not indexed, and back
    for row in rows.values():
        assert dcmread(gateway.service.writer.root / row.path).PixelData
