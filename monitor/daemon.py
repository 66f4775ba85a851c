"""The daemon: builds sources, evaluators, policy and publisher from settings and runs them."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from alerts.catalogue import Catalogue
from alerts.commands import (
    Calibrate,
    Command,
    CommandListener,
    DeclareLoad,
    ErrorCode,
    Outcome,
    calibrate_result,
    declare_load_result,
    serve_commands,
)
from alerts.discovery import DiscoveryAnnouncer, DiscoverySensor, DiscoveryWearer
from alerts.events import Observation
from alerts.guidance import DEFAULT_TIPS
from alerts.mqtt import MqttConfigError, MqttConnection, MqttPublisher, tls_context
from alerts.nudge import NudgeKind
from alerts.policy import DeliveryPolicy, PolicyRules, QuietHours
from alerts.service import serve_timers
from alerts.state import ReliefPlanInfo, SensorStatus, WearerState
from alerts.store import AlertStore, StoreError
from alerts.topics import Topics
from config.settings import (
    ConfigError,
    LiftTaskSettings,
    SensorSettings,
    Settings,
    WearerSettings,
    mqtt_password,
)
from devices.ble import AdapterGate, BleSensorConfig, BleSensorSource
from devices.mount import Mount, MountError
from devices.protocols.catalog import SensorModel
from devices.queue import BlockQueue
from devices.recording import RecordingError, read_recording
from devices.replay import ReplaySource
from devices.samples import Placement
from devices.scenario import ScenarioError, load_scenario
from devices.simulated import SimulatedSensor
from devices.source import SampleSource
from monitor.activity import Activity
from monitor.calibration_store import CalibrationStore, CalibrationStoreError
from monitor.clock import ScaledClock
from monitor.evaluation import (
    LIVE_EVALUATE_EVERY_S,
    LIVE_HISTORY_S,
    EvaluationError,
    EvaluationThresholds,
    SensorSetup,
    WearerEvaluator,
    WearerStatus,
)
from monitor.niosh import Coupling, LiftTask
from monitor.orientation import MountSource
from monitor.report_history import HistoryRecorder, finish_day
from monitor.sdnotify import SystemdNotifier

log = logging.getLogger(__name__)

_RESTART_BACKOFF_S = (1.0, 2.0, 5.0, 15.0, 60.0)
_SENSOR_STATUS_POLL_S = 1.0
_HALF_SECOND_S = 0.5
_EXPLICIT_CALIBRATIONS = frozenset({MountSource.CALIBRATED, MountSource.CALIBRATED_UP})
_NEUTRAL_TRUNK_FLEXION_DEG = 20.0  # ISO 11226: 0-20° is the neutral band
_REAL_TIME_LIKE_SPEED = 20.0  # up to this speed, blocks and decisions keep their real pace
# systemd: READY=1 once the broker has our retained `online`, or after this long without it
# (nudges then wait in the outbox): a broker that boots later must not fail our start-up.
READY_BROKER_WAIT_S = 20.0
_SYSTEMD_TICK_S = 1.0


def _wall_scale(speed: float) -> float:
    """How much more sample time a block or decision step covers at ``speed``."""
    return max(1.0, speed / _REAL_TIME_LIKE_SPEED)


class ShutdownRequestedError(Exception):
    """Raised inside the task group to stop every task (SIGINT, SIGTERM, or end of input)."""


@dataclass(slots=True)
class SensorRuntime:
    """One configured sensor: its source and what the daemon knows about it."""

    settings: SensorSettings
    source: SampleSource
    ended: bool = False
    samples: int = 0
    last_seen: datetime | None = None
    last_status: tuple[object, ...] | None = None
    last_status_s: float = float("-inf")

    def status(self, now: datetime) -> SensorStatus:
        """What the sensor status topic says now."""
        if isinstance(self.source, BleSensorSource):
            ble = self.source.status()
            counters = {
                "samples": ble.samples,
                "notifications": ble.notifications,
                "decode_errors": ble.decode_errors,
                "sequence_gaps": ble.sequence_gaps,
                "lost_samples": ble.lost_samples,
                "queue_dropped_samples": ble.queue_dropped_samples,
                "connects": ble.connects,
                "reconnects": ble.reconnects,
                "connect_failures": ble.connect_failures,
                "stale_timeouts": ble.stale_timeouts,
                "samples_without_gyro": ble.samples_without_gyro,
            }
            return SensorStatus(
                connected=ble.connected,
                battery_pct=ble.battery_pct,
                rate_hz=None if ble.rate_hz is None else round(ble.rate_hz, 1),
                updated=now,
                link=str(ble.state),
                last_seen=self.last_seen,
                counters=counters,
            )
        return SensorStatus(
            connected=not self.ended,
            battery_pct=None,
            rate_hz=None if self.ended else self.settings.rate_hz,
            updated=now,
            link="ended" if self.ended else self.settings.kind,
            last_seen=self.last_seen,
            counters={"samples": self.samples},
        )


@dataclass(slots=True)
class WearerPipeline:
    """One wearer's sensors, the queue they fill, and the evaluator that drains it."""

    name: str
    sensors: list[SensorRuntime]
    queue: BlockQueue
    evaluator: WearerEvaluator
    open_sources: int = field(init=False)
    tasks: Mapping[str, LiftTask] = field(default_factory=dict)  # declarable by name
    declared_until: datetime | None = None  # when the declared load ends (wall time)
    progress_s: float = 0.0  # event-loop time the evaluation last took a block (or started)
    evaluation_failed: bool = False  # its supervisor gave up on it

    def __post_init__(self) -> None:
        """Every source closes the queue once when it ends."""
        self.open_sources = len(self.sensors)

    def give_up_evaluation(self) -> None:
        """The evaluation's supervisor gave up on it: the systemd watchdog stops."""
        self.evaluation_failed = True

    def stuck_for_s(self, now_s: float) -> float:
        """How long blocks have waited while the evaluation took none (0 when not stuck)."""
        if self.evaluation_failed:
            return float("inf")
        if self.open_sources == 0 or self.queue.qsize() == 0:
            return 0.0
        return max(0.0, now_s - self.progress_s)

    def sensor(self, sensor_id: str) -> SensorRuntime:
        """The runtime of one of this wearer's sensors."""
        return next(s for s in self.sensors if s.settings.id == sensor_id)


