"""``[reporting]``: destinations and priors peers, every bad key named (issue 14)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from garde.config import ConfigError
from garde.config.loader import example_path, load_settings
from garde.config.reporting import DestinationKind
from tests.unit.config.test_loader import MINIMAL, write

if TYPE_CHECKING:
    from pathlib import Path

GOOD = """
[reporting]
alert_after_min = 5

[[reporting.destinations]]
site = "h01"
name = "pacs"
kind = "dicom"
host = "10.0.0.5"
port = 104
ae_title = "ONE_PACS"
objects = ["sr", "pdf"]
tls = { ca_file = "/etc/garde/ca.pem" }

[[reporting.destinations]]
site = "h01"
name = "ris"
kind = "hl7"
host = "10.0.0.6"
port = 2575

[[reporting.priors]]
site = "h01"
host = "10.0.0.5"
port = 104
ae_title = "ONE_PACS"
years = 3
"""


def test_destinations_and_peers_are_read(tmp_path: Path) -> None:
    reporting = load_settings(write(tmp_path, MINIMAL + GOOD)).reporting
    pacs, ris = reporting.for_site("h01")
    assert (pacs.kind, pacs.objects, pacs.key) == (DestinationKind.DICOM, ("sr", "pdf"), "h01/pacs")
    assert pacs.tls is not None and str(pacs.tls.ca_file) == "/etc/garde/ca.pem"
    assert (ris.kind, ris.port, ris.receiving_application) == (DestinationKind.HL7, 2575, "RIS")
    peer = reporting.peer("h01")
    assert peer is not None and peer.years == 3
    assert reporting.alert_after_min == 5


def test_every_bad_key_is_named(tmp_path: Path) -> None:
    bad = (
        GOOD.replace('kind = "hl7"', 'kind = "fax"')
        .replace('objects = ["sr", "pdf"]', 'objects = ["sr", "docx"]')
        .replace('site = "h01"\nhost = "10.0.0.5"', 'site = "h09"\nhost = "10.0.0.5"')
    )
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, MINIMAL + bad))
    keys = {p.key for p in info.value.problems}
    assert keys == {
        "reporting.destinations[1].kind",
        "reporting.destinations[0].objects",
        "reporting.priors[0].site",
    }


def test_the_example_documents_reporting() -> None:
    reporting = load_settings(example_path()).reporting
    assert reporting.for_site("h01")  # the example hospital's PACS and RIS
