"""Fixtures of the core's unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from garde.services.solver_process import IsolatedReplanner


@pytest.fixture(scope="session")
def isolated_replan() -> Iterator[IsolatedReplanner]:
    """CP-SAT in a child process, as serve runs it: OR-Tools 9.15's presolve can abort the
    whole process on a rare model (a CHECK failure, seen on random property inputs), which
    would take the test worker down; the child is retried once without presolve, as in
    serve."""
    replanner = IsolatedReplanner()
    yield replanner
    replanner.close()
