"""Bluetooth LE sensors through bleak: find, connect, stream into a BlockQueue, and recover.

One :class:`BleSensorSource` owns one sensor. It finds it (by address, or by model and name),
connects with bleak-retry-connector (one connect at a time per adapter, through a shared
:class:`AdapterGate`), starts the sensor's stream, and turns notifications into samples in a
small synchronous callback (decode, align with the kernel's arrival stamp, offer). Data comes
in bursts from an ``AcquireNotify`` socket (:mod:`devices.notify_socket`) where BlueZ offers
one, else one notification at a time through ``StartNotify``. A lost link, a refused command or a
silent sensor (stale-data watchdog) leads to a reconnect after a capped, jittered,
exponential backoff. Counters and the link state are readable at any time as a
:class:`BleSensorStatus`; state changes are logged once per change.

Sample times: every protocol gives per-sample times on the sensor's own clock (Polar PMD
timestamps, the DIY board's milliseconds, or a sample count at the configured rate for the
Thingy). A :class:`ClockAligner` maps that clock onto the pacer's, so blocks are strictly
increasing in the daemon's time base even when the sensor clock was never set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Self

import numpy as np
from bleak import BleakClient, BleakScanner
from bleak.args.bluez import BlueZScannerArgs
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError
from bleak_retry_connector import BleakClientWithServiceCache, establish_connection

from devices.gyro_merge import AccGyroMerger, MergedRun
from devices.notify_socket import (
    BurstHandler,
    NotifyBurst,
    NotifySocketError,
    acquired_notifications,
    offers_acquire_notify,
)
from devices.pacing import Pacer
from devices.protocols import diy, thingy52
from devices.protocols.battery import BATTERY_LEVEL_UUID, decode_battery_level
from devices.protocols.catalog import SensorModel, identify
from devices.protocols.errors import CommandRefusedError, DecodeError
from devices.protocols.polar_pmd import (
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PmdMeasurementType,
    PmdOpCode,
    PmdSettings,
    PmdStatus,
    build_get_settings_command,
    build_start_command,
    build_stop_command,
    check_response,
    decode_data_frame,
    parse_control_point_response,
    parse_features,
    parse_settings,
)
from devices.queue import BlockQueue
from devices.samples import FloatArray, SampleBlock

log = logging.getLogger(__name__)

_LINK_ERRORS = (BleakError, TimeoutError, EOFError, OSError)
_NS_PER_S = 1e9
_COMMAND_TIMEOUT_S = 5.0
_STOP_TIMEOUT_S = 1.0
_RATE_WINDOW_S = 5.0
_GYRO_WAIT_S = 2.0
"""Longest a Polar accelerometer sample waits for gyroscope covering it (sensor time)."""
_GYRO_FALLBACK_S = 5.0
"""After this long without gyroscope progress, the accelerometer passes without waiting."""
_GYRO_GAP_PERIODS = 3.0
"""Gyroscope samples further apart than this many periods are a gap, not interpolated over."""


class BleSourceError(Exception):
    """A Bluetooth problem at the edge of backwatch (bleak's errors are wrapped in this)."""


class BluetoothUnavailableError(BleSourceError):
    """No usable adapter (BlueZ missing, adapter absent or powered off)."""


class SensorProtocolError(BleSourceError):
    """The device does not offer what its model should (wrong model, wrong firmware)."""


class LinkState(StrEnum):
    """Where a sensor's link is."""

    IDLE = "idle"
    SCANNING = "scanning"
    CONNECTING = "connecting"
    STREAMING = "streaming"
    BACKOFF = "backoff"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """Timing of discovery, connection attempts and the stale-data watchdog.

    After the k-th consecutive failure the source waits
    ``min(max_delay_s, initial_delay_s * multiplier^(k-1))``, reduced by a random fraction
    of up to ``jitter`` so that several sensors do not retry in step.
    """

    initial_delay_s: float = 1.0
    max_delay_s: float = 60.0
    multiplier: float = 2.0
    jitter: float = 0.5
    scan_timeout_s: float = 10.0
    connect_attempts: int = 3
    stale_after_s: float = 5.0

    def delay_s(self, failures: int, rng: random.Random) -> float:
        """Backoff before the next attempt after ``failures`` consecutive failures (≥ 1)."""
        base = min(self.max_delay_s, self.initial_delay_s * self.multiplier ** max(0, failures - 1))
        return base * (1.0 - self.jitter * rng.random())


@dataclass(frozen=True, slots=True)
class BleSensorConfig:
    """Which sensor to use and how to drive it.

    With ``address`` None, the first sensor of ``model`` (and ``name``, if given) found in a
    scan is used, and kept for later reconnects. ``rate_hz`` is the wanted sample rate:
    Polar picks the nearest rate the device offers, the Thingy clamps to 1-200 Hz, the DIY
    board reports its own. ``range_g`` and ``gyro_range_dps`` are the wanted ranges (Polar
    picks the nearest offered; the gyroscope only where the device has one, such as the
    Verity Sense). ``adapter`` selects a controller such as ``"hci1"``.
    """

    sensor_id: str
    model: SensorModel | None = None
    address: str | None = None
    name: str | None = None
    adapter: str | None = None
    rate_hz: float | None = None
    range_g: int = 8
    gyro_range_dps: int = 2000
    block_s: float = 0.25
    policy: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    acquire_notify: bool = True

    def __post_init__(self) -> None:
        """A sensor must be findable."""
        if self.address is None and self.model is None and self.name is None:
            raise ValueError(f"{self.sensor_id}: give an address, a model or a name")


@dataclass(frozen=True, slots=True)
class BleSensorStatus:
    """A snapshot of one Bluetooth sensor for status reports (MQTT, logs, tests)."""

    sensor_id: str
    model: SensorModel | None
    address: str | None
    name: str | None
    adapter: str | None
    state: LinkState
    since_s: float | None
    battery_pct: int | None
    rate_hz: float | None
    samples: int
    notifications: int
    decode_errors: int
    sequence_gaps: int
    lost_samples: int
    queue_dropped_samples: int
    connects: int
    reconnects: int
    connect_failures: int
    stale_timeouts: int
    last_error: str | None
    samples_without_gyro: int = 0
    """Samples of a sensor with a gyroscope that were delivered without it (gyroscope
    refused, stalled or lost frames)."""
    gyro_error: str | None = None
    """Why a sensor's gyroscope is not streaming (e.g. the device refused to start it)."""

    @property
    def connected(self) -> bool:
        """Whether samples are flowing over a live link."""
        return self.state is LinkState.STREAMING


@dataclass(frozen=True, slots=True)
class FoundSensor:
    """A supported sensor seen in a scan."""

    model: SensorModel
    name: str | None
    address: str
    rssi_dbm: int | None
    adapter: str | None


class AdapterGate:
    """One connect at a time per adapter; share one gate among every source of a process."""

    def __init__(self) -> None:
        """No adapter is busy yet."""
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, adapter: str | None) -> asyncio.Lock:
        """The lock of ``adapter`` (None: the default adapter)."""
        return self._locks.setdefault(adapter or "default", asyncio.Lock())


