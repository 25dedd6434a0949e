"""QIDO-RS by PatientID finds a study the gateway keyed by its INS (issue 18, item 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from garde.dicom_gateway.patient import INS_NIR, identity_from
from garde.web.app import WebContext

SECRET = b"secret"
INS = "279035121518989"


def _context() -> WebContext:
    none: Any = None
    return WebContext(none, none, Path(), lambda: ("h01", "h02"), SECRET)


def test_a_patient_id_that_is_an_ins_also_searches_its_key_across_hospitals() -> None:
    keys = _context().patient_keys(INS)
    assert identity_from(INS, INS_NIR).key(SECRET, "h01") in keys
    assert identity_from(INS, "").key(SECRET, "h02") in keys  # as a hospital's own ID too


def test_a_plain_patient_id_searches_its_key_per_hospital_only() -> None:
    assert len(_context().patient_keys("PAT-0001")) == 2
