"""CLI latency: how long a radiologist waits for `garde` at 3 a.m., as whole processes.

Prints JSON. Measured in the same run, each the median of ``--rounds`` (20) processes
started one after the other: ``python -c pass`` (the floor: the interpreter alone),
`garde --help`, `garde worklist --radiologist r01` on SQLite and on PostgreSQL, and
`garde next` on SQLite, with ``--studies`` (2,000) open studies in the store, r01
holding ``--mine`` (25) of them. Targets (issue 17): worklist <= 250 ms, help <= 150 ms.

PostgreSQL is the CI server (``GARDE_TEST_DATABASE_URL``, else
``postgresql+psycopg://postgres@127.0.0.1:5432/test``), in a schema of its own dropped
at the end; it is skipped, and said so, when the server does not answer.

    .venv/bin/python -m benchmarks.cli_latency            # about a minute
    .venv/bin/python -m benchmarks.cli_latency --smoke    # seconds: figures not judged
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from garde.dispatch.lifecycle import StudyEvent
from garde.dispatch.model import InstanceReceived, Priority, Shift, TriageResult
from garde.services.identity import IdentityService, Role, write_token_file
from garde.store.engine import make_engine, make_session_factory
from garde.store.instance_index import SqlInstanceIndex
from garde.store.migrate import upgrade
from garde.store.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from collections.abc import Iterator

CI_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SITES = ("h01", "h02", "h03", "h04", "h05", "h06")
RADIOLOGISTS = tuple(f"r{n:02d}" for n in range(1, 9))
CONFIG = """
environment = "test"
data_dir = "{data}"
database_url = "{url}"

[region]
medical_director = "director@example.org"
{sites}
{radiologists}
"""


def _config(data: Path, url: str) -> str:
    sites = "".join(
        f'\n[[sites]]\nid = "{s}"\nname = "CH {s.upper()}"\nae_titles = ["{s.upper()}_CT"]\n'
        for s in SITES
    )
    rads = "".join(
        f'\n[[radiologists]]\nid = "{r}"\nname = "Dr {r}"\nskills = ["neuro", "body"]\n'
        f"sites = {json.dumps(list(SITES))}\n"
        for r in RADIOLOGISTS
    )
    return CONFIG.format(data=data, url=url, sites=sites, radiologists=rads)


def _seed(url: str, studies: int, mine: int, tokens: Path) -> None:
    """The schema, the directory, a roster on now, ``studies`` open studies, r01's token."""
    from garde.config import load_settings  # noqa: PLC0415

    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    now = datetime.now(tz=UTC)
    settings = load_settings(tokens.parent / "garde.toml", {})
    with SqlUnitOfWork(factory) as uow:
        uow.directory.sync_sites(settings.sites)
        uow.directory.sync_radiologists(settings.radiologists)
        uow.roster.replace_shifts(
            now - timedelta(days=1),
            now + timedelta(days=1),
            [Shift(r, now - timedelta(hours=2), now + timedelta(hours=10)) for r in RADIOLOGISTS],
        )
        uow.commit()
    index = SqlInstanceIndex(factory)
    uids = [f"2.25.{uuid.uuid4().int}" for _ in range(studies)]
    for n, uid in enumerate(uids):
        site = SITES[n % len(SITES)]
        index.record(
            InstanceReceived(
                sop_instance_uid=f"{uid}.1.1",
                sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
                series_uid=f"{uid}.1",
                study_uid=uid,
                transfer_syntax="1.2.840.10008.1.2.1",
                site_id=site,
                calling_ae=f"{site.upper()}_CT",
                path=f"{uid}/1.dcm",
                size_bytes=1024,
                received_at=now - timedelta(minutes=studies - n),
                modality="CT",
                study_description="TDM CEREBRALE SANS INJECTION",
            )
        )
    priorities = (Priority.URGENT, Priority.EMERGENCY, Priority.ROUTINE, Priority.STROKE)
    with SqlUnitOfWork(factory) as uow:
        for n, uid in enumerate(uids):
            priority = priorities[n % len(priorities)]
            uow.studies.move(uid, StudyEvent.BECAME_STABLE, at=now)
            triage = TriageResult(priority, frozenset({"neuro"}), 15.0, "bench")
            uow.studies.set_triage(uid, triage, now + timedelta(hours=1))
            # r01 holds ``mine``; half the rest is queued with the others, half pending.
            owner = "r01" if n < mine else RADIOLOGISTS[1 + n % 7] if n % 2 else None
            if owner is not None:
                uow.studies.assign(uid, owner, at=now, by="router", explanation={"kind": "bench"})
                uow.studies.move(uid, StudyEvent.ASSIGNED, at=now)
        uow.commit()
    identity = IdentityService(lambda: SqlUnitOfWork(factory), open_mode=True)
    operator = identity.issue("bench", Role.OPERATOR, by=None, now=now, origin="bench")
    by = identity.authenticate(operator.token)
    issued = identity.issue("r01", Role.RADIOLOGIST, by=by, now=now, origin="bench")
    write_token_file(tokens, issued.token)
    engine.dispose()