def evaluation_thresholds(settings: Settings) -> EvaluationThresholds:
    """The evaluation's thresholds from the configured guideline numbers."""
    t = settings.thresholds
    return EvaluationThresholds(
        still_sd_g=t.still_sd_g,
        run_sd_g=t.run_sd_g,
        thigh_sit_deg=t.thigh_sit_deg,
        trunk_lying_deg=t.trunk_lying_deg,
        waist_lying_deg=t.waist_lying_deg,
        sitting_limit_s=t.sitting_limit_min * 60.0,
        sitting_break_s=t.sitting_break_s,
        neutral_flexion_deg=t.neutral_flexion_deg,
        awkward_flexion_deg=t.awkward_flexion_deg,
        hold_at_neutral_s=t.hold_at_neutral_s,
        hold_at_awkward_s=t.hold_at_awkward_s,
        side_bend_deg=t.side_bend_deg,
        side_bend_hold_s=t.side_bend_hold_s,
        sleep_min_lying_s=t.sleep_min_lying_min * 60.0,
        sleep_break_s=t.sleep_break_min * 60.0,
    )


def _mount_of(wearer: WearerSettings, sensor: SensorSettings) -> Mount | None:
    if sensor.mount is None:
        return None
    try:
        return Mount.parse(sensor.mount)
    except MountError as exc:
        key = f"wearers.{wearer.name}.sensors.{sensor.id}.mount"
        raise ConfigError(f"{key} = {sensor.mount!r}: {exc}") from exc


def build_source(
    wearer: WearerSettings,
    sensor: SensorSettings,
    *,
    mount: Mount | None,
    start_s: float,
    gate: AdapterGate,
    speed: float = 1.0,
) -> SampleSource:
    """The sample source a sensor's settings describe; problems are ConfigErrors.

    Simulated and replayed sources deliver blocks of half a second of samples, as a radio
    would, but never more than about 40 blocks per wall second: at high speed each block
    covers more sample time, so per-block overhead does not grow with the speed.
    """
    block_s = _HALF_SECOND_S * _wall_scale(speed)
    key = f"wearers.{wearer.name}.sensors.{sensor.id}"
    if sensor.is_bluetooth:
        return BleSensorSource(
            BleSensorConfig(
                sensor_id=sensor.id,
                model=SensorModel(sensor.kind),
                address=sensor.address,
                name=sensor.name,
                adapter=sensor.adapter,
                rate_hz=sensor.rate_hz,
                range_g=sensor.range_g,
                acquire_notify=sensor.acquire_notify,
            ),
            gate=gate,
        )
    if sensor.kind == "simulated":
        assert sensor.scenario is not None  # checked by the settings model
        try:
            scenario = load_scenario(sensor.scenario)
        except ScenarioError as exc:
            raise ConfigError(f"{key}.scenario = {sensor.scenario!r}: {exc}") from exc
        return SimulatedSensor(
            scenario=scenario,
            placement=Placement(sensor.placement),
            sensor_id=sensor.id,
            rate_hz=sensor.rate_hz,
            mount=mount if mount is not None else Mount.identity(),
            seed=sensor.seed,
            start_s=start_s,
            block_s=block_s,
        )
    assert sensor.file is not None  # checked by the settings model
    try:
        recording = read_recording(sensor.file)
    except RecordingError as exc:
        raise ConfigError(f"{key}.file: {exc}") from exc
    return ReplaySource(recording=recording, sensor_id=sensor.id, start_s=start_s, block_s=block_s)


