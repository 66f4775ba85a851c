"""Emulated sensors that speak the real GATT protocols: Polar H10 and Verity Sense, Thingy:52, DIY.

Each sensor declares its services, answers reads and writes like the real firmware, and
streams its feed's samples encoded in the real frames once the client has asked for them.
Transport faults (disconnects, stalls, garbage) are injected one level down, on the link.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Coroutine, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from devices.emulator.feeds import LiveTimeline, SampleReservoir, still_wearer
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

    def follow(self, timeline: LiveTimeline) -> None:
        """Play the feed as the wearer's live day: give all of a wearer's sensors one timeline.

        A sensor that starts streaming later than another, or resumes after a stall,
        continues at the day's current sample instead of where it stopped, so the sensors
        stay in step as on a real body.
        """
        self._reservoir.timeline = timeline.due

    def attach(self, link: Link) -> None:
        """The client connected."""
        self._link = link

    def detach(self) -> None:
        """The link went down: stop streaming and forget per-connection state."""
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self._link = None

    def _run(
        self, coroutine_name: str, coroutine: Coroutine[None, None, None]
    ) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(
            coroutine, name=f"{self.identity.name}:{coroutine_name}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

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


@dataclass(frozen=True, slots=True)
class PmdStreamSpec:
    """One PMD stream an emulated Polar offers: what GET_MEASUREMENT_SETTINGS lists.

    ``samples_per_frame`` is how many samples each data notification carries.
    """

    measurement_type: PmdMeasurementType
    rates_hz: tuple[int, ...]
    ranges: tuple[int, ...]
    samples_per_frame: int
    resolution_bits: int = 16
    channels: int | None = None

    def offered(self) -> PmdSettings:
        """The settings the device lists for this stream."""
        return PmdSettings(
            sample_rates_hz=self.rates_hz,
            resolutions_bits=(self.resolution_bits,),
            ranges=self.ranges,
            channels=() if self.channels is None else (self.channels,),
        )


@dataclass(slots=True)
class _RunningStream:
    spec: PmdStreamSpec
    rate_hz: int
    range_value: int
    next_index: int
    task: asyncio.Task[None] | None = None


@dataclass(frozen=True, slots=True)
class _DeviceClock:
    """Where a connection's sample clock started: on the event loop and in PMD time."""

    loop_s: float
    epoch_ns: int
    rate_hz: int


class _SampleTape:
    """The device's samples by index since its clock started, shared by its streams.

    Sample k of the accelerometer and sample k of the gyroscope are the same feed sample,
    taken at the same instant, whichever stream asks for it first. Samples no running
    stream asked for (before a stream started) are read from the feed and then forgotten.
    """

    def __init__(self, reservoir: SampleReservoir) -> None:
        self._reservoir = reservoir
        self.base = 0
        self._acc = np.zeros((0, 3))
        self._gyro = np.zeros((0, 3))

    @property
    def end(self) -> int:
        return self.base + self._acc.shape[0]

    def take(self, first: int, n: int) -> tuple[FloatArray, FloatArray] | None:
        """Samples ``first .. first+n-1`` (acc g, gyro °/s), or None once the feed ran dry."""
        if first < self.base:
            raise ValueError(f"sample {first} was already forgotten (tape starts at {self.base})")
        missing = first + n - self.end
        if missing > 0:
            more = self._reservoir.take(missing)
            if more is None:
                return None
            self._acc = np.vstack([self._acc, more[0]])
            self._gyro = np.vstack([self._gyro, more[1]])
        start = first - self.base
        return self._acc[start : start + n], self._gyro[start : start + n]

    def restart(self) -> None:
        """A new clock: the next sample read from the feed is sample 0.

        Samples one stream sent and another had not yet are forgotten (time went on).
        """
        self._acc, self._gyro = np.zeros((0, 3)), np.zeros((0, 3))
        self.base = 0

    def forget_before(self, index: int) -> None:
        """Drop samples below ``index`` (no running stream needs them)."""
        drop = min(max(0, index - self.base), self._acc.shape[0])
        if drop:
            self._acc, self._gyro = self._acc[drop:], self._gyro[drop:]
            self.base += drop


