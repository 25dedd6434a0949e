"""The store's database fixtures, for the roster tests that import into a store."""

from tests.store_fixtures import (  # noqa: F401 - fixtures are found by name
    migrated_url,
    sqlite_template,
)
