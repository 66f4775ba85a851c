"""The Bluetooth sensor source with unmodified bleak against the emulated BlueZ.

Every emulated sensor plays :func:`counting_feed`, so the tests read from the samples
themselves which ones arrived, in which order, and what was lost.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from devices.ble import (
    AdapterGate,
    BleSensorConfig,
    BleSensorSource,
    ClockAligner,
    LinkState,
    ReconnectPolicy,
    scan,
)
from devices.emulator import (
    ConnectFailure,
    EmulatedDiyBoard,
    EmulatedPolarH10,
    EmulatedPolarVeritySense,
    EmulatedSensor,
    EmulatedThingy52,
    EmulatorHandle,
    SensorIdentity,
)
from devices.protocols import diy, thingy52
from devices.protocols.catalog import SensorModel
from devices.protocols.polar_pmd import (
    PMD_DATA_UUID,
    PmdMeasurementType,
    PmdOpCode,
    PmdStatus,
    parse_settings,
)
from devices.queue import BlockQueue
from devices.samples import SampleBlock
from monitor.clock import ScaledClock
from tests.bluez_bus import bluez_rig, counting_feed, sample_index

H10 = "A0:9E:1A:00:00:01"
THINGY = "C0:11:22:33:44:55"
BOARD = "D0:11:22:33:44:66"
VERITY = "A0:9E:1A:00:00:02"
VERITY_SPEED = 4.0
"""The emulated Verity Sense streams 4x faster than the wall (and the test's clock runs 4x)."""

POLICY = ReconnectPolicy(
    initial_delay_s=0.1, max_delay_s=1.0, scan_timeout_s=3.0, stale_after_s=1.0
)


def h10() -> EmulatedPolarH10:
    return EmulatedPolarH10(
        SensorIdentity(H10, "Polar H10 0001", battery_pct=64), counting_feed(200)
    )


def thingy() -> EmulatedThingy52:
    return EmulatedThingy52(SensorIdentity(THINGY, "Thingy"), counting_feed(100))


def board() -> EmulatedDiyBoard:
    return EmulatedDiyBoard(SensorIdentity(BOARD, "backwatch-imu"), counting_feed(104))


def verity(gyro_samples_per_frame: int = 24) -> EmulatedPolarVeritySense:
    sensor = EmulatedPolarVeritySense(
        SensorIdentity(VERITY, "Polar Sense 1A000002", battery_pct=91),
        counting_feed(52),
        gyro_samples_per_frame=gyro_samples_per_frame,
    )
    sensor.time_scale = VERITY_SPEED
    return sensor


class Running:
    """A source running in the background and the blocks it has offered so far."""

    def __init__(self, source: BleSensorSource, speed: float = 1.0) -> None:
        self.source = source
        self.queue = BlockQueue(maxsize=10_000)
        self.blocks: list[SampleBlock] = []
        clock = ScaledClock(start_s=ScaledClock.real().start_s, speed=speed)
        self._run = asyncio.create_task(source.run(self.queue, clock))
        self._drain = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        while (block := await self.queue.get()) is not None:
            self.blocks.append(block)

    @property
    def samples(self) -> int:
        return sum(len(b) for b in self.blocks)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        t = np.concatenate([b.t_s for b in self.blocks])
        acc = np.vstack([b.acc_g for b in self.blocks])
        gyros = [b.gyro_dps for b in self.blocks]
        gyro = None if any(g is None for g in gyros) else np.vstack(gyros)  # type: ignore[arg-type]
        return t, acc, gyro

    async def stop(self) -> None:
        self._run.cancel()
        await asyncio.gather(self._run, return_exceptions=True)
        self.queue.close()
        await self._drain


async def until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.05)


def run(
    tmp_path: Path,
    sensors: Sequence[EmulatedSensor | tuple[EmulatedSensor, str]],
    body: Callable[[EmulatorHandle], Awaitable[None]],
    adapters: Sequence[str] = ("hci0",),
) -> None:
    async def main() -> None:
        async with bluez_rig(tmp_path, sensors, adapters=adapters) as emu:
            await body(emu)

    asyncio.run(main())


