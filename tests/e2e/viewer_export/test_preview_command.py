"""`garde preview STUDY_UID|PATH --out DIR`: on-demand previews from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydicom import dcmread
from pydicom.uid import generate_uid

from garde.bootstrap import build_runtime
from garde.cli import main
from garde.config import load_settings
from garde.dispatch.model import InstanceReceived
from garde.store.instance_index import SqlInstanceIndex
from garde.viewer_export.image_io import load_image
from tests.helpers import write_series
from tests.store_fixtures import *  # noqa: F403 - the store's fixtures (SQLite, PostgreSQL)


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_a_folder_is_rendered_with_a_page(tmp_path: Path) -> None:
    study = generate_uid()
    write_series(tmp_path / "in" / "a", 8, study_uid=study, description="ANGIO TSA")
    write_series(tmp_path / "in" / "b", 3, study_uid=study, series_description="BONE")
    (tmp_path / "in" / "notes.txt").write_text("not DICOM")
    out = tmp_path / "out"
    code, stdout, stderr = _run("-q", "preview", str(tmp_path / "in"), "--out", str(out), "--json")
    assert code == 0, stderr
    assert "rendering" in stderr  # click's progress bar (its label, off a terminal)
    report = json.loads(stdout)
    assert report["study_uid"] == study
    assert Path(report["page"]) == out / "index.html"
    files = [Path(f) for s in report["series"] for f in s["files"]]
    assert len(files) == 4 + 3  # angio: thumbnail, key, montage, MIP; bone: no MIP
    for f in files:
        assert load_image(f).std() > 0
    page = (out / "index.html").read_text("utf-8")
    assert all(f.name in page for f in files if ".key." in f.name or ".mip." in f.name)


def test_a_preset_can_be_forced_and_an_unknown_one_is_a_usage_error(tmp_path: Path) -> None:
    write_series(tmp_path / "in", 3)
    code, stdout, _ = _run(
        "-q", "preview", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--preset", "bone"
    )
    assert code == 0
    assert "page:" in stdout
    assert "C500/L2000" in (tmp_path / "o" / "index.html").read_text("utf-8")
    code, _, stderr = _run(
        "-q", "preview", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--preset", "bnoe"
    )
    assert code == 2
    assert "bnoe" in stderr


def test_a_folder_without_images_fails_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("x")
    code, _, stderr = _run("-q", "preview", str(tmp_path / "in"), "--out", str(tmp_path / "o"))
    assert code == 1
    assert "no DICOM image under" in stderr


@pytest.fixture
def region(migrated_url: str, tmp_path: Path) -> dict[str, str]:
    return {"GARDE_DATA_DIR": str(tmp_path / "data"), "GARDE_DATABASE_URL": migrated_url}


def test_a_stored_study_is_rendered_by_uid_and_audited(
    region: dict[str, str], tmp_path: Path
) -> None:
    settings = load_settings(None, region)
    runtime = build_runtime(settings)
    runtime.sync_directory()
    try:
        files = write_series(tmp_path / "in", 4, description="TDM ABDOMEN")
        index = SqlInstanceIndex(runtime.session_factory)
        storage = settings.gateway.storage_dir
        study_uid = ""
        for f in files:
            ds = dcmread(f, stop_before_pixels=True)
            study_uid = ds.StudyInstanceUID
            relative = Path(study_uid) / f"{ds.SOPInstanceUID}.dcm"
            (storage / relative).parent.mkdir(parents=True, exist_ok=True)
            (storage / relative).write_bytes(f.read_bytes())
            index.record(
                InstanceReceived(
                    sop_instance_uid=ds.SOPInstanceUID,
                    sop_class_uid=ds.SOPClassUID,
                    series_uid=ds.SeriesInstanceUID,
                    study_uid=study_uid,
                    transfer_syntax=ds.file_meta.TransferSyntaxUID,
                    site_id="h02",
                    calling_ae="BOURG_CT",
                    path=str(relative),
                    size_bytes=f.stat().st_size,
                    received_at=runtime.clock.now(),
                    modality=ds.Modality,
                    instance_number=int(ds.InstanceNumber),
                    study_description=ds.StudyDescription,
                    body_part=ds.BodyPartExamined,
                )
            )
        out = tmp_path / "out"
        code, stdout, stderr = _run("-q", "preview", study_uid, "--out", str(out), env=region)
        assert code == 0, stderr
        assert f"page: {out / 'index.html'}" in stdout
        page = (out / "index.html").read_text("utf-8")
        assert "CH de Bourg-en-Bresse" in page  # the sending hospital, from the store
        with runtime.uow() as uow:
            events = [e for e in uow.audit.for_study(study_uid) if e.action == "render_previews"]
        assert len(events) == 1
        code, _, stderr = _run("-q", "preview", "1.2.3.999", "--out", str(out), env=region)
        assert code == 1
        assert "1.2.3.999" in stderr

        # Once the region has tokens: operators, and radiologists of the hospital only.
        alice, r03 = tmp_path / "alice.token", tmp_path / "r03.token"
        assert (
            _run("user", "token", "--operator", "alice", "--output", str(alice), env=region)[0] == 0
        )
        as_alice = {**region, "GARDE_TOKEN_FILE": str(alice)}
        assert _run("user", "token", "r03", "--output", str(r03), env=as_alice)[0] == 0
        as_r03 = {**region, "GARDE_TOKEN_FILE": str(r03)}  # not credentialed for h02
        code, _, stderr = _run("-q", "preview", study_uid, "--out", str(out), env=as_r03)
        assert code == 1
        assert "r03 may not see" in stderr
        code, _, stderr = _run("-q", "preview", study_uid, "--out", str(out), env=as_alice)
        assert code == 0, stderr
        with runtime.uow() as uow:
            handle = uow.studies.get(study_uid).handle
        code, stdout, stderr = _run("-q", "preview", handle, "--out", str(out), env=as_alice)
        assert code == 0, stderr  # the study's handle, as the tables show it
        code, _, stderr = _run("-q", "preview", study_uid, "--out", str(out), env=region)
        assert (code, "no credential" in stderr) == (1, True)  # no token any more
        with runtime.uow() as uow:
            trail = [(e.action, e.actor) for e in uow.audit.for_study(study_uid)]
            refused = [e.detail for e in uow.audit.for_radiologist("r03")]
        assert ("render_previews", "alice") in trail
        assert {"study_uid": study_uid} in [  # the refusal, audited
            {k: v for k, v in d.items() if k == "study_uid"} for d in refused
        ]
    finally:
        runtime.close()
