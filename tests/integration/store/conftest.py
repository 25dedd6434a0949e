"""The store's database fixtures, for every test in this folder."""

from tests.integration.store.contract_store import store  # noqa: F401 - the contract's stores
from tests.store_fixtures import (  # noqa: F401 - fixtures are found by name
    blank_url,
    engine,
    instance_index,
    migrated_url,
    session_factory,
    sqlite_template,
    uow,
    uow_factory,
)
