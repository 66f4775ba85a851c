"""systemd notify protocol: environment read right; the daemon says READY, WATCHDOG, STOPPING."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiomqtt
import numpy as np

from config.settings import Settings
from devices.samples import SampleBlock
from monitor.broker import PrivateMosquitto
from monitor.daemon import build_pipelines
from monitor.sdnotify import NotifyTarget, SystemdNotifier
from tests.harness import SensorSpec, run_daemon_collecting, write_config


@contextmanager
def _listening(address: str) -> Iterator[socket.socket]:
    """A datagram socket bound where systemd's would be (``@name``: abstract namespace)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + address[1:].encode() if address.startswith("@") else address)
        yield sock


def test_environment_decides_socket_and_watchdog_interval() -> None:
    env = {"NOTIFY_SOCKET": "/run/n.sock", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"}
    assert NotifyTarget.from_environment(env, pid=42) == NotifyTarget("/run/n.sock", 15.0)
    # A watchdog meant for another process (or no socket at all) is not ours to feed.
    assert NotifyTarget.from_environment(env, pid=43).watchdog_interval_s is None
    assert NotifyTarget.from_environment({"WATCHDOG_USEC": "1000"}, pid=1) == NotifyTarget(
        None, None
    )
    without_pid = {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "2000000"}
    assert NotifyTarget.from_environment(without_pid, pid=7).watchdog_interval_s == 1.0


def test_messages_reach_a_path_socket_and_nothing_is_sent_outside_systemd(tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    with _listening(path) as sock, SystemdNotifier(NotifyTarget(path, None)) as notifier:
        assert notifier.ready("up\nand running")
        assert sock.recv(4096) == b"READY=1\nSTATUS=up and running"
    with SystemdNotifier(NotifyTarget(None, None)) as silent:
        assert not silent.enabled
        assert not silent.watchdog()
    # A socket that went away is not an error for the daemon, only a lost message.
    with SystemdNotifier(NotifyTarget(path, None)) as notifier:
        assert not notifier.watchdog()


def test_daemon_is_ready_after_online_is_retained_pings_and_says_stopping(
    mosquitto: PrivateMosquitto, tmp_path: Path
) -> None:
    base = "sdnotify"
    address = f"@backwatch-test-notify-{os.getpid()}"
    config = write_config(
        tmp_path / "backwatch.toml",
        host=mosquitto.host,
        port=mosquitto.port,
        base_topic=base,
        scenario="short",
        sensors=(SensorSpec("chest", "trunk"),),
        speed=1.0,
    )
    with _listening(address) as sock:
        sock.settimeout(0.0)
        received: list[bytes] = []
        retained_at_ready: list[str] = []

        async def ready_and_two_pings() -> None:
            loop = asyncio.get_running_loop()
            while not received or received[-2:] != [b"WATCHDOG=1"] * 2 or not retained_at_ready:
                received.append(await loop.sock_recv(sock, 4096))
                if received[-1].startswith(b"READY=1"):  # the broker must hold `online` now
                    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as probe:
                        await probe.subscribe(f"{base}/status", qos=1)
                        async for message in probe.messages:
                            retained_at_ready.append(f"{message.payload!r} {message.retain}")
                            break

        result = asyncio.run(
            run_daemon_collecting(
                config,
                host=mosquitto.host,
                port=mosquitto.port,
                topics=[f"{base}/status"],
                extra_args=(),
                env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000", "WATCHDOG_PID": ""},
                stop_when=ready_and_two_pings,
                timeout_s=60.0,
            )
        )
        while True:
            try:
                received.append(sock.recv(4096))
            except BlockingIOError:
                break
    assert result.returncode == 0, result.log
    ready = [i for i, m in enumerate(received) if m.startswith(b"READY=1")]
    assert len(ready) == 1
    assert received[ready[0]].startswith(b"READY=1\nSTATUS=1 wearer(s), 1/1 sensor(s) connected")
    assert b"broker connected" in received[ready[0]]
    assert retained_at_ready == ["b'online' True"]
    assert received[ready[0] + 1 :].count(b"WATCHDOG=1") >= 2
    assert received[-1].startswith(b"STOPPING=1")
    assert result.texts("/status")[-1] == "offline"


def test_watchdog_counts_an_evaluation_stuck_only_while_blocks_wait_or_when_given_up() -> None:
    settings = Settings.model_validate(
        {
            "wearers": [
                {
                    "name": "sam",
                    "sensors": [
                        {
                            "id": "chest",
                            "kind": "simulated",
                            "placement": "trunk",
                            "scenario": "short",
                        }
                    ],
                }
            ]
        }
    )
    pipeline = build_pipelines(settings, start_s=0.0)[0]
    pipeline.progress_s = 90.0
    assert pipeline.stuck_for_s(100.0) == 0.0  # nothing waits: idle, not stuck
    pipeline.queue.offer(SampleBlock("chest", np.array([1.0]), np.zeros((1, 3)), None))
    assert pipeline.stuck_for_s(100.0) == 10.0
    pipeline.give_up_evaluation()
    assert pipeline.stuck_for_s(100.0) == float("inf")
