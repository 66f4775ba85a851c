"""The sample-source protocol, and the pacing loop that simulated and replayed sources share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from devices.pacing import Pacer
from devices.queue import BlockQueue
from devices.samples import SampleBlock


class SampleSource(Protocol):
    """A producer of one sensor's sample blocks (simulated, replayed or a real sensor)."""

    @property
    def sensor_id(self) -> str:
        """The sensor's identifier, as in its blocks."""
        ...

    async def run(self, queue: BlockQueue, pacer: Pacer) -> None:
        """Offer blocks to ``queue`` as their sample time arrives on ``pacer``, then close it."""
        ...


async def pace_blocks(blocks: Iterable[SampleBlock], queue: BlockQueue, pacer: Pacer) -> None:
    """Offer each block once ``pacer`` reaches its last sample time; close the queue at the end.

    A block is complete only when its last sample has been taken, so it is offered at
    ``block.end_s``, as a live sensor would deliver it. Unlike a radio, a simulated or
    replayed source can wait: when the queue is full it waits for room instead of having
    blocks dropped, so a slow moment of the consumer never loses samples. Cancellation
    propagates without closing the queue: whoever cancelled decides what the consumer sees.
    """
    for block in blocks:
        await pacer.sleep_until_s(block.end_s)
        await queue.put(block)
    await queue.put_end()
