"""Column types and `Annotated` aliases shared by every model.

Declared once here so the models read as a list of fields (warehouse's ``db.py`` habit).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from sqlalchemy import JSON, DateTime, Dialect, Integer, String
from sqlalchemy.orm import mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime, on every dialect.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so the value is
    converted to UTC and stored naive, and read back with UTC attached. A naive datetime
    is refused on the way in: it would silently mean local time somewhere.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: pass an aware UTC one")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 - the signature is TypeDecorator's
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# DICOM UIDs are at most 64 characters (PS3.5 §9.1).
UID_LENGTH = 64

int_pk = Annotated[int, mapped_column(Integer, primary_key=True, autoincrement=True)]
uid = Annotated[str, mapped_column(String(UID_LENGTH))]
short_str = Annotated[str, mapped_column(String(64))]
text_str = Annotated[str, mapped_column(String(256))]
path_str = Annotated[str, mapped_column(String(1024))]
utc = Annotated[datetime, mapped_column(UTCDateTime())]
json_obj = Annotated[dict[str, Any], mapped_column(JSON)]
json_list = Annotated[list[str], mapped_column(JSON)]
