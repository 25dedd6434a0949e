"""Failover, live: two `garde serve` nodes on one PostgreSQL and one shared storage path.

Node A starts first and leads (it holds the job lease); node B stands by. A stroke is
pushed to the standby's port: the leader must preview and dispatch it. Then, while small
stroke CTs keep arriving at both ports (a webhook receiver that never acknowledges, so
"unacknowledged" escalations fire every few seconds):

- ``kill9_takeover_s``: A is killed (SIGKILL); seconds until B holds the lease;
- A restarts as a standby; ``sigstop_takeover_s``: B is frozen (SIGSTOP, a hung VM);
  seconds until A holds the lease; B is resumed (SIGCONT) a few seconds later;
- ``double_dispatch``: studies assigned by the router more than once (audit), and
  ``double_assigned_notification``: studies with more than one "assigned" row (outbox);
- ``double_escalation``: notifications escalated more than once, and SLA tiers reached
  more than once for a study (audit);
- ``old_leader_jobs_after_sigcont``: dispatch lines in the resumed node's log.

Targets: <= 10 s, <= 15 s, 0, 0. The lease is the shipped one (6 s, renewed every 1 s).
Needs PostgreSQL: ``GARDE_BENCH_DATABASE_URL``, else ``GARDE_TEST_DATABASE_URL``, else
the local test database; a
fresh schema is created and dropped. Prints JSON.

    .venv/bin/python -m benchmarks.failover             # about 1.5 min
    .venv/bin/python -m benchmarks.failover --smoke     # the same path, shorter
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, make_url, select, text

from benchmarks.live_region import (
    Receiver,
    free_port,
    garde,
    push_study,
    start_serve,
    stop,
    stroke_ct,
    write_config,
)
from garde.store.engine import make_engine, make_session_factory
from garde.store.models import (
    AuditEventRow,
    LeaderLeaseRow,
    PreviewRow,
    StudyRow,
    WebhookOutboxRow,
)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
HA = """store_watch_s = 2
leader_lease_s = 6
leader_renew_s = 1"""
TRIAGED = "triaged"  # the dispatch service's log line for each study it routes


@dataclass
class Node:
    """One `garde serve` of the pair."""

    name: str
    config: Path
    port: int
    log: Path
    process: Any = None

    def start(self) -> None:
        self.process = start_serve(self.config, self.log, self.port)

    @property
    def pid(self) -> int:
        return int(self.process.pid)


@dataclass
class Store:
    """The shared database: who holds the lease, what the audit says."""

    url: str
    engine: Any = field(init=False)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.url)
        self.sessions = make_session_factory(self.engine)

    def holder_pid(self) -> int | None:
        with self.sessions() as session:
            row = session.get(LeaderLeaseRow, "jobs")
            if row is None or row.holder is None:
                return None
            return int(row.holder.split(":")[1])

    def wait_holder(self, pid: int, timeout: float) -> float:
        """Seconds until process ``pid`` holds the lease."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            if self.holder_pid() == pid:
                return round(time.monotonic() - began, 2)
            time.sleep(0.05)
        raise RuntimeError(f"pid {pid} did not take the lease within {timeout} s")

    def assigned(self, uid: str) -> bool:
        with self.sessions() as session:
            return bool(
                session.scalar(
                    select(func.count()).where(
                        AuditEventRow.study_uid == uid, AuditEventRow.action == "assign"
                    )
                )
            )

    def previews(self, uid: str) -> int:
        with self.sessions() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(PreviewRow)
                    .join(StudyRow, StudyRow.id == PreviewRow.study_id)
                    .where(StudyRow.study_uid == uid)
                )
                or 0
            )

    def doubles(self) -> dict[str, int]:
        with self.sessions() as session:
            rows = session.execute(
                select(AuditEventRow.action, AuditEventRow.study_uid, AuditEventRow.detail).where(
                    AuditEventRow.action.in_(["assign", "unacknowledged", "escalate"])
                )
            ).all()
            posted = session.execute(
                select(WebhookOutboxRow.study_uid).where(WebhookOutboxRow.kind == "assigned")
            ).all()
        notified = Counter(uid for (uid,) in posted)
        assigns = Counter(uid for action, uid, _ in rows if action == "assign")
        unacked = Counter(d.get("notification") for a, _, d in rows if a == "unacknowledged")
        tiers = Counter((uid, d.get("tier")) for a, uid, d in rows if a == "escalate")
        return {
            "studies": len(assigns),
            "double_dispatch": sum(1 for n in assigns.values() if n > 1),
            "double_assigned_notification": sum(1 for n in notified.values() if n > 1),
            "escalations": sum(unacked.values()) + sum(tiers.values()),
            "double_escalation": sum(1 for n in unacked.values() if n > 1)
            + sum(1 for n in tiers.values() if n > 1),
        }


def fresh_schema(base_url: str) -> tuple[str, str]:
    """A new schema on ``base_url``: (its scoped URL, its name)."""
    schema = f"garde_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        admin.dispose()
    scoped = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return scoped.render_as_string(hide_password=False), schema


