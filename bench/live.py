"""Benchmarks 2-4 and the daemon half of 5: ``backwatch run`` against the emulated BlueZ.

One run: a private Mosquitto, a private D-Bus with the emulated BlueZ in this process, and
sensors in pairs, one pair per wearer: a Polar H10 on the trunk (batched PMD frames) and a
Thingy:52 on the thigh (one notification per sample), all at 100 Hz, each pair playing one
simulated wearer's day (:class:`devices.simulated.SimulatedSensor`) in real time. The
daemon (``python -m monitor run``) is a child process; unmodified bleak talks to the
emulator over D-Bus. Measured:

- start-up: from spawning the daemon to the first notification an emulated sensor sends
  (it sends once the daemon has subscribed) and to the retained ``online`` at a subscriber;
- cost: the daemon process's own CPU time (``/proc/<pid>/stat``: the emulator and
  dbus-daemon are other processes or this one) over ``span_s`` of steady streaming after a
  warm-up, as a share of one core and as CPU seconds per sensor-hour; its resident memory
  (VmRSS at the end, VmHWM);
- latency: the wearer sits most of the time and the sitting limit is 6 s, so a sitting
  nudge falls due every 6 s of sitting. For each nudge, the subscriber's arrival time minus
  the ``decided_s`` of its event (the same observation on ``<base>/<wearer>/event``): the
  sample time of the newest sample in the block whose evaluation decided it, i.e. the
  decisive sample. Sample times are the sensors' clocks (the emulated H10's PMD clock and
  the Thingy's arrival stamps both follow this machine's clock), so this spans the
  notification carrying that sample, decoding, the evaluation, the policy, the outbox, the
  broker and the subscriber. Also kept: arrival minus the nudge's ``event_end_s`` (the
  sample at which the bout reached the limit), which adds the evaluator's own decision
  delay (look-ahead, minimum bouts, the 2 s evaluation pace). Policy limits are lifted (no
  cool-down, caps or quiet hours) so every nudge that falls due is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import sys
import tempfile
import time
from asyncio.subprocess import Process
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt

from alerts.events import EventType
from alerts.nudge import Nudge
from devices.emulator import (
    EmulatedPolarH10,
    EmulatedSensor,
    EmulatedThingy52,
    SensorIdentity,
    emulated_bluez,
)
from devices.emulator.feeds import LiveTimeline
from devices.mount import Mount
from devices.samples import Placement, SampleBlock
from devices.scenario import Activity, Scenario, ScenarioStep
from devices.simulated import SimulatedSensor
from monitor.broker import PrivateMosquitto

REPO = Path(__file__).resolve().parent.parent
RATE_HZ = 100
TRUNK_MOUNT = "-y,+z"
THIGH_MOUNT = "+x,-z"
SITTING_LIMIT_MIN = 0.1
WARMUP_S = 5.0
BLUETOOTHCTL_STUB = "#!/bin/sh\necho 'bluetoothctl: 5.66'\n"


class LiveError(RuntimeError):
    """The daemon did not come up or stream; the message says how far it got."""


@dataclass(slots=True)
class LiveFigures:
    """What one daemon run cost."""

    sensors: int
    span_s: float = 0.0
    cpu_s: float = 0.0
    rss_mb: float = 0.0
    hwm_mb: float = 0.0
    first_subscribed_s: float = float("nan")
    online_s: float = float("nan")
    latencies_s: list[float] = field(default_factory=list)
    """Nudge arrival minus its decisive sample's time."""
    limit_lags_s: list[float] = field(default_factory=list)
    """Nudge arrival minus the sample time at which the bout reached the limit."""
    samples_sent: int = 0
    log_tail: str = ""

    @property
    def core_pct(self) -> float:
        """CPU share of one core over the span, percent."""
        return 100.0 * self.cpu_s / self.span_s if self.span_s > 0 else float("nan")

    @property
    def cpu_s_per_sensor_h(self) -> float:
        """CPU seconds per sensor-hour."""
        hours = self.sensors * self.span_s / 3600.0
        return self.cpu_s / hours if hours > 0 else float("nan")


