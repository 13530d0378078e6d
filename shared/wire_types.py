"""String fields of response models whose OpenAPI schema says what they hold.

Handlers build response bodies as dicts (ids from the database, times already
rendered as ISO 8601 in UTC), so these stay `str` at runtime and change no
byte on the wire; the `format` lets a generated client type them (`UUID`,
`datetime`) instead of handing out plain strings.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

UUIDString = Annotated[str, Field(json_schema_extra={"format": "uuid"})]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"},
                                 description="ISO 8601 / RFC 3339 date and time with its UTC offset")]
Day = Annotated[str, Field(json_schema_extra={"format": "date"})]
USD = Annotated[float, Field(description="US dollars")]