def source(sensor_id: str, **kwargs: object) -> BleSensorSource:
    config = BleSensorConfig(sensor_id, policy=POLICY, **kwargs)  # type: ignore[arg-type]
    return BleSensorSource(config, rng=random.Random(1))


def check_ground_truth(running: Running, *, gaps_allowed: bool = False) -> np.ndarray:
    """Samples are the feed's, in order, with strictly increasing times; returns the k steps."""
    t, acc, _ = running.arrays()
    assert np.all(np.diff(t) > 0)
    np.testing.assert_allclose(acc[:, 2], 1.0, atol=1e-3)
    steps = np.diff(sample_index(acc[:, 0])) % 4000
    if gaps_allowed:
        assert np.all(steps >= 1)
    else:
        np.testing.assert_array_equal(steps, 1)
    return steps


def test_polar_h10_streams_200_hz_ground_truth(tmp_path: Path) -> None:
    async def body(emu: EmulatorHandle) -> None:
        running = Running(source("trunk", address=H10, rate_hz=200))
        await until(lambda: running.samples >= 600)
        status = running.source.status()
        await running.stop()
        check_ground_truth(running)
        t, _, gyro = running.arrays()
        assert gyro is None  # the H10 has no gyroscope
        assert np.median(np.diff(t)) == pytest.approx(1 / 200, rel=0.1)
        assert status.state is LinkState.STREAMING
        assert status.connected
        assert status.model is SensorModel.POLAR_H10
        assert status.name == "Polar H10 0001"
        assert status.battery_pct == 64
        assert (status.connects, status.reconnects, status.decode_errors) == (1, 0, 0)
        assert (status.sequence_gaps, status.lost_samples, status.queue_dropped_samples) == (
            0,
            0,
            0,
        )
        assert running.source.status().state is LinkState.STOPPED
        # Acc only: no GYRO command was sent, nothing counted as missing gyro; ACC stopped.
        assert (status.samples_without_gyro, status.gyro_error) == (0, None)
        sent = [(c.op_code, c.measurement_type) for c in sensor.commands]
        assert {kind for _, kind in sent} == {PmdMeasurementType.ACC}
        assert sent[-1] == (PmdOpCode.STOP_MEASUREMENT, PmdMeasurementType.ACC)

    sensor = h10()
    run(tmp_path, [sensor], body)


def gyro_matches_acc(running: Running) -> int:
    """Blocks with gyro carry the feed's gyro of the same sample (x = k mod 100); returns n."""
    checked = 0
    for block in running.blocks:
        if block.gyro_dps is None:
            continue
        k = sample_index(block.acc_g[:, 0])
        # Verity gyro counts are 2000/32768 = 0.061 deg/s: the values are within half of that.
        np.testing.assert_allclose(block.gyro_dps[:, 0], k % 100, atol=0.031)
        np.testing.assert_allclose(block.gyro_dps[:, 1:], 0.0, atol=0.031)
        checked += len(block)
    return checked


def started(sensor: EmulatedPolarVeritySense, kind: PmdMeasurementType) -> tuple[int, int]:
    """(rate, range) of the last START of ``kind`` the emulated device received."""
    starts = [
        c
        for c in sensor.commands
        if c.op_code is PmdOpCode.START_MEASUREMENT and c.measurement_type == kind
    ]
    settings = parse_settings(starts[-1].parameters)
    return settings.sample_rates_hz[0], settings.ranges[0]