def build_pipelines(settings: Settings, start_s: float) -> list[WearerPipeline]:
    """Every wearer's pipeline; raises ConfigError before anything starts."""
    # A sensor counts as stalled after stall_s of *wall* time without samples while the
    # others stream; sample time runs `speed` times faster than the wall, so scale it.
    speed = settings.simulation.speed
    base = evaluation_thresholds(settings)
    thresholds = replace(base, stall_s=base.stall_s * max(1.0, settings.simulation.speed))
    # Likewise the queue bounds how far (in wall time) the evaluation may fall behind.
    queue_blocks = round(settings.daemon.queue_blocks * max(1.0, settings.simulation.speed))
    gate = AdapterGate()  # one connect at a time per adapter, across all wearers
    pipelines = []
    for wearer in settings.wearers:
        setups = []
        sensors = []
        for sensor in wearer.sensors:
            mount = _mount_of(wearer, sensor)
            setups.append(SensorSetup(sensor.id, Placement(sensor.placement), mount))
            source = build_source(
                wearer, sensor, mount=mount, start_s=start_s, gate=gate, speed=speed
            )
            sensors.append(SensorRuntime(sensor, source))
        pipelines.append(
            WearerPipeline(
                name=wearer.name,
                sensors=sensors,
                tasks={name: _lift_task(task) for name, task in wearer.tasks.items()},
                queue=BlockQueue(maxsize=queue_blocks),
                evaluator=WearerEvaluator(
                    wearer.name,
                    setups,
                    thresholds,
                    # Decide as often in wall time as at real speed: cost stays bounded.
                    evaluate_every_s=LIVE_EVALUATE_EVERY_S * _wall_scale(speed),
                    keep_history_s=LIVE_HISTORY_S,
                ),
            )
        )
    return pipelines


def policy_rules(settings: Settings) -> PolicyRules:
    """Quiet hours, caps, de-duplication, escalation and tips from the settings."""
    policy = settings.policy
    quiet = None
    if policy.quiet_hours is not None:
        start, end = policy.quiet_hours.split("-")
        quiet = QuietHours(time.fromisoformat(start), time.fromisoformat(end))
    return PolicyRules(
        quiet_hours=quiet,
        daily_cap={_nudge_kind("policy.daily_cap", k): v for k, v in policy.daily_cap.items()},
        default_daily_cap=policy.default_daily_cap,
        total_daily_cap=policy.total_daily_cap,
        dedup_window_s=policy.dedup_window_h * 3600.0,
        escalation_interval_s=policy.escalation_interval_min * 60.0,
        escalation_window_s=policy.escalation_window_min * 60.0,
        fall_ack_window_s=policy.fall_ack_window_s,
        tips=DEFAULT_TIPS if policy.tips else (),
        timezone=ZoneInfo(policy.timezone) if policy.timezone else None,
    )


def _lift_task(task: LiftTaskSettings) -> LiftTask:
    """A configured lifting task as the NIOSH equation's input."""
    return LiftTask(
        load_kg=task.load_kg,
        horizontal_cm=task.horizontal_cm,
        vertical_cm=task.vertical_cm,
        travel_cm=task.travel_cm,
        asymmetry_deg=task.asymmetry_deg,
        coupling=None if task.coupling is None else Coupling(task.coupling),
        frequency_per_min=task.frequency_per_min,
        duration_h=task.duration_h,
    )


def _nudge_kind(key: str, name: str) -> NudgeKind:
    try:
        return NudgeKind(name)
    except ValueError as exc:
        allowed = ", ".join(k.value for k in NudgeKind)
        raise ConfigError(f"{key}.{name}: unknown nudge kind (allowed: {allowed})") from exc


