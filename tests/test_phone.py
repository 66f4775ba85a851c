"""The two phone paths of docs/phone.md, and the docs' tables against the code.

(1) The Home Assistant blueprint: without Home Assistant here, the test holds the blueprint
to the contract it relies on (the event entity's attributes, every severity mapped, the
commands its buttons send are ones backwatch accepts). (2) A plain MQTT 3.1.1 phone client
with a persistent session gets nudges sent while it was away, fit for a notification.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt

from alerts.commands import CommandName, parse_request
from alerts.discovery import DiscoverySensor, DiscoveryWearer, discovery_configs
from alerts.guidance import GUIDANCE, GuidanceId
from alerts.mqtt import InboundMessage, MqttConnection, MqttPublisher
from alerts.nudge import TITLE_MAX_CHARS, Nudge, NudgeKind, Severity
from alerts.topics import Topics
from monitor.broker import PrivateMosquitto

REPO = Path(__file__).resolve().parent.parent
BLUEPRINT = REPO / "blueprints" / "automation" / "backwatch_nudge_to_phone.yaml"
GUARD_S = 30.0


def blueprint_text() -> str:
    return BLUEPRINT.read_text(encoding="utf-8")


def test_the_blueprint_is_an_automation_on_the_nudge_event_entity() -> None:
    text = blueprint_text()
    assert text.startswith("blueprint:\n")
    assert "\n  domain: automation\n" in text
    assert "\t" not in text
    for key in (
        "nudge_event",
        "notify_action",
        "household_notify_actions",
        "command_topic",
        "minimum_severity",
    ):
        assert f"\n    {key}:\n" in text
    assert "entity_id: !input nudge_event" in text
    assert "action: !input notify_action" in text
    assert "integration: mqtt\n              domain: event" in text
    # Urgent alerts (an unanswered fall among them) also go to each household phone.
    assert 'value_template: "{{ urgent and household | length > 0 }}"' in text
    assert 'for_each: "{{ household }}"' in text
    assert 'action: "{{ repeat.item }}"' in text


def test_the_blueprint_reads_only_attributes_the_event_entity_has() -> None:
    event = next(
        c
        for c in discovery_configs(Topics(), [DiscoveryWearer("alex")])
        if c.topic.endswith("/nudge/config")
    )
    provided = set(re.findall(r'"([a-z_]+)": \{\{', str(event.payload["value_template"])))
    used = set(re.findall(r"attributes\.([a-z_]+)", blueprint_text())) - {"get"}
    used |= set(re.findall(r"attributes\.get\('([a-z_]+)'\)", blueprint_text()))
    assert used
    assert used <= provided, used - provided


def test_every_severity_has_a_rank_and_an_interruption_level() -> None:
    text = blueprint_text()
    for block in ("severity_rank", "interruption_level"):
        section = text.split(f"\n  {block}:\n", 1)[1]
        lines = section.split("\n")[: len(Severity)]
        assert [line.split(":")[0].strip() for line in lines] == [s.value for s in Severity]
    options = re.findall(r"value: (\w+)", text)
    assert options == [s.value for s in Severity]


def test_the_blueprint_buttons_send_commands_backwatch_accepts() -> None:
    text = blueprint_text()
    prefix = "BACKWATCH_ACK_"
    assert f"trigger.event.data.action[{len(prefix)}:]" in text
    assert f'"action": "{prefix}{{{{ nudge_id }}}}"' in text
    topics = Topics()
    ack_payload = re.search(r'payload: >-\n\s+(\{"nudge_id": .*\})', text)
    assert ack_payload is not None
    nudge_id = uuid.uuid4().hex
    action = f"{prefix}{nudge_id}"
    payload = ack_payload.group(1).replace(
        "{{ trigger.event.data.action[14:] }}", action[len(prefix) :]
    )
    for command, body in (("acknowledge", payload), ("im_ok", "{}")):
        assert f'topic: "{{{{ command_topic }}}}/{command}"' in text
        message = InboundMessage(topics.command("alex", command), body.encode(), retain=False)
        request = parse_request(topics, message, wearers={"alex"})
        assert request.name is CommandName(command)
    acknowledged = parse_request(
        topics,
        InboundMessage(topics.command("alex", "acknowledge"), payload.encode(), retain=False),
    )
    assert getattr(acknowledged.command, "nudge_id", None) == nudge_id


def test_a_phone_client_gets_nudges_sent_while_it_was_away(mosquitto: PrivateMosquitto) -> None:
    topics = Topics(f"bwphone/{uuid.uuid4().hex[:8]}")
    phone_id = f"phone-{uuid.uuid4().hex[:8]}"
    entry = GUIDANCE[GuidanceId.RED_FLAG]
    sent = [
        Nudge(
            id=uuid.uuid4().hex,
            time=datetime(2024, 5, 1, 23, 30, tzinfo=UTC),
            wearer="alex",
            kind=NudgeKind.RED_FLAG,
            severity=Severity.URGENT,
            title=entry.title,
            message=entry.text,
            guideline=entry.guideline,
            evidence={"symptom_count": 1.0},
            event_start_s=1.0,
            event_end_s=1.0,
        )
        for _ in range(2)
    ]

    async def run() -> list[dict[str, object]]:
        def phone_client() -> aiomqtt.Client:
            return aiomqtt.Client(
                mosquitto.host,
                mosquitto.port,
                identifier=phone_id,
                clean_session=False,
                protocol=aiomqtt.ProtocolVersion.V311,
            )

        async with phone_client() as phone:
            await phone.subscribe(topics.nudge("alex"), qos=1)
        # The phone is away; backwatch sends.
        async with MqttPublisher(MqttConnection(mosquitto.host, mosquitto.port), topics) as pub:
            for nudge in sent:
                pub.publish_nudge(nudge)
            await pub.flush(GUARD_S)
        async with phone_client() as phone:
            received = []
            for _ in sent:
                message = await asyncio.wait_for(anext(phone.messages), timeout=GUARD_S)
                assert isinstance(message.payload, bytes)
                received.append(json.loads(message.payload))
        return received

    received = asyncio.run(run())
    assert [r["id"] for r in received] == [n.id for n in sent]
    for document in received:
        assert isinstance(document["title"], str)
        assert 0 < len(document["title"]) <= TITLE_MAX_CHARS
        assert document["severity"] == "urgent"


def test_the_command_table_in_the_docs_parses() -> None:
    text = (REPO / "docs" / "mqtt.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z_]+)` \| `(\{.*?\})`", text, flags=re.MULTILINE)
    assert sorted(name for name, _payload in rows) == sorted(c.value for c in CommandName)
    topics = Topics()
    for name, payload in rows:
        message = InboundMessage(topics.command("alex", name), payload.encode(), retain=False)
        assert parse_request(topics, message).name is CommandName(name)


def test_the_entity_tables_in_the_docs_match_discovery() -> None:
    text = (REPO / "docs" / "mqtt.md").read_text(encoding="utf-8")
    section = text.split("## Home Assistant", 1)[1].split("## Delivery guarantees", 1)[0]
    documented = set(re.findall(r"^\| [^|]+ \| [^|]+ \| `([a-z_0-9]+)` \|", section, re.MULTILINE))
    configs = discovery_configs(
        Topics(), [DiscoveryWearer("alex", (DiscoverySensor("chest", "trunk"),))]
    )
    announced = {c.topic.split("/")[-2] for c in configs}
    assert documented == announced
