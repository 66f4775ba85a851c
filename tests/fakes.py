"""Typed test doubles, kept in one place."""

from __future__ import annotations

import asyncio
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


class FakePacer:
    """A sample-time pacer (devices.pacing.Pacer) that jumps to each time asked for.

    Every ``sleep_until_s`` call is recorded in ``sleeps``. With ``gate`` given, sleeps wait
    until the test sets the event (to hold a source mid-stream, e.g. to cancel it there).
    """

    def __init__(self, start_s: float = 0.0, gate: asyncio.Event | None = None) -> None:
        """Start the clock at ``start_s``."""
        self._now_s = start_s
        self._gate = gate
        self.sleeps: list[float] = []
        self.speed = 1.0

    def now_s(self) -> float:
        """The latest time slept until (or the start)."""
        return self._now_s

    async def sleep_until_s(self, t_s: float) -> None:
        """Record the call, yield to the loop (or wait for the gate), then jump to ``t_s``."""
        self.sleeps.append(t_s)
        if self._gate is not None:
            await self._gate.wait()
        else:
            await asyncio.sleep(0)
        self._now_s = max(self._now_s, t_s)
