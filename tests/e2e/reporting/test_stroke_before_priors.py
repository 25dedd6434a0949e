"""A stroke is dispatched before its priors arrive (issue 14): `garde serve` with a priors
peer whose C-FIND SCP (pynetdicom, in the test) holds its answer until the test lets it
go; the stroke pushed with storescu is assigned while that lookup is still waiting."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from pynetdicom import AE, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
)
from sqlalchemy import select

from garde.store.engine import make_engine, make_session_factory
from garde.store.models import PriorLookupRow, StudyRow
from tests.e2e.runtime.serving import garde, push_with_storescu, serve, wait_for_port
from tests.helpers import free_port, require_executable, write_on_call_roster, write_series

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [pytest.mark.dcmtk, pytest.mark.slow]

CONFIG = """
environment = "test"
data_dir = "{data}"
roster_file = "{roster}"

[gateway]
port = {port}
workers = 1
stable_age_s = 1

[scheduler]
stability_sweep_s = 0.3

[region]
medical_director = "director@example.org"

[reporting]
priors_port = {priors_port}

[[reporting.priors]]
site = "h01"
host = "127.0.0.1"
port = {pacs_port}
ae_title = "SLOW_PACS"
timeout_s = 30

[[sites]]
id = "h01"
name = "CH Test One"
ae_titles = ["TEST_CT1"]

[[radiologists]]
id = "r01"
name = "Dr One"
skills = ["neuro", "body"]
sites = ["h01"]
"""


class SlowPacs:
    """A C-FIND SCP that answers (no match) only once `release` is set."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.release = threading.Event()
        self.answered_at: float | None = None
        self.port = free_port()
        ae = AE(ae_title="SLOW_PACS")
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
        server = ae.start_server(
            ("127.0.0.1", self.port),
            block=False,
            evt_handlers=[(evt.EVT_C_FIND, self._find)],
        )
        assert server is not None
        self.server = server

    def _find(self, event: Any) -> Iterator[tuple[int, Any]]:
        self.asked.set()
        self.release.wait(30)
        self.answered_at = time.monotonic()
        yield from ()  # no earlier study: the final status is Success

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


def _read(data: Path) -> tuple[list[tuple[str | None, Any]], list[tuple[str, int]]]:
    engine = make_engine(f"sqlite:///{data / 'garde.sqlite'}")
    try:
        with make_session_factory(engine)() as session:
            studies = session.execute(select(StudyRow.assignee, StudyRow.priority)).all()
            lookups = session.execute(select(PriorLookupRow.state, PriorLookupRow.found)).all()
            return [tuple(r) for r in studies], [tuple(r) for r in lookups]  # type: ignore[misc]
    finally:
        engine.dispose()


def _until(check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    pytest.fail(f"not within {timeout} s")


def test_a_stroke_is_assigned_while_its_priors_lookup_still_waits(tmp_path: Path) -> None:
    scu = require_executable("storescu")
    pacs = SlowPacs()
    roster = write_on_call_roster(tmp_path / "roster.csv", "r01")
    port, data, config = free_port(), tmp_path / "data", tmp_path / "garde.toml"
    config.write_text(
        CONFIG.format(
            data=data,
            roster=roster,
            port=port,
            priors_port=free_port(),
            pacs_port=pacs.port,
        ),
        encoding="utf-8",
    )
    garde(config, "db", "upgrade")
    files = write_series(
        tmp_path / "stroke", 3, rows=8, columns=8, description="AVC alerte thrombolyse"
    )
    log = tmp_path / "serve.log"
    server = serve(config, log)
    try:
        wait_for_port(port, server, log)
        push = push_with_storescu(scu, port, files)
        output, _ = push.communicate(timeout=60)
        assert push.returncode == 0, output
        studies = _until(lambda: [s for s in _read(data)[0] if s[0]], 30)
        assert [(a, str(p.value)) for a, p in studies] == [("r01", "stroke")]
        assert pacs.asked.wait(15), log.read_text()  # the lookup did start: C-FIND sent
        _, lookups = _read(data)
        assert lookups == [("waiting", 0)]  # the PACS has not answered: priors pending
        assert pacs.answered_at is None
        pacs.release.set()  # now the PACS answers; the lookup ends, the stroke stayed assigned
        _until(lambda: _read(data)[1] == [("done", 0)], 15)
        assert [s[0] for s in _read(data)[0]] == ["r01"]
    finally:
        pacs.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