@pytest.mark.parametrize("gyro_frame", [24, 1, 50])
def test_verity_sense_streams_acc_and_gyro_merged_ground_truth(
    tmp_path: Path, gyro_frame: int
) -> None:
    """Gyro frames shorter than, much shorter than, and longer than the 36-sample acc frames."""

    async def body(emu: EmulatorHandle) -> None:
        running = Running(source("arm", address=VERITY, rate_hz=50), speed=VERITY_SPEED)
        await until(lambda: running.samples >= 600)
        status = running.source.status()
        await running.stop()
        check_ground_truth(running)
        t, _, gyro = running.arrays()
        assert gyro is not None  # every block carries gyro
        assert gyro_matches_acc(running) == running.samples
        assert np.median(np.diff(t)) == pytest.approx(1 / 52, rel=0.1)
        assert status.model is SensorModel.POLAR_VERITY_SENSE
        assert status.battery_pct == 91
        assert (status.samples_without_gyro, status.gyro_error) == (0, None)
        assert (status.decode_errors, status.sequence_gaps, status.connect_failures) == (0, 0, 0)
        # 50 Hz asked, 52 Hz offered; ranges as offered (8 g, 2000 deg/s); GYRO first.
        assert started(sensor, PmdMeasurementType.ACC) == (52, 8)
        assert started(sensor, PmdMeasurementType.GYRO) == (52, 2000)
        ops = [(c.op_code, c.measurement_type) for c in sensor.commands]
        starts = [kind for op, kind in ops if op is PmdOpCode.START_MEASUREMENT]
        assert starts == [PmdMeasurementType.GYRO, PmdMeasurementType.ACC]
        # Stopping the source stopped both streams before disconnecting, and frames still
        # in flight then are not counted as undecodable.
        assert running.source.status().decode_errors == 0
        assert ops[-2:] == [
            (PmdOpCode.STOP_MEASUREMENT, PmdMeasurementType.GYRO),
            (PmdOpCode.STOP_MEASUREMENT, PmdMeasurementType.ACC),
        ]

    sensor = verity(gyro_frame)
    run(tmp_path, [sensor], body)


def test_verity_sense_gyro_refused_streams_acc_alone(tmp_path: Path) -> None:
    async def body(emu: EmulatorHandle) -> None:
        sensor.refuse_start(PmdMeasurementType.GYRO, PmdStatus.INVALID_STATE)
        running = Running(source("arm", address=VERITY), speed=VERITY_SPEED)
        await until(lambda: running.samples >= 300)
        status = running.source.status()
        await running.stop()
        check_ground_truth(running)
        assert all(block.gyro_dps is None for block in running.blocks)
        assert status.state is LinkState.STREAMING
        assert status.gyro_error == "PMD START_MEASUREMENT GYRO refused: INVALID_STATE"
        assert status.samples_without_gyro >= 300  # every sample so far, counted
        assert status.samples_without_gyro == status.samples
        assert (status.connect_failures, status.reconnects) == (0, 0)
        assert sensor.samples_sent_by_type.get(PmdMeasurementType.GYRO, 0) == 0

    sensor = verity()
    run(tmp_path, [sensor], body)


def test_verity_sense_gyro_that_never_answers_leaves_acc_alone(tmp_path: Path) -> None:
    async def body(emu: EmulatorHandle) -> None:
        sensor.mute_answers(PmdMeasurementType.GYRO)
        running = Running(source("arm", address=VERITY), speed=VERITY_SPEED)
        await until(lambda: running.samples >= 100)
        status = running.source.status()
        await running.stop()
        check_ground_truth(running)
        assert status.gyro_error == "no answer to a GYRO command"
        assert status.samples_without_gyro == status.samples
        assert (status.connect_failures, status.state) == (0, LinkState.STREAMING)
        asked = [(c.op_code, c.measurement_type) for c in sensor.commands]
        assert (PmdOpCode.START_MEASUREMENT, PmdMeasurementType.GYRO) not in asked

    sensor = verity()
    run(tmp_path, [sensor], body)


def test_verity_sense_gyro_stall_never_stalls_acc(tmp_path: Path) -> None:
    async def body(emu: EmulatorHandle) -> None:
        running = Running(source("arm", address=VERITY), speed=VERITY_SPEED)
        await until(lambda: running.samples >= 200)
        sensor.stall_stream(PmdMeasurementType.GYRO)
        await until(lambda: running.source.status().samples_without_gyro >= 300)
        sensor.resume_stream(PmdMeasurementType.GYRO)
        resumed_at = len(running.blocks)
        await until(
            lambda: (
                sum(len(b) for b in running.blocks[resumed_at:] if b.gyro_dps is not None) >= 200
            )
        )
        status = running.source.status()
        streamed = len(running.blocks)
        await running.stop()
        # The accelerometer never missed a sample, with or without gyro.
        check_ground_truth(running)
        with_gyro = gyro_matches_acc(running)
        without = sum(len(b) for b in running.blocks if b.gyro_dps is None)
        assert with_gyro >= 400
        assert with_gyro + without == running.samples
        # Counted as delivered (the status after stopping includes the held-back tail).
        assert running.source.status().samples_without_gyro == without
        assert (status.stale_timeouts, status.reconnects, status.sequence_gaps) == (0, 0, 0)
        assert sensor.frames_dropped_by_type[PmdMeasurementType.GYRO] >= 1
        # Blocks go with gyro, then without (the stall), then with again. (Stopping hands on
        # the samples still waiting for gyro without it, so the tail after stop() may differ.)
        pattern = [b.gyro_dps is not None for b in running.blocks[:streamed]]
        changes = [a for a, b in itertools.pairwise(pattern) if a != b]
        assert pattern[0]
        assert pattern[-1]
        assert changes == [True, False]

    sensor = verity()
    run(tmp_path, [sensor], body)


