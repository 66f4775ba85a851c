"""Replaying a recording as a live source: blocks re-timed to start at a chosen moment."""

from __future__ import annotations

import math
from collections.abc import Iterator

from devices.pacing import Pacer
from devices.queue import BlockQueue
from devices.recording import Recording
from devices.samples import SampleBlock
from devices.source import pace_blocks


class ReplaySource:
    """Blocks of a recording, shifted so that its first sample is at ``start_s``.

    Block boundaries follow the sample count (``round(block_s * rate)`` samples per block),
    so a replay delivers what a sensor streaming the same samples would.
    """

    def __init__(
        self, recording: Recording, sensor_id: str, start_s: float, block_s: float = 0.5
    ) -> None:
        """Keep the recording; nothing is copied until blocks are taken."""
        if not (math.isfinite(block_s) and block_s > 0.0):
            raise ValueError(f"block_s must be a positive number, got {block_s}")
        self.recording = recording
        self.sensor_id = sensor_id
        self.start_s = float(start_s)
        self.block_s = float(block_s)
        self.samples_per_block = max(1, round(block_s * recording.rate_hz))
        self._first_t_s = float(recording.t_s[0])

    @property
    def duration_s(self) -> float:
        """Sample time the replay covers."""
        return self.recording.duration_s

    def blocks(self) -> Iterator[SampleBlock]:
        """The recording's samples in blocks, the first at exactly ``start_s``."""
        recording = self.recording
        n = len(recording)
        for first in range(0, n, self.samples_per_block):
            last = min(first + self.samples_per_block, n)
            gyro = recording.gyro_dps[first:last].copy() if recording.gyro_dps is not None else None
            yield SampleBlock(
                sensor_id=self.sensor_id,
                t_s=self.start_s + (recording.t_s[first:last] - self._first_t_s),
                acc_g=recording.acc_g[first:last].copy(),
                gyro_dps=gyro,
            )

    async def run(self, queue: BlockQueue, pacer: Pacer) -> None:
        """Offer the blocks as the pacer reaches their sample time, then close the queue."""
        await pace_blocks(self.blocks(), queue, pacer)
