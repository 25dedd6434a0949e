"""Fixtures shared by every tier."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.helpers import TEST_DATABASE_URL

if TYPE_CHECKING:
    from pathlib import Path

DATABASE_PARAMS = [pytest.param("sqlite", id="sqlite")]
if TEST_DATABASE_URL:
    DATABASE_PARAMS.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))


@pytest.fixture(params=DATABASE_PARAMS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL: a fresh SQLite file, and the CI PostgreSQL when configured."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'garde.sqlite'}"
    return TEST_DATABASE_URL