# --------------------------------------------------------------------------- scanning


def _bluez_args(adapter: str | None) -> BlueZScannerArgs:
    return BlueZScannerArgs(adapter=adapter) if adapter else BlueZScannerArgs()


async def scan(timeout_s: float = 5.0, adapter: str | None = None) -> list[FoundSensor]:
    """Supported sensors in range, strongest first."""
    try:
        found = await BleakScanner.discover(
            timeout=timeout_s, return_adv=True, bluez=_bluez_args(adapter)
        )
    except _LINK_ERRORS as exc:
        raise BluetoothUnavailableError(f"Bluetooth scan failed: {exc}") from exc
    sensors = []
    for device, adv in found.values():
        name = adv.local_name or device.name
        model = identify(name, adv.service_uuids)
        if model is not None:
            sensors.append(FoundSensor(model, name, device.address, adv.rssi, adapter))
    return sorted(sensors, key=lambda s: -(s.rssi_dbm if s.rssi_dbm is not None else -999))


# --------------------------------------------------------------------------- time and blocks


class ClockAligner:
    """Maps a sensor clock (seconds, any epoch) onto the host clock, keeping time increasing.

    The offset follows ``host receipt time - sensor time of the newest sample`` with an
    exponential average, so transmission jitter is smoothed out; a jump larger than
    ``reset_after_s`` (clock reset, long gap) re-anchors at once.
    """

    def __init__(self, smoothing: float = 0.02, reset_after_s: float = 1.0) -> None:
        """Start without an offset."""
        self._smoothing = smoothing
        self._reset_after_s = reset_after_s
        self._offset_s: float | None = None
        self._last_s: float | None = None
        self.resets = 0

    def forget_offset(self) -> None:
        """A new connection: the sensor clock may have restarted."""
        self._offset_s = None

    @property
    def anchored(self) -> bool:
        """Whether an offset is known."""
        return self._offset_s is not None

    def observe(self, sensor_newest_s: float, host_now_s: float) -> None:
        """The sensor sample at ``sensor_newest_s`` was received at ``host_now_s``."""
        candidate = host_now_s - sensor_newest_s
        if self._offset_s is None or abs(candidate - self._offset_s) > self._reset_after_s:
            if self._offset_s is not None:
                self.resets += 1
            self._offset_s = candidate
        else:
            self._offset_s += self._smoothing * (candidate - self._offset_s)

    def align(self, sensor_t_s: FloatArray, host_now_s: float) -> FloatArray:
        """Host times of the samples; samples not after the previous output are dropped."""
        self.observe(float(sensor_t_s[-1]), host_now_s)
        return self.map(sensor_t_s)

    def map(self, sensor_t_s: FloatArray) -> FloatArray:
        """Host times with the current offset (no update); drops samples not after the last.

        For samples handed on later than they arrived (held back for another stream), so
        the wait does not shift the offset.
        """
        if self._offset_s is None:
            raise ValueError("ClockAligner.map before any observe")
        host_t_s = sensor_t_s + self._offset_s
        if self._last_s is not None:
            host_t_s = host_t_s[host_t_s > self._last_s]
        if host_t_s.size:
            self._last_s = float(host_t_s[-1])
        return host_t_s


@dataclass(slots=True)
class _Counters:
    samples: int = 0
    notifications: int = 0
    decode_errors: int = 0
    sequence_gaps: int = 0
    lost_samples: int = 0
    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    stale_timeouts: int = 0
    samples_without_gyro: int = 0


