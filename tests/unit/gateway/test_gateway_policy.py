"""UID validation and the association policy (pure)."""

from __future__ import annotations

import pytest

from garde.dicom_gateway.errors import InvalidUIDError
from garde.dicom_gateway.policy import AssociationPolicy, Rejection
from garde.dicom_gateway.uids import checked_uid, is_valid_uid
from garde.dispatch.model import Site

SITES = [
    Site("h1", "Hôpital Nord", frozenset({"NORD_CT", "NORD_PACS"})),
    Site("h2", "Clinique Sud", frozenset({"SUD_CT"}), ip_allow=("10.1.0.0/16", "192.168.5.7")),
]


@pytest.mark.parametrize(
    "value",
    ["1.2.840.10008.5.1.4.1.1.2", "1", "1.2.3." + "4" * 58, "1.02.3"],
)
def test_valid_uids(value):
    assert is_valid_uid(value)
    assert checked_uid("X", value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        None,
        12,
        "../../etc/passwd",
        "1..2",
        ".1.2",
        "1.2.",
        "1.2/3",
        "1.2\\3",
        "1.2.abc",
        "1.2 3",
        "1.2\x00",
        "1." + "2" * 63,  # 65 characters
        "\uff11.\uff12",  # full-width digits are not ASCII digits
    ],
)
def test_invalid_uids_are_refused(value):
    assert not is_valid_uid(value)
    with pytest.raises(InvalidUIDError, match="StudyInstanceUID"):
        checked_uid("StudyInstanceUID", value)


def test_known_calling_ae_maps_to_its_site():
    policy = AssociationPolicy(SITES, "GARDE", check_called_ae=False)
    decision = policy.check("NORD_PACS", "ANYTHING", "203.0.113.9")
    assert isinstance(decision, Site)
    assert decision.id == "h1"
    assert policy.site_for("NORD_CT ").id == "h1"  # AE titles are space padded on the wire


def test_unknown_calling_ae_is_rejected_permanently_with_the_standard_reason():
    policy = AssociationPolicy(SITES, "GARDE", check_called_ae=False)
    decision = policy.check("INTRUDER", "GARDE", "127.0.0.1")
    assert isinstance(decision, Rejection)
    assert (decision.result, decision.source, decision.diagnostic) == (0x01, 0x01, 0x03)
    assert policy.site_for("INTRUDER") is None


def test_called_ae_checked_only_when_configured():
    lax = AssociationPolicy(SITES, "GARDE", check_called_ae=False)
    strict = AssociationPolicy(SITES, "GARDE", check_called_ae=True)
    assert isinstance(lax.check("NORD_CT", "OTHER", "127.0.0.1"), Site)
    decision = strict.check("NORD_CT", "OTHER", "127.0.0.1")
    assert isinstance(decision, Rejection)
    assert decision.diagnostic == 0x07
    assert isinstance(strict.check("NORD_CT", "GARDE", "127.0.0.1"), Site)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("10.1.2.3", True),
        ("192.168.5.7", True),
        ("::ffff:10.1.9.9", True),  # IPv4 client on a dual-stack socket
        ("10.2.0.1", False),
        ("192.168.5.8", False),
        ("not-an-address", False),
    ],
)
def test_ip_allow_list_per_site(address, allowed):
    policy = AssociationPolicy(SITES, "GARDE", check_called_ae=False)
    decision = policy.check("SUD_CT", "GARDE", address)
    assert isinstance(decision, Site) is allowed
    if not allowed:
        assert isinstance(decision, Rejection)
        assert decision.diagnostic == 0x01  # no reason given: the list is not disclosed


def test_invalid_allow_list_entry_names_the_site():
    bad = Site("h9", "X", frozenset({"X"}), ip_allow=("10.0.0.300",))
    with pytest.raises(ValueError, match="h9"):
        AssociationPolicy([bad], "GARDE", check_called_ae=False)