def live_scenario(minutes: float = 30.0) -> Scenario:
    """Sitting 50 s, standing 10 s, over and over: a sitting nudge every 6 s of a bout."""
    steps: list[ScenarioStep] = []
    for _ in range(int(minutes)):
        steps.append(ScenarioStep(Activity.SITTING, 50.0))
        steps.append(ScenarioStep(Activity.STANDING, 10.0))
    return Scenario("bench-live", tuple(steps), "sit and stand for the live benchmark")


def _address(kind: int, index: int) -> str:
    return f"{'A0:9E:1A' if kind == 0 else 'C0:11:22'}:00:{index // 256:02X}:{index % 256:02X}"


def _blocks(
    scenario: Scenario, placement: Placement, mount: str, seed: int
) -> Iterator[SampleBlock]:
    sensor = SimulatedSensor(
        scenario, placement, placement.value, rate_hz=RATE_HZ, mount=Mount.parse(mount), seed=seed
    )
    return sensor.blocks()


def emulated_sensors(count: int) -> list[EmulatedSensor]:
    """``count`` sensors: H10 (trunk) and Thingy (thigh) of wearer 0, then of wearer 1, ..."""
    scenario = live_scenario()
    sensors: list[EmulatedSensor] = []
    for index in range(count):
        wearer, kind = divmod(index, 2)
        if kind == 0:
            timeline = LiveTimeline(float(RATE_HZ))
            feed = _blocks(scenario, Placement.TRUNK, TRUNK_MOUNT, wearer)
            sensor: EmulatedSensor = EmulatedPolarH10(
                SensorIdentity(_address(0, wearer), f"Polar H10 {wearer:06d}"), feed
            )
        else:
            feed = _blocks(scenario, Placement.THIGH, THIGH_MOUNT, wearer)
            sensor = EmulatedThingy52(SensorIdentity(_address(1, wearer), f"Thingy {wearer}"), feed)
        sensor.follow(timeline)
        sensors.append(sensor)
    return sensors