class EmulatedPolar(EmulatedSensor):
    """A Polar device's PMD service: feature read, settings, START/STOP, data frames.

    Subclasses list their streams (:meth:`stream_specs`) and encode frames (:meth:`_frame`).
    All running streams share one sample clock per connection (started by the first START),
    so samples of different streams taken at the same instant carry the same timestamp and
    come from the same feed sample. A disconnect stops every stream, as on the device.

    Fault switches per stream: :meth:`refuse_start` (answer START with an error status),
    :meth:`mute_answers` (leave its commands unanswered) and :meth:`stall_stream` /
    :meth:`resume_stream` (frames are built but not sent).
    ``commands`` records every control point command received.
    """

    data_uuid = PMD_DATA_UUID
    features: frozenset[PmdMeasurementType] = frozenset()

    def __init__(
        self,
        identity: SensorIdentity,
        feed: Iterator[SampleBlock] | None,
        feed_rate_hz: float,
        *,
        clock_offset_s: float = 0.0,
    ) -> None:
        """``clock_offset_s`` shifts the device clock from the host's (an unset clock)."""
        super().__init__(identity, feed, feed_rate_hz)
        self.clock_offset_s = clock_offset_s
        self._tape = _SampleTape(self._reservoir)
        self._clock: _DeviceClock | None = None
        self._streams: dict[int, _RunningStream] = {}
        self._refusals: dict[int, PmdStatus] = {}
        self._muted: set[int] = set()
        self._stalled_until: dict[int, float] = {}
        self.commands: list[PmdCommand] = []
        self.samples_sent_by_type: dict[PmdMeasurementType, int] = {}
        self.frames_dropped_by_type: dict[PmdMeasurementType, int] = {}

    @abstractmethod
    def stream_specs(self) -> Mapping[PmdMeasurementType, PmdStreamSpec]:
        """The streams this device answers START for."""

    @abstractmethod
    def _frame(
        self, stream: _RunningStream, last_ns: int, acc_g: FloatArray, gyro_dps: FloatArray
    ) -> bytes:
        """One data notification of ``stream`` holding these samples."""

    def _start_parameters(self, stream: _RunningStream) -> bytes:
        """What the START response carries after the status (the factor, if any)."""
        del stream
        return b""

    # ------------------------------------------------------------------ fault switches

    def refuse_start(self, kind: PmdMeasurementType, status: PmdStatus) -> None:
        """Answer every START of ``kind`` with ``status`` (until :meth:`accept_start`)."""
        self._refusals[kind] = status

    def accept_start(self, kind: PmdMeasurementType) -> None:
        """Answer STARTs of ``kind`` normally again."""
        self._refusals.pop(kind, None)

    def mute_answers(self, kind: PmdMeasurementType, *, muted: bool = True) -> None:
        """Leave every command about ``kind`` unanswered (a firmware that hangs)."""
        if muted:
            self._muted.add(kind)
        else:
            self._muted.discard(kind)

    def stall_stream(self, kind: PmdMeasurementType, duration_s: float | None = None) -> None:
        """Keep sampling ``kind`` but send none of its frames for ``duration_s`` (or until resumed).

        The device clock runs on, so the next frame sent after the stall shows the gap.
        """
        loop = asyncio.get_running_loop()
        self._stalled_until[kind] = math.inf if duration_s is None else loop.time() + duration_s

    def resume_stream(self, kind: PmdMeasurementType) -> None:
        """End a stall of ``kind``."""
        self._stalled_until.pop(kind, None)

    # ------------------------------------------------------------------ state

    @property
    def running(self) -> frozenset[PmdMeasurementType]:
        """The streams running now."""
        return frozenset(PmdMeasurementType(kind) for kind in self._streams)

    @property
    def streaming_rate_hz(self) -> int | None:
        """The accelerometer's rate while it streams, else None."""
        stream = self._streams.get(PmdMeasurementType.ACC)
        return stream.rate_hz if stream is not None else None

    # ------------------------------------------------------------------ GATT

    def services(self) -> tuple[ServiceSpec, ...]:
        """PMD and battery (heart rate is not emulated)."""
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
        """Polar sensors advertise heart rate."""
        return (HEART_RATE_SERVICE_UUID,)

    def read(self, uuid: str) -> bytes:
        """The control point read lists the measurement types."""
        if uuid == PMD_CONTROL_POINT_UUID:
            return build_features(self.features)
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
            self.commands.append(command)
            if command.measurement_type in self._muted:
                return
            response = self._answer(command)
        asyncio.get_running_loop().call_later(
            _RESPONSE_DELAY_S, self._notify, PMD_CONTROL_POINT_UUID, response
        )

    def _answer(self, command: PmdCommand) -> bytes:
        op, kind = command.op_code, command.measurement_type
        spec = self.stream_specs().get(PmdMeasurementType(kind)) if _is_type(kind) else None
        if spec is None:
            offered = _is_type(kind) and PmdMeasurementType(kind) in self.features
            status = PmdStatus.NOT_SUPPORTED if offered else PmdStatus.INVALID_MEASUREMENT_TYPE
            return build_control_point_response(op, kind, status)
        if op is PmdOpCode.GET_MEASUREMENT_SETTINGS:
            return build_control_point_response(op, kind, parameters=build_settings(spec.offered()))
        if op is PmdOpCode.STOP_MEASUREMENT:
            stream = self._streams.pop(kind, None)
            if stream is None:
                return build_control_point_response(op, kind, PmdStatus.ALREADY_IN_STATE)
            if stream.task is not None:
                stream.task.cancel()
            return build_control_point_response(op, kind)
        if op is PmdOpCode.START_MEASUREMENT:
            return self._start(command, spec)
        return build_control_point_response(op, kind, PmdStatus.NOT_SUPPORTED)

    def _start(self, command: PmdCommand, spec: PmdStreamSpec) -> bytes:
        op, kind = command.op_code, command.measurement_type
        refusal = self._refusals.get(kind)
        if refusal is not None:
            return build_control_point_response(op, kind, refusal)
        if kind in self._streams:
            return build_control_point_response(op, kind, PmdStatus.ALREADY_IN_STATE)
        try:
            settings = parse_settings(command.parameters)
        except DecodeError:
            return build_control_point_response(op, kind, PmdStatus.INVALID_PARAMETER)
        if len(settings.sample_rates_hz) != 1 or settings.sample_rates_hz[0] not in spec.rates_hz:
            return build_control_point_response(op, kind, PmdStatus.INVALID_SAMPLE_RATE)
        rate_hz = settings.sample_rates_hz[0]
        if self._streams and self._clock is not None and self._clock.rate_hz != rate_hz:
            # The emulated IMU samples at one rate for all its streams.
            return build_control_point_response(op, kind, PmdStatus.INVALID_SAMPLE_RATE)
        if settings.resolutions_bits not in ((), (spec.resolution_bits,)):
            return build_control_point_response(op, kind, PmdStatus.INVALID_RESOLUTION)
        if settings.ranges and settings.ranges[0] not in spec.ranges:
            return build_control_point_response(op, kind, PmdStatus.INVALID_RANGE)
        if (
            settings.channels
            and spec.channels is not None
            and settings.channels[0] != spec.channels
        ):
            return build_control_point_response(op, kind, PmdStatus.INVALID_NUMBER_OF_CHANNELS)
        now_s = asyncio.get_running_loop().time()
        if self._clock is None or (not self._streams and self._clock.rate_hz != rate_hz):
            self._clock = _DeviceClock(
                now_s, unix_s_to_pmd_ns(time.time() + self.clock_offset_s), rate_hz
            )
            self._tape.restart()
        elapsed = (now_s - self._clock.loop_s) * rate_hz * self.time_scale
        stream = _RunningStream(
            spec,
            rate_hz,
            settings.ranges[0] if settings.ranges else max(spec.ranges),
            max(math.ceil(elapsed - 1e-9), self._tape.base),
        )
        self._streams[kind] = stream
        stream.task = self._run(f"pmd-{spec.measurement_type.name.lower()}", self._stream(stream))
        return build_control_point_response(op, kind, parameters=self._start_parameters(stream))

    def detach(self) -> None:
        """A disconnect stops every stream and the connection's clock, as on the device."""
        super().detach()
        self._streams.clear()
        self._clock = None
        self._tape.restart()

    async def _stream(self, stream: _RunningStream) -> None:
        clock = self._clock
        assert clock is not None
        kind = stream.spec.measurement_type
        n = stream.spec.samples_per_frame
        period_ns = 1e9 / stream.rate_hz
        speed_hz = stream.rate_hz * self.time_scale
        loop = asyncio.get_running_loop()
        while True:
            due_s = clock.loop_s + (stream.next_index + n) / speed_hz
            delay_s = due_s - loop.time()
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            first = stream.next_index
            samples = self._tape.take(first, n)
            if samples is None:
                return
            stream.next_index = first + n
            self._tape.forget_before(min(s.next_index for s in self._streams.values()))
            last_ns = clock.epoch_ns + round((first + n - 1) * period_ns)
            frame = self._frame(stream, last_ns, samples[0], samples[1])
            if loop.time() < self._stalled_until.get(kind, -math.inf):
                self.frames_dropped_by_type[kind] = self.frames_dropped_by_type.get(kind, 0) + 1
                continue
            self.frames_sent += 1
            self.samples_sent_by_type[kind] = self.samples_sent_by_type.get(kind, 0) + n
            if kind is PmdMeasurementType.ACC:
                self.samples_sent += n
            self._notify(PMD_DATA_UUID, frame)


