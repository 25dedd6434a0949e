"""`garde demo --serve`: the night ends with a stroke study's viewer URL, and its data is
served over HTTP (DICOMweb finds the study, the page shows the patient context)."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import httpx
import pytest

from tests.helpers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("web")]


def test_the_demo_serves_its_night(tmp_path) -> None:
    port = free_port()
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "garde",
            "-qq",
            "demo",
            "--data-dir",
            str(tmp_path / "demo"),
            "--hours",
            "1.5",
            "--serve",
            "--port",
            str(port),
            "--serve-seconds",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 240
        assert demo.stdout is not None
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Serving the night"):
                break
        out = "".join(lines)
        found = re.search(r"study in the viewer: (\S+)", out)
        assert found, out
        study = found.group(1).split("StudyInstanceUIDs=")[1]
        base = f"http://127.0.0.1:{port}"
        studies = httpx.get(f"{base}/dicom-web/studies?StudyInstanceUID={study}").json()
        assert [s["0020000D"]["Value"][0] for s in studies] == [study]
        page = httpx.get(f"{base}/pages/{study}/")
        assert page.status_code == 200
        assert "garde-context" in page.text and "Open the full study in the viewer" in page.text
    finally:
        demo.terminate()
        demo.communicate(timeout=30)
