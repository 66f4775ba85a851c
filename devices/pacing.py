"""What a live source needs from the clock: the current sample time and a way to wait for it."""

from __future__ import annotations

from typing import Protocol


class Pacer(Protocol):
    """A clock in Unix seconds that may run faster than the wall (simulated days)."""

    @property
    def speed(self) -> float:
        """Seconds of this clock per second of wall time (1 for the real clock)."""
        ...

    def now_s(self) -> float:
        """Current time in seconds since the Unix epoch, on this clock."""
        ...

    async def sleep_until_s(self, t_s: float) -> None:
        """Return once this clock has reached ``t_s``."""
        ...