def _is_type(value: int) -> bool:
    try:
        PmdMeasurementType(value)
    except ValueError:
        return False
    return True


class EmulatedPolarH10(EmulatedPolar):
    """A Polar H10 chest strap: PMD service (ACC online streaming) and battery.

    The control point answers GET_MEASUREMENT_SETTINGS and START/STOP like the device:
    ACC at 25/50/100/200 Hz, 16 bit, ±2/4/8 g. Frames are raw type 1 (int16 mG), or
    delta-compressed type 1 with a factor of 1.0 when ``compressed``.
    """

    model = SensorModel.POLAR_H10
    features = frozenset({PmdMeasurementType.ECG, PmdMeasurementType.ACC})
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
        super().__init__(identity, feed, 200.0, clock_offset_s=clock_offset_s)
        self.samples_per_frame = samples_per_frame
        self.compressed = compressed

    def stream_specs(self) -> Mapping[PmdMeasurementType, PmdStreamSpec]:
        """ACC only: the H10 has no gyroscope."""
        acc = PmdStreamSpec(
            PmdMeasurementType.ACC, self.rates_hz, self.ranges_g, self.samples_per_frame
        )
        return {PmdMeasurementType.ACC: acc}

    def _start_parameters(self, stream: _RunningStream) -> bytes:
        return build_settings(PmdSettings(factors=(1.0,))) if self.compressed else b""

    def _frame(
        self, stream: _RunningStream, last_ns: int, acc_g: FloatArray, gyro_dps: FloatArray
    ) -> bytes:
        limit_mg = stream.range_value * 1000
        acc_mg = np.clip(np.rint(acc_g * 1000.0), -limit_mg, limit_mg).astype(np.int64)
        if self.compressed:
            return encode_delta_frame(PmdMeasurementType.ACC, 1, last_ns, acc_mg)
        return encode_raw_acc_frame(last_ns, acc_mg)


