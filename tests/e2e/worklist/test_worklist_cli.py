"""The worklist CLI as radiologists and operators use it, on a real store.

Each command runs in-process through click (`tests.cli_inprocess`: the same parsing, output
and exit codes, without a second of imports per command); two `next` racing for a study
are two real processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from garde.cli.json_forms import AUDIT_KEYS, EXPLAIN_KEYS, NEXT_KEYS, RELEASE_KEYS, STUDY_KEYS
from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import Priority, Radiologist, Shift, Site, StudyState, TriageResult
from garde.services.worklist import WORKLIST_KEYS
from garde.store.engine import make_engine, make_session_factory
from garde.store.instance_index import SqlInstanceIndex
from garde.store.uow import SqlUnitOfWork
from tests.cli_inprocess import run_garde
from tests.store_fixtures import *  # noqa: F403 - the store's fixtures (SQLite, PostgreSQL)
from tests.store_fixtures import make_instance, new_uid

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from sqlalchemy.orm import Session, sessionmaker

pytestmark = [pytest.mark.slow]

CONFIG = """
environment = "test"
data_dir = "{data}"
database_url = "{url}"

[region]
medical_director = "director@example.org"

[[sites]]
id = "h1"
name = "CH One"
ae_titles = ["H1_CT"]

[[radiologists]]
id = "r1"
name = "Dr One"
skills = ["neuro", "body"]
sites = ["h1"]

