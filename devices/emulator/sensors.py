"""Emulated sensors that speak the real GATT protocols: Polar H10, Thingy:52 and the DIY board.

Each sensor declares its services, answers reads and writes like the real firmware, and
streams its feed's samples encoded in the real frames once the client has asked for them.
Transport faults (disconnects, stalls, garbage) are injected one level down, on the link.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass

import numpy as np

from devices.emulator.feeds import SampleReservoir, still_wearer
from devices.emulator.gatt import (
    CharacteristicSpec,
    CharFlag,
    GattError,
    GattErrorName,
    Link,
    ServiceSpec,
)
from devices.protocols import diy, thingy52
from devices.protocols.battery import (
    BATTERY_LEVEL_UUID,
    BATTERY_SERVICE_UUID,
    encode_battery_level,
)
from devices.protocols.catalog import THINGY_CONFIGURATION_SERVICE_UUID, SensorModel
from devices.protocols.errors import DecodeError
from devices.protocols.polar_pmd import (
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PMD_SERVICE_UUID,
    PmdCommand,
    PmdMeasurementType,
    PmdOpCode,
    PmdSettings,
    PmdStatus,
    build_control_point_response,
    build_features,
    build_settings,
    encode_delta_frame,
    encode_raw_acc_frame,
    parse_command,
    parse_settings,
    unix_s_to_pmd_ns,
)
from devices.samples import FloatArray, SampleBlock

log = logging.getLogger(__name__)

HEART_RATE_SERVICE_UUID = "0000180d-0000-1000-8000-00805f9b34fb"
_BATTERY_SERVICE = ServiceSpec(
    BATTERY_SERVICE_UUID,
    (CharacteristicSpec(BATTERY_LEVEL_UUID, (CharFlag.READ, CharFlag.NOTIFY)),),
)
_RESPONSE_DELAY_S = 0.002


@dataclass(frozen=True, slots=True)
class SensorIdentity:
    """How an emulated sensor presents itself on the air."""

    address: str
    name: str
    rssi_dbm: int = -60
    battery_pct: int = 87


class EmulatedSensor(ABC):
    """Behaviour shared by the emulated sensors: identity, battery, feed, link."""

    model: SensorModel
    data_uuid: str

    def __init__(
        self, identity: SensorIdentity, feed: Iterator[SampleBlock] | None, rate_hz: float
    ) -> None:
        """Set up a sensor that will play ``feed`` (a standing wearer when None)."""
        self.identity = identity
        self._reservoir = SampleReservoir(
            feed if feed is not None else still_wearer(rate_hz, sensor_id=identity.name)
        )
        self._link: Link | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # How many times faster than the wall the device streams (its clock runs as fast):
        # a demo plays a simulated day at 90x through the real Bluetooth code path.
        self.time_scale = 1.0
        self.frames_sent = 0
        self.samples_sent = 0

    @abstractmethod
    def services(self) -> tuple[ServiceSpec, ...]:
        """The GATT services, in handle order."""

    def advertised_uuids(self) -> tuple[str, ...]:
        """Service UUIDs in the advertisement."""
        return ()

    def read(self, uuid: str) -> bytes:
        """Answer a read of characteristic ``uuid``."""
        if uuid == BATTERY_LEVEL_UUID:
            return encode_battery_level(self.identity.battery_pct)
        raise GattError(GattErrorName.NOT_PERMITTED, "Read not permitted")

    def write(self, uuid: str, value: bytes) -> None:
        """Handle a write to characteristic ``uuid``."""
        raise GattError(GattErrorName.NOT_PERMITTED, "Write not permitted")

    def subscription_changed(self, uuid: str, *, enabled: bool) -> None:
        """React to the client enabling or disabling notifications on ``uuid``."""
        return

    def attach(self, link: Link) -> None:
        """The client connected."""
        self._link = link

    def detach(self) -> None:
        """The link went down: stop streaming and forget per-connection state."""
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self._link = None

    def _run(self, coroutine_name: str, coroutine: Coroutine[None, None, None]) -> None:
        task = asyncio.get_running_loop().create_task(
            coroutine, name=f"{self.identity.name}:{coroutine_name}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _stop_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def _notify(self, uuid: str, value: bytes) -> None:
        if self._link is not None:
            self._link.notify(uuid, value)

    def _take(self, n: int) -> tuple[FloatArray, FloatArray] | None:
        return self._reservoir.take(n)


class _Pacer:
    """Emits ``per_tick`` samples at a time so that the average rate is ``rate_hz``.

    If the event loop lags, the next ticks catch up instead of slowing the stream.
    """

    def __init__(self, rate_hz: float, per_tick: int) -> None:
        self.rate_hz = rate_hz
        self.per_tick = per_tick
        self._loop = asyncio.get_running_loop()
        self._start = self._loop.time()
        self.samples_due_total = 0

    async def next_tick(self) -> None:
        """Wait until the next ``per_tick`` samples are due."""
        self.samples_due_total += self.per_tick
        due_at = self._start + self.samples_due_total / self.rate_hz
        delay = due_at - self._loop.time()
        if delay > 0:
            await asyncio.sleep(delay)


class EmulatedPolarH10(EmulatedSensor):
    """A Polar H10 chest strap: PMD service (ACC online streaming) and battery.

    The control point answers GET_MEASUREMENT_SETTINGS and START/STOP like the device:
    ACC at 25/50/100/200 Hz, 16 bit, ±2/4/8 g. Frames are raw type 1 (int16 mG), or
    delta-compressed type 1 with a factor of 1.0 when ``compressed``.
    """

    model = SensorModel.POLAR_H10
    data_uuid = PMD_DATA_UUID
    rates_hz = (25, 50, 100, 200)
    ranges_g = (2, 4, 8)

    def __init__(
        self,
        identity: SensorIdentity,
        feed: Iterator[SampleBlock] | None = None,
        *,
        samples_per_frame: int = 20,
        compressed: bool = False,
        clock_offset_s: float = 0.0,
    ) -> None:
        """``clock_offset_s`` shifts the device clock from the host's (an unset H10 clock)."""
        super().__init__(identity, feed, 200.0)
        self.samples_per_frame = samples_per_frame
        self.compressed = compressed
        self.clock_offset_s = clock_offset_s
        self.streaming_rate_hz: int | None = None

    def services(self) -> tuple[ServiceSpec, ...]:
        """Heart rate placeholder is not emulated; PMD and battery are."""
        pmd = ServiceSpec(
            PMD_SERVICE_UUID,
            (
                CharacteristicSpec(
                    PMD_CONTROL_POINT_UUID, (CharFlag.READ, CharFlag.WRITE, CharFlag.INDICATE)
                ),
                CharacteristicSpec(PMD_DATA_UUID, (CharFlag.NOTIFY,)),
            ),
        )
        return (pmd, _BATTERY_SERVICE)

    def advertised_uuids(self) -> tuple[str, ...]:
        """The H10 advertises heart rate."""
        return (HEART_RATE_SERVICE_UUID,)

    def read(self, uuid: str) -> bytes:
        """The control point read lists the streams: ECG and ACC."""
        if uuid == PMD_CONTROL_POINT_UUID:
            return build_features({PmdMeasurementType.ECG, PmdMeasurementType.ACC})
        return super().read(uuid)

    def write(self, uuid: str, value: bytes) -> None:
        """Control point commands; answered by indication shortly after the write returns."""
        if uuid != PMD_CONTROL_POINT_UUID:
            super().write(uuid, value)
            return
        try:
            command = parse_command(value)
        except DecodeError:
            response = bytes([0xF0, value[0] if value else 0, 0, PmdStatus.INVALID_LENGTH, 0])
        else:
            response = self._answer(command)
        asyncio.get_running_loop().call_later(
            _RESPONSE_DELAY_S, self._notify, PMD_CONTROL_POINT_UUID, response
        )

    def _answer(self, command: PmdCommand) -> bytes:
        kind = command.measurement_type
        if kind != PmdMeasurementType.ACC:
            status = (
                PmdStatus.NOT_SUPPORTED
                if kind == PmdMeasurementType.ECG
                else PmdStatus.INVALID_MEASUREMENT_TYPE
            )
            return build_control_point_response(command.op_code, kind, status)
        if command.op_code is PmdOpCode.GET_MEASUREMENT_SETTINGS:
            offered = PmdSettings(
                sample_rates_hz=self.rates_hz, resolutions_bits=(16,), ranges=self.ranges_g
            )
            return build_control_point_response(
                command.op_code, kind, parameters=build_settings(offered)
            )
        if command.op_code is PmdOpCode.STOP_MEASUREMENT:
            if self.streaming_rate_hz is None:
                return build_control_point_response(
                    command.op_code, kind, PmdStatus.ALREADY_IN_STATE
                )
            self._stop_tasks()
            self.streaming_rate_hz = None
            return build_control_point_response(command.op_code, kind)
        if command.op_code is PmdOpCode.START_MEASUREMENT:
            return self._start(command)
        return build_control_point_response(command.op_code, kind, PmdStatus.NOT_SUPPORTED)

    def _start(self, command: PmdCommand) -> bytes:
        op, kind = command.op_code, command.measurement_type
        if self.streaming_rate_hz is not None:
            return build_control_point_response(op, kind, PmdStatus.ALREADY_IN_STATE)
        try:
            settings = parse_settings(command.parameters)
        except DecodeError:
            return build_control_point_response(op, kind, PmdStatus.INVALID_PARAMETER)
        if len(settings.sample_rates_hz) != 1 or settings.sample_rates_hz[0] not in self.rates_hz:
            return build_control_point_response(op, kind, PmdStatus.INVALID_SAMPLE_RATE)
        if settings.resolutions_bits not in ((), (16,)):
            return build_control_point_response(op, kind, PmdStatus.INVALID_RESOLUTION)
        if settings.ranges and settings.ranges[0] not in self.ranges_g:
            return build_control_point_response(op, kind, PmdStatus.INVALID_RANGE)
        self.streaming_rate_hz = settings.sample_rates_hz[0]
        range_g = settings.ranges[0] if settings.ranges else 8
        self._run("pmd-acc", self._stream(self.streaming_rate_hz, range_g))
        parameters = build_settings(PmdSettings(factors=(1.0,))) if self.compressed else b""
        return build_control_point_response(op, kind, parameters=parameters)

    def detach(self) -> None:
        """A disconnect stops the stream, as on the device."""
        super().detach()
        self.streaming_rate_hz = None

    async def _stream(self, rate_hz: int, range_g: int) -> None:
        n = self.samples_per_frame
        period_ns = 1e9 / rate_hz
        start_ns = unix_s_to_pmd_ns(time.time() + self.clock_offset_s)
        pacer = _Pacer(rate_hz * self.time_scale, n)
        sent = 0
        limit_mg = range_g * 1000
        while True:
            await pacer.next_tick()
            samples = self._take(n)
            if samples is None:
                return
            acc_mg = np.clip(np.rint(samples[0] * 1000.0), -limit_mg, limit_mg).astype(np.int64)
            last_ns = start_ns + round((sent + n - 1) * period_ns)
            if self.compressed:
                frame = encode_delta_frame(PmdMeasurementType.ACC, 1, last_ns, acc_mg)
            else:
                frame = encode_raw_acc_frame(last_ns, acc_mg)
            sent += n
            self.frames_sent += 1
            self.samples_sent += n
            self._notify(PMD_DATA_UUID, frame)