class EmulatedPolarVeritySense(EmulatedPolar):
    """A Polar Verity Sense (normal mode): PMD ACC and GYRO at 52 Hz, and battery.

    As in Polar's product notes: ACC 52 Hz ±8 g and GYRO 52 Hz ±2000 °/s, 16 bit, three
    channels; the feature read also lists PPG, PPI, magnetometer and SDK mode (answered
    NOT_SUPPORTED here). Frames are delta-compressed type 0 and the START response carries
    each stream's factor (range / 2^15: 2.44e-4 g and 0.061 °/s per count), which the
    client multiplies in. ACC and GYRO samples of one instant share a timestamp.
    """

    model = SensorModel.POLAR_VERITY_SENSE
    features = frozenset(
        {
            PmdMeasurementType.PPG,
            PmdMeasurementType.ACC,
            PmdMeasurementType.PPI,
            PmdMeasurementType.GYRO,
            PmdMeasurementType.MAGNETOMETER,
            PmdMeasurementType.SDK_MODE,
        }
    )
    rates_hz = (52,)
    ranges_g = (8,)
    ranges_dps = (2000,)

    def __init__(
        self,
        identity: SensorIdentity,
        feed: Iterator[SampleBlock] | None = None,
        *,
        acc_samples_per_frame: int = 36,
        gyro_samples_per_frame: int = 24,
        clock_offset_s: float = 0.0,
    ) -> None:
        """Frames of 36 ACC and 24 GYRO samples fit a 247-byte MTU with room to spare."""
        super().__init__(identity, feed, 52.0, clock_offset_s=clock_offset_s)
        self.acc_samples_per_frame = acc_samples_per_frame
        self.gyro_samples_per_frame = gyro_samples_per_frame

    def stream_specs(self) -> Mapping[PmdMeasurementType, PmdStreamSpec]:
        """ACC and GYRO."""
        acc, gyro = PmdMeasurementType.ACC, PmdMeasurementType.GYRO
        return {
            acc: PmdStreamSpec(
                acc, self.rates_hz, self.ranges_g, self.acc_samples_per_frame, 16, 3
            ),
            gyro: PmdStreamSpec(
                gyro, self.rates_hz, self.ranges_dps, self.gyro_samples_per_frame, 16, 3
            ),
        }

    @staticmethod
    def factor(stream: _RunningStream) -> float:
        """Units per count: full range over the signed 16-bit span (g or °/s)."""
        return stream.range_value / float(1 << (stream.spec.resolution_bits - 1))

    def _start_parameters(self, stream: _RunningStream) -> bytes:
        return build_settings(PmdSettings(factors=(self.factor(stream),)))

    def _frame(
        self, stream: _RunningStream, last_ns: int, acc_g: FloatArray, gyro_dps: FloatArray
    ) -> bytes:
        kind = stream.spec.measurement_type
        values = acc_g if kind is PmdMeasurementType.ACC else gyro_dps
        counts = np.clip(np.rint(values / self.factor(stream)), -32768, 32767).astype(np.int64)
        return encode_delta_frame(kind, 0, last_ns, counts)


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