def drop_schema(base_url: str, schema: str) -> None:
    admin = create_engine(base_url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


class Pushes:
    """Small stroke CTs pushed alternately to both nodes, one every ``every_s``."""

    def __init__(self, root: Path, ports: list[int], every_s: float) -> None:
        self.root, self.ports, self.every_s = root, ports, every_s
        self.sent: list[str] = []
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(self.every_s):
            uid, files = stroke_ct(self.root / f"load-{n}", 3, size=32)
            for attempt in range(len(self.ports)):  # a node down or frozen: the other one
                port = self.ports[(n + attempt) % len(self.ports)]
                try:
                    push_study(files, port)
                except (RuntimeError, OSError):
                    continue
                self.sent.append(uid)
                break
            else:
                self.failed += 1
            n += 1


def run(root: Path, base_url: str, *, hold_s: float) -> dict[str, Any]:
    """The whole scenario; ``hold_s``: how long each phase lets the load run."""
    url, schema = fresh_schema(base_url)
    shared = root / "shared"
    shared.mkdir()
    hook = free_port()
    nodes = []
    for name in ("a", "b"):
        data = root / name
        data.mkdir()
        port = free_port()
        config = write_config(
            data / "garde.toml",
            data=data,
            shared=shared,
            database_url=url,
            port=port,
            hook=hook,
            sweep_s=2,
            sla_watch_s=1,
            ack_timeout_min=0.05,  # 3 s: unacknowledged notifications escalate all along
            scheduler=HA,
        )
        nodes.append(Node(name, config, port, data / "serve.log"))
    a, b = nodes
    receiver = Receiver(hook)  # answers 200 without an ack: escalations keep coming
    store: Store | None = None
    pushes = Pushes(root, [a.port, b.port], every_s=1.0)
    try:
        garde(a.config, "db", "upgrade")
        store = Store(url)
        a.start()
        store.wait_holder(a.pid, 30)
        # One patient-key secret for the region: B uses A's (see the README's HA section).
        shutil.copy(root / "a" / "patient-key.secret", root / "b" / "patient-key.secret")
        b.start()

        # A push to the standby: previewed and dispatched by the leader.
        uid, files = stroke_ct(root / "to-standby", 10, size=64)
        push_study(files, b.port)
        began = time.monotonic()
        while not (store.assigned(uid) and store.previews(uid)) and time.monotonic() - began < 60:
            time.sleep(0.1)
        standby_push = {
            "dispatched": store.assigned(uid),
            "previews": store.previews(uid),
            "dispatched_by_leader": f"study {uid} {TRIAGED}" in a.log.read_text(),
            "dispatched_by_standby": f"study {uid} {TRIAGED}" in b.log.read_text(),
            "seconds": round(time.monotonic() - began, 2),
        }

        pushes.start()
        time.sleep(hold_s)
        os.killpg(a.pid, signal.SIGKILL)
        a.process.wait(timeout=10)
        kill9 = store.wait_holder(b.pid, 30)
        time.sleep(hold_s)
        a.start()  # back as a standby
        time.sleep(2)
        os.killpg(b.pid, signal.SIGSTOP)
        sigstop = store.wait_holder(a.pid, 30)
        time.sleep(hold_s)
        resumed_at = len(b.log.read_bytes())
        os.killpg(b.pid, signal.SIGCONT)
        time.sleep(hold_s)
        pushes.stop()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(store.assigned(u) for u in pushes.sent):
            time.sleep(0.2)
        after = b.log.read_bytes()[resumed_at:].decode(errors="replace")
        result: dict[str, Any] = {
            "kill9_takeover_s": kill9,
            "sigstop_takeover_s": sigstop,
            **store.doubles(),
            "old_leader_jobs_after_sigcont": after.count(f" {TRIAGED} "),
            "old_leader_saw_lease_lost": "lost the job lease" in after
            or "no longer holds the job lease" in after,
            "pushed": len(pushes.sent),
            "undispatched": sum(1 for u in pushes.sent if not store.assigned(u)),
            "push_failures": pushes.failed,
            "standby_push": standby_push,
            "notifications_posted": len(receiver.posts),
        }
    finally:
        pushes.stop()
        for node in nodes:
            if node.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(node.pid, signal.SIGCONT)
                stop(node.process)
        receiver.close()
        if store is not None:
            store.engine.dispose()
        drop_schema(base_url, schema)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hold", type=float, default=15.0, help="seconds of load per phase")
    parser.add_argument("--smoke", action="store_true", help="short phases, for CI")
    args = parser.parse_args()
    if args.smoke:
        args.hold = 2.0
    base_url = os.environ.get(
        "GARDE_BENCH_DATABASE_URL", os.environ.get("GARDE_TEST_DATABASE_URL", DEFAULT_URL)
    )
    with tempfile.TemporaryDirectory(prefix="garde-failover-") as tmp:
        result = run(Path(tmp), base_url, hold_s=args.hold)
    out = {
        "benchmark": "failover",
        "hold_s": args.hold,
        "lease_s": 6,
        "renew_s": 1,
        "cores": os.cpu_count(),
        **result,
        "target": {
            "kill9_takeover_s": 10,
            "sigstop_takeover_s": 15,
            "double_dispatch": 0,
            "double_escalation": 0,
        },
    }
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