def test_verity_sense_acc_stall_trips_the_watchdog_even_while_gyro_flows(
    tmp_path: Path,
) -> None:
    async def body(emu: EmulatorHandle) -> None:
        running = Running(source("arm", address=VERITY), speed=VERITY_SPEED)
        await until(lambda: running.samples >= 100)
        sensor.stall_stream(PmdMeasurementType.ACC)
        await until(lambda: running.source.status().stale_timeouts >= 1)
        sensor.resume_stream(PmdMeasurementType.ACC)
        await until(lambda: running.source.status().reconnects >= 1)
        before = running.samples
        await until(lambda: running.samples >= before + 100)
        await running.stop()
        check_ground_truth(running, gaps_allowed=True)
        assert gyro_matches_acc(running) >= 100
        assert sensor.samples_sent_by_type[PmdMeasurementType.GYRO] > 0

    sensor = verity()
    run(tmp_path, [sensor], body)


def test_three_sensors_at_once_with_one_gate(tmp_path: Path) -> None:
    async def body(emu: EmulatorHandle) -> None:
        gate = AdapterGate()
        sources = [
            BleSensorSource(BleSensorConfig("trunk", address=H10, policy=POLICY), gate=gate),
            BleSensorSource(
                BleSensorConfig("thigh", model=SensorModel.THINGY52, rate_hz=100, policy=POLICY),
                gate=gate,
            ),
            BleSensorSource(
                BleSensorConfig("waist", model=SensorModel.DIY, policy=POLICY), gate=gate
            ),
        ]
        runs = [Running(s) for s in sources]
        await until(lambda: all(r.samples >= 300 for r in runs))
        for r in runs:
            await r.stop()
        for r in runs:
            check_ground_truth(r)
            assert {b.sensor_id for b in r.blocks} == {r.source.sensor_id}
        for r in runs[1:]:  # Thingy and DIY board carry a gyroscope: gyro x = k mod 100
            _, acc, gyro = r.arrays()
            assert gyro is not None
            np.testing.assert_allclose(gyro[:, 0], sample_index(acc[:, 0]) % 100, atol=0.05)
        assert runs[1].source.status().address == THINGY  # found by model, kept by address
        assert runs[2].source.status().model is SensorModel.DIY

    run(tmp_path, [h10(), thingy(), board()], body)


@pytest.mark.parametrize("acquire_notify", [True, False])
@pytest.mark.parametrize(
    ("address", "data_uuid"),
    [(H10, PMD_DATA_UUID), (THINGY, thingy52.RAW_UUID), (BOARD, diy.DIY_DATA_UUID)],
)
def test_fast_data_through_an_acquired_socket_or_start_notify(
    tmp_path: Path, address: str, data_uuid: str, *, acquire_notify: bool
) -> None:
    """The socket is held while streaming and given back at the end; StartNotify on request."""

    async def body(emu: EmulatorHandle) -> None:
        running = Running(source("thigh", address=address, acquire_notify=acquire_notify))
        await until(lambda: running.samples >= 200)
        char = emu.peripheral(address).characteristic(data_uuid)
        assert char.acquired is acquire_notify
        assert char.notifying
        await running.stop()
        check_ground_truth(running)
        async with asyncio.timeout(5):
            while char.acquired:
                await asyncio.sleep(0.01)
        status = running.source.status()
        assert (status.connects, status.decode_errors, status.sequence_gaps) == (1, 0, 0)

    run(tmp_path, [h10(), thingy(), board()], body)


