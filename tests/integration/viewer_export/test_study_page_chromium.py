"""The static study page in headless chromium: every image loads, none is blank.

The page itself has no JavaScript. For the check only, a copy gets a tiny inline script
that reports each image's load state and position (read back with ``--dump-dom``); the
screenshot of the original page is then cropped at those positions.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from garde.config.model import PreviewSettings
from garde.viewer_export import StudyPageInfo, render_study
from garde.viewer_export.image_io import load_image
from tests import helpers
from tests.helpers import write_series

pytestmark = pytest.mark.chromium

WIDTH = 412  # a phone's CSS width

PROBE = """<pre id="probe"></pre><script>
window.addEventListener('load', () => {
  const rows = [...document.images].map(i => {
    const r = i.getBoundingClientRect();
    return {src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0,
            x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height};
  });
  document.getElementById('probe').textContent =
    JSON.stringify({height: document.documentElement.scrollHeight, images: rows});
});
</script>"""


def _chromium(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def study(tmp_path):
    study_uid = generate_uid()
    ct = write_series(
        tmp_path / "in" / "ct",
        24,
        study_uid=study_uid,
        rows=128,
        columns=128,
        description="ANGIO TSA",
    )
    colour = tmp_path / "in" / "us" / "rgb.dcm"
    colour.parent.mkdir(parents=True)
    shutil.copy(get_testdata_file("examples_rgb_color.dcm"), colour)
    info = StudyPageInfo(
        study_uid=study_uid,
        site_name="CH de Vienne",
        priority="stroke",
        deadline=datetime(2025, 1, 5, 2, 30, tzinfo=UTC) + timedelta(minutes=45),
        description="ANGIO TSA",
        accession="ACC-7731",
    )
    out = tmp_path / "out"
    previews = render_study(
        {"ct": ct, "colour": [colour]},
        out,
        settings=PreviewSettings(),
        preset="cta",
        study_info=info,
        generated=datetime(2025, 1, 5, 2, 31, tzinfo=UTC),
    )
    return previews, tmp_path


def test_every_image_loads_and_none_is_blank(study):
    exe = helpers.require_executable("chromium", required=helpers.REQUIRE_CHROMIUM)
    previews, tmp_path = study
    page = previews.page
    probe_page = page.with_name("probe.html")
    probe_page.write_text(page.read_text("utf-8").replace("</body>", PROBE + "</body>"), "utf-8")

    dump = _chromium(
        exe,
        tmp_path / "profile1",
        "--dump-dom",
        "--virtual-time-budget=5000",
        f"--window-size={WIDTH},800",
        probe_page.as_uri(),
    )
    assert dump.returncode == 0, dump.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', dump.stdout, re.DOTALL)
    assert found and found.group(1), "the probe did not run"
    report = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    images = report["images"]
    expected = {p.name for s in previews.series for p in (s.key_image, s.montage, s.mip) if p}
    assert {Path(i["src"]).name for i in images} == expected
    assert all(i["ok"] for i in images), [i["src"] for i in images if not i["ok"]]

    height = min(int(report["height"]) + 10, 8000)
    shot = tmp_path / "shot.png"
    result = _chromium(
        exe,
        tmp_path / "profile2",
        f"--screenshot={shot}",
        f"--window-size={WIDTH},{height}",
        page.as_uri(),
    )
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    pixels = load_image(shot).astype(np.float64)
    for image in images:
        x, y, w, h = (round(image[k]) for k in ("x", "y", "w", "h"))
        assert w > 50 and h > 50, image
        crop = pixels[y + 2 : y + h - 2, x + 2 : x + w - 2]
        assert crop.size and crop.std() > 5, f"{image['src']} looks blank on screen"


def test_page_shows_what_the_radiologist_needs_and_no_identifiers(study):
    previews, _ = study
    text = previews.page.read_text("utf-8")
    for needed in ("CH de Vienne", "stroke", "ACC-7731", "2025-01-05 04:15 CET"):
        assert needed in text
    for identifier in ("SYNTHETIC", "PAT-0001", "19500101"):  # the fixtures' patient
        assert identifier not in text
    assert "<script" not in text.lower()
    mip = [s for s in previews.series if s.mip]
    assert len(mip) == 1 and mip[0].modality == "CT"
    for s in previews.series:
        assert np.ptp(load_image(s.thumbnail)) > 0
