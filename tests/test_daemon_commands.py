"""Commands to the running daemon over MQTT: calibrate is answered and survives a restart."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiomqtt

from monitor.broker import PrivateMosquitto
from monitor.calibration_store import CalibrationStore
from monitor.orientation import MountSource
from tests.harness import REPO, SensorSpec, write_config

CHEST = SensorSpec("chest", "trunk", "-y,+z", seed=7)


async def _run_and_calibrate(
    config: Path, broker: PrivateMosquitto, base: str
) -> tuple[int, dict[str, Any], str]:
    """Run the daemon, send ``calibrate`` while the wearer stands, return its reply."""
    log_path = config.parent / "daemon.log"
    async with aiomqtt.Client(broker.host, broker.port, identifier="phone") as client:
        await client.subscribe(f"{base}/sam/reply/calibrate", qos=1)
        await client.subscribe(f"{base}/sam/state", qos=1)
        with log_path.open("ab") as log_file:
            process = await asyncio.create_subprocess_exec(
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
            reply: dict[str, Any] = {}
            async with asyncio.timeout(90):
                async for message in client.messages:
                    data = json.loads(message.payload)
                    if message.retain:  # the previous run's state: this daemon is not up yet
                        continue
                    if message.topic.matches(f"{base}/sam/state") and not reply:
                        if data["sample_time_s"] is not None:
                            await client.publish(f"{base}/sam/cmd/calibrate", "{}", qos=1)
                            reply = {"sent": True}
                    elif message.topic.matches(f"{base}/sam/reply/calibrate"):
                        reply = data
                        break
                returncode = await process.wait()
    return returncode, reply, log_path.read_text(encoding="utf-8")


def test_calibrate_command_is_answered_and_kept_across_restarts(
    mosquitto: PrivateMosquitto, tmp_path: Path
) -> None:
    base = "cmd-calibrate"
    config = write_config(
        tmp_path / "backwatch.toml",
        host=mosquitto.host,
        port=mosquitto.port,
        base_topic=base,
        scenario="short",
        sensors=(CHEST,),
        speed=20,
    )
    returncode, reply, log = asyncio.run(_run_and_calibrate(config, mosquitto, base))
    assert returncode == 0, log[-3000:]
    assert reply["ok"] is True, reply
    assert reply["result"] == {"sensors": ["chest"]}
    with CalibrationStore.in_state_dir(tmp_path / "state") as store:
        stored = store.load("sam", "chest")
    assert stored is not None
    assert stored.orientation.source in {MountSource.CALIBRATED, MountSource.CALIBRATED_UP}

    returncode, _, log = asyncio.run(_run_and_calibrate(config, mosquitto, base))
    assert returncode == 0
    assert "sam/chest: using the stored calibrated" in log


def test_cli_calibrate_talks_to_the_running_daemon(
    mosquitto: PrivateMosquitto, tmp_path: Path
) -> None:
    base = "cli-calibrate"
    config = write_config(
        tmp_path / "backwatch.toml",
        host=mosquitto.host,
        port=mosquitto.port,
        base_topic=base,
        scenario="short",
        sensors=(CHEST,),
        speed=20,
    )

    async def scenario() -> tuple[int, str, int]:
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="watch") as client:
            await client.subscribe(f"{base}/sam/state", qos=1)
            daemon = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "monitor",
                "run",
                "--config",
                str(config),
                "--until-sources-end",
                cwd=REPO,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            async with asyncio.timeout(60):
                async for message in client.messages:
                    if json.loads(message.payload)["sample_time_s"] is not None:
                        break
            cli = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "monitor",
                "calibrate",
                "--config",
                str(config),
                "--wearer",
                "sam",
                cwd=REPO,
                stdout=asyncio.subprocess.PIPE,
            )
            out, _ = await cli.communicate()
            assert cli.returncode is not None
            return cli.returncode, out.decode(), await daemon.wait()

    cli_code, out, daemon_code = asyncio.run(scenario())
    assert cli_code == 0, out
    assert "Calibrated: chest" in out
    assert daemon_code == 0


def test_cli_calibrate_without_a_daemon_says_so(
    mosquitto: PrivateMosquitto, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "backwatch.toml",
        host=mosquitto.host,
        port=mosquitto.port,
        base_topic="nobody-home",
        scenario="short",
        sensors=(CHEST,),
        speed=20,
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor",
            "calibrate",
            "--config",
            str(config),
            "--wearer",
            "sam",
            "--timeout-s",
            "1",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 69
    expected = (
        "backwatch: no answer from backwatch within 1 s (is `backwatch run` running with "
        "base topic 'nobody-home'?)"
    )
    assert result.stderr.strip().splitlines() == [expected]
