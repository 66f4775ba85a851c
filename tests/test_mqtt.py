"""MQTT publisher against a real Mosquitto: will, delivery, retained state, schemas, outages.

Covers availability (``online`` retained, ``offline`` as last will and on clean exit), a nudge
arriving exactly once with its JSON, retained state for late subscribers, payloads checked
against alerts/schemas, and nothing lost or reordered across a restart, a crash or a hang.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import textwrap
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import aiomqtt
import pytest
from pydantic import SecretStr

from alerts.events import EventType, Observation
from alerts.mqtt import (
    MqttConfigError,
    MqttConnection,
    MqttPublisher,
    MqttUnavailable,
    observation_json,
)
from alerts.nudge import Nudge, NudgeKind, Severity
from alerts.state import SensorStatus, WearerState
from alerts.topics import Topics
from monitor.broker import PrivateMosquitto, free_loopback_port
from tests.json_schema import errors, load_schema

GUARD_S = 30.0
"""Upper bound on any wait; only hit when something is broken (never a timing assertion)."""

NOW = datetime(2024, 5, 1, 9, 31, tzinfo=UTC)


def unique_topics() -> Topics:
    return Topics(f"bwtest/{uuid.uuid4().hex[:12]}")


def connect_to(broker: PrivateMosquitto, client_id: str | None = None) -> MqttConnection:
    return MqttConnection(host=broker.host, port=broker.port, client_id=client_id)


def make_nudge(number: int, wearer: str = "alex") -> Nudge:
    return Nudge(
        id=uuid.uuid4().hex,
        time=NOW,
        wearer=wearer,
        kind=NudgeKind.SITTING,
        severity=Severity.ADVICE,
        title="Time to stand up",
        message=f"You have been sitting for {30 + number} minutes.",
        guideline="ADA 2016 / Dunstan 2012",
        evidence={"bout_min": 30.0 + number},
        event_start_s=1000.0 * number,
        event_end_s=1000.0 * number + 1800.0,
    )


def make_state(bout_s: float) -> WearerState:
    return WearerState(
        activity="sitting",
        trunk_flexion_deg=12.5,
        sitting_bout_s=bout_s,
        sitting_today_s=3600.0 + bout_s,
        sample_time_s=1_714_555_860.0,
        updated=NOW,
    )


async def next_message(client: aiomqtt.Client) -> aiomqtt.Message:
    return await asyncio.wait_for(anext(client.messages), timeout=GUARD_S)


async def collect_until(
    client: aiomqtt.Client, done: Callable[[aiomqtt.Message], bool]
) -> list[aiomqtt.Message]:
    messages = []
    while True:
        message = await next_message(client)
        messages.append(message)
        if done(message):
            return messages


async def wait_until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(GUARD_S):
        while not condition():
            await asyncio.sleep(0.01)


def text(message: aiomqtt.Message) -> str:
    assert isinstance(message.payload, bytes)
    return message.payload.decode("utf-8")


def is_offline(topics: Topics) -> Callable[[aiomqtt.Message], bool]:
    return lambda m: m.topic.value == topics.availability and text(m) == "offline"


def test_nudge_arrives_exactly_once_with_its_json(mosquitto: PrivateMosquitto) -> None:
    topics = unique_topics()
    nudge = make_nudge(1)

    async def run() -> list[aiomqtt.Message]:
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as phone:
            await phone.subscribe(f"{topics.base}/#", qos=1)
            async with MqttPublisher(connect_to(mosquitto), topics) as publisher:
                publisher.publish_nudge(nudge)
            # A clean exit sends "offline" after everything queued before it.
            return await collect_until(phone, is_offline(topics))

    messages = asyncio.run(run())
    seen = [(m.topic.value, text(m)) for m in messages]
    assert seen == [
        (topics.availability, "online"),
        (topics.nudge("alex"), nudge.to_json()),
        (topics.availability, "offline"),
    ]
    nudge_message = messages[1]
    assert nudge_message.qos == 1
    assert not nudge_message.retain
    assert errors(json.loads(text(nudge_message)), load_schema("nudge")) == []
    assert Nudge.from_json(text(nudge_message)) == nudge


def test_state_is_retained_for_a_late_subscriber(mosquitto: PrivateMosquitto) -> None:
    topics = unique_topics()
    final_state = make_state(1500.0)

    async def run() -> tuple[aiomqtt.Message, aiomqtt.Message]:
        async with MqttPublisher(connect_to(mosquitto), topics) as publisher:
            publisher.publish_state("alex", make_state(1200.0))
            publisher.publish_state("alex", final_state)
            await publisher.flush(GUARD_S)
            assert publisher.pending_count == 0
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as late:
            await late.subscribe(topics.state("alex"), qos=1)
            state = await next_message(late)
            await late.subscribe(topics.availability, qos=1)
            availability = await next_message(late)
        return state, availability

    state, availability = asyncio.run(run())
    assert state.retain
    assert text(state) == final_state.to_json()
    assert errors(json.loads(text(state)), load_schema("state")) == []
    assert WearerState.from_json(text(state)) == final_state
    assert availability.retain
    assert text(availability) == "offline"


def test_event_and_sensor_status_payloads(mosquitto: PrivateMosquitto) -> None:
    topics = unique_topics()
    observation = Observation(
        "alex", EventType.SITTING_BOUT, 100.0, 1960.0, {"bout_s": 1860.0, "limit_s": 1800.0}
    )
    status = SensorStatus(connected=True, battery_pct=87.0, rate_hz=52.0, updated=NOW)

    async def run() -> dict[str, aiomqtt.Message]:
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as watcher:
            await watcher.subscribe(f"{topics.base}/alex/#", qos=1)
            async with MqttPublisher(connect_to(mosquitto), topics) as publisher:
                publisher.publish_event(observation)
                publisher.publish_sensor_status("alex", "chest", status)
                await publisher.flush(GUARD_S)
            got: dict[str, aiomqtt.Message] = {}
            while len(got) < 2:
                message = await next_message(watcher)
                got[message.topic.value] = message
            return got

    got = asyncio.run(run())
    event = json.loads(text(got[topics.event("alex")]))
    assert event == {
        "wearer": "alex",
        "type": "sitting_bout",
        "start_s": 100.0,
        "end_s": 1960.0,
        "evidence": {"bout_s": 1860.0, "limit_s": 1800.0},
        "labels": {},
    }
    assert errors(event, load_schema("event")) == []
    assert not got[topics.event("alex")].retain
    sensor = got[topics.sensor_status("alex", "chest")]
    assert json.loads(text(sensor)) == {
        "connected": True,
        "battery_pct": 87.0,
        "rate_hz": 52.0,
        "updated": "2024-05-01T09:31:00Z",
        "link": None,
        "last_seen": None,
        "counters": {},
    }
    assert errors(json.loads(text(sensor)), load_schema("sensor_status")) == []


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from alerts.mqtt import MqttConnection, MqttPublisher
    from alerts.topics import Topics

    async def main() -> None:
        host, port, base = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        async with MqttPublisher(MqttConnection(host, port), Topics(base)) as publisher:
            await publisher.wait_connected(30)
            sys.stdout.write("connected\\n")
            sys.stdout.flush()
            await asyncio.Event().wait()

    asyncio.run(main())
    """
)