class _Emitter:
    """Collects decoded samples, aligns their times and offers blocks of ~``block_s``."""

    def __init__(self, sensor_id: str, queue: BlockQueue, pacer: Pacer, block_s: float) -> None:
        self._sensor_id = sensor_id
        self._queue = queue
        self._pacer = pacer
        self._block_s = block_s
        # Arrival jitter is wall time; on a clock running `speed` times faster it looks
        # `speed` times larger, so the re-anchoring threshold scales with it.
        self.aligner = ClockAligner(reset_after_s=1.0 * max(1.0, pacer.speed))
        self._t: list[FloatArray] = []
        self._acc: list[FloatArray] = []
        self._gyro: list[FloatArray] = []
        self._has_gyro: bool | None = None
        self._pending = 0
        self.samples = 0
        self.last_data_monotonic_s: float | None = None
        self.rate_window: deque[tuple[float, int]] = deque()

    def observe(self, sensor_newest_s: float, arrived_wall_s: float) -> None:
        """The sample at ``sensor_newest_s`` (sensor clock) arrived at ``arrived_wall_s``.

        The arrival is a wall-clock stamp (the kernel's, for a notification read later); the
        clock offset is updated with it on the pacer's clock, the wait since at its speed.
        """
        waited_s = max(0.0, time.time() - arrived_wall_s) * self._pacer.speed
        self.aligner.observe(sensor_newest_s, self._pacer.now_s() - waited_s)

    def emit(
        self,
        sensor_t_s: FloatArray,
        acc_g: FloatArray,
        gyro_dps: FloatArray | None,
        arrived_wall_s: float | None,
    ) -> None:
        """Queue samples (sensor clock) for the next block; offer it once full.

        ``arrived_wall_s`` is when the newest of them arrived; None for samples held back
        after arriving, whose arrival went to :meth:`observe` then.
        """
        if arrived_wall_s is not None or not self.aligner.anchored:
            self.observe(
                float(sensor_t_s[-1]), time.time() if arrived_wall_s is None else arrived_wall_s
            )
        host_t = self.aligner.map(sensor_t_s)
        keep = host_t.shape[0]
        if keep == 0:
            return
        has_gyro = gyro_dps is not None
        if self._has_gyro is not None and has_gyro != self._has_gyro:
            self.flush()
        self._has_gyro = has_gyro
        self._t.append(host_t)
        self._acc.append(acc_g[-keep:])
        if gyro_dps is not None:
            self._gyro.append(gyro_dps[-keep:])
        self._pending += keep
        if self._pending > 1:
            first_s = float(self._t[0][0])
            span_s = (float(host_t[-1]) - first_s) * self._pending / (self._pending - 1)
            if span_s >= self._block_s * 0.9:
                self.flush()

    def flush(self) -> None:
        """Offer what is pending as one block."""
        if not self._pending:
            return
        t_s = np.concatenate(self._t)
        acc = np.vstack(self._acc)
        gyro = np.vstack(self._gyro) if self._has_gyro else None
        self._t, self._acc, self._gyro = [], [], []
        self._pending = 0
        self.samples += t_s.shape[0]
        self._queue.offer(SampleBlock(self._sensor_id, t_s, acc, gyro))
        # Rate on the pacer's clock: samples per second of sample time, also when a
        # simulated day runs faster than the wall.
        now_s = self._pacer.now_s()
        self.rate_window.append((now_s, t_s.shape[0]))
        while self.rate_window and now_s - self.rate_window[0][0] > _RATE_WINDOW_S:
            self.rate_window.popleft()

    def measured_rate_hz(self) -> float | None:
        """Samples per second over the last few seconds."""
        if len(self.rate_window) < 2:
            return None
        span = self.rate_window[-1][0] - self.rate_window[0][0]
        if span <= 0:
            return None
        return sum(n for _, n in list(self.rate_window)[1:]) / span


# --------------------------------------------------------------------------- protocol sessions


