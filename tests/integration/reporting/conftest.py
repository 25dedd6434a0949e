from tests.store_fixtures import *  # noqa: F403 - the store's fixtures (SQLite, PostgreSQL)