def test_reconnects_after_the_link_drops(tmp_path: Path) -> None:
    async def body(emu: EmulatorHandle) -> None:
        running = Running(source("trunk", address=H10))
        await until(lambda: running.samples >= 200)
        emu.peripheral(H10).drop_connection()
        await until(lambda: running.source.status().reconnects >= 1)
        before = running.samples
        await until(lambda: running.samples >= before + 200)
        status = running.source.status()
        await running.stop()
        check_ground_truth(running, gaps_allowed=True)
        assert status.connects == 2
        assert emu.peripheral(H10).connects == 2

    run(tmp_path, [h10()], body)


def test_stale_watchdog_recovers_from_a_stall(tmp_path: Path) -> None:
    async def body(emu: EmulatorHandle) -> None:
        running = Running(source("waist", address=BOARD))
        await until(lambda: running.samples >= 100)
        emu.peripheral(BOARD).stall()
        await until(lambda: running.source.status().stale_timeouts >= 1)
        emu.peripheral(BOARD).resume()
        await until(lambda: running.source.status().reconnects >= 1)
        before = running.samples
        await until(lambda: running.samples >= before + 100)
        status = running.source.status()
        await running.stop()
        check_ground_truth(running, gaps_allowed=True)
        assert status.last_error is None
        assert emu.peripheral(BOARD).disconnects >= 1

    run(tmp_path, [board()], body)


def test_garbage_frames_are_counted_and_skipped(tmp_path: Path) -> None:
    async def body(emu: EmulatorHandle) -> None:
        running = Running(source("trunk", address=H10))
        await until(lambda: running.samples >= 100)
        emu.peripheral(H10).send_garbage(5)
        await until(lambda: running.source.status().decode_errors >= 5)
        before = running.samples
        await until(lambda: running.samples >= before + 100)
        status = running.source.status()
        await running.stop()
        steps = check_ground_truth(running, gaps_allowed=True)
        # Five 20-sample frames were replaced: one gap of 100 samples, seen in the data too.
        assert status.decode_errors == 5
        assert (status.sequence_gaps, status.lost_samples) == (1, 100)
        assert sorted(steps[steps > 1].tolist()) == [101]
        assert status.state is LinkState.STREAMING

    run(tmp_path, [h10()], body)


def test_thingy_records_of_the_wrong_size_are_counted_and_skipped(tmp_path: Path) -> None:
    """Garbage of random sizes amid the records read in bursts: counted, the rest flows."""

    async def body(emu: EmulatorHandle) -> None:
        running = Running(source("thigh", address=THINGY, rate_hz=100))
        await until(lambda: running.samples >= 100)
        emu.peripheral(THINGY).send_garbage(5)
        await until(lambda: running.source.status().decode_errors >= 1)
        before = running.samples
        await until(lambda: running.samples >= before + 100)
        await running.stop()
        status = running.source.status()
        assert 1 <= status.decode_errors <= 5  # one of 23 garbage sizes is a record's 18
        assert status.samples == running.samples == status.notifications - status.decode_errors
        assert (status.connects, status.stale_timeouts) == (1, 0)

    run(tmp_path, [thingy()], body)


def test_diy_sequence_gaps_match_the_lost_samples(tmp_path: Path) -> None:
    async def body(emu: EmulatorHandle) -> None:
        running = Running(source("waist", address=BOARD))
        await until(lambda: running.samples >= 100)
        emu.peripheral(BOARD).stall(0.3)
        await until(lambda: running.source.status().sequence_gaps >= 1)
        before = running.samples
        await until(lambda: running.samples >= before + 50)
        status = running.source.status()
        await running.stop()
        steps = check_ground_truth(running, gaps_allowed=True)
        assert status.sequence_gaps == 1
        assert status.lost_samples % 10 == 0
        assert steps[steps > 1].tolist() == [status.lost_samples + 1]
        assert status.reconnects == 0

    run(tmp_path, [board()], body)


@pytest.mark.parametrize("failure", [ConnectFailure.IN_PROGRESS, ConnectFailure.ABORT_BY_LOCAL])
def test_connect_failures_are_retried(tmp_path: Path, failure: ConnectFailure) -> None:
    async def body(emu: EmulatorHandle) -> None:
        emu.peripheral(BOARD).fail_next_connects(2, failure)
        running = Running(source("waist", address=BOARD))
        await until(lambda: running.samples >= 50)
        await running.stop()
        check_ground_truth(running)
        assert emu.peripheral(BOARD).connects == 1

    run(tmp_path, [board()], body)


