"""A live gateway on loopback, indexing into a real (migrated) database."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from garde.config.model import GatewaySettings
from garde.dicom_gateway.scp import Gateway
from garde.dispatch.model import Site
from garde.store.instance_index import SqlInstanceIndex
from garde.store.models import InstanceRow
from tests.store_fixtures import (  # noqa: F401 - fixtures are found by name
    blank_url,
    engine,
    instance_index,
    migrated_url,
    session_factory,
    sqlite_template,
    sync_directory,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

SITES = (
    Site("nord", "CH Nord", frozenset({"NORD_CT", "NORD_PACS"})),
    Site("sud", "Clinique Sud", frozenset({"SUD_CT"})),
    Site("est", "CH Est", frozenset({"EST_MR"})),
)
SECRET = b"test-secret-0123456789abcdef0123"


_RUNNING: list[Gateway] = []  # in-process gateways of the current test


@pytest.fixture
def gateway_factory(tmp_path, session_factory) -> Iterator[Callable[..., Gateway]]:  # noqa: F811
    """Start gateways (settings overridable, own index optional); all stopped at teardown."""
    sync_directory(session_factory, SITES, ())
    started: list[Gateway] = []

    def start(*, index=None, sites=SITES, **overrides) -> Gateway:
        settings = GatewaySettings(
            port=0, storage_dir=tmp_path / "storage", acse_timeout_s=5.0, network_timeout_s=10.0
        )
        gateway = Gateway(
            replace(settings, **overrides),
            sites,
            index if index is not None else SqlInstanceIndex(session_factory),
            patient_key_secret=SECRET,
        )
        gateway.start()
        started.append(gateway)
        _RUNNING.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop(timeout=5)
        _RUNNING.remove(gateway)


@pytest.fixture
def gateway(gateway_factory) -> Gateway:
    """A gateway with the default test settings."""
    return gateway_factory()


def indexed(factory) -> dict[str, InstanceRow]:
    """Every indexed instance by SOP Instance UID (once the running gateways indexed
    what they answered: they index after answering)."""
    for gateway in _RUNNING:
        assert gateway.service.flush(timeout=30)
    with factory() as session:
        return {row.sop_instance_uid: row for row in session.scalars(select(InstanceRow))}


def storage_files(root: Path) -> list[Path]:
    """Every file under the storage directory (temporary ones included)."""
    return sorted(p for p in root.rglob("*") if p.is_file())
