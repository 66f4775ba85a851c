"""The bounded hand-over between a source's callback and the evaluation, with drop accounting."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from devices.samples import SampleBlock


@dataclass(slots=True)
class DropCounters:
    """What a full queue threw away, so sample loss is visible instead of silent."""

    dropped_blocks: int = 0
    dropped_samples: int = 0


@dataclass(slots=True)
class BlockQueue:
    """A bounded queue of sample blocks that never blocks the producer.

    Drop policy: when full, the *oldest* queued block is discarded to make room, so the
    evaluation stays current after a stall; every discarded block and sample is counted.
    ``offer`` is synchronous and safe to call from a Bluetooth notification callback.
    """

    maxsize: int = 256
    counters: DropCounters = field(default_factory=DropCounters)
    _queue: asyncio.Queue[SampleBlock | None] = field(init=False)

    def __post_init__(self) -> None:
        """Create the underlying queue."""
        self._queue = asyncio.Queue(maxsize=self.maxsize)

    def offer(self, block: SampleBlock) -> None:
        """Queue a block, dropping the oldest queued block when full."""
        if self._queue.full():
            oldest = self._queue.get_nowait()
            if oldest is not None:
                self.counters.dropped_blocks += 1
                self.counters.dropped_samples += len(oldest)
        self._queue.put_nowait(block)

    async def put(self, block: SampleBlock) -> None:
        """Queue a block, waiting for room (for sources that can wait, unlike a radio)."""
        await self._queue.put(block)

    async def put_end(self) -> None:
        """Like ``close``, but waits for room instead of dropping a block."""
        await self._queue.put(None)

    def close(self) -> None:
        """Tell the consumer no more blocks will come (the source has finished)."""
        if self._queue.full():
            oldest = self._queue.get_nowait()
            if oldest is not None:
                self.counters.dropped_blocks += 1
                self.counters.dropped_samples += len(oldest)
        self._queue.put_nowait(None)

    async def get(self) -> SampleBlock | None:
        """Wait for the next block; None once the source has closed the queue."""
        return await self._queue.get()

    def qsize(self) -> int:
        """Blocks waiting."""
        return self._queue.qsize()
