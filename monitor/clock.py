"""The daemon's one clock: wall time, or a simulated day that runs faster than the wall."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(slots=True)
class ScaledClock:
    """A clock anchored at ``start_s`` (Unix seconds) that advances ``speed`` times the wall.

    With speed 1 and start = now it is the real clock. Simulated and replayed sensors pace
    their samples by it, and the delivery policy reads wall time from it, so a demo or a
    test can live a day in seconds. Progress uses the monotonic clock, so a wall-clock step
    (NTP) does not make the simulated day jump.
    """

    start_s: float
    speed: float = 1.0
    _anchor_monotonic_s: float = field(default_factory=time.monotonic)

    @classmethod
    def real(cls) -> ScaledClock:
        """The wall clock."""
        return cls(start_s=time.time())

    def restart_at(self, start_s: float) -> None:
        """Make ``start_s`` the current time on this clock (a simulated day begins now)."""
        self.start_s = start_s
        self._anchor_monotonic_s = time.monotonic()

    def now_s(self) -> float:
        """Current time on this clock, in Unix seconds."""
        return self.start_s + (time.monotonic() - self._anchor_monotonic_s) * self.speed

    def now(self) -> datetime:
        """Current time on this clock, UTC-aware."""
        return datetime.fromtimestamp(self.now_s(), tz=UTC)

    async def sleep_until_s(self, t_s: float) -> None:
        """Return once this clock has reached ``t_s``; always yields to other tasks.

        Yielding even when ``t_s`` has passed keeps a source that is behind from starving
        the tasks that drain its queue.
        """
        await asyncio.sleep(max(0.0, (t_s - self.now_s()) / self.speed))

    async def sleep_s(self, duration_s: float) -> None:
        """Sleep for ``duration_s`` of this clock's time."""
        if duration_s > 0:
            await asyncio.sleep(duration_s / self.speed)
