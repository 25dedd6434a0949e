"""The report from the radiologist's keyboard to the hospital's PACS, for real: `garde
report --edit` (a scripted $EDITOR), `garde done`, a `garde serve` subprocess killed
with -9 right after, restarted: the SR and the PDF are in Orthanc exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from garde.dispatch.model import Radiologist, Shift, Site
from garde.store.engine import make_engine, make_session_factory
from garde.store.migrate import upgrade
from garde.store.repositories.reports import ReportRepository
from garde.store.uow import SqlUnitOfWork
from tests.e2e.runtime.serving import wait_for_log
from tests.helpers import free_port
from tests.orthanc import Orthanc, wait_until
from tests.reporting_fixtures import stored_study

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.slow]

CONFIG = """
environment = "test"
data_dir = "{data}"

[gateway]
port = {port}
workers = 1

[region]
medical_director = "director@example.org"

[reporting]
backoff_s = 0.5
backoff_max_s = 1
timeout_s = 3

[[reporting.destinations]]
site = "h1"
name = "pacs"
kind = "dicom"
host = "127.0.0.1"
port = {pacs_port}
ae_title = "ORTHANC"
objects = ["sr", "pdf"]

[[sites]]
id = "h1"
name = "CH One"
ae_titles = ["H1_CT"]

