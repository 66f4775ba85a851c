"""Soak: the daemon lives a simulated day at high speed through broker restarts; memory and loss.

Two wearers, each with a chest and a thigh sensor at 100 Hz (simulated sources: the
emulated BlueZ cannot carry 4 x 100 Hz at hundreds of times real speed on a small machine),
live a day of sleep, desk bouts, walks and meetings at ``--speed`` times real time. The
daemon runs as a subprocess against a private Mosquitto (with persistence); every
``--restart-every-h`` simulated hours the broker is stopped for ``--outage-s`` wall seconds
and started again on the same port. A subscriber with a persistent session collects every
nudge. Every simulated hour the daemon's resident memory (``VmRSS``) is sampled.

Printed: the memory curve (simulated hour, MB), the growth after the first hour, and the
loss count: nudges in the daemon's outbox whose id the subscriber never received. The exit
status is 1 when the growth reaches ``--max-growth-mb`` (5 MB) or any nudge was lost.

    python -m bench.soak                      # 24 simulated hours (about 5 minutes at 300x)
    python -m bench.soak --hours 2 --speed 600
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import aiomqtt

from monitor.broker import PrivateMosquitto

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
RATE_HZ = 100.0
WEARERS = ("ann", "bob")
DAY = "2026-11-25"
NIGHT_FROM_H = 12.0  # a soak this long starts at midnight with the night; shorter ones at 08:00
_KIB_PER_MB = 1024.0
_POLL_S = 0.2

# One simulated day: asleep until 07:00, then desk bouts (some slouched), breaks, walks,
# a meeting, an evening on the sofa; the cycle below fills the waking hours.
_NIGHT = (("lying", 7 * 60, None),)
_WAKING_CYCLE = (
    ("standing", 10, None),
    ("walking", 8, None),
    ("sitting", 35, 12),
    ("sitting", 8, 32),
    ("standing", 4, None),
    ("sitting", 50, 12),
    ("walking", 5, None),
    ("running", 2, None),
    ("sitting", 20, 30),
)


def day_scenario(hours: float) -> str:
    """A scenario TOML covering ``hours`` of a day (a night, then the waking cycle)."""
    steps: list[tuple[str, float, int | None]] = []
    left_min = hours * 60.0
    for activity, minutes, flexion in _NIGHT if hours >= NIGHT_FROM_H else ():
        steps.append((activity, minutes, flexion))
        left_min -= minutes
    while left_min > 0:
        for activity, minutes, flexion in _WAKING_CYCLE:
            take = min(float(minutes), left_min)
            if take <= 0:
                break
            steps.append((activity, take, flexion))
            left_min -= take
    text = 'name = "soak"\ndescription = "a simulated day for the soak"\n'
    for activity, step_min, flexion in steps:
        text += f'\n[[step]]\nactivity = "{activity}"\nduration_s = {step_min * 60.0:.0f}\n'
        if flexion is not None:
            text += f"trunk_flexion_deg = {flexion}\n"
    return text


def day_start(hours: float) -> datetime:
    """When the simulated day begins: midnight with the night, else 08:00 (UTC)."""
    clock = "00:00" if hours >= NIGHT_FROM_H else "08:00"
    return datetime.fromisoformat(f"{DAY}T{clock}:00+00:00")


def soak_config(
    directory: Path, broker: PrivateMosquitto, *, hours: float, speed: float, base: str
) -> Path:
    """Settings for two wearers with chest and thigh sensors at 100 Hz living the day."""
    start = day_start(hours).isoformat()
    scenario = directory / "day.toml"
    lines = [
        'log_level = "INFO"',
        f'state_dir = "{directory / "state"}"',
        "[mqtt]",
        f'host = "{broker.host}"',
        f"port = {broker.port}",
        f'base_topic = "{base}"',
        f'client_id = "{base}"',
        "[simulation]",
        f"speed = {speed}",
        f'start = "{start}"',
        "[policy]",
        "default_daily_cap = 100",
        "total_daily_cap = 200",
        "[daemon]",
        "state_interval_s = 0.5",  # the state's sample time tells the soak the hour
        "[homeassistant]",
        "discovery = true",
    ]
    for index, wearer in enumerate(WEARERS):
        lines += [
            "[[wearers]]",
            f'name = "{wearer}"',
            "[[wearers.sensors]]",
            'id = "chest"',
            'kind = "simulated"',
            'placement = "trunk"',
            'mount = "-y,+z"',
            f"rate_hz = {RATE_HZ}",
            f'scenario = "{scenario}"',
            f"seed = {2 * index + 1}",
            "[[wearers.sensors]]",
            'id = "thigh"',
            'kind = "simulated"',
            'placement = "thigh"',
            'mount = "+x,-z"',
            f"rate_hz = {RATE_HZ}",
            f'scenario = "{scenario}"',
            f"seed = {2 * index + 2}",
        ]
    config = directory / "backwatch.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def resident_mb(pid: int) -> float | None:
    """``VmRSS`` of a process in MB (None once it has gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1]) / _KIB_PER_MB
    return None