def test_sensor_that_vanishes_and_returns(tmp_path: Path) -> None:
    async def body(emu: EmulatorHandle) -> None:
        running = Running(source("thigh", address=THINGY, rate_hz=50))
        await until(lambda: running.samples >= 50)
        emu.peripheral(THINGY).vanish()
        await until(lambda: running.source.status().connect_failures >= 1)
        assert "not found" in (running.source.status().last_error or "")
        emu.peripheral(THINGY).reappear()
        await until(lambda: running.source.status().reconnects >= 1)
        before = running.samples
        await until(lambda: running.samples >= before + 50)
        await running.stop()
        check_ground_truth(running, gaps_allowed=True)

    run(tmp_path, [thingy()], body)


def test_scan_lists_supported_sensors(tmp_path: Path) -> None:
    async def body(emu: EmulatorHandle) -> None:
        found = await scan(timeout_s=1.0)
        assert {(f.model, f.address) for f in found} == {
            (SensorModel.POLAR_H10, H10),
            (SensorModel.THINGY52, THINGY),
            (SensorModel.DIY, BOARD),
            (SensorModel.POLAR_VERITY_SENSE, VERITY),
        }
        rssi = [f.rssi_dbm if f.rssi_dbm is not None else -127 for f in found]
        assert rssi == sorted(rssi, reverse=True)

    run(tmp_path, [h10(), thingy(), board(), verity()], body)


def test_adapter_selection(tmp_path: Path) -> None:
    async def body(emu: EmulatorHandle) -> None:
        assert [f.address for f in await scan(timeout_s=0.5, adapter="hci0")] == [H10]
        running = Running(source("waist", address=BOARD, adapter="hci1"))
        wrong = Running(source("other", address=BOARD, adapter="hci0"))
        await until(lambda: running.samples >= 50 and wrong.source.status().connect_failures >= 1)
        await running.stop()
        await wrong.stop()
        check_ground_truth(running)
        assert wrong.samples == 0
        assert running.source.status().adapter == "hci1"

    run(tmp_path, [h10(), (board(), "hci1")], body, adapters=("hci0", "hci1"))


def test_backoff_is_capped_exponential_with_jitter() -> None:
    policy = ReconnectPolicy(initial_delay_s=1.0, max_delay_s=8.0, multiplier=2.0, jitter=0.5)
    rng = random.Random(3)
    for failures, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (20, 8.0)]:
        delays = [policy.delay_s(failures, rng) for _ in range(200)]
        assert min(delays) >= base * 0.5
        assert max(delays) <= base
        assert max(delays) - min(delays) > base * 0.3  # jitter spreads retries


def test_clock_aligner_maps_an_unset_sensor_clock() -> None:
    aligner = ClockAligner()
    host_s = 1_700_000_000.0
    sensor = np.arange(10) / 100.0 + 5.0  # a clock that started at boot
    first = aligner.align(sensor, host_s)
    assert first[-1] == pytest.approx(host_s)
    np.testing.assert_allclose(np.diff(first), 0.01, rtol=1e-5)
    # 0.1 s later on both clocks, 3 ms more latency: times move a little, stay increasing.
    second = aligner.align(sensor + 0.1, host_s + 0.103)
    assert second[0] > first[-1]
    assert second[-1] == pytest.approx(host_s + 0.1, abs=0.003)
    # A sensor clock reset re-anchors at once and never goes back in time.
    third = aligner.align(np.arange(10) / 100.0, host_s + 0.2)
    assert aligner.resets == 1
    assert third[0] > second[-1]
    # Samples that would land before what was already emitted are dropped.
    overlap = aligner.align(np.arange(10) / 100.0 + 0.05, host_s + 0.2)
    assert overlap.size < 10
    assert overlap[0] > third[-1]


def test_config_needs_a_way_to_find_the_sensor() -> None:
    with pytest.raises(ValueError, match="address, a model or a name"):
        BleSensorConfig("trunk")
