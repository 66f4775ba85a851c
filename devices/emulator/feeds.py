"""Sample feeds for emulated sensors: where their motion comes from, and a buffer that slices it.

A feed is any iterator of :class:`SampleBlock`; the emulated device ignores the blocks'
times and plays the samples back at its own configured rate. The lead passes a simulated
wearer's blocks; :func:`still_wearer` is the stand-in default.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np

from devices.samples import FloatArray, SampleBlock


def still_wearer(
    rate_hz: float,
    *,
    sensor_id: str = "emulated",
    seed: int = 0,
    block_s: float = 1.0,
    up_axis: int = 2,
) -> Iterator[SampleBlock]:
    """Endless samples of someone standing still: 1 g along ``up_axis``, slow sway, noise."""
    rng = np.random.default_rng(seed)
    n = max(1, round(rate_hz * block_s))
    t0_s = 0.0
    while True:
        t_s = t0_s + np.arange(n) / rate_hz
        sway_rad = np.deg2rad(3.0) * np.sin(2 * np.pi * 0.2 * t_s)
        acc = np.zeros((n, 3))
        acc[:, up_axis] = np.cos(sway_rad)
        acc[:, (up_axis + 1) % 3] = np.sin(sway_rad)
        acc += rng.normal(0.0, 0.005, size=(n, 3))
        gyro = rng.normal(0.0, 0.3, size=(n, 3))
        gyro[:, (up_axis + 2) % 3] += np.rad2deg(
            np.deg2rad(3.0) * 2 * np.pi * 0.2 * np.cos(2 * np.pi * 0.2 * t_s)
        )
        yield SampleBlock(sensor_id, t_s, acc, gyro)
        t0_s += n / rate_hz


_TIMELINE_SLACK_SAMPLES = 64


class LiveTimeline:
    """Which sample of a wearer's day is due now; the day starts at the first question.

    ``rate_hz`` is the feed's sample rate times the emulator's time scale (samples per wall
    second).
    """

    def __init__(self, rate_hz: float) -> None:
        """A day not yet started."""
        self.rate_hz = rate_hz
        self._start_s: float | None = None

    def due(self) -> int:
        """Index of the sample due now (0 at the first call)."""
        now_s = time.monotonic()
        if self._start_s is None:
            self._start_s = now_s
        return int((now_s - self._start_s) * self.rate_hz)


class SampleReservoir:
    """Slices a feed into the sample counts a device sends per notification."""

    def __init__(self, feed: Iterator[SampleBlock]) -> None:
        """Start reading ``feed``."""
        self._feed = feed
        self._acc = np.zeros((0, 3))
        self._gyro = np.zeros((0, 3))
        self.exhausted = False
        self.consumed = 0
        self.skipped = 0
        # With a timeline (sample index due now), a device that starts streaming late, or
        # after a stall, continues where the wearer's day is now, as a real sensor would:
        # samples of the past are skipped, so sensors of one wearer stay in step.
        self.timeline: Callable[[], int] | None = None

    def take(self, n: int) -> tuple[FloatArray, FloatArray] | None:
        """The next ``n`` samples (acc g, gyro °/s), or None once the feed has run dry."""
        if self.timeline is not None:
            behind = self.timeline() - self.consumed - n
            if behind > _TIMELINE_SLACK_SAMPLES and self._fill(behind):
                self._acc, self._gyro = self._acc[behind:], self._gyro[behind:]
                self.consumed += behind
                self.skipped += behind
        if not self._fill(n):
            return None
        self.consumed += n
        acc, self._acc = self._acc[:n], self._acc[n:]
        gyro, self._gyro = self._gyro[:n], self._gyro[n:]
        return acc, gyro

    def _fill(self, n: int) -> bool:
        """Read the feed until ``n`` samples are buffered; False once it has run dry."""
        while self._acc.shape[0] < n:
            try:
                block = next(self._feed)
            except StopIteration:
                self.exhausted = True
                return False
            gyro = block.gyro_dps if block.gyro_dps is not None else np.zeros_like(block.acc_g)
            self._acc = np.vstack([self._acc, block.acc_g])
            self._gyro = np.vstack([self._gyro, gyro])
        return True