def build_policy(
    settings: Settings, clock: ScaledClock, store: AlertStore | None = None
) -> DeliveryPolicy:
    """The delivery policy with the configured cool-downs and rules."""
    cooldowns = {
        _nudge_kind("policy.cooldown_min", name): minutes * 60.0
        for name, minutes in settings.policy.cooldown_min.items()
    }
    return DeliveryPolicy(
        catalogue=Catalogue(),
        clock=clock,
        cooldown_s=cooldowns,
        default_cooldown_s=settings.policy.default_cooldown_min * 60.0,
        rules=policy_rules(settings),
        store=store,
    )


def open_store(state_dir: Path) -> AlertStore:
    """The SQLite store in the state directory; an unusable directory is a ConfigError."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        store = AlertStore.open(state_dir / "alerts.sqlite3")
    except (OSError, StoreError) as exc:
        raise ConfigError(f"state_dir = '{state_dir}': cannot keep data there ({exc})") from exc
    # A corrupt store was moved aside and logged (one error naming both files) by open().
    return store


def open_calibrations(settings: Settings, pipelines: list[WearerPipeline]) -> CalibrationStore:
    """Open the calibration store and give each evaluator the orientations it kept.

    A stored explicit calibration wins over a declared mount; an orientation learned from
    walking is used only for sensors without a declared mount.
    """
    try:
        calibrations = CalibrationStore.in_state_dir(settings.state_dir)
    except CalibrationStoreError as exc:
        raise ConfigError(f"state_dir = '{settings.state_dir}': {exc}") from exc
    for pipeline in pipelines:
        for sensor_id, stored in calibrations.load_wearer(pipeline.name).items():
            sensor = next((s for s in pipeline.sensors if s.settings.id == sensor_id), None)
            if sensor is None:
                continue
            calibrated = stored.orientation.source in _EXPLICIT_CALIBRATIONS
            if calibrated or sensor.settings.mount is None:
                pipeline.evaluator.restore_orientation(sensor_id, stored.orientation)
                log.info(
                    "%s/%s: using the stored %s orientation",
                    pipeline.name,
                    sensor_id,
                    stored.orientation.source,
                )
    return calibrations


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine (``localhost``, 127.0.0.0/8, ::1)."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def mqtt_connection(settings: Settings, environ: Mapping[str, str] | None = None) -> MqttConnection:
    """Broker connection details, checked: password read, TLS files loaded once.

    The password comes from the settings, ``password_file`` or the systemd credential in
    ``$CREDENTIALS_DIRECTORY`` (see ``config.settings.mqtt_password``); one warning when it
    would cross the network without TLS. Problems are ConfigErrors naming the key.
    """
    mqtt = settings.mqtt
    env = os.environ if environ is None else environ
    password = mqtt_password(mqtt, env.get("CREDENTIALS_DIRECTORY"))
    if password is not None and not mqtt.tls and not is_loopback_host(mqtt.host):
        log.warning(
            "the MQTT password would travel to %s without TLS; set mqtt.tls = true", mqtt.host
        )
    try:
        connection = MqttConnection(
            host=mqtt.host,
            port=mqtt.port,
            client_id=mqtt.client_id,
            username=mqtt.username,
            password=password,
            tls=mqtt.tls,
            ca_file=mqtt.ca_file,
            cert_file=mqtt.cert_file,
            key_file=mqtt.key_file,
            keepalive_s=mqtt.keepalive_s,
            mqtt5=mqtt.protocol == "5",
        )
        tls_context(connection)
    except MqttConfigError as exc:
        raise ConfigError(f"mqtt: {exc}") from exc
    return connection


async def _supervise(
    name: str, run: Callable[[], Awaitable[None]], on_give_up: Callable[[], None]
) -> None:
    """Run one long-lived task; log and restart it with backoff if it fails.

    This is the daemon's top-level supervisor: the only place that catches broad
    exceptions, so one failing sensor never stops the others or the daemon.
    """
    failures = 0
    while True:
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception:
            delay_s = _RESTART_BACKOFF_S[min(failures, len(_RESTART_BACKOFF_S) - 1)]
            failures += 1
            log.exception("%s failed; restarting in %.0f s", name, delay_s)
            await asyncio.sleep(delay_s)
            if failures > len(_RESTART_BACKOFF_S) * 4:
                log.error("%s keeps failing; giving up on it", name)  # noqa: TRY400 (logged above)
                on_give_up()
                return
        else:
            return


@dataclass(slots=True)
class DailyTotals:
    """Today's share of the evaluation's running totals, reset at local midnight.

    ``carried`` holds what an earlier run of the daemon had counted on ``day`` (kept in the
    store), so a restart or a crash does not reset today's counts.
    """

    day: date | None = None
    baseline: dict[str, float] = field(default_factory=dict)
    carried: dict[str, float] = field(default_factory=dict)

    def today(self, totals: dict[str, float], now: datetime) -> dict[str, float]:
        """Each total minus its value at the start of ``now``'s local day, plus the carried."""
        local_day = now.astimezone().date()
        if local_day != self.day:
            self.baseline = dict(totals) if self.day is not None else {}
            self.carried = {}
            self.day = local_day
        return {
            name: self.carried.get(name, 0.0) + value - self.baseline.get(name, 0.0)
            for name, value in totals.items()
        }


