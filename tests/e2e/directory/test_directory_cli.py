"""`garde directory import` as an operator runs it, on the example region and the
shipped sample extract: N imported, the radiologists' names from the directory, a
re-import that updates, never deletes, and refuses a malformed file whole."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "examples" / "PS_LibreAcces_Personne_activite_sample.txt"


def garde(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GARDE_")}
    env["GARDE_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "garde", "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    result = garde(data, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    return data


def listed(data_dir: Path) -> dict[str, dict[str, object]]:
    result = garde(data_dir, "directory", "list", "--json")
    assert result.returncode == 0, result.stderr
    return {row["rpps"]: row for row in json.loads(result.stdout)}


def names(data_dir: Path) -> dict[str, tuple[str, str]]:
    with sqlite3.connect(data_dir / "garde.sqlite") as db:
        return {i: (n, r) for i, n, r in db.execute("SELECT id, name, rpps FROM radiologists")}


def test_import_update_flag_and_refuse(data_dir: Path, tmp_path: Path) -> None:
    result = garde(data_dir, "directory", "import", str(SAMPLE))
    assert result.returncode == 0, result.stderr
    assert "10 professionals imported: 10 new, 0 updated" in result.stdout
    assert len(listed(data_dir)) == 10
    # The example region names its radiologists by RPPS number: names from the directory.
    assert names(data_dir)["r03"] == ("Dr Inès Garnier", "10999000028")

    # One specialty changed, one professional gone from the extract.
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    changed = [
        line.replace("|SM44|Radio-diagnostic|", "|SM28|Médecine nucléaire|")
        if "|10999000069|" in line
        else line
        for line in lines
        if "|10999000101|" not in line
    ]
    second = tmp_path / "second.txt"
    second.write_text("\n".join(changed) + "\n", encoding="utf-8")
    result = garde(data_dir, "directory", "import", str(second))
    assert result.returncode == 0, result.stderr
    assert (
        "9 professionals imported: 0 new, 1 updated, 8 unchanged, 1 newly missing" in result.stdout
    )
    rows = listed(data_dir)
    assert rows["10999000069"]["specialties"] == ["SM28"]
    assert len(rows) == 10  # never deleted: flagged
    assert rows["10999000101"]["missing_since"] is not None

    # An operator retires the missing one (audited).
    assert garde(data_dir, "directory", "retire", "10999000101").returncode == 0
    assert listed(data_dir)["10999000101"]["retired_at"] is not None
    with sqlite3.connect(data_dir / "garde.sqlite") as db:
        actions = [a for (a,) in db.execute("SELECT action FROM audit_events ORDER BY id")]
    assert actions == ["directory.import", "directory.import", "directory.retire"]

    # A malformed RPPS: refused with its line, nothing imported.
    bad = tmp_path / "bad.txt"
    bad.write_text(
        "\n".join(line.replace("|10999000010|", "|10999000019|") for line in lines) + "\n",
        encoding="utf-8",
    )
    result = garde(data_dir, "directory", "import", str(bad))
    assert result.returncode == 1
    assert f"{bad}:4: Identifiant PP '10999000019' is not an RPPS number" in result.stderr
    assert listed(data_dir)["10999000069"]["specialties"] == ["SM28"]  # unchanged

    # Another layout: refused, naming the missing columns.
    other = tmp_path / "other.csv"
    other.write_text("rpps;nom;prenom\n10999000002;MOREL;CLAIRE\n", encoding="utf-8")
    result = garde(data_dir, "directory", "import", str(other))
    assert result.returncode == 1
    assert "not a PS_LibreAcces extract" in result.stderr
    assert "'Identifiant PP'" in result.stderr