@contextmanager
def _postgresql_schema(url: str) -> Iterator[str | None]:
    """A schema of its own on the server (None if it does not answer), dropped at the end."""
    from sqlalchemy.exc import OperationalError  # noqa: PLC0415

    schema = f"garde_bench_{uuid.uuid4().hex[:12]}"
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except OperationalError:
        engine.dispose()
        yield None
        return
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield scoped.render_as_string(hide_password=False)
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()


def _garde() -> list[str]:
    """The `garde` a person types: the console script beside this interpreter."""
    script = Path(sys.executable).with_name("garde")
    return [str(script)] if script.exists() else [sys.executable, "-m", "garde"]


def _wall_ms(argv: list[str], env: dict[str, str], rounds: int, cwd: Path) -> dict[str, Any]:
    """Median wall time of ``rounds`` whole processes (each must succeed)."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
        times.append((time.perf_counter() - start) * 1000)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return {"median": round(statistics.median(times), 1), "rounds": [round(t, 1) for t in times]}


def _env(home: Path, config: Path, token: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GARDE_")}
    env["HOME"] = str(home)
    env["GARDE_CONFIG"] = str(config)
    if token is not None:
        env["GARDE_TOKEN_FILE"] = str(token)
    return env


def _region(root: Path, name: str, url: str, studies: int, mine: int) -> tuple[Path, Path]:
    """A config and r01's token file for a seeded database."""
    folder = root / name
    folder.mkdir()
    config = folder / "garde.toml"
    config.write_text(_config(folder / "data", url), encoding="utf-8")
    token = folder / "r01.token"
    _seed(url, studies, mine, token)
    return config, token


def run(*, rounds: int, studies: int, mine: int, postgresql_url: str | None) -> dict[str, Any]:
    """Every figure of the benchmark, as the JSON it prints."""
    garde = _garde()
    result: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
            "load_avg_1min_at_start": round(os.getloadavg()[0], 2),
        },
        "rounds": rounds,
        "open_studies": studies,
        "r01_worklist_rows": mine,
        "targets_ms": {"help": 150, "worklist": 250},
    }
    root = Path(tempfile.mkdtemp(prefix="garde-cli-latency-"))
    try:
        config, token = _region(root, "sqlite", f"sqlite:///{root / 'garde.sqlite'}", studies, mine)
        env = _env(root, config)
        baseline = _wall_ms([sys.executable, "-c", "pass"], env, rounds, root)
        help_ = _wall_ms([*garde, "--help"], env, rounds, root)
        as_r01 = _env(root, config, token)
        worklist = {"sqlite": _wall_ms([*garde, "worklist", "-r", "r01"], as_r01, rounds, root)}
        next_ = {"sqlite": _wall_ms([*garde, "next"], as_r01, rounds, root)}
        with _postgresql_schema(postgresql_url or CI_DATABASE_URL) as url:
            if url is None:
                worklist["postgresql"] = {"median": None, "skipped": "the server did not answer"}
            else:
                pg_config, pg_token = _region(root, "postgresql", url, studies, mine)
                argv = [*garde, "worklist", "-r", "r01"]
                pg_env = _env(root, pg_config, pg_token)
                worklist["postgresql"] = _wall_ms(argv, pg_env, rounds, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result["baseline_python_pass_ms"] = baseline["median"]
    result["help_ms"] = help_["median"]
    result["worklist_ms"] = {k: v["median"] for k, v in worklist.items()}
    result["next_ms"] = {k: v["median"] for k, v in next_.items()}
    result["detail"] = {"baseline": baseline, "help": help_, "worklist": worklist, "next": next_}
    return result


def main() -> None:
    """Parse the options, run, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="3 rounds, 60 studies: seconds")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--mine", type=int, default=25, help="r01's open studies")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("GARDE_TEST_DATABASE_URL"),
        help=f"PostgreSQL server (default: GARDE_TEST_DATABASE_URL, else {CI_DATABASE_URL})",
    )
    args = parser.parse_args()
    rounds, studies, mine = (3, 60, 10) if args.smoke else (args.rounds, args.studies, args.mine)
    result = run(rounds=rounds, studies=studies, mine=mine, postgresql_url=args.database_url)
    result["smoke"] = args.smoke
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
