"""The live gateway fixtures of the integration tier, for the CLI tests."""

from tests.integration.gateway.conftest import gateway, gateway_factory  # noqa: F401
from tests.store_fixtures import (  # noqa: F401 - fixtures are found by name
    blank_url,
    engine,
    migrated_url,
    session_factory,
    sqlite_template,
)