def outbox_nudge_ids(state_dir: Path) -> list[str]:
    """Ids of every nudge the daemon wrote to its outbox, in order."""
    with contextlib.closing(sqlite3.connect(state_dir / "alerts.sqlite3", timeout=10)) as conn:
        rows = conn.execute(
            "SELECT payload FROM outbox WHERE topic LIKE '%/nudge' ORDER BY seq"
        ).fetchall()
    return [str(json.loads(bytes(row[0]))["id"]) for row in rows]


@dataclass
class Subscriber:
    """A persistent-session subscriber that reconnects while the broker is away."""

    broker: PrivateMosquitto
    base: str
    client_id: str
    nudge_ids: list[str] = field(default_factory=list)
    sample_time_s: dict[str, float] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def sample_hour(self, start_s: float) -> int:
        """Whole simulated hours every wearer's evaluation has reached (-1: not started)."""
        if len(self.sample_time_s) < len(WEARERS):
            return -1
        return int((min(self.sample_time_s.values()) - start_s) // 3600.0)

    async def run(self) -> None:
        """Collect nudge ids and sample times, reconnecting every 0.2 s after a loss."""
        while True:
            try:
                client = aiomqtt.Client(
                    self.broker.host,
                    self.broker.port,
                    identifier=self.client_id,
                    clean_session=False,
                )
                async with client:
                    await client.subscribe(f"{self.base}/+/nudge", qos=1)
                    await client.subscribe(f"{self.base}/+/state", qos=0)
                    self.ready.set()
                    async for message in client.messages:
                        raw = message.payload
                        if not isinstance(raw, bytes | bytearray):
                            continue
                        document = json.loads(raw)
                        wearer = message.topic.value.split("/")[-2]
                        if message.topic.value.endswith("/nudge"):
                            self.nudge_ids.append(str(document["id"]))
                        elif document.get("sample_time_s") is not None:
                            self.sample_time_s[wearer] = float(document["sample_time_s"])
            except aiomqtt.MqttError:
                self.ready.clear()
                await asyncio.sleep(0.2)


@dataclass(frozen=True, slots=True)
class SoakResult:
    """What a soak measured."""

    returncode: int
    memory_mb: list[tuple[int, float]]
    """``(simulated hour, VmRSS MB)``: the hour of sample time both wearers had reached."""
    outbox_nudges: int
    received_nudges: int
    lost_ids: list[str]
    broker_restarts: int
    wall_s: float

    @property
    def growth_after_first_hour_mb(self) -> float:
        """Largest RSS after hour 1 minus RSS at hour 1 (0 with too few samples)."""
        later = [mb for hour, mb in self.memory_mb if hour >= 1]
        if len(later) < 2:
            return 0.0
        return max(later[1:]) - later[0]


def _prepare(directory: Path, hours: float) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "day.toml").write_text(day_scenario(hours), encoding="utf-8")


