"""Sample feeds for emulated sensors: where their motion comes from, and a buffer that slices it.

A feed is any iterator of :class:`SampleBlock`; the emulated device ignores the blocks'
times and plays the samples back at its own configured rate. The lead passes a simulated
wearer's blocks; :func:`still_wearer` is the stand-in default.
"""

from __future__ import annotations

from collections.abc import Iterator

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


class SampleReservoir:
    """Slices a feed into the sample counts a device sends per notification."""

    def __init__(self, feed: Iterator[SampleBlock]) -> None:
        """Start reading ``feed``."""
        self._feed = feed
        self._acc = np.zeros((0, 3))
        self._gyro = np.zeros((0, 3))
        self.exhausted = False

    def take(self, n: int) -> tuple[FloatArray, FloatArray] | None:
        """The next ``n`` samples (acc g, gyro °/s), or None once the feed has run dry."""
        while self._acc.shape[0] < n:
            try:
                block = next(self._feed)
            except StopIteration:
                self.exhausted = True
                return None
            gyro = block.gyro_dps if block.gyro_dps is not None else np.zeros_like(block.acc_g)
            self._acc = np.vstack([self._acc, block.acc_g])
            self._gyro = np.vstack([self._gyro, gyro])
        acc, self._acc = self._acc[:n], self._acc[n:]
        gyro, self._gyro = self._gyro[:n], self._gyro[n:]
        return acc, gyro
