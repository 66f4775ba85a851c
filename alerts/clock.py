"""Wall time for alerts: the injected clock and the one UTC timestamp format on the wire."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Protocol

from pydantic import AfterValidator, PlainSerializer


class Clock(Protocol):
    """Where policy reads wall time, so a demo or test can run a day in seconds."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; naive datetimes are refused (their zone is unknown)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timezone-naive datetime {moment.isoformat()} (need an aware UTC time)")
    return moment.astimezone(UTC)


def utc_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix, e.g. ``2024-05-01T09:30:00Z`` or ``...:00.25Z``."""
    return as_utc(moment).isoformat().replace("+00:00", "Z")


UtcTime = Annotated[
    datetime,
    AfterValidator(as_utc),
    PlainSerializer(utc_iso, return_type=str, when_used="json"),
]
"""A pydantic field type: aware datetime held in UTC, written as ISO 8601 with ``Z``."""
