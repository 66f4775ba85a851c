"""A preallocated ring of one sensor's recent samples, addressed by sample time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from devices.samples import FloatArray, SampleBlock


class RingError(ValueError):
    """A ring asked to do something its shape does not allow."""


@dataclass(frozen=True, slots=True)
class RingSamples:
    """Consecutive samples read out of a ring, oldest first.

    Arrays are views into the ring where the samples do not wrap and copies where they do;
    treat them as read-only and valid only until the next ``append``.
    """

    t_s: FloatArray
    acc_g: FloatArray
    gyro_dps: FloatArray | None

    def __len__(self) -> int:
        """Number of samples."""
        return int(self.t_s.shape[0])


class SampleRing:
    """Fixed-capacity store of the newest samples of one sensor.

    Storage is allocated once: times (n,), acceleration (n, 3) and, when ``has_gyro``, angular
    rate (n, 3), all float64. ``append`` copies a block in at most two vectorised slices; when
    the ring is full the oldest samples are overwritten. A block larger than the ring keeps
    only its newest ``capacity`` samples; ``dropped`` counts the samples that were never stored
    that way, ``overwritten`` every stored sample that was later replaced.
    """

    __slots__ = (
        "_acc",
        "_gyro",
        "_head",
        "_size",
        "_t",
        "capacity",
        "dropped",
        "has_gyro",
        "overwritten",
        "total_appended",
    )

    def __init__(self, capacity: int, has_gyro: bool) -> None:
        """Allocate room for ``capacity`` samples."""
        if capacity < 1:
            raise RingError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.has_gyro = has_gyro
        self._t = np.zeros(capacity)
        self._acc = np.zeros((capacity, 3))
        self._gyro = np.zeros((capacity, 3)) if has_gyro else None
        self._head = 0  # index where the next sample goes
        self._size = 0
        self.total_appended = 0
        self.dropped = 0
        self.overwritten = 0

    def __len__(self) -> int:
        """Number of samples held."""
        return self._size

    @property
    def newest_s(self) -> float:
        """Time of the newest sample held (NaN when empty)."""
        if self._size == 0:
            return float("nan")
        return float(self._t[(self._head - 1) % self.capacity])

    @property
    def oldest_s(self) -> float:
        """Time of the oldest sample held (NaN when empty)."""
        if self._size == 0:
            return float("nan")
        return float(self._t[(self._head - self._size) % self.capacity])

    def append(self, block: SampleBlock) -> None:
        """Copy a block's samples in; a sensor without gyroscope data stores none."""
        self.append_arrays(block.t_s, block.acc_g, block.gyro_dps)

    def append_arrays(
        self, t_s: FloatArray, acc_g: FloatArray, gyro_dps: FloatArray | None
    ) -> None:
        """Copy samples in from plain arrays (times (n,), acceleration and gyro (n, 3))."""
        n = int(t_s.shape[0])
        if n == 0:
            return
        if self.has_gyro and gyro_dps is None:
            raise RingError("this ring stores gyroscope samples but the block has none")
        self.total_appended += n
        if n > self.capacity:
            skip = n - self.capacity
            self.dropped += skip
            t_s = t_s[skip:]
            acc_g = acc_g[skip:]
            gyro_dps = gyro_dps[skip:] if gyro_dps is not None else None
            n = self.capacity
        self.overwritten += max(0, self._size + n - self.capacity)
        first = min(n, self.capacity - self._head)
        stop = self._head + first
        self._t[self._head : stop] = t_s[:first]
        self._acc[self._head : stop] = acc_g[:first]
        if self._gyro is not None and gyro_dps is not None:
            self._gyro[self._head : stop] = gyro_dps[:first]
        rest = n - first
        if rest:
            self._t[:rest] = t_s[first:]
            self._acc[:rest] = acc_g[first:]
            if self._gyro is not None and gyro_dps is not None:
                self._gyro[:rest] = gyro_dps[first:]
        self._head = (self._head + n) % self.capacity
        self._size = min(self.capacity, self._size + n)

    def latest(self, n: int) -> RingSamples:
        """The newest ``n`` samples (fewer if the ring holds fewer), oldest first."""
        n = max(0, min(n, self._size))
        return self._slice(self._size - n, self._size)

    def window(self, start_s: float, end_s: float) -> RingSamples:
        """Samples with ``start_s <= t < end_s`` that are still held, oldest first."""
        first = self._search(start_s)
        stop = self._search(end_s)
        return self._slice(first, max(first, stop))

    def _search(self, t_s: float) -> int:
        """Logical index (0 = oldest) of the first held sample at or after ``t_s``."""
        start = (self._head - self._size) % self.capacity
        if start + self._size <= self.capacity:
            return int(np.searchsorted(self._t[start : start + self._size], t_s, side="left"))
        older = self._t[start:]
        if older.shape[0] and t_s <= older[-1]:
            return int(np.searchsorted(older, t_s, side="left"))
        newer = self._t[: self._head]
        return int(older.shape[0] + np.searchsorted(newer, t_s, side="left"))

    def _slice(self, first: int, stop: int) -> RingSamples:
        """Samples at logical indices [first, stop), as views when they do not wrap."""
        start = (self._head - self._size) % self.capacity
        a = start + first
        b = start + stop
        if b <= self.capacity or a >= self.capacity:
            if a >= self.capacity:
                a -= self.capacity
                b -= self.capacity
            gyro = self._gyro[a:b] if self._gyro is not None else None
            return RingSamples(self._t[a:b], self._acc[a:b], gyro)
        b -= self.capacity
        gyro_parts = (
            np.concatenate((self._gyro[a:], self._gyro[:b])) if self._gyro is not None else None
        )
        return RingSamples(
            np.concatenate((self._t[a:], self._t[:b])),
            np.concatenate((self._acc[a:], self._acc[:b])),
            gyro_parts,
        )