class EmulatedThingy52(EmulatedSensor):
    """A Nordic Thingy:52: motion service (config, raw, quaternion) and battery.

    Raw notifications carry one sample each at the configured motion rate (default 10 Hz,
    as the firmware), starting when the client subscribes.
    """

    model = SensorModel.THINGY52
    data_uuid = thingy52.RAW_UUID

    def __init__(self, identity: SensorIdentity, feed: Iterator[SampleBlock] | None = None) -> None:
        """A Thingy with the firmware's default configuration."""
        super().__init__(identity, feed, 100.0)
        self.config = thingy52.MotionConfig()

    def services(self) -> tuple[ServiceSpec, ...]:
        """Motion service and battery."""
        motion = ServiceSpec(
            thingy52.MOTION_SERVICE_UUID,
            (
                CharacteristicSpec(thingy52.MOTION_CONFIG_UUID, (CharFlag.READ, CharFlag.WRITE)),
                CharacteristicSpec(thingy52.QUATERNION_UUID, (CharFlag.NOTIFY,)),
                CharacteristicSpec(thingy52.RAW_UUID, (CharFlag.NOTIFY,)),
            ),
        )
        return (motion, _BATTERY_SERVICE)

    def advertised_uuids(self) -> tuple[str, ...]:
        """A Thingy advertises its configuration service."""
        return (THINGY_CONFIGURATION_SERVICE_UUID,)

    def read(self, uuid: str) -> bytes:
        """The motion configuration is readable."""
        if uuid == thingy52.MOTION_CONFIG_UUID:
            return thingy52.build_motion_config(self.config)
        return super().read(uuid)

    def write(self, uuid: str, value: bytes) -> None:
        """Accept a motion configuration the firmware would accept; restart the stream."""
        if uuid != thingy52.MOTION_CONFIG_UUID:
            super().write(uuid, value)
            return
        try:
            self.config = thingy52.parse_motion_config(value)
        except DecodeError as exc:
            raise GattError(
                GattErrorName.FAILED, f"Operation failed with ATT error: 0x80 ({exc})"
            ) from exc
        self._restart()

    def subscription_changed(self, uuid: str, *, enabled: bool) -> None:
        """Raw or quaternion notifications switch the stream on or off."""
        if uuid in (thingy52.RAW_UUID, thingy52.QUATERNION_UUID):
            self._restart()

    def _restart(self) -> None:
        self._stop_tasks()
        link = self._link
        if link is not None and (
            link.is_subscribed(thingy52.RAW_UUID) or link.is_subscribed(thingy52.QUATERNION_UUID)
        ):
            self._run("tms", self._stream(self.config.motion_frequency_hz))

    async def _stream(self, rate_hz: int) -> None:
        pacer = _Pacer(rate_hz * self.time_scale, 1)
        while True:
            await pacer.next_tick()
            samples = self._take(1)
            if samples is None:
                return
            acc, gyro = samples
            link = self._link
            if link is None:
                return
            if link.is_subscribed(thingy52.RAW_UUID):
                self._notify(thingy52.RAW_UUID, thingy52.encode_raw_records(acc, gyro)[0])
            if link.is_subscribed(thingy52.QUATERNION_UUID):
                self._notify(thingy52.QUATERNION_UUID, thingy52.encode_quaternion(_tilt(acc[0])))
            self.frames_sent += 1
            self.samples_sent += 1