def config_text(state_dir: Path, port: int, base: str, count: int) -> str:
    """The daemon's settings: ``count`` Bluetooth sensors, policy limits lifted."""
    text = f"""log_level = "WARNING"
state_dir = "{state_dir}"
[mqtt]
host = "127.0.0.1"
port = {port}
base_topic = "{base}"
client_id = "{base}"
[thresholds]
sitting_limit_min = {SITTING_LIMIT_MIN}
sitting_break_s = 5
[policy]
default_cooldown_min = 0
quiet_hours = "off"
default_daily_cap = 1000
total_daily_cap = 1000
dedup_window_h = 0
tips = false
[homeassistant]
discovery = false
"""
    for wearer in range((count + 1) // 2):
        text += f'\n[[wearers]]\nname = "w{wearer}"\n'
        text += (
            f'[[wearers.sensors]]\nid = "trunk"\nkind = "polar_h10"\nplacement = "trunk"\n'
            f'mount = "{TRUNK_MOUNT}"\nrate_hz = {RATE_HZ}\naddress = "{_address(0, wearer)}"\n'
        )
        if 2 * wearer + 1 < count:
            text += (
                f'[[wearers.sensors]]\nid = "thigh"\nkind = "thingy52"\nplacement = "thigh"\n'
                f'mount = "{THIGH_MOUNT}"\nrate_hz = {RATE_HZ}\n'
                f'address = "{_address(1, wearer)}"\n'
            )
    return text


async def _collect(
    client: aiomqtt.Client, base: str, figures: LiveFigures, online: asyncio.Event, t0: float
) -> None:
    decided_s: dict[tuple[str, float], float] = {}  # (wearer, end_s) of sitting events
    async for message in client.messages:
        arrived_s = time.time()
        topic = message.topic.value
        payload = message.payload
        raw = payload if isinstance(payload, bytes | bytearray) else str(payload).encode()
        if topic == f"{base}/status" and raw == b"online" and not online.is_set():
            figures.online_s = time.monotonic() - t0
            online.set()
        elif topic.endswith("/event"):
            event = json.loads(raw)
            if event["type"] == EventType.SITTING_BOUT and "decided_s" in event:
                decided_s[event["wearer"], float(event["end_s"])] = float(event["decided_s"])
        elif topic.endswith("/nudge"):
            nudge = Nudge.from_json(bytes(raw))
            if nudge.kind == "sitting":
                figures.limit_lags_s.append(arrived_s - nudge.event_end_s)
                # The event goes out just before its nudge, on the same connection.
                decisive_s = decided_s.pop((nudge.wearer, nudge.event_end_s), None)
                if decisive_s is not None:
                    figures.latencies_s.append(arrived_s - decisive_s)


async def _first_sample(
    sensors: list[EmulatedSensor], t0: float, figures: LiveFigures, process: Process
) -> None:
    while not any(s.samples_sent > 0 for s in sensors):
        if process.returncode is not None:
            raise LiveError(f"the daemon exited with {process.returncode} before streaming")
        await asyncio.sleep(0.002)
    figures.first_subscribed_s = time.monotonic() - t0


def _cpu_and_rss(pid: int) -> tuple[float, float, float]:
    from bench.proc import cpu_seconds, rss_mb  # noqa: PLC0415 (keeps this module light)

    rss, hwm = rss_mb(pid)
    return cpu_seconds(pid), rss, hwm


async def measure_live(count: int, span_s: float, directory: Path, run: int = 0) -> LiveFigures:
    """Run the daemon with ``count`` emulated sensors for ``span_s`` of steady streaming."""
    figures = LiveFigures(count)
    base = f"bench{run}n{count}p{os.getpid()}"
    stub_dir = directory / "bin"
    stub_dir.mkdir(parents=True, exist_ok=True)
    stub = stub_dir / "bluetoothctl"
    stub.write_text(BLUETOOTHCTL_STUB, encoding="utf-8")
    stub.chmod(0o755)
    config = directory / "backwatch.toml"
    sensors = emulated_sensors(count)
    broker = PrivateMosquitto()
    with broker:
        config.write_text(
            config_text(directory / "state", broker.port, base, count), encoding="utf-8"
        )
        bus_dir = directory / "bus"
        bus_dir.mkdir(exist_ok=True)
        async with emulated_bluez(sensors, directory=bus_dir) as emu:
            env = {
                **os.environ,
                "DBUS_SYSTEM_BUS_ADDRESS": emu.bus_address,
                "PATH": f"{stub_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            }
            async with aiomqtt.Client(broker.host, broker.port, identifier=f"{base}-sub") as client:
                await client.subscribe(f"{base}/status", qos=1)
                await client.subscribe(f"{base}/+/nudge", qos=1)
                await client.subscribe(f"{base}/+/event", qos=1)
                online = asyncio.Event()
                log_path = directory / "daemon.log"
                with log_path.open("wb") as log_file:
                    t0 = time.monotonic()
                    process = await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "monitor",
                        "run",
                        "--config",
                        str(config),
                        stdout=log_file,
                        stderr=log_file,
                        cwd=REPO,
                        env=env,
                    )
                    collector = asyncio.create_task(_collect(client, base, figures, online, t0))
                    try:
                        async with asyncio.timeout(60.0):
                            await _first_sample(sensors, t0, figures, process)
                            await online.wait()
                        await asyncio.sleep(WARMUP_S)
                        figures.latencies_s.clear()
                        figures.limit_lags_s.clear()
                        cpu0, _, _ = _cpu_and_rss(process.pid)
                        start = time.monotonic()
                        sent0 = sum(s.samples_sent for s in sensors)
                        await asyncio.sleep(span_s)
                        cpu1, figures.rss_mb, figures.hwm_mb = _cpu_and_rss(process.pid)
                        figures.span_s = time.monotonic() - start
                        figures.cpu_s = cpu1 - cpu0
                        figures.samples_sent = sum(s.samples_sent for s in sensors) - sent0
                    except (TimeoutError, LiveError) as exc:
                        tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
                        raise LiveError(
                            f"daemon run with {count} sensors: {exc!r}\n{tail}"
                        ) from exc
                    finally:
                        if process.returncode is None:
                            process.send_signal(signal.SIGTERM)
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(20.0):
                                await process.wait()
                        if process.returncode is None:
                            process.kill()
                            await process.wait()
                        collector.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await collector
                figures.log_tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
    return figures


def run_live(count: int, span_s: float, run: int = 0) -> LiveFigures:
    """:func:`measure_live` in a fresh event loop and temporary directory."""
    with tempfile.TemporaryDirectory(prefix="backwatch-bench-live-") as directory:
        return asyncio.run(measure_live(count, span_s, Path(directory), run))


def decision_lags_s(minutes: float = 5.0, block_s: float = 0.1) -> list[float]:
    """The evaluator's own delay per sitting nudge, without Bluetooth, daemon or broker.

    One wearer of :func:`live_scenario` fed to a :class:`WearerEvaluator` in ``block_s``
    blocks at the live pace with the benchmark's thresholds; for each sitting observation,
    the newest sample time fed when it came out minus its ``end_s``.
    """
    from monitor.evaluation import (  # noqa: PLC0415 (the bench's own process only)
        EvaluationThresholds,
        SensorSetup,
        WearerEvaluator,
    )

    scenario = live_scenario(minutes)
    thresholds = dataclasses.replace(
        EvaluationThresholds(), sitting_limit_s=SITTING_LIMIT_MIN * 60.0, sitting_break_s=5.0
    )
    setups = [
        SensorSetup("trunk", Placement.TRUNK, Mount.parse(TRUNK_MOUNT)),
        SensorSetup("thigh", Placement.THIGH, Mount.parse(THIGH_MOUNT)),
    ]
    feeds = [
        SimulatedSensor(
            scenario,
            setup.placement,
            setup.sensor_id,
            rate_hz=RATE_HZ,
            mount=setup.mount,
            block_s=block_s,
        ).blocks()
        for setup in setups
    ]
    evaluator = WearerEvaluator("bench", setups, thresholds)
    lags: list[float] = []
    for pair in zip(*feeds, strict=True):
        for block in pair:
            newest_s = float(block.t_s[-1])
            lags.extend(
                newest_s - o.end_s
                for o in evaluator.feed(block)
                if o.type is EventType.SITTING_BOUT
            )
    return lags


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.live [SENSORS] [SPAN_S]``: one run, figures printed."""
    args = argv if argv is not None else sys.argv[1:]
    count = int(args[0]) if args else 4
    span_s = float(args[1]) if len(args) > 1 else 30.0
    figures = run_live(count, span_s)
    lat = sorted(figures.latencies_s)
    print(
        f"{count} sensors, {figures.span_s:.1f} s: CPU {figures.cpu_s:.2f} s "
        f"({figures.core_pct:.2f} % of a core, {figures.cpu_s_per_sensor_h:.1f} s per "
        f"sensor-hour), RSS {figures.rss_mb:.0f} MB (peak {figures.hwm_mb:.0f}), first sample "
        f"{figures.first_subscribed_s:.2f} s, online {figures.online_s:.2f} s, "
        f"{figures.samples_sent} samples sent, {len(lat)} nudges, latencies "
        f"{[round(x * 1000) for x in lat]} ms"
    )
    if not lat:
        print(figures.log_tail)
    return 0


if __name__ == "__main__":
    sys.exit(main())
