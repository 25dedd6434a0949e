"""A small test registry: four hospitals, four radiologists (no config file needed)."""

from __future__ import annotations

from pathlib import Path

from garde.dispatch.model import Radiologist, Site

DATA = Path(__file__).resolve().parents[2] / "data" / "rosters"

SITES = tuple(
    Site(id=f"h0{n}", name=f"CH {n}", ae_titles=frozenset({f"CT{n}"})) for n in range(1, 5)
)
ALL = frozenset(s.id for s in SITES)
RADIOLOGISTS = (
    Radiologist(id="r01", name="Dr A", skills=frozenset({"neuro", "body"}), sites=ALL),
    Radiologist(id="r02", name="Dr B", skills=frozenset({"body"}), sites=frozenset({"h01", "h02"})),
    Radiologist(
        id="r03", name="Dr C", skills=frozenset({"neuro"}), sites=frozenset({"h03", "h04"})
    ),
    Radiologist(id="r04", name="Dr D", skills=frozenset({"body", "chest"}), sites=ALL),
)