def _tilt(acc_g: FloatArray) -> FloatArray:
    """The quaternion (w, x, y, z) turning +z onto the measured gravity direction."""
    norm = float(np.linalg.norm(acc_g))
    if norm == 0.0:
        return np.array([1.0, 0.0, 0.0, 0.0])
    up = acc_g / norm
    axis = np.cross([0.0, 0.0, 1.0], up)
    half = 0.5 * np.arccos(np.clip(up[2], -1.0, 1.0))
    length = float(np.linalg.norm(axis))
    if length == 0.0:
        return np.array([1.0, 0.0, 0.0, 0.0])
    return np.concatenate([[np.cos(half)], np.sin(half) * axis / length])


class EmulatedDiyBoard(EmulatedSensor):
    """The DIY board (see :mod:`devices.protocols.diy`): batched frames, config, battery."""

    model = SensorModel.DIY
    data_uuid = diy.DIY_DATA_UUID

    def __init__(
        self,
        identity: SensorIdentity,
        feed: Iterator[SampleBlock] | None = None,
        *,
        config: diy.DiyConfig | None = None,
        clock_start_ms: int = 0,
    ) -> None:
        """A board at ``config`` (104 Hz, ±4 g, ±2000 °/s, 10 per frame by default)."""
        self.config = config or diy.DiyConfig(
            rate_hz=104.0,
            acc_g_per_lsb=0.000122,
            gyro_dps_per_lsb=0.07,
            samples_per_frame=10,
        )
        super().__init__(identity, feed, self.config.rate_hz)
        self.clock_start_ms = clock_start_ms
        self._seq = 0

    def services(self) -> tuple[ServiceSpec, ...]:
        """DIY service and battery."""
        service = ServiceSpec(
            diy.DIY_SERVICE_UUID,
            (
                CharacteristicSpec(diy.DIY_DATA_UUID, (CharFlag.NOTIFY,)),
                CharacteristicSpec(diy.DIY_CONFIG_UUID, (CharFlag.READ,)),
            ),
        )
        return (service, _BATTERY_SERVICE)

    def advertised_uuids(self) -> tuple[str, ...]:
        """The board advertises its service."""
        return (diy.DIY_SERVICE_UUID,)

    def read(self, uuid: str) -> bytes:
        """The config characteristic publishes rate and scales."""
        if uuid == diy.DIY_CONFIG_UUID:
            return diy.build_config(self.config)
        return super().read(uuid)

    def subscription_changed(self, uuid: str, *, enabled: bool) -> None:
        """Data notifications switch the stream on or off."""
        if uuid == diy.DIY_DATA_UUID:
            self._stop_tasks()
            if enabled:
                self._run("diy", self._stream())

    async def _stream(self) -> None:
        config = self.config
        n = config.samples_per_frame
        pacer = _Pacer(config.rate_hz * self.time_scale, n)
        sent = 0
        loop = asyncio.get_running_loop()
        clock_ms = self.clock_start_ms + round(loop.time() * 1000.0)
        while True:
            await pacer.next_tick()
            samples = self._take(n)
            if samples is None:
                return
            t_ms = clock_ms + round(sent * 1000.0 / config.rate_hz)
            frame = diy.encode_frame(self._seq, t_ms, samples[0], samples[1], config)
            self._seq = (self._seq + 1) % 65536
            sent += n
            self.frames_sent += 1
            self.samples_sent += n
            self._notify(diy.DIY_DATA_UUID, frame)