[[radiologists]]
id = "r2"
name = "Dr Two"
skills = ["neuro", "body"]
sites = ["h1"]
"""


class Cli:
    """Runs `garde` against one config, with a token file per user."""

    def __init__(self, config: Path, tmp: Path, factory: sessionmaker[Session]) -> None:
        self.config = config
        self.tmp = tmp
        self.factory = factory
        self.tokens: dict[str, Path] = {}

    def env(self, user: str | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in {"GARDE_TOKEN", "GARDE_TOKEN_FILE"}}
        env["HOME"] = str(self.tmp)  # no stray ~/.config/garde/token
        if user is not None:
            env["GARDE_TOKEN_FILE"] = str(self.tokens[user])
        return env

    def popen(self, user: str | None, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "garde", "--config", str(self.config), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(user),
        )

    def run(
        self, user: str | None, *args: str, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env: dict[str, str | None] = {"GARDE_TOKEN": None, "GARDE_TOKEN_FILE": None}
        env["HOME"] = str(self.tmp)  # no stray ~/.config/garde/token
        if user is not None:
            env["GARDE_TOKEN_FILE"] = str(self.tokens[user])
        done = run_garde(["--config", str(self.config), *args], env=env)
        assert (done.returncode == 0) is ok, done.stdout + done.stderr
        return done

    def issue(self, subject: str, *, by: str | None = None, operator: bool = False) -> None:
        path = self.tmp / f"{subject}.token"
        flags = ["--operator"] if operator else []
        self.run(by, "user", "token", subject, *flags, "--output", str(path))
        self.tokens[subject] = path

    def study(self, priority: Priority = Priority.URGENT, assignee: str | None = None) -> str:
        uid = new_uid()
        now = datetime.now(tz=UTC)
        SqlInstanceIndex(self.factory).record(make_instance(uid, site_id="h1", calling_ae="H1_CT"))
        with SqlUnitOfWork(self.factory) as uow:
            uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=now)
            uow.studies.set_triage(
                uid,
                TriageResult(priority, frozenset({"body"}), 10.0, "r"),
                now + timedelta(hours=1),
            )
            uow.studies.assign(uid, assignee, at=now, by="router", explanation={"kind": "test"})
            if assignee:
                uow.studies.move(uid, StudyEvent.ASSIGNED, at=now)
            uow.commit()
        return uid


@pytest.fixture
def cli(migrated_url: str, tmp_path: Path) -> Iterator[Cli]:
    config = tmp_path / "garde.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data", url=migrated_url), encoding="utf-8")
    engine = make_engine(migrated_url)
    factory = make_session_factory(engine)
    with SqlUnitOfWork(factory) as uow:
        sites = [Site("h1", "CH One", frozenset({"H1_CT"}))]
        rads = [
            Radiologist(r, r, frozenset({"neuro", "body"}), frozenset({"h1"})) for r in ("r1", "r2")
        ]
        uow.directory.sync_sites(sites)
        uow.directory.sync_radiologists(rads)
        now = datetime.now(tz=UTC)
        uow.roster.replace_shifts(
            now - timedelta(hours=2),
            now + timedelta(hours=1),
            [Shift(r.id, now - timedelta(hours=1), now + timedelta(hours=8)) for r in rads],
        )
        uow.commit()
    yield Cli(config, tmp_path, factory)
    engine.dispose()


def test_a_night_at_the_worklist(cli: Cli, database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the services' tests cover PostgreSQL; one CLI walk-through is enough")
    # Open mode until the first token: the foundation's worklist call keeps working.
    assert json.loads(cli.run(None, "worklist", "--radiologist", "r1", "--json").stdout) == []
    assert "no credential" in cli.run(None, "next", ok=False).stderr
    cli.issue("alice", operator=True)
    cli.issue("r1", by="alice")
    cli.issue("r2", by="alice")
    assert "only an operator" in cli.run("r1", "user", "token", "r2", ok=False).stderr
    assert "no credential" in cli.run(None, "worklist", "-r", "r1", ok=False).stderr

    urgent = cli.study(Priority.URGENT, assignee="r1")
    stroke = cli.study(Priority.STROKE)
    rows = json.loads(cli.run("r1", "worklist", "--json").stdout)
    assert [r["study_uid"] for r in rows] == [urgent]
    assert tuple(sorted(rows[0])) == WORKLIST_KEYS
    assert "may not view" in cli.run("r1", "worklist", "-r", "r2", ok=False).stderr

    taken = json.loads(cli.run("r1", "next", "--json").stdout)
    assert sorted(taken) == sorted(NEXT_KEYS)
    assert (taken["study_uid"], taken["state"]) == (stroke, "in_progress")
    assert (
        "is not in your worklist (r1 is reading it)"
        in cli.run("r2", "done", stroke, ok=False).stderr
    )
    done = json.loads(cli.run("r1", "done", stroke, "--report", "RIS-7", "--json").stdout)
    assert (done["state"], done["report_ref"]) == ("done", "RIS-7")
    assert "unknown study" in cli.run("r1", "start", "1.2.3", ok=False).stderr
    assert "is already read (by r1)" in cli.run("r1", "start", stroke, ok=False).stderr

    released = json.loads(
        cli.run("r1", "release", urgent, "--reason", "called away", "--json").stdout
    )
    assert released["radiologist_id"] == "r2"
    assert sorted(released) == sorted(RELEASE_KEYS)
    assert "r2" in cli.run("r1", "explain", urgent).stdout
    assert (
        "operators only" in cli.run("r1", "assign", urgent, "r1", "--reason", "x", ok=False).stderr
    )
    cli.run("alice", "assign", urgent, "r1", "--reason", "r2 asked")
    assert "by operator alice" in cli.run("r2", "explain", urgent).stdout
    pending = json.loads(cli.run("alice", "studies", "--state", "assigned", "--json").stdout)
    assert [s["study_uid"] for s in pending] == [urgent]
    assert sorted(pending[0]) == sorted(STUDY_KEYS)
    assert "not an operator" in cli.run("r1", "status", ok=False).stderr
    assert "no credential" in cli.run(None, "status", ok=False).stderr
    assert json.loads(cli.run("alice", "status", "--json").stdout)["waiting"] == 0

    trail = json.loads(cli.run("alice", "audit", "--study", urgent, "--json").stdout)
    # r1's refused assign is in the study's trail too, with the study it aimed at.
    assert [(e["action"], e["detail"].get("outcome")) for e in trail] == [
        ("release", "ok"),
        ("explain", "ok"),
        ("assign", "refused"),
        ("assign", "ok"),
        ("explain", "ok"),
    ]
    by_alice = json.loads(cli.run("alice", "audit", "--actor", "alice", "--json").stdout)
    assert ("assign", urgent, "r1") in {
        (e["action"], e["study_uid"], e["radiologist_id"]) for e in by_alice
    }
    assert all(sorted(e) == sorted(AUDIT_KEYS) for e in trail)
    assert all(e["origin"] for e in trail)  # from where
    mine = json.loads(cli.run("r1", "audit", "--radiologist", "r1", "--json").stdout)
    assert all(e["radiologist_id"] == "r1" for e in mine)
    acted = [
        (e["action"], e["detail"]["outcome"])
        for e in mine
        if e["action"] in {"next", "done", "start", "release"}
    ]
    assert acted == [
        ("next", "ok"),
        ("done", "ok"),
        ("start", "refused"),  # unknown study
        ("start", "refused"),  # already done
        ("release", "ok"),
    ]
    explained = json.loads(cli.run("r2", "explain", urgent, "--json").stdout)
    assert sorted(explained) == sorted(EXPLAIN_KEYS)
    assert explained["by"] == "operator"

    # Issue 12 from the command line: ack, the outbox, the pin.
    assert "acknowledged" in cli.run("r1", "ack", urgent).stdout
    assert "not yours to acknowledge" in cli.run("r2", "ack", urgent, ok=False).stderr
    assert "operators only" in cli.run("r1", "notify", "list", ok=False).stderr
    assert isinstance(json.loads(cli.run("alice", "notify", "list", "--json").stdout), list)
    assert "no notification 999" in cli.run("alice", "notify", "resend", "999", ok=False).stderr
    assert "pinned by alice" in cli.run("alice", "unpin", urgent).stdout
    assert "is not pinned" in cli.run("alice", "unpin", urgent, ok=False).stderr


def test_handles_are_accepted_wherever_a_uid_is(cli: Cli, database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the handle lookup is covered on both databases in the store's tests")
    first = cli.study(Priority.URGENT, assignee="r1")
    second = cli.study(Priority.URGENT)  # pending: anyone credentialed may claim it
    table = cli.run(None, "worklist", "-r", "r1").stdout
    assert "h1-1" in table
    assert first not in table  # the handle, not the 64-character UID
    assert all(len(line) <= 120 for line in table.splitlines())
    cli.issue("alice", operator=True)
    cli.issue("r1", by="alice")
    cli.issue("r2", by="alice")
    assert cli.run("r2", "claim", "h1-2").stdout == "claimed h1-2\n"
    assert cli.run("r2", "start", "h1-2").stdout == "started h1-2\n"
    refused = cli.run("r1", "claim", "h1-2", ok=False).stderr
    assert refused == "Error: h1-2 is already being read by r2\n"
    assert "h1-2" in cli.run("r1", "explain", "h1-2").stdout
    assert cli.run("r2", "done", "H1-2", "--report", "RIS-1").stdout == "done h1-2\n"
    assert json.loads(cli.run("r1", "start", "h1-1", "--json").stdout)["study_uid"] == first
    assert "unknown study h1-9" in cli.run("r1", "start", "h1-9", ok=False).stderr
    trail = json.loads(cli.run("alice", "audit", "--study", "h1-2", "--json").stdout)
    assert {e["study_uid"] for e in trail} == {second}


def test_times_are_the_regions_wall_clock(cli: Cli, database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("no database behaviour here: SQLite is enough")
    uid = cli.study(Priority.URGENT, assignee="r1")
    with SqlUnitOfWork(cli.factory) as uow:
        deadline = uow.studies.get(uid).deadline
    paris = deadline.astimezone(ZoneInfo("Europe/Paris"))
    offset = f"{paris:%z}"
    zone = f"(times Europe/Paris, UTC{offset[:3]}:{offset[3:]})"
    table = cli.run(None, "worklist", "-r", "r1").stdout
    assert table.splitlines()[0] == f"r1: 1 to read {zone}"  # the zone, once, in the header
    assert f" {paris:%H:%M} " in table
    [row] = json.loads(cli.run(None, "worklist", "-r", "r1", "--json").stdout)
    assert row["deadline"] == paris.isoformat()  # ISO 8601, the region's offset
    assert datetime.fromisoformat(row["deadline"]) == deadline
    assert cli.run(None, "status").stdout.splitlines()[0].endswith(zone)


def test_a_token_file_others_can_read_is_refused(cli: Cli, database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("no database behaviour here: SQLite is enough")
    cli.issue("alice", operator=True)
    cli.tokens["alice"].chmod(0o644)
    refused = cli.run("alice", "studies", "--state", "pending", ok=False)
    assert "permissions 0644" in refused.stderr
    assert "chmod 600" in refused.stderr


def test_two_processes_racing_next_never_share_a_study(cli: Cli) -> None:
    cli.issue("alice", operator=True)
    cli.issue("r1", by="alice")
    cli.issue("r2", by="alice")
    for _ in range(1):
        uid = cli.study(Priority.STROKE)
        racers = [cli.popen(rid, "next", "--json") for rid in ("r1", "r2")]
        results = [(p.wait(timeout=120), *p.communicate()) for p in racers]
        winners = [json.loads(out)["assignee"] for code, out, _ in results if code == 0]
        losers = [err for code, _, err in results if code != 0]
        assert len(winners) == 1, results
        assert losers and "nothing to read" in losers[0]
        with SqlUnitOfWork(cli.factory) as uow:
            record = uow.studies.get(uid)
        assert record is not None
        assert (record.state, record.assignee) == (StudyState.IN_PROGRESS, winners[0])


def test_the_json_forms_are_the_keys_the_readme_documents() -> None:
    # The commands print exactly these constants (above); this pins the constants to
    # the README, so a key renamed in code breaks here rather than in a user's script.
    assert STUDY_KEYS == (
        "study_uid",
        "handle",
        "site_id",
        "state",
        "assignee",
        "priority",
        "deadline",
        "description",
        "started_at",
        "done_at",
        "report_ref",
    )
    assert RELEASE_KEYS == ("study_uid", "radiologist_id", "fallback")
    assert EXPLAIN_KEYS == ("study_uid", "radiologist_id", "at", "by", "explanation", "patient")
    assert AUDIT_KEYS == (
        "id",
        "at",
        "actor",
        "action",
        "study_uid",
        "radiologist_id",
        "origin",
        "detail",
    )
