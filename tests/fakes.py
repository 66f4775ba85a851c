"""Typed test doubles, kept in one place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """A wall clock (alerts.clock.Clock) that moves only when the test says so."""

    def __init__(self, start: datetime = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)) -> None:
        """Start at ``start`` (timezone-aware)."""
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")
        self._now = start

    def now(self) -> datetime:
        """The current fake time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self._now += timedelta(seconds=seconds)