def test_online_retained_and_last_will_offline_when_the_process_dies(
    mosquitto: PrivateMosquitto,
) -> None:
    topics = unique_topics()

    async def run() -> tuple[list[str], aiomqtt.Message]:
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as watcher:
            await watcher.subscribe(topics.availability, qos=1)
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                CHILD,
                mosquitto.host,
                str(mosquitto.port),
                topics.base,
                stdout=asyncio.subprocess.PIPE,
            )
            try:
                assert child.stdout is not None
                line = await asyncio.wait_for(child.stdout.readline(), timeout=GUARD_S)
                assert line == b"connected\n"
                online = await next_message(watcher)
                async with aiomqtt.Client(mosquitto.host, mosquitto.port) as late:
                    await late.subscribe(topics.availability, qos=1)
                    retained_online = await next_message(late)
                assert retained_online.retain
                child.send_signal(signal.SIGKILL)  # no clean exit: only the will can say offline
                await child.wait()
            finally:
                if child.returncode is None:
                    child.kill()
                    await child.wait()
            offline = await next_message(watcher)
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as late:
            await late.subscribe(topics.availability, qos=1)
            retained = await next_message(late)
        return [text(online), text(retained_online), text(offline)], retained

    seen, retained = asyncio.run(run())
    assert seen == ["online", "online", "offline"]
    assert retained.retain
    assert text(retained) == "offline"


