"""Replaying recordings: re-timed blocks, pacing on sample time, closing and cancelling."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from devices.queue import BlockQueue
from devices.recording import Recording, read_recording, write_recording
from devices.replay import ReplaySource
from devices.samples import SampleBlock
from devices.source import SampleSource, pace_blocks
from tests.fakes import FakePacer


def _recording(n: int = 130, rate_hz: float = 50.0, gyro: bool = True) -> Recording:
    rng = np.random.default_rng(1)
    return Recording(
        t_s=12.5 + np.arange(n) / rate_hz,
        acc_g=rng.normal(size=(n, 3)),
        gyro_dps=rng.normal(size=(n, 3)) if gyro else None,
    )


def _drain(queue: BlockQueue) -> list[SampleBlock]:
    async def go() -> list[SampleBlock]:
        blocks = []
        while (block := await queue.get()) is not None:
            blocks.append(block)
        return blocks

    return asyncio.run(go())


def test_blocks_are_shifted_to_start_and_keep_the_samples() -> None:
    recording = _recording()
    source = ReplaySource(recording, "thigh-1", start_s=1_700_000_000.0)
    blocks = list(source.blocks())
    assert [len(b) for b in blocks] == [25] * 5 + [5]
    assert blocks[0].t_s[0] == 1_700_000_000.0
    assert all(b.sensor_id == "thigh-1" for b in blocks)
    t_s = np.concatenate([b.t_s for b in blocks])
    np.testing.assert_allclose(np.diff(t_s), 0.02, rtol=0, atol=1e-6)
    np.testing.assert_allclose(t_s - 1_700_000_000.0, recording.t_s - 12.5, atol=1e-6)
    np.testing.assert_array_equal(np.concatenate([b.acc_g for b in blocks]), recording.acc_g)
    gyro = [b.gyro_dps for b in blocks]
    assert all(g is not None for g in gyro)
    assert source.duration_s == pytest.approx(2.6)


def test_accelerometer_only_and_block_size() -> None:
    source = ReplaySource(_recording(gyro=False), "h10", start_s=0.0, block_s=1.0)
    blocks = list(source.blocks())
    assert [len(b) for b in blocks] == [50, 50, 30]
    assert all(b.gyro_dps is None for b in blocks)
    with pytest.raises(ValueError, match="block_s"):
        ReplaySource(_recording(), "x", start_s=0.0, block_s=0.0)


def test_run_paces_each_block_at_its_last_sample_then_closes(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    write_recording(path, _recording())
    source: SampleSource = ReplaySource(read_recording(path), "r", start_s=1000.0)
    pacer = FakePacer(start_s=1000.0)
    queue = BlockQueue(maxsize=64)
    asyncio.run(source.run(queue, pacer))
    blocks = _drain(queue)
    assert len(blocks) == 6
    assert pacer.sleeps == [b.end_s for b in blocks]
    assert pacer.sleeps[0] == pytest.approx(1000.0 + 24 / 50.0)
    assert pacer.sleeps == sorted(pacer.sleeps)
    assert pacer.now_s() == blocks[-1].end_s


def test_cancelling_propagates_and_leaves_the_queue_open() -> None:
    source = ReplaySource(_recording(), "r", start_s=0.0)

    async def go() -> tuple[BlockQueue, FakePacer]:
        gate = asyncio.Event()
        pacer = FakePacer(gate=gate)
        queue = BlockQueue(maxsize=64)
        task = asyncio.create_task(source.run(queue, pacer))
        await asyncio.sleep(0)
        assert pacer.sleeps == [pytest.approx(24 / 50.0)]  # waiting for the first block
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return queue, pacer

    queue, pacer = asyncio.run(go())
    assert queue.qsize() == 0  # nothing offered, and no close marker either
    assert len(pacer.sleeps) == 1


def test_pace_blocks_with_a_full_queue_waits_and_loses_nothing() -> None:
    blocks = list(ReplaySource(_recording(), "r", start_s=0.0).blocks())
    queue = BlockQueue(maxsize=2)

    async def produce_and_consume_slowly() -> list[SampleBlock]:
        producer = asyncio.create_task(pace_blocks(blocks, queue, FakePacer()))
        received = []
        while (block := await queue.get()) is not None:
            received.append(block)
            await asyncio.sleep(0.01)  # a consumer slower than the source
        await producer
        return received

    received = asyncio.run(produce_and_consume_slowly())
    assert queue.counters.dropped_blocks == 0
    assert [b.start_s for b in received] == [b.start_s for b in blocks]
