"""Debian's Orthanc as a hospital's PACS in tests: started on free ports with a temp
config, read back through its REST API, stopped (and restarted) at will."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Self

import pytest

from tests.helpers import free_port

REQUIRE_ORTHANC = os.environ.get("GARDE_TEST_REQUIRE_ORTHANC") == "1"
BINARY_PATHS = ("/usr/sbin/Orthanc", "/usr/bin/Orthanc")


def orthanc_binary() -> str:
    """Path of Orthanc; skip (or fail, when CI requires it) if it is not installed."""
    found = shutil.which("Orthanc") or next((p for p in BINARY_PATHS if Path(p).exists()), None)
    if found is None:
        message = "Orthanc is not installed (Debian package: orthanc)"
        if REQUIRE_ORTHANC:
            pytest.fail(f"{message}, and this run requires it")
        pytest.skip(message)
    return found


class Orthanc:
    """One Orthanc process: DICOM on ``dicom_port`` (AE ``ae_title``), REST on ``http_port``."""

    def __init__(
        self,
        folder: Path,
        *,
        ae_title: str = "ORTHANC",
        modalities: dict[str, list[Any]] | None = None,
    ) -> None:
        self.binary = orthanc_binary()
        self.folder = folder
        self.ae_title = ae_title
        self.dicom_port = free_port()
        self.http_port = free_port()
        self.log = folder / "orthanc.log"
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        config = {
            "Name": "test-pacs",
            "StorageDirectory": str(folder / "storage"),
            "IndexDirectory": str(folder / "storage"),
            "DicomAet": ae_title,
            "DicomPort": self.dicom_port,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomCheckCalledAet": False,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowFind": True,
            "DicomAlwaysAllowMove": True,
            "DicomModalities": modalities or {},
            "Plugins": [],
            "StableAge": 1,
            "DefaultEncoding": "Utf8",
        }
        (folder / "orthanc.json").write_text(json.dumps(config), encoding="utf-8")

    @property
    def url(self) -> str:
        """The REST API's root."""
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        """Start and wait until the REST API answers."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [self.binary, str(self.folder / "orthanc.json")],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"Orthanc exited early:\n{self.log.read_text(errors='replace')}")
            try:
                self.get("/system")
            except OSError:
                time.sleep(0.1)
                continue
            return
        pytest.fail("Orthanc did not answer within 30 s")

    def stop(self) -> None:
        """Stop it (its DICOM port refuses connections from now on)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def get(self, path: str) -> Any:
        """GET a REST resource, as JSON."""
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as response:
            return json.loads(response.read())

    def post(self, path: str, body: bytes | str) -> Any:
        """POST to a REST resource, as JSON."""
        data = body.encode() if isinstance(body, str) else body
        request = urllib.request.Request(f"{self.url}{path}", data=data, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def upload(self, path: Path) -> None:
        """Store a DICOM file through REST (preloading the PACS)."""
        self.post("/instances", path.read_bytes())

    def study_instances(self, study_uid: str) -> list[dict[str, Any]]:
        """Every instance of a study, with its tags (empty if Orthanc has not the study)."""
        found = self.post(
            "/tools/find",
            json.dumps(
                {"Level": "Instance", "Query": {"StudyInstanceUID": study_uid}, "Expand": True}
            ),
        )
        return list(found)

    def tags(self, instance_id: str) -> dict[str, Any]:
        """An instance's tags, simplified (keyword -> value, sequences as lists)."""
        result: dict[str, Any] = self.get(f"/instances/{instance_id}/simplified-tags")
        return result

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def wait_until(check: Any, timeout: float = 20.0, step: float = 0.05) -> Any:
    """Poll ``check()`` until it returns something truthy; that value (or fail)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    pytest.fail(f"not within {timeout:g} s: {getattr(check, '__name__', check)}")


def http_error_ok(exc: urllib.error.URLError) -> bool:
    """Whether a REST error means Orthanc is down (refused), not a bad request."""
    return not isinstance(exc, urllib.error.HTTPError)