def test_nothing_is_lost_across_a_broker_restart(caplog: pytest.LogCaptureFixture) -> None:
    topics = unique_topics()
    nudges = [make_nudge(i) for i in range(5)]
    phone_id = f"phone-{uuid.uuid4().hex[:8]}"
    caplog.set_level(logging.DEBUG, logger="alerts.mqtt")

    def retries() -> int:
        return sum("still unavailable" in r.getMessage() for r in caplog.records)

    async def run(broker: PrivateMosquitto) -> tuple[list[Nudge], aiomqtt.Message]:
        # A persistent session: the broker keeps the phone's subscription and queues its
        # messages across the restart, whoever reconnects first.
        async with aiomqtt.Client(
            broker.host, broker.port, identifier=phone_id, clean_session=False
        ) as phone:
            await phone.subscribe(topics.nudge("alex"), qos=1)
        publisher = MqttPublisher(
            connect_to(broker, "backwatch-test"), topics, backoff_initial_s=0.05, backoff_max_s=0.2
        )
        async with publisher:
            await publisher.wait_connected(GUARD_S)
            await asyncio.to_thread(broker.stop)
            await wait_until(lambda: not publisher.connected)
            for nudge in nudges:
                publisher.publish_nudge(nudge)
            for bout_s in (60.0, 120.0, 180.0):
                publisher.publish_state("alex", make_state(bout_s))
            # Five nudges and one state: a newer retained state replaces a queued one.
            assert publisher.pending_count == 6
            # Let the publisher fail to reconnect twice with all of it pending.
            failures_before = retries()
            await wait_until(lambda: retries() >= failures_before + 2)
            assert publisher.pending_count == 6
            await asyncio.to_thread(broker.start)
            await publisher.wait_connected(GUARD_S)
            await publisher.flush(GUARD_S)
            assert publisher.pending_count == 0
        async with aiomqtt.Client(
            broker.host, broker.port, identifier=phone_id, clean_session=False
        ) as phone:
            received = [Nudge.from_json(text(await next_message(phone))) for _ in nudges]
        async with aiomqtt.Client(broker.host, broker.port) as late:
            await late.subscribe(topics.state("alex"), qos=1)
            state = await next_message(late)
        return received, state

    with PrivateMosquitto(persistence=True) as broker:
        received, state = asyncio.run(run(broker))

    assert [n.id for n in received] == [n.id for n in nudges]
    assert received == nudges
    assert text(state) == make_state(180.0).to_json()
    messages = [r.getMessage() for r in caplog.records if r.name == "alerts.mqtt"]
    assert sum(m.startswith("connected to MQTT broker") for m in messages) == 1
    assert sum(m.startswith("lost connection to MQTT broker") for m in messages) == 1
    assert sum(m.startswith("reconnected to MQTT broker") for m in messages) == 1
    assert [r.levelno for r in caplog.records if "still unavailable" in r.getMessage()] == [
        logging.DEBUG
    ] * sum("still unavailable" in m for m in messages)


def test_wait_connected_raises_our_error_without_a_broker() -> None:
    port = free_loopback_port()

    async def run() -> None:
        connection = MqttConnection("127.0.0.1", port)
        async with MqttPublisher(connection, unique_topics(), drain_timeout_s=0.1) as publisher:
            publisher.publish_nudge(make_nudge(1))
            await publisher.wait_connected(timeout_s=0.5)

    with pytest.raises(MqttUnavailable, match=f"127.0.0.1:{port}"):
        asyncio.run(run())


def test_flush_raises_our_error_while_messages_wait() -> None:
    port = free_loopback_port()

    async def run() -> int:
        connection = MqttConnection("127.0.0.1", port)
        async with MqttPublisher(connection, unique_topics(), drain_timeout_s=0.1) as publisher:
            publisher.publish_nudge(make_nudge(1))
            with pytest.raises(MqttUnavailable, match="1 MQTT message"):
                await publisher.flush(timeout_s=0.3)
            return publisher.pending_count

    assert asyncio.run(run()) == 1


