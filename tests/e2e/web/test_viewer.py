"""The OHIF viewer hosted by `garde serve`, in headless chromium: a pushed CT is drawn,
every series is listed. Needs `make viewer` (CI runs it and sets GARDE_TEST_REQUIRE_VIEWER)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.e2e.web.conftest import VIEWER_DIR, Served
from tests.helpers import REQUIRE_CHROMIUM, require_executable

pytestmark = [pytest.mark.dcmtk, pytest.mark.chromium, pytest.mark.xdist_group("web")]

REQUIRE_VIEWER = os.environ.get("GARDE_TEST_REQUIRE_VIEWER") == "1"
TOOLS = VIEWER_DIR.parent / "tools" / "node_modules"
SCRIPT = Path(__file__).with_name("ohif_check.cjs")


def _require_viewer() -> None:
    missing = [
        str(p) for p in (VIEWER_DIR / "index.html", TOOLS / "puppeteer-core") if not p.exists()
    ]
    if shutil.which("node") is None:
        missing.append("node (Debian package nodejs)")
    if missing:
        message = f"the viewer is not built ({', '.join(missing)}): run `make viewer`"
        if REQUIRE_VIEWER:
            pytest.fail(f"{message}, and this run requires it")
        pytest.skip(message)


def test_the_hosted_viewer_draws_a_pushed_ct_and_lists_its_series(
    served: Served, tmp_path: Path
) -> None:
    _require_viewer()
    chromium = require_executable("chromium", required=REQUIRE_CHROMIUM)
    base = served.url.removesuffix("/dicom-web")
    # Its configuration points at Garde's DICOMweb on the same origin.
    config = httpx.get(f"{base}/app-config.js").text
    assert "window.location.origin + '/dicom-web'" in config
    shot = tmp_path / "viewer.png"
    done = subprocess.run(
        ["node", str(SCRIPT), base, served.study_uid, served.reader, str(shot)],
        capture_output=True,
        text=True,
        timeout=150,
        env={**os.environ, "NODE_PATH": str(TOOLS), "CHROMIUM": chromium},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["drawn"], result
    assert "AXIAL" in result["text"] and "CORONAL" in result["text"], result["text"][:2000]
    assert any("/frames/" in r for r in result["requests"]), result["requests"]
    image = np.asarray(Image.open(shot).convert("L"))
    assert image.std() > 5  # not blank