[[radiologists]]
id = "r1"
name = "Dr Jeanne Lefèvre"
skills = ["neuro", "body"]
sites = ["h1"]
"""

EDITOR = """\
import sys
from pathlib import Path
path = Path(sys.argv[-1])
assert "Compte rendu de" in path.read_text(encoding="utf-8")
path.write_text(
    "Hématome sous-dural aigu droit de 8 mm.\\nDéviation de la ligne médiane : 4 mm.\\n"
    "Conclusion : hématome sous-dural, avis neurochirurgical.\\n# ignoré\\n",
    encoding="utf-8",
)
"""


class Region:
    def __init__(self, tmp: Path, pacs: Orthanc) -> None:
        self.tmp = tmp
        self.data = tmp / "data"
        self.port = free_port()
        self.config = tmp / "garde.toml"
        self.config.write_text(
            CONFIG.format(data=self.data, port=self.port, pacs_port=pacs.dicom_port),
            encoding="utf-8",
        )
        self.url = f"sqlite:///{self.data / 'garde.sqlite'}"
        self.data.mkdir()
        upgrade(self.url)
        self.engine = make_engine(self.url)
        self.factory = make_session_factory(self.engine)
        now = datetime.now(tz=UTC)
        with SqlUnitOfWork(self.factory) as uow:
            uow.directory.sync_sites([Site("h1", "CH One", frozenset({"H1_CT"}))])
            rad = Radiologist("r1", "Dr Jeanne Lefèvre", frozenset({"neuro"}), frozenset({"h1"}))
            uow.directory.sync_radiologists([rad])
            uow.roster.replace_shifts(
                now - timedelta(hours=2),
                now + timedelta(hours=9),
                [Shift("r1", now - timedelta(hours=1), now + timedelta(hours=8))],
            )
            uow.commit()
        self.operator = tmp / "op.token"
        self.token = tmp / "r1.token"
        self.run("user", "token", "--operator", "op", "--output", str(self.operator), token=False)
        self.run(
            "user",
            "token",
            "r1",
            "--output",
            str(self.token),
            extra={"GARDE_TOKEN_FILE": str(self.operator)},
        )

    def env(self, *, token: bool = True) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GARDE_TOKEN")}
        env["HOME"] = str(self.tmp)
        if token:
            env["GARDE_TOKEN_FILE"] = str(self.token)
        return env

    def run(
        self, *args: str, token: bool = True, ok: bool = True, extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "garde", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**self.env(token=token), **(extra or {})},
            check=False,
        )
        assert (done.returncode == 0) is ok, done.stdout + done.stderr
        return done

    def serve(self, log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "garde", "--config", str(self.config), "-v", "serve"],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self.env(),
            )


@pytest.fixture
def pacs(tmp_path: Path) -> Iterator[Orthanc]:
    with Orthanc(tmp_path / "orthanc") as orthanc:
        yield orthanc


@pytest.fixture
def region(tmp_path: Path, pacs: Orthanc) -> Iterator[Region]:
    made = Region(tmp_path, pacs)
    yield made
    made.engine.dispose()


def test_edit_done_kill_9_restart_delivers_exactly_once(region: Region, pacs: Orthanc) -> None:
    study = stored_study(region.factory, region.data / "storage")
    editor = region.tmp / "editor.py"
    editor.write_text(EDITOR, encoding="utf-8")
    wrote = region.run("report", study, "--edit", extra={"EDITOR": f"{sys.executable} {editor}"})
    assert "kept as a draft" in wrote.stdout
    listed = region.run("worklist").stdout  # the reader sees the draft under the table
    assert "reports not yet at the hospital:" in listed
    assert "draft, not signed" in listed

    log = region.tmp / "serve.log"
    server = region.serve(log)
    second = None
    try:
        wait_for_log(log, "garde serving")
        region.run("done", study)
        os.killpg(server.pid, signal.SIGKILL)  # right after done: maybe mid-send
        server.wait(timeout=10)
        with SqlUnitOfWork(region.factory) as uow:  # the killed serve may have sent it
            (signed,) = ReportRepository(uow.session).of_study(study)
        waiting = region.run("worklist").stdout
        assert "draft" not in waiting
        if signed.delivered_at is None:  # the reader sees it still on its way
            assert "on its way to the hospital" in waiting or "failing:" in waiting
        second = region.serve(log)

        def delivered() -> bool:
            with SqlUnitOfWork(region.factory) as uow:
                (report,) = ReportRepository(uow.session).of_study(study)
            return report.delivered_at is not None

        wait_until(delivered, timeout=30)
    finally:
        for proc in (server, second):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
    modalities = sorted(pacs.tags(i["ID"])["Modality"] for i in pacs.study_instances(study))
    assert modalities == ["DOC", "SR"]  # each report object exactly once
    sr = next(
        pacs.tags(i["ID"])
        for i in pacs.study_instances(study)
        if pacs.tags(i["ID"])["Modality"] == "SR"
    )
    texts = {
        item["ConceptNameCodeSequence"][0]["CodeMeaning"]: item.get("TextValue")
        for item in sr["ContentSequence"]
    }
    assert texts["Finding"] == (
        "Hématome sous-dural aigu droit de 8 mm.\nDéviation de la ligne médiane : 4 mm."
    )
    assert texts["Impression"] == "hématome sous-dural, avis neurochirurgical."
    status = json.loads(
        region.run("status", "--json", extra={"GARDE_TOKEN_FILE": str(region.operator)}).stdout
    )
    (urgent,) = status["figures"]
    assert (urgent["read"], urgent["delivered"]) == (1, 1)  # arrival -> delivered, too
    assert urgent["mean_minutes_to_delivered"] >= urgent["mean_minutes_to_read"]
    assert status["reports"]["waiting"] == 0
    shown = region.run("report", "show", study).stdout
    assert "delivered" in shown
    assert "not yet at the hospital" not in region.run("worklist").stdout
    assert textwrap.dedent(shown).count("h1/pacs") == 2


def test_done_with_an_empty_report_file_is_refused_and_the_study_stays_open(
    region: Region,
) -> None:
    study = stored_study(region.factory, region.data / "storage")
    empty = region.tmp / "empty.txt"
    empty.write_text("\n# nothing\n", encoding="utf-8")
    refused = region.run("done", study, "--report-file", str(empty), ok=False)
    assert "the report is empty" in refused.stderr
    with SqlUnitOfWork(region.factory) as uow:
        record = uow.studies.get(study)
    assert record is not None
    assert record.state.value == "in_progress"
