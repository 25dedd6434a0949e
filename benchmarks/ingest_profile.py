"""Where an instance's time goes in Garde's receive path (one process, real storescu).

    .venv/bin/python benchmarks/ingest_profile.py [--senders 4]

Wraps the intake steps with timers (header read with the completeness walk, file meta,
file write + fsync, directory fsync, index write, the intake, the whole handler) and pushes the benchmark's CT series (`ingest.py`) into
`garde serve`'s gateway in one process. Prints JSON: instances/s and the mean
milliseconds per call of each step; what is left of 1/rate is pynetdicom's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest

from garde.dicom_gateway import intake, scp, writer
from garde.store.instance_index import SqlInstanceIndex

_TOTAL: dict[str, float] = defaultdict(float)
_CALLS: dict[str, int] = defaultdict(int)


def _timed(owner: Any, name: str, label: str) -> None:
    inner = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            _TOTAL[label] += time.perf_counter() - began
            _CALLS[label] += 1

    setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=1)
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--smoke", action="store_true", help="10 instances: for CI")
    args = parser.parse_args()
    if args.smoke:
        args.instances = 10
    _timed(intake, "_read", "header_and_completeness")
    _timed(intake, "file_meta", "file_meta")
    _timed(writer, "_write_synced", "write_and_fsync")
    _timed(writer, "_fsync_directory", "directory_fsync")
    _timed(SqlInstanceIndex, "record", "index")
    _timed(SqlInstanceIndex, "record_many", "index_batch_after_answer")
    _timed(SqlInstanceIndex, "path_of", "uid_lookup")
    _timed(intake.IntakeService, "receive", "intake_total")
    _timed(scp, "handle_store", "handler_total")
    with tempfile.TemporaryDirectory(prefix="garde-ingest-profile-") as tmp:
        root = Path(tmp)
        paths = ingest.make_series(root / "series", args.instances)
        folders = ingest.split(paths, root / "split", args.senders)
        work = root / "work"
        work.mkdir()
        with ingest.garde_receiver(work, 1) as (port, called, stored):
            seconds = ingest.send(port, called, folders)
            got, _lag = ingest._until_stored(stored, len(paths))  # noqa: SLF001
            if got != len(paths):
                raise RuntimeError(f"stored {got} of {len(paths)} instances")
    rate = len(paths) / seconds
    steps = {k: round(1000 * _TOTAL[k] / _CALLS[k], 3) for k in _TOTAL}
    print(
        json.dumps(
            {
                "senders": args.senders,
                "inst_per_s": round(rate, 1),
                "ms_per_instance": round(1000 / rate, 3),
                "ms_per_call": steps,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
