"""The event-driven reactor copies pynetdicom's loops: it runs only on the versions they
were read from, and falls back to pynetdicom's own classes on any other."""

from __future__ import annotations

import logging

import pynetdicom
from pynetdicom import AE
from pynetdicom.association import Association

from garde.dicom_gateway import reactor


def test_the_installed_pynetdicom_is_one_the_reactor_was_written_for():
    # A pynetdicom upgrade fails here first: re-read `DULServiceProvider.run_reactor` and
    # `Association._run_reactor` against reactor.py, then add the version to SUPPORTED.
    assert reactor.supported(pynetdicom.__version__), pynetdicom.__version__


def test_a_supported_version_gets_the_event_driven_association():
    assoc = reactor.acceptor_association(AE(ae_title="GARDE"))
    assert isinstance(assoc, reactor.EventDrivenAssociation)
    # The timeouts set on the AE reach the DUL that replaced pynetdicom's.
    assert assoc.dul.artim_timer.timeout == assoc.acse_timeout
    assert assoc.dul._idle_timer.timeout == assoc.network_timeout


def test_another_version_falls_back_to_pynetdicoms_association_and_says_so_once(
    monkeypatch, caplog
):
    monkeypatch.setattr(reactor, "SUPPORTED", ("0.1.",))
    monkeypatch.setattr(reactor, "_warned", type(reactor._warned)())
    ae = AE(ae_title="GARDE")
    with caplog.at_level(logging.WARNING, logger="garde.dicom_gateway.reactor"):
        first = reactor.acceptor_association(ae)
        second = reactor.acceptor_association(ae)
    assert type(first) is Association
    assert type(second) is Association
    assert len([r for r in caplog.records if "polling reactor" in r.getMessage()]) == 1