def test_waiting_on_a_publisher_that_is_not_running_is_refused() -> None:
    async def run() -> None:
        publisher = MqttPublisher(MqttConnection("127.0.0.1", 1883), unique_topics())
        with pytest.raises(MqttUnavailable, match="not running"):
            await publisher.wait_connected(1.0)
        publisher.publish_nudge(make_nudge(1))  # queued until it runs
        with pytest.raises(MqttUnavailable, match="not running"):
            await publisher.flush(1.0)

    asyncio.run(run())


def test_queue_bound_drops_the_oldest_and_counts(mosquitto: PrivateMosquitto) -> None:
    topics = unique_topics()
    nudges = [make_nudge(i) for i in range(5)]

    async def run() -> tuple[int, int, list[str]]:
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as phone:
            await phone.subscribe(topics.nudge("alex"), qos=1)
            publisher = MqttPublisher(connect_to(mosquitto), topics, max_pending=3)
            for nudge in nudges:  # queued before the publisher runs
                publisher.publish_nudge(nudge)
            counts = (publisher.pending_count, publisher.dropped_count)
            async with publisher:
                await publisher.flush(GUARD_S)
            ids = [Nudge.from_json(text(await next_message(phone))).id for _ in range(3)]
        return *counts, ids

    pending, dropped, ids = asyncio.run(run())
    assert (pending, dropped) == (3, 2)
    assert ids == [n.id for n in nudges[2:]]


def test_publishing_after_close_is_refused(mosquitto: PrivateMosquitto) -> None:
    async def run() -> MqttPublisher:
        async with MqttPublisher(connect_to(mosquitto), unique_topics()) as publisher:
            pass
        return publisher

    publisher = asyncio.run(run())
    with pytest.raises(MqttUnavailable, match="closing"):
        publisher.publish_nudge(make_nudge(1))


def test_password_is_never_in_repr() -> None:
    connection = MqttConnection("broker.local", 8883, username="u", password="hunter2")
    assert isinstance(connection.password, SecretStr)
    assert connection.password_text() == "hunter2"
    assert "hunter2" not in repr(connection)
    assert "hunter2" not in repr(MqttConnection("b", password=SecretStr("hunter2")))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"keepalive_s": 0}, "keepalive_s"),
        ({"host": ""}, "host"),
        ({"tls": True, "ca_file": "/nonexistent/ca.pem"}, "TLS files"),
    ],
)
def test_bad_connection_settings_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(MqttConfigError, match=field):
        MqttPublisher(MqttConnection(**{"host": "h", **changes}), Topics())


def test_observation_json_is_compact_and_stable() -> None:
    observation = Observation(
        "sam",
        EventType.LIFT,
        1.0,
        2.5,
        {"peak_flexion_deg": 71.5, "twist_deg": float("nan")},
        {"technique": "stoop", "risks": "deep_flexion,stoop"},
    )
    assert observation_json(observation) == (
        '{"wearer":"sam","type":"lift","start_s":1.0,"end_s":2.5,'
        '"evidence":{"peak_flexion_deg":71.5},'
        '"labels":{"technique":"stoop","risks":"deep_flexion,stoop"}}'
    )


