"""The MQTT API against a real Mosquitto: commands and replies, discovery, retained state, outbox.

Phones and Home Assistant are played by plain aiomqtt clients speaking MQTT 3.1.1 or 5.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import signal
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from alerts.catalogue import default_catalogue
from alerts.commands import Calibrate as CalibrateCommand
from alerts.commands import Command as AnyCommand
from alerts.commands import (
    CommandListener,
    CommandName,
    ErrorCode,
    Outcome,
    calibrate_result,
    serve_commands,
)
from alerts.discovery import DiscoveryAnnouncer, DiscoverySensor, DiscoveryWearer
from alerts.mqtt import MqttConnection, MqttPublisher
from alerts.nudge import Nudge, NudgeKind, Severity
from alerts.policy import DeliveryPolicy, PolicyRules
from alerts.state import WearerState
from alerts.store import AlertStore
from alerts.topics import Topics
from monitor.broker import PrivateMosquitto
from tests.fakes import FakeClock
from tests.json_schema import errors, load_schema

GUARD_S = 30.0
"""Upper bound on any wait; only hit when something is broken (never a timing assertion)."""

NOW = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
WEARERS = ("alex", "sam")


def unique_topics() -> Topics:
    return Topics(f"bwapi/{uuid.uuid4().hex[:10]}")


def text(message: aiomqtt.Message) -> str:
    assert isinstance(message.payload, bytes)
    return message.payload.decode("utf-8")


async def next_message(client: aiomqtt.Client) -> aiomqtt.Message:
    return await asyncio.wait_for(anext(client.messages), timeout=GUARD_S)


async def wait_until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(GUARD_S):
        while not condition():
            await asyncio.sleep(0.01)


def v5_properties(response_topic: str, correlation: bytes) -> Properties:
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.ResponseTopic = response_topic
    properties.CorrelationData = correlation
    return properties


def other_commands(command: AnyCommand) -> Outcome:
    """What the daemon would do with calibrate and declare_load (here: accept calibrate)."""
    if isinstance(command, CalibrateCommand):
        return Outcome.ok(
            calibrate_result(["chest"] if command.sensor is None else [command.sensor])
        )
    return Outcome.failed(ErrorCode.UNAVAILABLE, "no lifting evaluation in this test")


@dataclass
class Backwatch:
    """The alerts side as the daemon wires it: store, policy, publisher, listener, discovery."""

    topics: Topics
    store: AlertStore
    policy: DeliveryPolicy
    publisher: MqttPublisher
    listener: CommandListener
    discovery: DiscoveryAnnouncer


@contextlib.asynccontextmanager
async def running_backwatch(
    broker: PrivateMosquitto,
    topics: Topics,
    db: Path,
    *,
    wearers: tuple[DiscoveryWearer, ...] = (
        DiscoveryWearer("alex", (DiscoverySensor("chest", "trunk"),)),
        DiscoveryWearer("sam"),
    ),
    prefix: str = "homeassistant",
) -> AsyncIterator[Backwatch]:
    clock = FakeClock(NOW)
    store = AlertStore.open(db)
    counter = itertools.count(1)
    policy = DeliveryPolicy(
        default_catalogue(),
        clock,
        {},
        600.0,
        new_id=lambda: f"{uuid.uuid4().hex[:8]}n{next(counter)}",
        rules=PolicyRules(timezone=UTC),
        store=store,
    )
    publisher = MqttPublisher(
        MqttConnection(broker.host, broker.port),
        topics,
        outbox=store.outbox,
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
    )
    listener = CommandListener(publisher, clock, wearers=[w.name for w in wearers])
    discovery = DiscoveryAnnouncer(
        publisher, store, clock, wearers, prefix=prefix, max_delay_s=0.0, sw_version="test"
    )
    try:
        async with publisher:
            server = asyncio.create_task(
                serve_commands(listener, policy, publisher, other_commands)
            )
            try:
                await publisher.wait_connected(GUARD_S)
                yield Backwatch(topics, store, policy, publisher, listener, discovery)
                await publisher.flush(GUARD_S)
            finally:
                server.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await server
    finally:
        store.close()


def check_reply(message: aiomqtt.Message) -> dict[str, Any]:
    reply: dict[str, Any] = json.loads(text(message))
    assert errors(reply, load_schema("reply")) == []
    if reply["ok"]:
        assert errors(reply["result"], load_schema(f"result_{reply['command']}")) == []
    assert not message.retain
    return reply


def test_commands_from_a_311_phone_get_replies_and_nudges(
    mosquitto: PrivateMosquitto, tmp_path: Path
) -> None:
    topics = unique_topics()

    async def run() -> tuple[dict[str, Any], list[Nudge], dict[str, Any], dict[str, Any]]:
        async with aiomqtt.Client(
            mosquitto.host, mosquitto.port, protocol=aiomqtt.ProtocolVersion.V311
        ) as phone:
            await phone.subscribe(f"{topics.base}/alex/reply/#", qos=1)
            await phone.subscribe(topics.nudge("alex"), qos=1)
            async with running_backwatch(mosquitto, topics, tmp_path / "a.db"):
                await phone.publish(
                    topics.command("alex", "report_cramp"), b'{"request_id": "r-1"}', qos=1
                )
                cramp: dict[str, Any] = {}
                nudges: list[Nudge] = []
                while not cramp:
                    message = await next_message(phone)
                    if message.topic.matches(topics.nudge("alex")):
                        nudges.append(Nudge.from_json(text(message)))
                    else:
                        cramp = check_reply(message)
                await phone.publish(
                    topics.command("alex", "report_symptoms"),
                    json.dumps({"symptoms": ["leg_weakness"]}),
                    qos=1,
                )
                red_flag = Nudge.from_json(text(await next_message(phone)))
                nudges.append(red_flag)
                symptoms = check_reply(await next_message(phone))
                await phone.publish(
                    topics.command("alex", "acknowledge"),
                    json.dumps({"nudge_id": red_flag.id}),
                    qos=1,
                )
                ack = check_reply(await next_message(phone))
        return cramp, nudges, symptoms, ack

    cramp, nudges, symptoms, ack = asyncio.run(run())
    assert cramp["ok"]
    assert (cramp["command"], cramp["wearer"], cramp["request_id"]) == (
        "report_cramp",
        "alex",
        "r-1",
    )
    assert [n.id for n in nudges[:2]] == cramp["result"]["nudge_ids"]
    assert [n.kind for n in nudges[:2]] == [NudgeKind.RELIEF, NudgeKind.RELIEF]
    assert (nudges[2].kind, nudges[2].severity) == (NudgeKind.RED_FLAG, Severity.URGENT)
    assert symptoms["result"]["nudge_id"] == nudges[2].id
    assert symptoms["result"]["advice"] == "seek_care_now"
    assert ack["result"]["stopped_escalation"] is True
    for nudge in nudges:
        assert errors(json.loads(nudge.to_json()), load_schema("nudge")) == []


def test_a_v5_client_gets_its_reply_on_its_response_topic(
    mosquitto: PrivateMosquitto, tmp_path: Path
) -> None:
    topics = unique_topics()
    inbox = f"phones/{uuid.uuid4().hex[:8]}/inbox"

    async def run() -> list[tuple[dict[str, Any], bytes | None, str]]:
        async with aiomqtt.Client(
            mosquitto.host, mosquitto.port, protocol=aiomqtt.ProtocolVersion.V5
        ) as phone:
            await phone.subscribe(inbox, qos=1)
            async with running_backwatch(mosquitto, topics, tmp_path / "a.db"):
                sends = [
                    ("snooze", b'{"minutes": 45, "kind": "hydration"}', b"\x00corr-1"),
                    ("calibrate", b"", b"corr-2"),
                    ("declare_load", b'{"load_kg": 10}', b"corr-3"),
                    ("snooze", b'{"minutes": "soon"}', b"corr-4"),
                ]
                got = []
                for command, payload, correlation in sends:
                    await phone.publish(
                        topics.command("alex", command),
                        payload,
                        qos=1,
                        properties=v5_properties(inbox, correlation),
                    )
                    message = await next_message(phone)
                    properties = message.properties
                    got.append(
                        (
                            check_reply(message),
                            getattr(properties, "CorrelationData", None),
                            message.topic.value,
                        )
                    )
        return got

    got = asyncio.run(run())
    assert [topic for _r, _c, topic in got] == [inbox] * 4
    assert [c for _r, c, _t in got] == [b"\x00corr-1", b"corr-2", b"corr-3", b"corr-4"]
    snooze, calibrate, load, bad = (r for r, _c, _t in got)
    assert snooze["result"]["kind"] == "hydration"
    assert snooze["result"]["until"] == "2024-05-01T09:45:00Z"
    assert calibrate["result"] == {"sensors": ["chest"]}
    assert (load["ok"], load["error"]["code"]) == (False, "unavailable")
    assert (bad["ok"], bad["error"]["code"]) == (False, "invalid_fields")


def test_bad_input_of_each_kind_is_answered_logged_and_changes_nothing(
    mosquitto: PrivateMosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    topics = unique_topics()
    base = topics.base
    cmd, reply = f"{base}/alex/cmd", f"{base}/alex/reply"
    big = b'{"minutes": 3' + b" " * 2000 + b"}"
    bad = [
        (f"{cmd}/snooze", b'{"minutes": 30', False, f"{reply}/snooze", "invalid_json"),
        (f"{cmd}/dance", b"{}", False, f"{reply}/dance", "unknown_command"),
        (f"{cmd}/snooze", b'{"minutes": "30"}', False, f"{reply}/snooze", "invalid_fields"),
        (f"{cmd}/snooze", big, False, f"{reply}/snooze", "payload_too_large"),
        (f"{cmd}/snooze", b"\xfe\xff", False, f"{reply}/snooze", "not_utf8"),
        (f"{cmd}/snooze", b"[]", False, f"{reply}/snooze", "not_an_object"),
        (f"{base}/al ex/cmd/snooze", b"{}", False, f"{base}/error", "invalid_topic"),
        (f"{cmd}/snooze/x", b"{}", False, f"{reply}/error", "invalid_topic"),
        (f"{base}/kim/cmd/snooze", b"{}", False, f"{base}/kim/reply/snooze", "unknown_wearer"),
        (f"{cmd}/report_cramp", b"{}", True, f"{reply}/report_cramp", "retained"),
        (f"{cmd}/calibrate", b'{"sensor": "a/#"}', False, f"{reply}/calibrate", "invalid_fields"),
    ]
    caplog.set_level(logging.WARNING, logger="alerts.commands")

    async def run() -> tuple[list[tuple[str, str]], int, int]:
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as phone:
            await phone.subscribe(f"{base}/+/reply/#", qos=1)
            await phone.subscribe(topics.error, qos=1)
            await phone.subscribe(f"{base}/+/nudge", qos=1)
            async with running_backwatch(mosquitto, topics, tmp_path / "a.db") as bw:
                got = []
                for topic, payload, retain, _reply_topic, _code in bad:
                    await phone.publish(topic, payload, qos=1, retain=retain)
                    message = await next_message(phone)
                    got.append((message.topic.value, check_reply(message)["error"]["code"]))
                # Clear the retained command so it does not outlive the test.
                await phone.publish(f"{base}/alex/cmd/report_cramp", b"", qos=1, retain=True)
                await bw.publisher.flush(GUARD_S)
                changed = (
                    len(bw.store.nudges_of("alex")) + len(bw.store.reports("alex"))
                    + len(bw.policy.snoozes("alex"))
                )  # fmt: skip
                rejected = bw.listener.rejected_count
        return got, changed, rejected

    got, changed, rejected = asyncio.run(run())
    assert got == [(reply_topic, code) for _t, _p, _r, reply_topic, code in bad]
    assert changed == 0
    # One more refusal: the empty retained message that cleared the retained command.
    assert rejected == len(bad) + 1
    refusals = [r for r in caplog.records if r.getMessage().startswith("refused MQTT command")]
    assert len(refusals) == len(bad) + 1
    assert all(r.levelno == logging.WARNING for r in refusals)


command_topics = st.sampled_from([*CommandName, "bogus", "snooze/x"])
fuzz_payloads = st.one_of(
    st.binary(max_size=40),
    st.dictionaries(
        st.sampled_from(["minutes", "kind", "nudge_id", "symptoms", "load_kg", "start", "x"]),
        st.one_of(st.none(), st.booleans(), st.integers(-5, 2000), st.text(max_size=8)),
        max_size=3,
    ).map(lambda d: json.dumps(d).encode()),
)


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(st.tuples(command_topics, fuzz_payloads), min_size=15, max_size=25))
def test_fuzzed_commands_on_every_topic_each_get_one_reply(
    mosquitto: PrivateMosquitto,
    tmp_path_factory: pytest.TempPathFactory,
    batch: list[tuple[str, bytes]],
) -> None:
    topics = unique_topics()
    inbox = f"fuzz/{uuid.uuid4().hex[:8]}"
    db = tmp_path_factory.mktemp("fuzz") / "a.db"

    async def run() -> tuple[dict[bytes, dict[str, Any]], bool]:
        async with aiomqtt.Client(
            mosquitto.host, mosquitto.port, protocol=aiomqtt.ProtocolVersion.V5
        ) as phone:
            await phone.subscribe(inbox, qos=1)
            async with running_backwatch(mosquitto, topics, db) as bw:
                for index, (command, payload) in enumerate(batch):
                    await phone.publish(
                        f"{topics.base}/alex/cmd/{command}",
                        payload,
                        qos=1,
                        properties=v5_properties(inbox, f"{index}".encode()),
                    )
                replies: dict[bytes, dict[str, Any]] = {}
                while len(replies) < len(batch):
                    message = await next_message(phone)
                    correlation = getattr(message.properties, "CorrelationData", b"")
                    assert correlation not in replies
                    replies[correlation] = check_reply(message)
                alive = bw.publisher.connected
        return replies, alive

    replies, alive = asyncio.run(run())
    assert alive
    assert sorted(replies) == sorted(f"{i}".encode() for i in range(len(batch)))


def test_discovery_is_announced_again_when_home_assistant_comes_online(
    mosquitto: PrivateMosquitto, tmp_path: Path
) -> None:
    topics = unique_topics()
    prefix = f"ha{uuid.uuid4().hex[:8]}"

    async def run() -> tuple[int, dict[str, bytes], dict[str, bytes], int]:
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as home_assistant:
            await home_assistant.subscribe(f"{prefix}/+/+/+/config", qos=1)
            async with running_backwatch(mosquitto, topics, tmp_path / "a.db", prefix=prefix) as bw:
                count = len(bw.discovery.configs)
                first: dict[str, Any] = {}
                while len(first) < count:
                    message = await next_message(home_assistant)
                    first[message.topic.value] = message.payload
                await home_assistant.publish(f"{prefix}/status", b"online", qos=1)
                again: dict[str, Any] = {}
                while len(again) < count:
                    message = await next_message(home_assistant)
                    again[message.topic.value] = message.payload
                announcements = bw.discovery.announcements
        return count, first, again, announcements

    count, first, again, announcements = asyncio.run(run())
    assert count == 2 * 25 + 3
    assert again == first
    assert announcements == 2
    for topic, payload in first.items():
        assert isinstance(payload, bytes)
        platform = topic.split("/")[1]
        assert errors(json.loads(payload), load_schema(f"ha_{platform}")) == []


def test_a_removed_sensor_and_wearer_are_retracted(
    mosquitto: PrivateMosquitto, tmp_path: Path
) -> None:
    topics = unique_topics()
    prefix = f"ha{uuid.uuid4().hex[:8]}"
    db = tmp_path / "a.db"
    full = (
        DiscoveryWearer(
            "alex", (DiscoverySensor("chest", "trunk"), DiscoverySensor("leg", "thigh"))
        ),
        DiscoveryWearer("sam"),
    )
    fewer = (DiscoveryWearer("alex", (DiscoverySensor("chest", "trunk"),)),)

    async def retained_configs() -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as late:
            await late.subscribe(f"{prefix}/#", qos=1)
            with contextlib.suppress(TimeoutError):
                while True:  # retained messages arrive at once; then it goes quiet
                    message = await asyncio.wait_for(anext(late.messages), timeout=1.0)
                    assert isinstance(message.payload, bytes)
                    found[message.topic.value] = message.payload
        return found

    async def run() -> tuple[dict[str, bytes], dict[str, bytes]]:
        async with running_backwatch(mosquitto, topics, db, wearers=full, prefix=prefix):
            pass
        before = await retained_configs()
        async with running_backwatch(mosquitto, topics, db, wearers=fewer, prefix=prefix):
            pass
        return before, await retained_configs()

    before, after = asyncio.run(run())
    assert len(before) == 2 * 25 + 2 * 3
    assert len(after) == 25 + 3
    assert set(after) < set(before)
    assert not [t for t in after if "_sam" in t or "_alex_leg" in t]
    with AlertStore.open(db) as store:
        assert set(store.announced()) == set(after)


def test_retained_state_is_back_after_the_broker_lost_it(tmp_path: Path) -> None:
    topics = unique_topics()
    state = WearerState(
        activity="sitting",
        trunk_flexion_deg=10.0,
        sitting_bout_s=600.0,
        sitting_today_s=3600.0,
        sample_time_s=1.0,
        updated=NOW,
        steps_today=1234,
    )

    async def late_look(broker: PrivateMosquitto, topic: str) -> str:
        async with aiomqtt.Client(broker.host, broker.port) as late:
            await late.subscribe(topic, qos=1)
            message = await next_message(late)
            assert message.retain
            return text(message)

    async def run(broker: PrivateMosquitto) -> tuple[str, str, int]:
        async with running_backwatch(broker, topics, tmp_path / "a.db") as bw:
            bw.publisher.publish_state("alex", state)
            await bw.publisher.flush(GUARD_S)
            announcements = bw.discovery.announcements
            await asyncio.to_thread(broker.restart)  # no persistence: retained state is gone
            await wait_until(lambda: bw.discovery.announcements > announcements)
            await bw.publisher.wait_connected(GUARD_S)
            await bw.publisher.flush(GUARD_S)
            seen_state = await late_look(broker, topics.state("alex"))
            seen_status = await late_look(broker, topics.availability)
            discovery = sum(1 for c in bw.discovery.configs if c.wearer == "alex")
        return seen_state, seen_status, discovery

    with PrivateMosquitto(persistence=False) as broker:
        seen_state, seen_status, discovery = asyncio.run(run(broker))
    assert seen_state == state.to_json()
    assert json.loads(seen_state)["steps_today"] == 1234
    assert errors(json.loads(seen_state), load_schema("state")) == []
    assert seen_status == "online"
    assert discovery == 25 + 3


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import UTC, datetime
    from pathlib import Path
    from alerts.mqtt import MqttConnection, MqttPublisher
    from alerts.nudge import Nudge, NudgeKind, Severity
    from alerts.store import AlertStore
    from alerts.topics import Topics

    async def main() -> None:
        port, base, db = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
        store = AlertStore.open(db)
        publisher = MqttPublisher(
            MqttConnection("127.0.0.1", port), Topics(base), outbox=store.outbox,
            backoff_initial_s=0.05, backoff_max_s=0.2,
        )
        async with publisher:
            for number in range(4):
                publisher.publish_nudge(Nudge(
                    id=f"child{number}", time=datetime(2024, 5, 1, tzinfo=UTC), wearer="alex",
                    kind=NudgeKind.SITTING, severity=Severity.ADVICE, title="Stand up",
                    message=f"Nudge {number}.", guideline="test", evidence={},
                    event_start_s=float(number), event_end_s=float(number),
                ))
            sys.stdout.write(f"queued {publisher.pending_count}\\n")
            sys.stdout.flush()
            await asyncio.Event().wait()

    asyncio.run(main())
    """
)


