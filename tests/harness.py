"""Runs the real daemon as a subprocess against the test broker and collects what it publishes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import textwrap
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt

from monitor.broker import PrivateMosquitto

REPO = Path(__file__).resolve().parent.parent
SENSOR_RATE_HZ = 50.0
"""The rate every sensor table written here asks for."""


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """One simulated sensor of the test wearer."""

    sensor_id: str
    placement: str
    mount: str = "-y,+z"
    seed: int = 0
    kind: str = "simulated"
    address: str | None = None

    def table(self, scenario: str) -> str:
        """The sensor's ``[[wearers.sensors]]`` table."""
        source = (
            f'address = "{self.address}"\n'
            if self.address is not None
            else f'scenario = "{scenario}"\nseed = {self.seed}\n'
        )
        return (
            f'\n[[wearers.sensors]]\nid = "{self.sensor_id}"\nkind = "{self.kind}"\n'
            f'placement = "{self.placement}"\nmount = "{self.mount}"\n'
            f"rate_hz = {SENSOR_RATE_HZ:g}\n{source}"
        )


@dataclass(slots=True)
class DaemonResult:
    """What the daemon did: exit status, its log, and every message a subscriber saw."""

    returncode: int
    log: str
    messages: list[tuple[str, dict[str, Any] | str]] = field(default_factory=list)

    def payloads(self, suffix: str) -> list[dict[str, Any]]:
        """JSON payloads of topics ending in ``suffix``, in arrival order."""
        return [p for t, p in self.messages if t.endswith(suffix) and isinstance(p, dict)]

    def texts(self, suffix: str) -> list[str]:
        """Plain-text payloads of topics ending in ``suffix``."""
        return [p for t, p in self.messages if t.endswith(suffix) and isinstance(p, str)]


def write_config(
    path: Path,
    *,
    host: str,
    port: int,
    base_topic: str,
    scenario: str,
    sensors: Sequence[SensorSpec],
    speed: float,
    wearer: str = "sam",
    extra: str = "",
) -> Path:
    """A settings file for one simulated wearer."""
    sensor_tables = "".join(s.table(scenario) for s in sensors)
    path.write_text(
        textwrap.dedent(
            f"""\
            log_level = "DEBUG"
            state_dir = "{path.parent / "state"}"
            [mqtt]
            host = "{host}"
            port = {port}
            base_topic = "{base_topic}"
            client_id = "{base_topic.replace("/", "-")}"
            [simulation]
            speed = {speed}
            start = "2026-11-25T08:00:00+00:00"
            """
        )
        + extra
        + f'\n[[wearers]]\nname = "{wearer}"\n'
        + sensor_tables,
        encoding="utf-8",
    )
    return path


async def run_daemon_collecting(
    config_path: Path,
    *,
    host: str,
    port: int,
    topics: Sequence[str],
    timeout_s: float = 120.0,
    extra_args: Sequence[str] = ("--until-sources-end",),
    env: Mapping[str, str] | None = None,
    stop_when: Callable[[], Awaitable[None]] | None = None,
) -> DaemonResult:
    """Start ``backwatch run``, subscribe first, and collect until the daemon exits.

    With ``stop_when``, the daemon gets SIGTERM once that coroutine returns (for sources
    that never end, such as Bluetooth sensors).
    """
    messages: list[tuple[str, dict[str, Any] | str]] = []
    async with aiomqtt.Client(host, port, identifier=f"test-{config_path.parent.name}") as client:
        for topic in topics:
            await client.subscribe(topic, qos=1)

        async def collect() -> None:
            async for message in client.messages:
                raw = message.payload
                text = raw.decode() if isinstance(raw, bytes | bytearray) else str(raw)
                try:
                    payload: dict[str, Any] | str = json.loads(text)
                except ValueError:
                    payload = text
                messages.append((message.topic.value, payload))

        collector = asyncio.create_task(collect())
        log_path = config_path.parent / "daemon.log"
        with log_path.open("wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "monitor",
                "run",
                "--config",
                str(config_path),
                *extra_args,
                stdout=log_file,
                stderr=log_file,
                cwd=REPO,
                env=None if env is None else {**os.environ, **env},
            )
            try:
                async with asyncio.timeout(timeout_s):
                    if stop_when is not None:
                        await stop_when()
                        process.send_signal(signal.SIGTERM)
                    returncode = await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
                returncode = -9
        await asyncio.sleep(0.3)
        collector.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await collector
    return DaemonResult(returncode, log_path.read_text(encoding="utf-8"), messages)


def run_simulated_day(
    broker: PrivateMosquitto,
    directory: Path,
    *,
    base_topic: str,
    scenario: str,
    sensors: Sequence[SensorSpec],
    speed: float,
    topics: Sequence[str],
) -> DaemonResult:
    """Write a config for one simulated wearer, run the daemon until the day ends, collect."""
    config = write_config(
        directory / "backwatch.toml",
        host=broker.host,
        port=broker.port,
        base_topic=base_topic,
        scenario=scenario,
        sensors=sensors,
        speed=speed,
    )
    return asyncio.run(
        run_daemon_collecting(config, host=broker.host, port=broker.port, topics=topics)
    )