def test_a_nudge_in_flight_when_the_broker_crashes_is_sent_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    topics = unique_topics()
    nudges = [make_nudge(i) for i in range(3)]
    phone_id = f"phone-{uuid.uuid4().hex[:8]}"
    caplog.set_level(logging.DEBUG, logger="alerts.mqtt")

    def retries() -> int:
        return sum("still unavailable" in r.getMessage() for r in caplog.records)

    async def run(broker: PrivateMosquitto) -> list[Nudge]:
        async with aiomqtt.Client(
            broker.host, broker.port, identifier=phone_id, clean_session=False
        ) as phone:
            await phone.subscribe(topics.nudge("alex"), qos=1)
        await asyncio.to_thread(broker.restart)  # a clean stop saves the phone's session
        publisher = MqttPublisher(
            connect_to(broker), topics, backoff_initial_s=0.05, backoff_max_s=0.2
        )
        async with publisher:
            await publisher.wait_connected(GUARD_S)
            broker.freeze()  # PUBLISH reaches the socket, PUBACK never comes
            for nudge in nudges:
                publisher.publish_nudge(nudge)
            await asyncio.sleep(0.2)  # lets the first nudge go out (not a condition we assert)
            await asyncio.to_thread(broker.kill)  # what the broker had read is gone
            await wait_until(lambda: not publisher.connected)
            await wait_until(lambda: retries() >= 2)
            assert publisher.pending_count == 3
            await asyncio.to_thread(broker.start)
            await publisher.flush(GUARD_S)
        async with aiomqtt.Client(
            broker.host, broker.port, identifier=phone_id, clean_session=False
        ) as phone:
            return [Nudge.from_json(text(await next_message(phone))) for _ in nudges]

    with PrivateMosquitto(persistence=True) as broker:
        received = asyncio.run(run(broker))
    assert [n.id for n in received] == [n.id for n in nudges]


def test_a_hung_broker_delays_but_loses_and_reorders_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    topics = unique_topics()
    nudges = [make_nudge(i) for i in range(3)]
    expected_ids = [n.id for n in nudges]
    caplog.set_level(logging.DEBUG, logger="alerts.mqtt")

    def retries() -> int:
        return sum("still unavailable" in r.getMessage() for r in caplog.records)

    async def run(broker: PrivateMosquitto) -> tuple[list[str], str]:
        async with aiomqtt.Client(broker.host, broker.port) as phone:
            await phone.subscribe(topics.nudge("alex"), qos=1)
            publisher = MqttPublisher(
                connect_to(broker),
                topics,
                backoff_initial_s=0.05,
                backoff_max_s=0.2,
                publish_timeout_s=0.5,
            )
            async with publisher:
                await publisher.wait_connected(GUARD_S)
                broker.freeze()
                try:
                    for nudge in nudges:
                        publisher.publish_nudge(nudge)
                    await wait_until(lambda: not publisher.connected)
                    await wait_until(lambda: retries() >= 2)  # attempts that never got CONNACK
                    assert publisher.pending_count == 3
                finally:
                    broker.thaw()
                await publisher.flush(GUARD_S)
                received: list[str] = []
                while set(received) != set(expected_ids):
                    received.append(Nudge.from_json(text(await next_message(phone))).id)
                async with aiomqtt.Client(broker.host, broker.port) as late:
                    await late.subscribe(topics.availability, qos=1)
                    availability = text(await next_message(late))
        return received, availability

    with PrivateMosquitto() as broker:
        received, availability = asyncio.run(run(broker))
    # At least once: the nudge in flight when the broker hung may arrive twice, never out of order.
    first_seen = list(dict.fromkeys(received))
    assert first_seen == expected_ids
    assert len(received) <= len(expected_ids) + 1
    assert availability == "online"


class _Activity(StrEnum):
    SITTING = "sitting"


@dataclass(frozen=True, slots=True)
class _Status:
    activity: _Activity
    trunk_flexion_deg: float | None
    sitting_bout_s: float
    sample_time_s: float | None


def test_state_from_an_evaluation_status() -> None:
    status = _Status(_Activity.SITTING, float("nan"), 1860.0, 1_714_555_860.0)
    state = WearerState.from_status(status, NOW, sitting_today_s=7200.0)
    document = json.loads(state.to_json())
    assert document == {
        "activity": "sitting",
        "trunk_flexion_deg": None,
        "sitting_bout_s": 1860.0,
        "sitting_today_s": 7200.0,
        "sample_time_s": 1_714_555_860.0,
        "updated": "2024-05-01T09:31:00Z",
        "slouching": None,
        "lifts_today": None,
        "risky_lifts_today": None,
        "steps_today": None,
        "relief_plan": None,
    }
    assert errors(document, load_schema("state")) == []
    unknown = WearerState.from_status(_Status(_Activity.SITTING, None, 0.0, None), NOW)
    assert unknown.sitting_today_s is None
    assert unknown.sample_time_s is None
