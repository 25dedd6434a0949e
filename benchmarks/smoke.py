"""Run every benchmark in its smoke mode, so that none can rot unnoticed (CI runs this).

Every script in ``benchmarks/`` that runs as a program (it has a ``__main__`` block) must
take ``--smoke``: a tiny run of the same code path that finishes in seconds and prints its
JSON on stdout. Figures from a smoke run are not judged; a crash, a non-zero exit, a
timeout or an output that is not JSON fails the run. Scripts are found, not listed, so a
new benchmark is smoke-tested from its first commit.

    .venv/bin/python -m benchmarks.smoke            # all of them
    .venv/bin/python -m benchmarks.smoke routing    # only the named ones
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIMEOUT_S = 240  # per script: a smoke run that needs more is no longer a smoke run


def benchmark_scripts() -> list[str]:
    """Module names of the scripts in this folder that run as programs (smoke excluded)."""
    names = []
    for path in sorted(HERE.glob("*.py")):
        if path.stem in {"__init__", "smoke"}:
            continue
        if 'if __name__ == "__main__":' in path.read_text(encoding="utf-8"):
            names.append(path.stem)
    return names


def smoke(name: str) -> dict[str, object]:
    """Run one benchmark with ``--smoke``; what went wrong, if anything, is in ``error``."""
    began = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{name}", "--smoke"],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"name": name, "ok": False, "error": f"no result after {TIMEOUT_S} s"}
    row: dict[str, object] = {"name": name, "seconds": round(time.perf_counter() - began, 1)}
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-5:]
        return row | {"ok": False, "error": f"exit {done.returncode}: " + " | ".join(tail)}
    try:
        json.loads(done.stdout)
    except json.JSONDecodeError as error:
        return row | {"ok": False, "error": f"stdout is not JSON ({error})"}
    return row | {"ok": True}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: every one)")
    args = parser.parse_args()
    names = args.names or benchmark_scripts()
    rows = []
    for name in names:
        row = smoke(name)
        rows.append(row)
        status = "ok" if row["ok"] else f"FAILED: {row['error']}"
        print(f"smoke {name}: {status} ({row.get('seconds', '-')} s)", file=sys.stderr)
    failed = [r["name"] for r in rows if not r["ok"]]
    print(json.dumps({"benchmark": "smoke", "runs": rows, "failed": failed}, indent=2))
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