async def run_soak(
    directory: Path,
    *,
    hours: float,
    speed: float,
    restart_every_h: float,
    outage_s: float,
    base: str = "soak",
) -> SoakResult:
    """Run the daemon through ``hours`` simulated hours with broker restarts; measure."""
    await asyncio.to_thread(_prepare, directory, hours)
    start_s = day_start(hours).timestamp()
    restarts = 0
    memory: list[tuple[int, float]] = []
    began = time.monotonic()
    async with PrivateMosquitto(persistence=True) as broker:
        config = soak_config(directory, broker, hours=hours, speed=speed, base=base)
        subscriber = Subscriber(broker, base, f"{base}-phone")
        listening = asyncio.create_task(subscriber.run())
        await asyncio.wait_for(subscriber.ready.wait(), 10)
        with (directory / "daemon.log").open("wb") as log_file:
            daemon = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "monitor",
                "run",
                "--config",
                str(config),
                "--until-sources-end",
                cwd=REPO,
                stdout=log_file,
                stderr=log_file,
            )
        try:
            next_restart_h = restart_every_h
            hour = 0
            while daemon.returncode is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(daemon.wait(), _POLL_S)
                reached = subscriber.sample_hour(start_s)
                if daemon.returncode is not None or reached <= hour:
                    continue
                hour = reached
                rss = resident_mb(daemon.pid)
                if rss is not None:
                    memory.append((hour, rss))
                    log.info("simulated hour %d: %.1f MB", hour, rss)
                if next_restart_h <= hour < hours:  # none once the day is over
                    await asyncio.to_thread(broker.stop)
                    await asyncio.sleep(outage_s)
                    await asyncio.to_thread(broker.start)
                    restarts += 1
                    next_restart_h = hour + restart_every_h
            returncode = await daemon.wait()
        finally:
            if daemon.returncode is None:
                daemon.kill()
                await daemon.wait()
        written = outbox_nudge_ids(directory / "state")
        deadline = time.monotonic() + 20
        while not set(written) <= set(subscriber.nudge_ids) and time.monotonic() < deadline:  # noqa: ASYNC110 (another task fills the list)
            await asyncio.sleep(0.2)
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
    received = set(subscriber.nudge_ids)
    return SoakResult(
        returncode=returncode,
        memory_mb=memory,
        outbox_nudges=len(written),
        received_nudges=len(received),
        lost_ids=[nudge_id for nudge_id in written if nudge_id not in received],
        broker_restarts=restarts,
        wall_s=time.monotonic() - began,
    )


def report(result: SoakResult) -> str:
    """The memory curve and the loss count, as printed."""
    lines = ["simulated hour  VmRSS MB"]
    lines += [f"{hour:>14d}  {mb:8.1f}" for hour, mb in result.memory_mb]
    lines.append(f"growth after the first hour: {result.growth_after_first_hour_mb:.1f} MB")
    lines.append(
        f"nudges: {result.outbox_nudges} written to the outbox, {result.received_nudges} "
        f"received; lost: {len(result.lost_ids)}"
    )
    lines.append(
        f"broker restarts: {result.broker_restarts}; daemon exit status {result.returncode}; "
        f"wall time {result.wall_s:.0f} s"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak and print its figures; 1 if memory grew too much or a nudge was lost."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours (24)")
    parser.add_argument("--speed", type=float, default=300.0, help="times real time (300)")
    parser.add_argument("--restart-every-h", type=float, default=3.0, help="broker restarts")
    parser.add_argument("--outage-s", type=float, default=5.0, help="wall seconds per outage")
    parser.add_argument("--max-growth-mb", type=float, default=5.0, help="allowed RSS growth")
    parser.add_argument("--keep", type=Path, default=None, help="keep state and logs here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    with contextlib.ExitStack() as stack:
        directory = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        result = asyncio.run(
            run_soak(
                directory,
                hours=args.hours,
                speed=args.speed,
                restart_every_h=args.restart_every_h,
                outage_s=args.outage_s,
            )
        )
    sys.stdout.write(report(result) + "\n")
    grew = result.growth_after_first_hour_mb >= args.max_growth_mb
    return 1 if grew or result.lost_ids or result.returncode != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
