"""The gateway's associations wait on events instead of polling (garde.dicom_gateway.reactor):
what pynetdicom's polling loops did, they still do: serve every C-STORE of a long
association, end on release, on the peer's abort, on the network timeout and on stop."""

from __future__ import annotations

import threading

from pynetdicom import AE, evt
from pynetdicom.sop_class import CTImageStorage, Verification

from garde.dicom_gateway.reactor import EventDrivenAssociation
from tests.helpers import make_dataset
from tests.integration.gateway.conftest import indexed


def requestor(*contexts: str) -> AE:
    ae = AE(ae_title="NORD_CT")
    for context in contexts:
        ae.add_requested_context(context)
    return ae


def test_one_association_stores_every_instance_it_sends(gateway, session_factory):
    datasets = [make_dataset(instance_number=n) for n in range(1, 41)]
    assoc = requestor(CTImageStorage).associate("127.0.0.1", gateway.port, ae_title="GARDE")
    assert assoc.is_established
    try:
        [server_side] = gateway._server.active_associations
        assert isinstance(server_side, EventDrivenAssociation)
        statuses = [int(assoc.send_c_store(ds).Status) for ds in datasets]
    finally:
        assoc.release()
    assert statuses == [0] * len(datasets)
    assert assoc.is_released
    assert gateway._slots.wait_idle(10)
    stored = indexed(session_factory)
    assert {ds.SOPInstanceUID for ds in datasets} <= set(stored)


def test_a_peer_abort_ends_the_association(gateway):
    assoc = requestor(Verification).associate("127.0.0.1", gateway.port, ae_title="GARDE")
    assert assoc.is_established
    assert int(assoc.send_c_echo().Status) == 0
    assoc.abort()
    assert gateway._slots.wait_idle(10)
    assert gateway._server.active_associations == []


def test_a_silent_association_is_aborted_at_the_network_timeout(gateway_factory):
    gateway = gateway_factory(network_timeout_s=0.5)
    aborted = threading.Event()
    handlers = [(evt.EVT_ABORTED, lambda _event: aborted.set())]
    assoc = requestor(Verification).associate(
        "127.0.0.1", gateway.port, ae_title="GARDE", evt_handlers=handlers
    )
    assert assoc.is_established
    # Nothing is sent: only the association thread's own timer check can end it.
    assert aborted.wait(10)
    assert gateway._slots.wait_idle(10)


def test_stopping_the_gateway_ends_an_open_association(gateway_factory):
    gateway = gateway_factory()
    assoc = requestor(Verification).associate("127.0.0.1", gateway.port, ae_title="GARDE")
    assert assoc.is_established
    gateway.stop(timeout=0.5)  # it aborts what is still open after the grace time
    assoc.dul.join(10)
    assert not assoc.is_established
    assert gateway._server is None
