"""From "stable" to previews on disk, live: the gateway, the scheduler and the workers
of `garde serve` in one process, a 300-slice 512x512 CT pushed over DICOM.

A study becomes stable ``stable_age_s`` after its last instance. Measured per study: the
time from that moment to its dispatch (the audit's assign row) and to its last preview
file (the preview rows' times). Two modes in the same run: ``timed`` (the sweep brought
forward to the moment a study becomes stable, as `garde serve` does) and ``periodic``
(the sweep on its period alone, the baseline). Prints JSON; medians over ``--studies``.

    .venv/bin/python benchmarks/stable_to_preview.py                 # 3 studies a mode
    .venv/bin/python benchmarks/stable_to_preview.py --slices 60 --studies 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydicom import dcmread
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from preview import make_ct

from garde.bootstrap import build_runtime
from garde.config import load_settings
from garde.dicom_gateway.scu import push
from garde.dispatch.model import Shift
from garde.scheduling.scheduler import build_scheduler
from garde.store.migrate import upgrade
from garde.store.models import AuditEventRow, PreviewRow, StudyRow

SENDER = "VILLEFR_CT1"  # a hospital of the example region
STABLE_AGE_S = 10.0  # above the sweep period, as in production (60 s by default)
SWEEP_S = 5.0  # the default period of the stability sweep


def run_mode(
    mode: str, root: Path, slices: int, studies: int, stable_age_s: float = STABLE_AGE_S
) -> list[dict[str, float]]:
    data = root / mode
    url = f"sqlite:///{data / 'garde.sqlite'}"
    data.mkdir(parents=True)
    upgrade(url)
    base = load_settings()
    settings = replace(
        base,
        data_dir=data,
        database_url=url,
        gateway=replace(
            base.gateway,
            port=0,
            workers=1,
            storage_dir=data / "storage",
            stable_age_s=stable_age_s,
        ),
        previews=replace(base.previews, dir=data / "previews"),
        scheduler=replace(base.scheduler, stability_sweep_s=SWEEP_S),
    )
    runtime = build_runtime(settings)
    runtime.sync_directory()
    now = datetime.now(tz=UTC)
    with runtime.uow() as uow:
        shifts = [
            Shift(r.id, now - timedelta(hours=1), now + timedelta(hours=2))
            for r in settings.radiologists
        ]
        uow.roster.replace_shifts(now - timedelta(days=1), now + timedelta(days=1), shifts)
        uow.commit()
    runtime.dispatch.restore(now)
    runtime.previews.start()
    gateway = runtime.build_gateway()
    scheduler = build_scheduler(runtime)
    if mode == "periodic":
        runtime.sweep_at = None  # the baseline: the sweep's period alone
    gateway.start()
    scheduler.start()
    rows = []
    try:
        for n in range(studies):
            files = make_ct(root / f"{mode}-{n}", slices, 512)
            report = push(
                files, host="127.0.0.1", port=gateway.port, calling_ae=SENDER, called_ae="GARDE"
            )
            if report.failed:
                raise RuntimeError(f"{report.failed} files not stored")
            rows.append(_wait_for_previews(runtime, files[0], stable_age_s))
    finally:
        scheduler.shutdown(wait=True)
        gateway.stop()
        runtime.close()
    return rows


def _wait_for_previews(runtime, first_file: Path, stable_age_s: float) -> dict[str, float]:
    uid = str(dcmread(first_file, stop_before_pixels=True).StudyInstanceUID)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with runtime.uow() as uow:
            session = uow.session
            study = session.scalar(select(StudyRow).where(StudyRow.study_uid == uid))
            pages = (
                session.scalar(select(func.count()).where(PreviewRow.study_id == study.id))
                if study is not None
                else 0
            )
            if study is not None and pages and runtime.previews.wait_idle(0):
                stable = study.last_received_at + timedelta(seconds=stable_age_s)
                assigned = session.scalar(
                    select(func.min(AuditEventRow.at)).where(
                        AuditEventRow.study_uid == uid, AuditEventRow.action == "assign"
                    )
                )
                ready = session.scalar(
                    select(func.max(PreviewRow.created_at)).where(PreviewRow.study_id == study.id)
                )
                return {
                    "dispatched_after_stable_s": round((assigned - stable).total_seconds(), 3),
                    "previews_after_stable_s": round((ready - stable).total_seconds(), 3),
                }
        time.sleep(0.05)
    raise RuntimeError(f"no previews for study {uid} after 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--studies", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="one small study, for CI")
    args = parser.parse_args()
    stable_age_s = STABLE_AGE_S
    if args.smoke:  # seconds, for CI: the sweep's period still bounds the periodic mode
        args.slices, args.studies, stable_age_s = 10, 1, 1.0
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="garde-stable-") as tmp:
        for mode in ("timed", "periodic"):
            rows = run_mode(mode, Path(tmp), args.slices, args.studies, stable_age_s)
            results[mode] = {
                key: statistics.median(r[key] for r in rows)
                for key in ("dispatched_after_stable_s", "previews_after_stable_s")
            } | {"studies": rows}
    print(
        json.dumps(
            {
                "benchmark": "stable_to_preview",
                "slices": args.slices,
                "stable_age_s": stable_age_s,
                "sweep_period_s": SWEEP_S,
                "cores": os.cpu_count(),
                "results": results,
                "target_previews_after_stable_s": 1.0,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
