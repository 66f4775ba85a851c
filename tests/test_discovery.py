"""Home Assistant discovery payloads against the per-platform schemas written from HA's docs.

Checks every payload (required and allowed keys, types), the discovery topic format
``<prefix>/<platform>/<node_id>/<object_id>/config`` with ids of ``[a-zA-Z0-9_-]``, unique
ids, that templates only read fields the payload schemas define, and that every button
sends a command backwatch accepts.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest

from alerts.commands import parse_request
from alerts.discovery import (
    DiscoverySensor,
    DiscoveryWearer,
    Platform,
    discovery_configs,
)
from alerts.mqtt import InboundMessage
from alerts.nudge import NudgeKind
from alerts.topics import TopicError, Topics
from tests.json_schema import errors, load_schema

WEARERS = [
    DiscoveryWearer("alex", (DiscoverySensor("chest", "trunk"), DiscoverySensor("leg", "thigh"))),
    DiscoveryWearer("sam-2", (DiscoverySensor("belt", "waist"),)),
]
TOPIC_RE = (
    r"^{prefix}/(sensor|binary_sensor|button|event)/([a-zA-Z0-9_-]+)/([a-zA-Z0-9_-]+)/config$"
)
FIELD_RE = re.compile(r"value_json\.([a-z_][a-z0-9_]*)")


@pytest.mark.parametrize(("base", "prefix"), [("backwatch", "homeassistant"), ("home/bw", "ha")])
def test_every_payload_fits_its_platform_schema(base: str, prefix: str) -> None:
    configs = discovery_configs(Topics(base), WEARERS, prefix=prefix, sw_version="1.2.3")
    schemas = {p: load_schema(f"ha_{p.value}") for p in Platform}
    pattern = re.compile(TOPIC_RE.format(prefix=re.escape(prefix)))
    for config in configs:
        payload = json.loads(config.to_json())
        assert errors(payload, schemas[config.platform]) == [], config.topic
        match = pattern.fullmatch(config.topic)
        assert match is not None, config.topic
        assert match.group(1) == config.platform.value
        assert payload["unique_id"] == f"{match.group(2)}_{match.group(3)}"
        assert payload["availability"][0] == {"topic": f"{base}/status"}
        assert payload["origin"] == {"name": "backwatch", "sw_version": "1.2.3"}
    assert len({c.topic for c in configs}) == len(configs)
    assert len({json.loads(c.to_json())["unique_id"] for c in configs}) == len(configs)


def test_entities_per_wearer_and_per_sensor() -> None:
    configs = discovery_configs(Topics(), WEARERS, sw_version="1")
    per_device = Counter((c.wearer, c.sensor, c.platform) for c in configs)
    assert per_device[("alex", None, Platform.SENSOR)] == 8 + 10  # state, daily summary
    assert per_device[("alex", None, Platform.BINARY_SENSOR)] == 2
    assert per_device[("alex", None, Platform.EVENT)] == 1
    assert per_device[("alex", None, Platform.BUTTON)] == 4
    for sensor in ("chest", "leg"):
        assert per_device[("alex", sensor, Platform.SENSOR)] == 2
        assert per_device[("alex", sensor, Platform.BINARY_SENSOR)] == 1
    names = {
        json.loads(c.to_json())["name"] for c in configs if c.wearer == "alex" and c.sensor is None
    }
    assert names == {
        "Activity",
        "Trunk flexion",
        "Current sitting bout",
        "Sitting today",
        "Lifts today",
        "Risky lifts today",
        "Steps today",
        "Relief plan",
        "Sitting too long",
        "Slouching",
        "Nudge",
        "Back cramp",
        "Snooze 30 min",
        "I'm OK",
        "Calibrate",
        "Day: sitting",
        "Day: sitting bouts past the limit",
        "Day: longest sitting bout",
        "Day: steps",
        "Day: walking",
        "Day: bent past 60°",
        "Day: lifts",
        "Day: risky lifts",
        "Week: walking",
        "Day: one thing to work on",
    }
    devices = {json.dumps(json.loads(c.to_json())["device"], sort_keys=True) for c in configs}
    assert len(devices) == 2 + 3  # one per wearer, one per sensor
    chest = next(c for c in configs if c.sensor == "chest")
    assert json.loads(chest.to_json())["device"]["via_device"] == "backwatch_alex"


def test_the_event_entity_lists_every_nudge_kind() -> None:
    event = next(
        c for c in discovery_configs(Topics(), WEARERS[:1]) if c.platform is Platform.EVENT
    )
    payload: dict[str, Any] = dict(event.payload)
    assert payload["event_types"] == [kind.value for kind in NudgeKind]
    assert payload["state_topic"] == "backwatch/alex/nudge"
    for key in ("kind", "id", "severity", "title", "message"):
        assert f"value_json.{key} | tojson" in payload["value_template"]


def test_templates_read_only_fields_the_payload_schemas_define() -> None:
    fields = {
        "backwatch/alex/state": set(load_schema("state")["properties"]),
        "backwatch/alex/nudge": set(load_schema("nudge")["properties"]),
        "backwatch/alex/summary": set(load_schema("summary")["properties"]),
        "backwatch/alex/sensor/chest/status": set(load_schema("sensor_status")["properties"]),
        "backwatch/alex/sensor/leg/status": set(load_schema("sensor_status")["properties"]),
    }
    for config in discovery_configs(Topics(), WEARERS[:1]):
        payload: dict[str, Any] = dict(config.payload)
        templates = [(payload.get("state_topic"), payload.get("value_template", ""))]
        templates += [(a["topic"], a.get("value_template", "")) for a in payload["availability"]]
        for topic, template in templates:
            used = set(FIELD_RE.findall(template))
            if used:
                assert topic in fields, config.topic
                assert used <= fields[topic] | {"phase"}, (config.topic, used)


def test_sitting_too_long_uses_the_configured_limit() -> None:
    configs = discovery_configs(Topics(), WEARERS[:1], sitting_limit_s=1200.0)
    sensor = next(c for c in configs if c.topic.endswith("/sitting_too_long/config"))
    assert ">= 1200.0 %}ON" in sensor.payload["value_template"]


def test_buttons_send_commands_backwatch_accepts() -> None:
    topics = Topics()
    buttons = [c for c in discovery_configs(topics, WEARERS) if c.platform is Platform.BUTTON]
    assert len(buttons) == 8
    for button in buttons:
        payload: dict[str, Any] = dict(button.payload)
        message = InboundMessage(
            payload["command_topic"], payload["payload_press"].encode(), retain=False
        )
        request = parse_request(topics, message, wearers={"alex", "sam-2"})
        assert request.route.wearer == button.wearer
    snooze = next(b for b in buttons if b.topic.endswith("/snooze_30_min/config"))
    assert json.loads(snooze.payload["payload_press"]) == {"minutes": 30}


def test_bad_names_are_refused() -> None:
    with pytest.raises(TopicError, match="wearer"):
        discovery_configs(Topics(), [DiscoveryWearer("al ex")])
    with pytest.raises(TopicError, match="sensor"):
        discovery_configs(Topics(), [DiscoveryWearer("alex", (DiscoverySensor("a+b", "trunk"),))])
    with pytest.raises(TopicError, match="discovery prefix"):
        discovery_configs(Topics(), WEARERS, prefix="home/assistant")