class _Session(ABC):
    """What one sensor model needs on a fresh connection, and its notification handlers."""

    def __init__(self, config: BleSensorConfig, emitter: _Emitter, counters: _Counters) -> None:
        self.config = config
        self.emitter = emitter
        self.counters = counters
        self._warned_decode = False
        self.gyro_error: str | None = None
        self._resources = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Self:
        """The session holds resources of its own (a notification socket) until exit."""
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Release what :meth:`start` acquired (reading out what is still queued first)."""
        await self._resources.aclose()

    @abstractmethod
    async def start(self, client: BleakClient) -> None:
        """Configure the sensor and subscribe to its data."""

    async def stop(self, client: BleakClient) -> None:
        """Ask the sensor to stop streaming before a deliberate disconnect (if it needs that)."""
        del client

    def flush(self) -> None:
        """Hand on whatever samples are held back (the link is going away)."""
        return

    @property
    @abstractmethod
    def nominal_rate_hz(self) -> float:
        """The rate the sensor was started at."""

    @property
    def streams_note(self) -> str:
        """What streams, for the status line (empty when there is nothing to say)."""
        return ""

    def _decode_failed(self, exc: DecodeError) -> None:
        self.counters.decode_errors += 1
        if not self._warned_decode:
            self._warned_decode = True
            log.warning("%s: undecodable notification: %s", self.config.sensor_id, exc)
        else:
            log.debug("%s: undecodable notification: %s", self.config.sensor_id, exc)

    async def _subscribe(
        self, client: BleakClient, char: BleakGATTCharacteristic, on_burst: BurstHandler
    ) -> None:
        """Hand ``char``'s notifications to ``on_burst``, which says how long reading may pause.

        With ``acquire_notify`` and where BlueZ offers it, BlueZ writes them to a socket
        (``AcquireNotify``) read here in bursts, instead of sending each as a D-Bus signal
        through dbus-daemon, which costs the daemon (and dbus-daemon) several times more per
        notification; otherwise, or if BlueZ refuses, through ``StartNotify``, one at a time.
        """
        if self.config.acquire_notify and offers_acquire_notify(char):
            try:
                await self._resources.enter_async_context(
                    acquired_notifications(char, on_burst, self.config.sensor_id)
                )
            except NotifySocketError as exc:
                log.warning("%s: %s; using StartNotify", self.config.sensor_id, exc)
            else:
                return

        def on_notification(_char: BleakGATTCharacteristic, data: bytearray) -> None:
            on_burst(NotifyBurst([bytes(data)], [time.time()]))

        await client.start_notify(char, on_notification, bluez={"use_start_notify": True})

    def _mark_alive(self) -> None:
        """Data arrived: the stale-data watchdog is satisfied."""
        self.emitter.last_data_monotonic_s = asyncio.get_running_loop().time()

    def _mark_data(self) -> None:
        self.counters.notifications += 1
        self._mark_alive()


def _require(client: BleakClient, uuid: str, what: str) -> BleakGATTCharacteristic:
    char = client.services.get_characteristic(uuid)
    if char is None:
        raise SensorProtocolError(f"the device has no {what} characteristic ({uuid})")
    return char


def _nearest(offered: tuple[int, ...], wanted: float) -> int:
    """The offered value closest to ``wanted`` (the larger one on a tie)."""
    return min(offered, key=lambda value: (abs(value - wanted), -value))


@dataclass(slots=True)
class _PmdStream:
    """One started PMD stream: what decoding its frames needs."""

    kind: PmdMeasurementType
    rate_hz: float
    factor: float
    previous_ns: int | None = None


class _PolarSession(_Session):
    """Polar PMD: read features, subscribe, ask for settings, start GYRO (if offered) and ACC.

    With a gyroscope (Verity Sense) both streams run at the same rate and an
    :class:`AccGyroMerger` puts the gyroscope onto the accelerometer's sample times. The
    gyroscope is started first so that it covers the accelerometer's first samples; a
    gyroscope the device refuses (or that fails) leaves an accelerometer-only session with
    :attr:`gyro_error` set, never a failed one.
    """

    def __init__(self, config: BleSensorConfig, emitter: _Emitter, counters: _Counters) -> None:
        super().__init__(config, emitter, counters)
        self._streams: dict[PmdMeasurementType, _PmdStream] = {}
        self._early_frames: dict[PmdMeasurementType, list[tuple[bytes, float]]] | None = None
        self._response: asyncio.Future[bytes] | None = None
        self._expected: tuple[PmdOpCode, PmdMeasurementType] | None = None
        self._has_gyro = False
        self._merger: AccGyroMerger | None = None
        self._merger_without_gyro = 0
        self._gyro_stalled = False
        self._stopping = False

    @property
    def nominal_rate_hz(self) -> float:
        acc = self._streams.get(PmdMeasurementType.ACC)
        return acc.rate_hz if acc is not None else 0.0

    @property
    def streams_note(self) -> str:
        if not self._has_gyro:
            return ""
        if self._merger is not None:
            return " (accelerometer + gyroscope)"
        return f" (accelerometer only: {self.gyro_error})"

    async def start(self, client: BleakClient) -> None:
        control = _require(client, PMD_CONTROL_POINT_UUID, "PMD control point")
        data = _require(client, PMD_DATA_UUID, "PMD data")
        features = parse_features(bytes(await client.read_gatt_char(control)))
        if PmdMeasurementType.ACC not in features:
            raise SensorProtocolError("the device does not stream ACC over PMD")
        self._has_gyro = PmdMeasurementType.GYRO in features
        await client.start_notify(control, self._on_control)
        await self._subscribe(client, data, self._on_data)
        acc = PmdMeasurementType.ACC
        offered = parse_settings(
            await self._command(client, control, build_get_settings_command(acc))
        )
        wanted_hz = self.config.rate_hz or 200.0
        rate_hz = _nearest(offered.sample_rates_hz or (round(wanted_hz),), wanted_hz)
        if self._has_gyro:
            await self._start_gyro(client, control, rate_hz)
        range_g = _nearest(offered.ranges or (self.config.range_g,), self.config.range_g)
        await self._start_stream(
            client, control, acc, offered=offered, rate_hz=rate_hz, range_value=range_g
        )

    async def _start_gyro(
        self, client: BleakClient, control: BleakGATTCharacteristic, rate_hz: int
    ) -> None:
        """Start the gyroscope at the accelerometer's rate (or the nearest offered)."""
        gyro = PmdMeasurementType.GYRO
        try:
            offered = parse_settings(
                await self._command(client, control, build_get_settings_command(gyro))
            )
            gyro_rate_hz = _nearest(offered.sample_rates_hz or (rate_hz,), rate_hz)
            wanted_dps = self.config.gyro_range_dps
            range_dps = _nearest(offered.ranges or (wanted_dps,), wanted_dps)
            await self._start_stream(
                client,
                control,
                gyro,
                offered=offered,
                rate_hz=gyro_rate_hz,
                range_value=range_dps,
            )
        except (CommandRefusedError, DecodeError, TimeoutError) as exc:
            self._streams.pop(gyro, None)
            self._merger = None
            self.gyro_error = (
                "no answer to a GYRO command" if isinstance(exc, TimeoutError) else str(exc)
            )
            log.debug("%s: gyroscope not started: %s", self.config.sensor_id, self.gyro_error)

    async def _start_stream(
        self,
        client: BleakClient,
        control: BleakGATTCharacteristic,
        kind: PmdMeasurementType,
        *,
        offered: PmdSettings,
        rate_hz: int,
        range_value: int,
    ) -> None:
        resolutions = offered.resolutions_bits
        resolution = 16 if not resolutions or 16 in resolutions else resolutions[0]
        channels = offered.channels
        start = build_start_command(
            kind,
            sample_rate_hz=rate_hz,
            resolution_bits=resolution,
            range_g=range_value,
            channels=(3 if 3 in channels else channels[0]) if channels else None,
        )
        early: dict[PmdMeasurementType, list[tuple[bytes, float]]] = {kind: []}
        self._early_frames = early
        try:
            try:
                parameters = await self._command(client, control, start)
            except _AlreadyStartedError:
                await self._command(client, control, build_stop_command(kind))
                parameters = await self._command(client, control, start)
        finally:
            self._early_frames = None
        factor = parse_settings(parameters).factor or 1.0
        self._streams[kind] = _PmdStream(kind, float(rate_hz), factor)
        if kind is PmdMeasurementType.GYRO:
            # Ready before the first gyroscope frame: it must not be lost waiting for ACC.
            self._merger = AccGyroMerger(
                max_wait_s=_GYRO_WAIT_S,
                fallback_after_s=_GYRO_FALLBACK_S,
                max_gap_s=_GYRO_GAP_PERIODS / rate_hz,
                edge_tolerance_s=0.25 / rate_hz,
            )
        for frame, arrived_wall_s in early[kind]:  # frames that came before the START answer
            self._on_frame(frame, arrived_wall_s)

    async def stop(self, client: BleakClient) -> None:
        """STOP every stream started in this session (GYRO, then ACC)."""
        self._stopping = True  # frames still in flight are not decode errors
        control = client.services.get_characteristic(PMD_CONTROL_POINT_UUID)
        for kind in sorted(self._streams, reverse=True):
            self._streams.pop(kind)
            if control is None:
                continue
            try:
                await self._command(
                    client, control, build_stop_command(kind), timeout_s=_STOP_TIMEOUT_S
                )
            except (CommandRefusedError, DecodeError, *_LINK_ERRORS) as exc:
                log.debug("%s: STOP %s: %s", self.config.sensor_id, kind.name, exc)

    def flush(self) -> None:
        if self._merger is not None:
            self._emit_runs(self._merger.flush())

    async def _command(
        self,
        client: BleakClient,
        control: BleakGATTCharacteristic,
        command: bytes,
        *,
        timeout_s: float = _COMMAND_TIMEOUT_S,
    ) -> bytes:
        loop = asyncio.get_running_loop()
        op, kind = PmdOpCode(command[0]), PmdMeasurementType(command[1])
        self._response = loop.create_future()
        self._expected = (op, kind)
        await client.write_gatt_char(control, command, response=True)
        async with asyncio.timeout(timeout_s):
            answer = await self._response
        response = parse_control_point_response(answer)
        if op is PmdOpCode.START_MEASUREMENT and response.status == PmdStatus.ALREADY_IN_STATE:
            raise _AlreadyStartedError
        return check_response(response, op, kind)

    def _on_control(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        if self._response is None or self._response.done():
            return
        value = bytes(data)
        try:
            response = parse_control_point_response(value)
        except DecodeError:
            self._response.set_result(value)  # _command reports it
            return
        if (response.op_code, response.measurement_type) != self._expected:
            # A late answer to an earlier command that timed out: not this one's.
            log.debug("%s: ignoring PMD answer %s", self.config.sensor_id, value.hex(" "))
            return
        self._response.set_result(value)

    def _on_data(self, burst: NotifyBurst) -> float:
        """Data frames (many samples each) are handled as they arrive: no pause."""
        self.counters.notifications += len(burst.packets)
        if self._stopping:
            return 0.0
        for frame, arrived_wall_s in zip(burst.packets, burst.arrived_wall_s, strict=True):
            kind = frame[0] & 0x3F if frame else -1
            if self._early_frames is not None and kind in self._early_frames:
                self._early_frames[PmdMeasurementType(kind)].append((frame, arrived_wall_s))
            else:
                self._on_frame(frame, arrived_wall_s)
        return 0.0

    def _on_frame(self, data: bytes, arrived_wall_s: float) -> None:
        kind = data[0] & 0x3F if data else -1
        stream = self._streams.get(PmdMeasurementType(kind)) if kind in self._streams else None
        if stream is None:
            self._mark_alive()
            self._decode_failed(DecodeError(f"PMD frame of a stream that is not running: {kind}"))
            return
        try:
            frame = decode_data_frame(
                data,
                previous_timestamp_ns=stream.previous_ns,
                sample_rate_hz=stream.rate_hz,
                factor=stream.factor,
            )
        except DecodeError as exc:
            self._mark_alive()
            self._decode_failed(exc)
            return
        acc = frame.measurement_type is PmdMeasurementType.ACC
        if acc:
            # Only the accelerometer feeds the watchdog: gyroscope alone delivers nothing.
            self._mark_alive()
            if stream.previous_ns is not None:
                expected_ns = len(frame) * _NS_PER_S / stream.rate_hz
                elapsed_ns = frame.timestamp_ns - stream.previous_ns
                if elapsed_ns > 1.5 * expected_ns:
                    self.counters.sequence_gaps += 1
                    self.counters.lost_samples += round(
                        (elapsed_ns - expected_ns) / _NS_PER_S * stream.rate_hz
                    )
        stream.previous_ns = frame.timestamp_ns
        sensor_t_s = frame.sample_timestamps_ns / _NS_PER_S
        merger = self._merger
        if merger is None:
            if acc:
                self.emitter.emit(sensor_t_s, frame.values, None, arrived_wall_s)
                if self._has_gyro:
                    self.counters.samples_without_gyro += len(frame)
            return
        if acc:
            self.emitter.observe(float(sensor_t_s[-1]), arrived_wall_s)
            self._emit_runs(merger.add_acc(sensor_t_s, frame.values))
        else:
            self._emit_runs(merger.add_gyro(sensor_t_s, frame.values))

    def _emit_runs(self, runs: list[MergedRun]) -> None:
        merger = self._merger
        assert merger is not None
        for run in runs:
            self.emitter.emit(run.t_s, run.acc_g, run.gyro_dps, None)
        self.counters.samples_without_gyro += merger.samples_without_gyro - (
            self._merger_without_gyro
        )
        self._merger_without_gyro = merger.samples_without_gyro
        if merger.gyro_stalled != self._gyro_stalled:
            self._gyro_stalled = merger.gyro_stalled
            if self._gyro_stalled:
                log.warning(
                    "%s: no gyroscope data for %.0f s; passing the accelerometer on without it",
                    self.config.sensor_id,
                    merger.fallback_after_s,
                )
            else:
                log.info("%s: gyroscope data flowing again", self.config.sensor_id)


class _AlreadyStartedError(Exception):
    """A PMD stream was still running from an earlier session."""


class _ThingySession(_Session):
    """Thingy:52: write the motion configuration, subscribe to raw data (one sample each).

    Records are held until a block's worth (``block_s``) is there and decoded together. With
    an acquired notification socket the reader sleeps until the block is nearly full, so a
    sensor costs a few event-loop wakes per block instead of one per sample; the block's clock
    offset comes from the kernel's arrival stamp of its last record either way.
    """

    def __init__(self, config: BleSensorConfig, emitter: _Emitter, counters: _Counters) -> None:
        super().__init__(config, emitter, counters)
        self._rate_hz = 0.0
        self._records: list[bytes] = []
        self._arrived_wall_s: list[float] = []
        self._index = 0
        self._batch = 1

    @property
    def nominal_rate_hz(self) -> float:
        return self._rate_hz

    async def start(self, client: BleakClient) -> None:
        config_char = _require(client, thingy52.MOTION_CONFIG_UUID, "Thingy motion config")
        raw = _require(client, thingy52.RAW_UUID, "Thingy raw motion")
        wanted = round(self.config.rate_hz or 100.0)
        rate = min(max(wanted, thingy52.MOTION_RATE_MIN_HZ), thingy52.MOTION_RATE_MAX_HZ)
        current = thingy52.parse_motion_config(bytes(await client.read_gatt_char(config_char)))
        wanted_config = replace(current, motion_frequency_hz=rate)
        if current != wanted_config:
            await client.write_gatt_char(
                config_char, thingy52.build_motion_config(wanted_config), response=True
            )
        self._rate_hz = float(rate)
        self._batch = max(1, round(rate * self.config.block_s))
        self._records = []
        self._arrived_wall_s = []
        self._index = 0
        await self._subscribe(client, raw, self._on_burst)

    def _on_burst(self, burst: NotifyBurst) -> float:
        """Raw records; reading may pause until the block should be full.

        One record short, the reader waits for it instead (read as it arrives).
        """
        self._take(burst.packets, burst.arrived_wall_s)
        missing = self._batch - len(self._records)
        if missing <= 1:
            return 0.0
        return min(self.config.block_s, (missing - 0.5) / self._rate_hz)

    def _take(self, records: list[bytes], arrived_wall_s: list[float]) -> None:
        # The watchdog is told once per block, in _hand_on.
        self.counters.notifications += len(records)
        if set(map(len, records)) != {thingy52.RAW_RECORD_BYTES}:
            records, arrived_wall_s = self._well_formed(records, arrived_wall_s)
        self._records.extend(records)
        self._arrived_wall_s.extend(arrived_wall_s)
        while len(self._records) >= self._batch:
            self._hand_on(self._batch)

    def _well_formed(
        self, records: list[bytes], arrived_wall_s: list[float]
    ) -> tuple[list[bytes], list[float]]:
        """The records of the right size; each other one is a decode error."""
        size = thingy52.RAW_RECORD_BYTES
        kept: list[int] = []
        for i, record in enumerate(records):
            if len(record) == size:
                kept.append(i)
            else:
                self._decode_failed(
                    DecodeError(f"Thingy raw notification must be {size} bytes, got {len(record)}")
                )
        return [records[i] for i in kept], [arrived_wall_s[i] for i in kept]

    def _hand_on(self, count: int) -> None:
        """Decode the oldest ``count`` records at once and hand them on."""
        self._mark_alive()
        batch = thingy52.decode_raw_records(b"".join(self._records[:count]))
        arrived_wall_s = self._arrived_wall_s[count - 1]
        del self._records[:count]
        del self._arrived_wall_s[:count]
        sensor_t = (self._index + np.arange(count, dtype=np.float64)) / self._rate_hz
        self._index += count
        self.emitter.emit(sensor_t, batch.acc_g, batch.gyro_dps, arrived_wall_s)

    def flush(self) -> None:
        """Hand on the records held back (the link is going away)."""
        if self._records:
            self._hand_on(len(self._records))


class _DiySession(_Session):
    """DIY board: read the scales, subscribe to batched frames, count sequence gaps."""

    def __init__(self, config: BleSensorConfig, emitter: _Emitter, counters: _Counters) -> None:
        super().__init__(config, emitter, counters)
        self._board: diy.DiyConfig | None = None
        self._previous_seq: int | None = None
        self._clock_ms: int | None = None

    @property
    def nominal_rate_hz(self) -> float:
        return self._board.rate_hz if self._board is not None else 0.0

    async def start(self, client: BleakClient) -> None:
        config_char = _require(client, diy.DIY_CONFIG_UUID, "DIY config")
        data = _require(client, diy.DIY_DATA_UUID, "DIY data")
        self._board = diy.parse_config(bytes(await client.read_gatt_char(config_char)))
        self._previous_seq = None
        self._clock_ms = None
        await self._subscribe(client, data, self._on_burst)

    def _on_burst(self, burst: NotifyBurst) -> float:
        """Frames (several samples each) are handed on as they arrive: no pause."""
        for frame, arrived_wall_s in zip(burst.packets, burst.arrived_wall_s, strict=True):
            self._on_frame(frame, arrived_wall_s)
        return 0.0

    def _on_frame(self, data: bytes, arrived_wall_s: float) -> None:
        self._mark_data()
        board = self._board
        if board is None:
            return
        try:
            frame = diy.decode_frame(data, board)
        except DecodeError as exc:
            self._decode_failed(exc)
            return
        missing = diy.sequence_gap(self._previous_seq, frame.seq)
        if missing:
            self.counters.sequence_gaps += 1
            self.counters.lost_samples += missing * len(frame)
        self._previous_seq = frame.seq
        self._clock_ms = diy.unwrap_t_ms(self._clock_ms, frame.t_ms)
        sensor_t_s = (self._clock_ms + (frame.sample_times_ms - frame.t_ms)) / 1000.0
        self.emitter.emit(sensor_t_s, frame.acc_g, frame.gyro_dps, arrived_wall_s)


_SESSIONS: dict[SensorModel, type[_Session]] = {
    SensorModel.POLAR_H10: _PolarSession,
    SensorModel.POLAR_VERITY_SENSE: _PolarSession,
    SensorModel.THINGY52: _ThingySession,
    SensorModel.DIY: _DiySession,
}


# --------------------------------------------------------------------------- the source


class BleSensorSource:
    """A live Bluetooth LE sensor as a sample source (``sensor_id``, ``run(queue, pacer)``)."""

    def __init__(
        self,
        config: BleSensorConfig,
        *,
        gate: AdapterGate | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """Prepare to drive the sensor ``config`` describes; nothing happens until run()."""
        self.config = config
        self._gate = gate if gate is not None else AdapterGate()
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 (jitter, not crypto)
        self._counters = _Counters()
        self._state = LinkState.IDLE
        self._since_s: float | None = None
        self._address = config.address.upper() if config.address else None
        self._name = config.name
        self._model = config.model
        self._battery_pct: int | None = None
        self._last_error: str | None = None
        self._reported: str | None = None
        self._emitter: _Emitter | None = None
        self._queue: BlockQueue | None = None
        self._streamed_before = False
        self._gyro_error: str | None = None

    @property
    def sensor_id(self) -> str:
        """The configured sensor id that names its blocks."""
        return self.config.sensor_id

    def status(self) -> BleSensorStatus:
        """A snapshot of the link and its counters."""
        c = self._counters
        emitter = self._emitter
        return BleSensorStatus(
            sensor_id=self.sensor_id,
            model=self._model,
            address=self._address,
            name=self._name,
            adapter=self.config.adapter,
            state=self._state,
            since_s=self._since_s,
            battery_pct=self._battery_pct,
            rate_hz=emitter.measured_rate_hz() if emitter is not None else None,
            samples=emitter.samples if emitter is not None else 0,
            notifications=c.notifications,
            decode_errors=c.decode_errors,
            sequence_gaps=c.sequence_gaps,
            lost_samples=c.lost_samples,
            queue_dropped_samples=(
                self._queue.counters.dropped_samples if self._queue is not None else 0
            ),
            connects=c.connects,
            reconnects=c.reconnects,
            connect_failures=c.connect_failures,
            stale_timeouts=c.stale_timeouts,
            last_error=self._last_error,
            samples_without_gyro=c.samples_without_gyro,
            gyro_error=self._gyro_error,
        )

    def _set_state(self, state: LinkState, pacer: Pacer) -> None:
        if state is not self._state:
            self._state = state
            self._since_s = pacer.now_s()
            log.debug("%s: %s", self.sensor_id, state)

    def _report(self, summary: str, level: int = logging.INFO) -> None:
        """Log a status line once per change (a sensor that stays away logs once)."""
        if summary != self._reported:
            self._reported = summary
            log.log(level, "%s: %s", self.sensor_id, summary)

    async def run(self, queue: BlockQueue, pacer: Pacer) -> None:
        """Stream until cancelled, reconnecting as needed. Never returns on its own."""
        self._queue = queue
        emitter = _Emitter(self.sensor_id, queue, pacer, self.config.block_s)
        self._emitter = emitter
        policy = self.config.policy
        failures = 0
        try:
            while True:
                streamed = False
                try:
                    streamed = await self._session(emitter, pacer)
                except (BleSourceError, DecodeError, CommandRefusedError, *_LINK_ERRORS) as exc:
                    self._last_error = f"{type(exc).__name__}: {exc}"
                    self._counters.connect_failures += 1
                    self._report(f"unavailable ({self._last_error})", logging.WARNING)
                if streamed:
                    failures = 0
                failures += 1
                self._set_state(LinkState.BACKOFF, pacer)
                delay_s = policy.delay_s(failures, self._rng)
                log.debug("%s: next attempt in %.2f s", self.sensor_id, delay_s)
                await asyncio.sleep(delay_s)
        finally:
            emitter.flush()
            self._set_state(LinkState.STOPPED, pacer)

    async def _find(self) -> tuple[BLEDevice, AdvertisementData] | None:
        """Scan for the configured sensor: by address, else by model and name."""
        found: list[tuple[BLEDevice, AdvertisementData]] = []

        def wanted(device: BLEDevice, adv: AdvertisementData) -> bool:
            if self._address is not None:
                match = device.address.upper() == self._address
            else:
                name = adv.local_name or device.name
                model = identify(name, adv.service_uuids)
                match = (
                    model is not None
                    and (self._model is None or model is self._model)
                    and (self._name is None or name == self._name)
                )
            if match and not found:
                found.append((device, adv))
            return match

        device = await BleakScanner.find_device_by_filter(
            wanted,
            timeout=self.config.policy.scan_timeout_s,
            bluez=_bluez_args(self.config.adapter),
        )
        if device is None or not found:
            return None
        return device, found[0][1]

    async def _session(self, emitter: _Emitter, pacer: Pacer) -> bool:
        """One connection from discovery to loss; True if samples flowed."""
        policy = self.config.policy
        lost = asyncio.Event()
        async with self._gate.lock(self.config.adapter):
            self._set_state(LinkState.SCANNING, pacer)
            seen = await self._find()
            if seen is None:
                raise BleSourceError(
                    f"not found within {policy.scan_timeout_s:g} s "
                    f"({self._address or self._model or self._name})"
                )
            device, adv = seen
            model = self._model or identify(adv.local_name or device.name, adv.service_uuids)
            if model is None:
                raise SensorProtocolError(f"{device.name!r} is not a supported sensor model")
            self._model = model
            self._address = device.address.upper()
            self._name = device.name or self._name
            self._set_state(LinkState.CONNECTING, pacer)
            client = await establish_connection(
                BleakClientWithServiceCache,
                device,
                self.sensor_id,
                disconnected_callback=lambda _client: lost.set(),
                max_attempts=policy.connect_attempts,
            )
        # bleak reports le-connection-abort-by-local retries inside connect() through the
        # disconnected callback too; only a disconnect after this point is a lost link.
        lost.clear()
        if not client.is_connected:
            raise BleSourceError("the link dropped right after connecting")
        session = _SESSIONS[model](self.config, emitter, self._counters)
        streamed = False
        try:
            async with session:
                self._counters.connects += 1
                emitter.aligner.forget_offset()
                await self._read_battery(client)
                await session.start(client)
                self._gyro_error = session.gyro_error
                emitter.last_data_monotonic_s = None
                self._set_state(LinkState.STREAMING, pacer)
                if self._streamed_before:
                    self._counters.reconnects += 1
                self._streamed_before = True
                self._last_error = None
                self._report(
                    f"streaming {model} {self._name} ({self._address}) at "
                    f"{session.nominal_rate_hz:g} Hz{session.streams_note}"
                )
                streamed = True
                await self._watch(lost, emitter)
        finally:
            session.flush()
            emitter.flush()
            self._gyro_error = session.gyro_error
            if client.is_connected:
                with contextlib.suppress(*_LINK_ERRORS):
                    async with asyncio.timeout(2 * _STOP_TIMEOUT_S + 0.5):
                        await session.stop(client)
            with contextlib.suppress(*_LINK_ERRORS):
                async with asyncio.timeout(5.0):
                    await client.disconnect()
        return streamed

    async def _watch(self, lost: asyncio.Event, emitter: _Emitter) -> None:
        """Return when the link is lost or the sensor has been silent too long."""
        stale_after_s = self.config.policy.stale_after_s
        loop = asyncio.get_running_loop()
        watch_from = loop.time()
        while True:
            try:
                async with asyncio.timeout(stale_after_s / 4):
                    await lost.wait()
            except TimeoutError:
                last = emitter.last_data_monotonic_s or watch_from
                silent_s = loop.time() - max(last, watch_from)
                if silent_s > stale_after_s:
                    self._counters.stale_timeouts += 1
                    self._last_error = f"no data for {silent_s:.1f} s"
                    self._report(f"stale ({self._last_error}); reconnecting", logging.WARNING)
                    return
            else:
                self._last_error = "link lost"
                self._report("link lost; reconnecting", logging.WARNING)
                return

    async def _read_battery(self, client: BleakClient) -> None:
        char = client.services.get_characteristic(BATTERY_LEVEL_UUID)
        if char is None:
            return
        try:
            self._battery_pct = decode_battery_level(bytes(await client.read_gatt_char(char)))
        except (DecodeError, *_LINK_ERRORS) as exc:
            log.debug("%s: battery level unreadable: %s", self.sensor_id, exc)