@dataclass(slots=True)
class Daemon:
    """Everything ``backwatch run`` runs, built from settings, ready to run once."""

    settings: Settings
    clock: ScaledClock
    pipelines: list[WearerPipeline]
    store: AlertStore
    calibrations: CalibrationStore
    policy: DeliveryPolicy
    connection: MqttConnection
    topics: Topics
    start_s: float
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    notifier: SystemdNotifier = field(default_factory=SystemdNotifier.from_environment)

    @classmethod
    def build(cls, settings: Settings, clock: ScaledClock) -> Daemon:
        """Build every part; raises ConfigError before anything starts.

        Opens (or creates) the SQLite store in the state directory: policy state, outbox,
        what Home Assistant was told. A corrupt store is moved aside and a fresh one begun.
        """
        start_s = clock.now_s()
        pipelines = build_pipelines(settings, start_s=start_s)
        connection = mqtt_connection(settings)
        store = open_store(settings.state_dir)
        calibrations = open_calibrations(settings, pipelines)
        return cls(
            settings=settings,
            clock=clock,
            pipelines=pipelines,
            store=store,
            calibrations=calibrations,
            policy=build_policy(settings, clock, store),
            connection=connection,
            topics=Topics(settings.mqtt.base_topic),
            start_s=start_s,
        )

    async def run(self, *, until_sources_end: bool = False) -> None:
        """Run until SIGINT/SIGTERM (or, with ``until_sources_end``, every source ended)."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stop.set)
        log.info(
            "backwatch starting: %d wearer(s), broker %s:%d, base topic %s",
            len(self.pipelines),
            self.connection.host,
            self.connection.port,
            self.topics.base,
        )
        publisher = MqttPublisher(self.connection, self.topics, outbox=self.store.outbox)
        # Both subscribe through the publisher, so they exist before it connects.
        listener = CommandListener(publisher, self.clock, wearers=self._wearer_names())
        if self.settings.homeassistant.discovery:
            DiscoveryAnnouncer(
                publisher,
                self.store,
                self.clock,
                [
                    DiscoveryWearer(
                        w.name, tuple(DiscoverySensor(s.id, s.placement) for s in w.sensors)
                    )
                    for w in self.settings.wearers
                ],
                prefix=self.settings.mqtt.discovery_prefix,
                sitting_limit_s=self.settings.thresholds.sitting_limit_min * 60.0,
            )
        try:
            async with publisher:
                simulation = self.settings.simulation
                if simulation.speed != 1.0 or simulation.start is not None:
                    # A simulated day starts when its sensors start, not when it was
                    # planned: otherwise connecting would arrive as one burst of samples.
                    self.clock.restart_at(self.start_s)
                await self._run_tasks(publisher, listener, until_sources_end=until_sources_end)
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            self.store.close()
            self.calibrations.close()
            self.notifier.close()
        log.info("backwatch stopped")

    def _wearer_names(self) -> list[str]:
        return [pipeline.name for pipeline in self.pipelines]

    def _handle_command(self, command: Command) -> Outcome:
        """Commands the delivery policy does not own: calibrate, declare a load."""
        pipeline = next((p for p in self.pipelines if p.name == command.wearer), None)
        if pipeline is None:  # the listener only passes configured wearers
            return Outcome.failed(ErrorCode.UNKNOWN_WEARER, f"no wearer {command.wearer!r}")
        match command:
            case Calibrate():
                ids = [s.settings.id for s in pipeline.sensors]
                if command.sensor is not None:
                    if command.sensor not in ids:
                        return Outcome.failed(
                            ErrorCode.REJECTED, f"{command.wearer} has no sensor {command.sensor!r}"
                        )
                    ids = [command.sensor]
                try:
                    for sensor_id in ids:
                        orientation = pipeline.evaluator.calibrate_upright(sensor_id)
                        log.info("%s/%s calibrated (%s)", pipeline.name, sensor_id, orientation)
                except EvaluationError as exc:
                    return Outcome.failed(ErrorCode.UNAVAILABLE, str(exc))
                return Outcome.ok(calibrate_result(ids))
            case DeclareLoad():
                return self._declare_load(pipeline, command)
        return Outcome.failed(ErrorCode.REJECTED, f"{type(command).__name__} is not handled here")

    def _declare_load(self, pipeline: WearerPipeline, command: DeclareLoad) -> Outcome:
        """A mass (with the hands' distances), a configured task by name, or 0 kg to end."""
        task: LiftTask | None
        if command.task is not None:
            task = pipeline.tasks.get(command.task)
            if task is None:
                known = ", ".join(sorted(pipeline.tasks)) or "none configured"
                return Outcome.failed(
                    ErrorCode.REJECTED,
                    f"{pipeline.name} has no task {command.task!r} (tasks: {known})",
                )
        elif not command.load_kg:
            task = None
        else:
            task = LiftTask(
                load_kg=command.load_kg,
                horizontal_cm=command.horizontal_cm,
                vertical_cm=command.vertical_cm,
            )
        until = None if task is None else self.clock.now() + timedelta(seconds=command.duration_s)
        pipeline.declared_until = until
        pipeline.evaluator.set_declared_load(task)
        return Outcome.ok(
            declare_load_result(
                0.0 if task is None else task.load_kg,
                until,
                task=command.task,
                horizontal_cm=None if task is None else task.horizontal_cm,
                vertical_cm=None if task is None else task.vertical_cm,
            )
        )

    async def _run_tasks(
        self, publisher: MqttPublisher, listener: CommandListener, *, until_sources_end: bool
    ) -> None:
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._wait_for_stop())
                tasks.create_task(
                    _supervise(
                        "commands",
                        partial(
                            serve_commands, listener, self.policy, publisher, self._handle_command
                        ),
                        lambda: None,
                    )
                )
                tasks.create_task(
                    _supervise(
                        "timers",
                        partial(
                            serve_timers,
                            self.policy,
                            publisher,
                            self._wearer_names(),
                            self.clock.sleep_s,
                        ),
                        lambda: None,
                    )
                )
                tasks.create_task(self._prune_history())
                tasks.create_task(self._tell_systemd(publisher))
                evaluations = []
                tasks.create_task(self._publish_sensor_status(publisher))
                for pipeline in self.pipelines:
                    for sensor in pipeline.sensors:
                        tasks.create_task(
                            _supervise(
                                f"sensor {pipeline.name}/{sensor.settings.id}",
                                partial(self._run_source, sensor, pipeline.queue),
                                partial(self._source_gave_up, sensor, pipeline.queue),
                            )
                        )
                    evaluations.append(
                        tasks.create_task(
                            _supervise(
                                f"evaluation of {pipeline.name}",
                                partial(self._evaluate_wearer, pipeline, publisher),
                                pipeline.give_up_evaluation,
                            )
                        )
                    )
                if until_sources_end:
                    tasks.create_task(self._stop_when_done(evaluations, publisher))
        except* ShutdownRequestedError:
            log.info("shutting down")
        finally:
            self.notifier.stopping()

    async def _run_source(self, sensor: SensorRuntime, queue: BlockQueue) -> None:
        await sensor.source.run(queue, self.clock)
        sensor.ended = True
        log.info("sensor %s has ended", sensor.settings.id)

    def _source_gave_up(self, sensor: SensorRuntime, queue: BlockQueue) -> None:
        sensor.ended = True
        queue.close()

    async def _publish_sensor_status(self, publisher: MqttPublisher) -> None:
        """Publish each sensor's status on change, and at least every state interval."""
        interval_s = self.settings.daemon.state_interval_s
        loop = asyncio.get_running_loop()
        while True:
            now_s = loop.time()
            now = self.clock.now()
            for pipeline in self.pipelines:
                for sensor in pipeline.sensors:
                    status = sensor.status(now)
                    key = (status.connected, status.battery_pct, status.link)
                    if key != sensor.last_status or now_s - sensor.last_status_s >= interval_s:
                        publisher.publish_sensor_status(pipeline.name, sensor.settings.id, status)
                        sensor.last_status, sensor.last_status_s = key, now_s
            await asyncio.sleep(_SENSOR_STATUS_POLL_S)

    async def _prune_history(self) -> None:
        """Once a day of the clock, drop history older than the retention period."""
        retention_s = self.settings.policy.retention_days * 86_400.0
        while True:
            removed = self.store.prune(self.clock.now_s() - retention_s)
            if removed:
                log.info("removed %d records older than %g days", removed, retention_s / 86_400)
            await self.clock.sleep_s(86_400.0)

    async def _tell_systemd(self, publisher: MqttPublisher) -> None:
        """READY=1, STATUS= and WATCHDOG=1 for systemd (nothing outside systemd).

        READY=1 once the broker holds our retained ``online`` (or READY_BROKER_WAIT_S has
        passed without a broker; nudges wait in the outbox). WATCHDOG=1 only while this
        event loop runs and every evaluation takes its blocks: an evaluation given up by
        its supervisor, or blocks waiting longer than the watchdog interval, withhold it,
        and systemd restarts the service.
        """
        notifier = self.notifier
        if not notifier.enabled:
            return
        loop = asyncio.get_running_loop()
        interval_s = notifier.watchdog_interval_s
        tick_s = _SYSTEMD_TICK_S if interval_s is None else min(interval_s, _SYSTEMD_TICK_S)
        started_s = loop.time()
        ready = False
        last_ping_s = float("-inf")
        last_status = ""
        withheld = False
        while True:
            now_s = loop.time()
            if not ready and (publisher.connected or now_s - started_s >= READY_BROKER_WAIT_S):
                ready = True
                last_status = self._status_line(publisher)
                notifier.ready(last_status)
                log.info("told systemd we are ready (%s)", last_status)
            stuck = [p.name for p in self.pipelines if p.stuck_for_s(now_s) > (interval_s or 0)]
            if interval_s is not None and now_s - last_ping_s >= interval_s:
                if stuck:
                    if not withheld:
                        log.error(
                            "evaluation of %s is stuck; no watchdog ping, systemd will restart",
                            ", ".join(stuck),
                        )
                    withheld = True
                else:
                    notifier.watchdog()
                    last_ping_s, withheld = now_s, False
            status = self._status_line(publisher)
            if ready and status != last_status:
                notifier.status(status)
                last_status = status
            await asyncio.sleep(tick_s)

    def _status_line(self, publisher: MqttPublisher) -> str:
        sensors = [s for p in self.pipelines for s in p.sensors]
        connected = sum(1 for s in sensors if s.status(self.clock.now()).connected)
        broker = "broker connected" if publisher.connected else "broker unreachable"
        return (
            f"{len(self.pipelines)} wearer(s), {connected}/{len(sensors)} sensor(s) connected, "
            f"{broker}, {publisher.pending_count} message(s) pending"
        )

    async def _wait_for_stop(self) -> None:
        await self.stop.wait()
        raise ShutdownRequestedError

    async def _stop_when_done(
        self, evaluations: list[asyncio.Task[None]], publisher: MqttPublisher
    ) -> None:
        await asyncio.gather(*evaluations)
        await publisher.flush()
        log.info("every source has ended and every message was delivered; stopping")
        self.stop.set()

    async def _evaluate_wearer(self, pipeline: WearerPipeline, publisher: MqttPublisher) -> None:
        """Drain one wearer's queue: evaluate, decide, publish; keep the retained state fresh."""
        state_interval_s = self.settings.daemon.state_interval_s * self.clock.speed
        last_state_s = float("-inf")
        pipeline.progress_s = asyncio.get_running_loop().time()
        last_activity: str | None = None
        day = self.clock.now().astimezone().date()
        daily = DailyTotals(day, carried=self.store.daily_totals(pipeline.name, day.isoformat()))
        history = self._history_recorder(pipeline.name)
        orientation_version = pipeline.evaluator.orientation_version
        dropped_blocks = 0
        while pipeline.open_sources > 0:
            block = await pipeline.queue.get()
            if block is None:
                pipeline.open_sources -= 1
                continue
            if pipeline.declared_until is not None and self.clock.now() >= pipeline.declared_until:
                pipeline.declared_until = None  # the declared load has expired
                pipeline.evaluator.set_declared_load(None)
            pipeline.progress_s = asyncio.get_running_loop().time()
            observations = pipeline.evaluator.feed(block)
            if observations:  # decided on this block: its newest sample was the decisive one
                decided_s = float(block.t_s[-1])
                observations = [replace(o, decided_s=decided_s) for o in observations]
            history.observe(observations)
            self._deliver(observations, publisher)
            if pipeline.evaluator.orientation_version != orientation_version:
                orientation_version = pipeline.evaluator.orientation_version
                saved = self.calibrations.save_changed(
                    pipeline.name, pipeline.evaluator.orientations, self.clock.now_s()
                )
                if saved:
                    log.info("%s: orientation of %s saved", pipeline.name, ", ".join(saved))
            sensor = pipeline.sensor(block.sensor_id)
            sensor.samples += len(block)
            sensor.last_seen = self.clock.now()
            drops = pipeline.queue.counters
            if drops.dropped_blocks != dropped_blocks:
                dropped_blocks = drops.dropped_blocks
                log.warning(
                    "%s: evaluation fell behind; %d blocks (%d samples) dropped so far",
                    pipeline.name,
                    drops.dropped_blocks,
                    drops.dropped_samples,
                )
            self._record_history(history, pipeline, pipeline.evaluator.sample_time_s, publisher)
            now_s = self.clock.now_s()
            activity = str(pipeline.evaluator.activity)
            if activity != last_activity or now_s - last_state_s >= state_interval_s:
                status = pipeline.evaluator.status()  # only when published: it has a cost
                publisher.publish_state(pipeline.name, self._state_of(pipeline.name, status, daily))
                last_state_s, last_activity = now_s, activity
        final = pipeline.evaluator.finish()
        end_s = pipeline.evaluator.sample_time_s  # the end of the data decided these
        if end_s is not None:
            final = [replace(o, decided_s=end_s) for o in final]
        history.observe(final)
        self._deliver(final, publisher)
        self._record_history(history, pipeline, end_s, publisher, force=True)
        history.flush()
        publisher.publish_state(
            pipeline.name, self._state_of(pipeline.name, pipeline.evaluator.status(), daily)
        )
        log.info("all sources of %s have ended", pipeline.name)
        log.debug(
            "%s: segments %s",
            pipeline.name,
            ", ".join(
                f"{seg.activity} {seg.end_s - seg.start_s:.0f} s"
                for seg in pipeline.evaluator.segments
            ),
        )

    def _history_recorder(self, wearer: str) -> HistoryRecorder:
        """The recorder of a wearer's days (for reports and the daily summary)."""
        zone = self.settings.policy.timezone
        return HistoryRecorder(
            self.store,
            wearer,
            timezone=ZoneInfo(zone) if zone else None,
            sitting_limit_s=self.settings.thresholds.sitting_limit_min * 60.0,
        )

    def _record_history(
        self,
        history: HistoryRecorder,
        pipeline: WearerPipeline,
        sample_time_s: float | None,
        publisher: MqttPublisher,
        *,
        force: bool = False,
    ) -> None:
        """Keep the wearer's day history; publish the summary of each day that has ended."""
        zone = self.settings.policy.timezone
        for day in history.update(pipeline.evaluator, sample_time_s, force=force):
            summary = finish_day(self.store, day, ZoneInfo(zone) if zone else None)
            publisher.publish(self.topics.summary(day.wearer), summary.to_json(), retain=True)
            log.info(
                "%s: summary of %s published (focus %s)", day.wearer, summary.day, summary.focus
            )

    def _deliver(self, observations: list[Observation], publisher: MqttPublisher) -> None:
        """Each observation goes out as an event; the policy decides whether it is a nudge."""
        for observation in observations:
            publisher.publish_event(observation)
            nudge = self.policy.decide(observation)
            if nudge is not None:
                log.info("nudge %s for %s: %s", nudge.kind, nudge.wearer, nudge.title)
                publisher.publish_nudge(nudge)

    def _state_of(self, wearer: str, status: WearerStatus, daily: DailyTotals) -> WearerState:
        """The retained state: the evaluation's status, today's totals, the relief plan.

        ``slouching`` is true while seated with the trunk flexed past the neutral 20° band.
        """
        now = self.clock.now()
        today = daily.today(
            {
                "sitting_s": status.sitting_total_s,
                "steps": float(status.steps),
                "lifts": float(status.lifts),
                "risky_lifts": float(status.risky_lifts),
            },
            now,
        )
        if daily.day is not None:
            self.store.set_daily_totals(wearer, daily.day.isoformat(), today)
        relief = self.policy.relief_status(wearer)
        return WearerState.from_status(
            status,
            now,
            sitting_today_s=today["sitting_s"],
            slouching=(
                None
                if status.trunk_flexion_deg is None
                else status.activity is Activity.SITTING
                and status.trunk_flexion_deg > _NEUTRAL_TRUNK_FLEXION_DEG
            ),
            steps_today=round(today["steps"]),
            lifts_today=round(today["lifts"]),
            risky_lifts_today=round(today["risky_lifts"]),
            relief_plan=None if relief is None else ReliefPlanInfo.from_status(relief),
        )


async def run_daemon(
    settings: Settings, clock: ScaledClock, *, until_sources_end: bool = False
) -> None:
    """Build the daemon from settings and run it (see ``Daemon.run``)."""
    await Daemon.build(settings, clock).run(until_sources_end=until_sources_end)