def test_the_outbox_survives_a_killed_publisher(tmp_path: Path) -> None:
    topics = unique_topics()
    db = tmp_path / "alerts.db"
    phone_id = f"phone-{uuid.uuid4().hex[:8]}"

    async def run(broker: PrivateMosquitto) -> tuple[list[str], int, list[str]]:
        await asyncio.to_thread(broker.stop)  # the broker is away while nudges are decided
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD, str(broker.port), topics.base, str(db),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert child.stdout is not None
            line = await asyncio.wait_for(child.stdout.readline(), timeout=GUARD_S)
            assert line == b"queued 4\n"
            child.send_signal(signal.SIGKILL)
            await child.wait()
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
        with AlertStore.open(db) as store:
            left = [item.topic for item in store.outbox.pending()]
        await asyncio.to_thread(broker.start)
        async with aiomqtt.Client(broker.host, broker.port, identifier=phone_id) as phone:
            await phone.subscribe(topics.nudge("alex"), qos=1)
            store = AlertStore.open(db)
            try:
                publisher = MqttPublisher(
                    MqttConnection(broker.host, broker.port), topics, outbox=store.outbox
                )
                waiting = publisher.pending_count
                async with publisher:
                    await publisher.flush(GUARD_S)
                received = [Nudge.from_json(text(await next_message(phone))).id for _ in range(4)]
                assert store.outbox.pending() == []
            finally:
                store.close()
        return left, waiting, received

    with PrivateMosquitto() as broker:
        left, waiting, received = asyncio.run(run(broker))
    assert left == [topics.nudge("alex")] * 4
    assert waiting == 4
    assert received == ["child0", "child1", "child2", "child3"]
