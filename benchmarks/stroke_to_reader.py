"""Stroke to reader, live: seconds from the last instance of a stroke CT's first series to
its stored assignment and to the webhook POST that tells the reader.

A real `garde serve` (subprocess, SQLite, default sweep period) receives a synthetic
stroke head CT (first series ``--slices`` instances, 100 by default) pushed over DICOM
with `garde push`'s SCU; a real HTTP receiver on loopback records the "assigned"
notification. Measured per push: ``assigned`` (the audit's assign row minus the moment
the last instance was acknowledged) and ``notified`` (the POST's arrival minus the
same). The ``stroke_window`` mode runs the shipped settings (``stroke_stable_age_s`` = 3);
the ``declared`` mode runs the same settings on a CT whose instances declare Images in
Acquisition (0020,1002) = ``--slices``: the series is complete the moment that many are
stored, without the quiet window (keys ``assigned_declared``, ``notified_declared``);
the ``baseline`` mode, in the same run, has no stroke window (a stroke waits for the
general ``stable_age_s`` = 60, as before issue 12). Prints JSON.

    .venv/bin/python -m benchmarks.stroke_to_reader               # 20 pushes, 2 baseline
    .venv/bin/python -m benchmarks.stroke_to_reader --smoke       # seconds, for CI
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

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
from garde.store.models import AuditEventRow

STABLE_AGE_S = 60.0  # the shipped general stable age
STROKE_STABLE_AGE_S = 3.0  # the shipped stroke quiet window
WAIT_S = 120.0


def _assigned_at(url: str, uid: str) -> float | None:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            at = session.scalar(
                select(func.min(AuditEventRow.at)).where(
                    AuditEventRow.study_uid == uid, AuditEventRow.action == "assign"
                )
            )
    finally:
        engine.dispose()
    return None if at is None else at.timestamp()


def run_mode(
    root: Path,
    name: str,
    *,
    pushes: int,
    slices: int,
    stable_age_s: float,
    stroke_stable_age_s: float,
    together: bool,
    declared: int | None = None,
) -> list[dict[str, float]]:
    """Push ``pushes`` stroke CTs to a fresh `garde serve`; one row of figures each.

    ``together``: every push before waiting (the baseline, a minute each otherwise).
    ``declared``: the Images in Acquisition every instance carries (None: not sent).
    """
    data = root / name
    data.mkdir()
    url = f"sqlite:///{data / 'garde.sqlite'}"
    port, hook = free_port(), free_port()
    config = write_config(
        data / "garde.toml",
        data=data,
        shared=data,
        database_url=url,
        port=port,
        hook=hook,
        stable_age_s=stable_age_s,
        stroke_stable_age_s=stroke_stable_age_s,
    )
    garde(config, "db", "upgrade")
    studies = [stroke_ct(root / f"{name}-{n}", slices, declared=declared) for n in range(pushes)]
    receiver = Receiver(hook)
    server = start_serve(config, data / "serve.log", port)
    rows = []
    try:
        sent: list[tuple[str, float]] = []
        for uid, files in studies:
            sent.append((uid, push_study(files, port)))
            if not together:
                rows.append(_wait(url, receiver, *sent[-1]))
        if together:
            rows = [_wait(url, receiver, uid, last) for uid, last in sent]
    finally:
        stop(server)
        receiver.close()
    return rows


def _wait(url: str, receiver: Receiver, uid: str, last: float) -> dict[str, float]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        notified = receiver.first("assigned", uid)
        if notified is not None:
            assigned = _assigned_at(url, uid)
            if assigned is None:
                raise RuntimeError(f"study {uid} notified without an assign row")
            return {
                "assigned_s": round(assigned - last, 3),
                "notified_s": round(notified - last, 3),
            }
        time.sleep(0.05)
    raise RuntimeError(f"study {uid}: no assigned notification after {WAIT_S} s")


def _summary(rows: list[dict[str, float]]) -> dict[str, object]:
    assigned = sorted(r["assigned_s"] for r in rows)
    notified = sorted(r["notified_s"] for r in rows)
    p95 = assigned[min(len(assigned) - 1, round(0.95 * (len(assigned) - 1)))]
    return {
        "assigned": {"median_s": round(statistics.median(assigned), 3), "p95_s": p95},
        "notified": {"median_s": round(statistics.median(notified), 3)},
        "pushes": len(rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=20)
    parser.add_argument("--baseline-pushes", type=int, default=2)
    parser.add_argument("--slices", type=int, default=100)
    parser.add_argument("--smoke", action="store_true", help="a few small pushes, for CI")
    args = parser.parse_args()
    stable_age_s = STABLE_AGE_S
    if args.smoke:  # the same path in seconds: a shorter general stable age for the baseline
        args.pushes, args.baseline_pushes, args.slices, stable_age_s = 2, 1, 20, 6.0
    with tempfile.TemporaryDirectory(prefix="garde-stroke-") as tmp:
        root = Path(tmp)
        window = run_mode(
            root,
            "stroke_window",
            pushes=args.pushes,
            slices=args.slices,
            stable_age_s=stable_age_s,
            stroke_stable_age_s=STROKE_STABLE_AGE_S,
            together=False,
        )
        declared = run_mode(
            root,
            "declared",
            pushes=args.pushes,
            slices=args.slices,
            stable_age_s=stable_age_s,
            stroke_stable_age_s=STROKE_STABLE_AGE_S,
            together=False,
            declared=args.slices,
        )
        baseline = run_mode(
            root,
            "baseline",
            pushes=args.baseline_pushes,
            slices=args.slices,
            stable_age_s=stable_age_s,
            stroke_stable_age_s=stable_age_s,  # no shorter window: the general stable age
            together=True,
        )
    result = {
        "benchmark": "stroke_to_reader",
        "slices": args.slices,
        "stable_age_s": stable_age_s,
        "stroke_stable_age_s": STROKE_STABLE_AGE_S,
        "cores": os.cpu_count(),
        **_summary(window),
        **{f"{key}_declared": value for key, value in _summary(declared).items()},
        "baseline": _summary(baseline),
        "rows": window,
        "rows_declared": declared,
        "target": {"assigned.median_s": 5.0, "assigned.p95_s": 10.0},
    }
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
