"""The private Mosquitto runner: a real broker on a free loopback port, stop and restart."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiomqtt
import pytest

from monitor.broker import BrokerError, PrivateMosquitto, find_mosquitto


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


async def _round_trip(host: str, port: int, topic: str) -> bytes:
    async with aiomqtt.Client(host, port) as client:
        await client.subscribe(topic, qos=1)
        await client.publish(topic, b"ping", qos=1)
        message = await asyncio.wait_for(anext(client.messages), timeout=20)
        assert isinstance(message.payload, bytes)
        return message.payload


def test_session_broker_speaks_mqtt_and_logs(mosquitto: PrivateMosquitto) -> None:
    assert mosquitto.host == "127.0.0.1"
    assert mosquitto.running
    assert asyncio.run(_round_trip(mosquitto.host, mosquitto.port, "broker-test/ping")) == b"ping"
    log = mosquitto.log_path.read_text(encoding="utf-8")
    assert f"port {mosquitto.port}" in log
    assert "running" in log


def test_stop_refuses_connections_and_restart_keeps_the_port() -> None:
    with PrivateMosquitto() as broker:
        port = broker.port
        assert _accepts(port)
        broker.stop()
        assert not broker.running
        assert not _accepts(port)
        broker.start()
        assert broker.port == port
        assert _accepts(port)
        broker.restart()
        assert broker.port == port
        assert asyncio.run(_round_trip(broker.host, port, "broker-test/again")) == b"ping"


def test_close_removes_the_temp_directory() -> None:
    broker = PrivateMosquitto()
    with broker:
        workdir = broker.log_path.parent
        assert workdir.is_dir()
    assert not broker.running
    assert not workdir.exists()


def test_async_context_manager() -> None:
    async def run() -> bytes:
        async with PrivateMosquitto() as broker:
            return await _round_trip(broker.host, broker.port, "broker-test/async")

    assert asyncio.run(run()) == b"ping"


def test_persistence_keeps_retained_messages_across_restart() -> None:
    async def publish(broker: PrivateMosquitto) -> None:
        async with aiomqtt.Client(broker.host, broker.port) as client:
            await client.publish("broker-test/kept", b"still here", qos=1, retain=True)

    async def read(broker: PrivateMosquitto) -> bytes:
        return await _round_trip_retained(broker.host, broker.port, "broker-test/kept")

    with PrivateMosquitto(persistence=True) as broker:
        asyncio.run(publish(broker))
        broker.restart()
        assert asyncio.run(read(broker)) == b"still here"


async def _round_trip_retained(host: str, port: int, topic: str) -> bytes:
    async with aiomqtt.Client(host, port) as client:
        await client.subscribe(topic, qos=1)
        message = await asyncio.wait_for(anext(client.messages), timeout=20)
        assert message.retain
        assert isinstance(message.payload, bytes)
        return message.payload


def test_missing_executable_says_how_to_install() -> None:
    with pytest.raises(BrokerError, match="apt-get install mosquitto"):
        find_mosquitto(search_path="", fallbacks=())
    with pytest.raises(BrokerError, match="apt-get install mosquitto"):
        PrivateMosquitto(executable=Path("/nonexistent/mosquitto")).start()


def test_finds_the_installed_mosquitto() -> None:
    found = find_mosquitto()
    assert found.name == "mosquitto"
    assert found.is_file()


def test_port_before_start_is_an_error() -> None:
    with pytest.raises(BrokerError, match="not started"):
        _ = PrivateMosquitto().port


def test_freeze_hangs_mqtt_until_thawed_and_kill_crashes() -> None:
    async def connect(broker: PrivateMosquitto, timeout_s: float) -> None:
        async with aiomqtt.Client(broker.host, broker.port, timeout=timeout_s):
            pass

    with PrivateMosquitto() as broker:
        broker.freeze()
        try:
            with pytest.raises(aiomqtt.MqttError, match="timed out"):
                asyncio.run(connect(broker, 0.3))
        finally:
            broker.thaw()
        asyncio.run(connect(broker, 20.0))
        broker.freeze()
        broker.stop()  # stopping a frozen broker works too
        assert not broker.running
        broker.start()
        broker.kill()
        assert not broker.running
        assert not _accepts(broker.port)
        with pytest.raises(BrokerError, match="not running"):
            broker.freeze()
