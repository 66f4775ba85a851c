"""Home Assistant MQTT discovery: one device per wearer and per sensor, announced and retracted.

Every entity is announced with single-component discovery on
``<prefix>/<platform>/<node_id>/<object_id>/config`` (retained; ``prefix`` defaults to
``homeassistant``), where ``node_id`` is ``<base>_<wearer>`` (``/`` in the base becomes
``_``) or ``<base>_<wearer>_<sensor>`` and ``object_id`` names the entity; both are built only
from validated segments, so they match ``[a-zA-Z0-9_-]``.

Per wearer (device "backwatch <wearer>"): sensors for activity, trunk flexion, the current
sitting bout, sitting today, lifts and risky lifts today, steps today and the relief-plan
phase; binary sensors "sitting too long" and "slouching"; an ``event`` entity carrying every
nudge (event type = nudge kind); buttons "back cramp", "snooze 30 min", "I'm OK" and
"calibrate"; and sensors of the retained daily summary (``<base>/<wearer>/summary``, the latest
full day): sitting, bouts past the limit, longest bout, steps, walking, bent past 60°, lifts,
risky lifts, the week's walking and the one thing to work on (the whole summary as attributes).
Per sensor (a device linked through ``via_device``): connected, battery and
sample rate. Every entity is unavailable while backwatch is offline (``<base>/status``);
battery and rate also while their sensor is disconnected.

``DiscoveryAnnouncer`` publishes all of it on every connect and again (after a short random
delay, as Home Assistant advises) whenever Home Assistant announces ``online`` on
``<prefix>/status``; topics announced before (kept in the ``AlertStore``) that the current
configuration no longer has are retracted with an empty retained payload.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import metadata
from typing import Any

from alerts.clock import Clock
from alerts.mqtt import InboundMessage, MqttPublisher
from alerts.nudge import NudgeKind
from alerts.store import AlertStore
from alerts.topics import Topics, check_segment

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "homeassistant"
SNOOZE_BUTTON_MIN = 30
ORIGIN_NAME = "backwatch"


class Platform(StrEnum):
    """The Home Assistant MQTT platforms backwatch announces."""

    SENSOR = "sensor"
    BINARY_SENSOR = "binary_sensor"
    BUTTON = "button"
    EVENT = "event"


@dataclass(frozen=True, slots=True)
class DiscoverySensor:
    """One configured sensor of a wearer (id is a topic segment)."""

    id: str
    placement: str


@dataclass(frozen=True, slots=True)
class DiscoveryWearer:
    """One configured wearer and their sensors."""

    name: str
    sensors: tuple[DiscoverySensor, ...] = ()


@dataclass(frozen=True, slots=True)
class DiscoveryConfig:
    """One entity's discovery message: where it goes and what it says."""

    platform: Platform
    topic: str
    payload: Mapping[str, Any]
    wearer: str
    sensor: str | None = None

    def to_json(self) -> str:
        """Compact JSON (key order as built)."""
        return json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False)


def backwatch_version() -> str:
    """The installed backwatch version (``0+unknown`` when not installed)."""
    try:
        return metadata.version("backwatch")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _none_or(expression: str, field_name: str) -> str:
    """A template giving ``expression`` or ``None`` (Home Assistant's unknown) for null."""
    return (
        f"{{% if value_json.{field_name} is none %}}None{{% else %}}{{{{ {expression} }}}}"
        "{% endif %}"
    )


_NUDGE_EVENT_TEMPLATE = (
    '{"event_type": {{ value_json.kind | tojson }}, "id": {{ value_json.id | tojson }}, '
    '"severity": {{ value_json.severity | tojson }}, "title": {{ value_json.title | tojson }}, '
    '"message": {{ value_json.message | tojson }}, '
    '"guideline": {{ value_json.guideline | tojson }}, "time": {{ value_json.time | tojson }}}'
)
_SLOUCHING_TEMPLATE = (
    "{% if value_json.slouching is sameas true %}ON"
    "{% elif value_json.slouching is sameas false %}OFF{% else %}None{% endif %}"
)


@dataclass(frozen=True, slots=True)
class _Entity:
    platform: Platform
    object_id: str
    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


def _wearer_entities(topics: Topics, wearer: str, sitting_limit_s: float) -> list[_Entity]:
    state = topics.state(wearer)
    limit = round(float(sitting_limit_s), 3)
    return [
        _Entity(
            Platform.SENSOR,
            "activity",
            "Activity",
            {
                "state_topic": state,
                "value_template": _none_or("value_json.activity", "activity"),
                "icon": "mdi:human-handsdown",
            },
        ),
        _Entity(
            Platform.SENSOR,
            "trunk_flexion",
            "Trunk flexion",
            {
                "state_topic": state,
                "value_template": _none_or(
                    "value_json.trunk_flexion_deg | round(1)", "trunk_flexion_deg"
                ),
                "unit_of_measurement": "°",
                "state_class": "measurement",
                "suggested_display_precision": 0,
                "icon": "mdi:angle-acute",
            },
        ),
        _Entity(
            Platform.SENSOR,
            "sitting_bout",
            "Current sitting bout",
            {
                "state_topic": state,
                "value_template": _none_or(
                    "(value_json.sitting_bout_s / 60) | round(1)", "sitting_bout_s"
                ),
                "device_class": "duration",
                "unit_of_measurement": "min",
                "state_class": "measurement",
                "icon": "mdi:seat",
            },
        ),
        _Entity(
            Platform.SENSOR,
            "sitting_today",
            "Sitting today",
            {
                "state_topic": state,
                "value_template": _none_or(
                    "(value_json.sitting_today_s / 60) | round(1)", "sitting_today_s"
                ),
                "device_class": "duration",
                "unit_of_measurement": "min",
                "state_class": "total_increasing",
                "icon": "mdi:seat",
            },
        ),
        _Entity(
            Platform.SENSOR,
            "lifts_today",
            "Lifts today",
            {
                "state_topic": state,
                "value_template": _none_or("value_json.lifts_today", "lifts_today"),
                "state_class": "total_increasing",
                "icon": "mdi:weight-lifter",
            },
        ),
        _Entity(
            Platform.SENSOR,
            "risky_lifts_today",
            "Risky lifts today",
            {
                "state_topic": state,
                "value_template": _none_or("value_json.risky_lifts_today", "risky_lifts_today"),
                "state_class": "total_increasing",
                "icon": "mdi:alert-outline",
            },
        ),
        _Entity(
            Platform.SENSOR,
            "steps_today",
            "Steps today",
            {
                "state_topic": state,
                "value_template": _none_or("value_json.steps_today", "steps_today"),
                "unit_of_measurement": "steps",
                "state_class": "total_increasing",
                "icon": "mdi:walk",
            },
        ),
        _Entity(
            Platform.SENSOR,
            "relief_plan",
            "Relief plan",
            {
                "state_topic": state,
                "value_template": (
                    "{% if value_json.relief_plan %}{{ value_json.relief_plan.phase }}"
                    "{% else %}none{% endif %}"
                ),
                "icon": "mdi:heating-coil",
            },
        ),
        _Entity(
            Platform.BINARY_SENSOR,
            "sitting_too_long",
            "Sitting too long",
            {
                "state_topic": state,
                "value_template": (
                    "{% if (value_json.sitting_bout_s or 0) >= "
                    f"{limit}"
                    " %}ON{% else %}OFF{% endif %}"
                ),
                "device_class": "problem",
                "icon": "mdi:seat-recline-normal",
            },
        ),
        _Entity(
            Platform.BINARY_SENSOR,
            "slouching",
            "Slouching",
            {
                "state_topic": state,
                "value_template": _SLOUCHING_TEMPLATE,
                "device_class": "problem",
                "icon": "mdi:human-handsdown",
            },
        ),
        _Entity(
            Platform.EVENT,
            "nudge",
            "Nudge",
            {
                "state_topic": topics.nudge(wearer),
                "event_types": [kind.value for kind in NudgeKind],
                "value_template": _NUDGE_EVENT_TEMPLATE,
                "icon": "mdi:bell-ring",
            },
        ),
        _Entity(
            Platform.BUTTON,
            "report_cramp",
            "Back cramp",
            {
                "command_topic": topics.command(wearer, "report_cramp"),
                "payload_press": "{}",
                "icon": "mdi:human-handsdown",
            },
        ),
        _Entity(
            Platform.BUTTON,
            "snooze_30_min",
            f"Snooze {SNOOZE_BUTTON_MIN} min",
            {
                "command_topic": topics.command(wearer, "snooze"),
                "payload_press": json.dumps({"minutes": SNOOZE_BUTTON_MIN}),
                "icon": "mdi:bell-sleep",
            },
        ),
        _Entity(
            Platform.BUTTON,
            "im_ok",
            "I'm OK",
            {
                "command_topic": topics.command(wearer, "im_ok"),
                "payload_press": "{}",
                "icon": "mdi:check-circle-outline",
            },
        ),
        _Entity(
            Platform.BUTTON,
            "calibrate",
            "Calibrate",
            {
                "command_topic": topics.command(wearer, "calibrate"),
                "payload_press": "{}",
                "entity_category": "config",
                "icon": "mdi:axis-arrow",
            },
        ),
    ]


_SUMMARY_SENSORS: tuple[tuple[str, str, str, str | None, str], ...] = (
    # object_id, name, value expression, unit, icon
    ("day_sitting", "Day: sitting", "value_json.sitting_min | round(0)", "min", "mdi:seat"),
    (
        "day_long_sitting_bouts",
        "Day: sitting bouts past the limit",
        "value_json.long_sitting_bouts",
        None,
        "mdi:seat-recline-normal",
    ),
    (
        "day_longest_sitting",
        "Day: longest sitting bout",
        "value_json.longest_sitting_min | round(0)",
        "min",
        "mdi:timer-sand",
    ),
    ("day_steps", "Day: steps", "value_json.steps", "steps", "mdi:walk"),
    ("day_walking", "Day: walking", "value_json.walking_min | round(0)", "min", "mdi:walk"),
    (
        "day_bent_over_60",
        "Day: bent past 60°",
        "(value_json.flexion_over_60_share * 100) | round(1)",
        "%",
        "mdi:angle-acute",
    ),
    ("day_lifts", "Day: lifts", "value_json.lifts", None, "mdi:weight-lifter"),
    ("day_risky_lifts", "Day: risky lifts", "value_json.risky_lifts", None, "mdi:alert-outline"),
    (
        "week_walking",
        "Week: walking",
        "value_json.week_walking_min | round(0)",
        "min",
        "mdi:calendar-week",
    ),
)


def _summary_entities(topics: Topics, wearer: str) -> list[_Entity]:
    """Sensors of the retained daily summary (the latest full day), and its focus."""
    summary = topics.summary(wearer)
    entities = []
    for object_id, name, expression, unit, icon in _SUMMARY_SENSORS:
        field_name = expression.split("value_json.")[1].split(" ")[0].rstrip(")")
        options: dict[str, Any] = {
            "state_topic": summary,
            "value_template": _none_or(expression, field_name),
            "state_class": "measurement",
            "icon": icon,
        }
        if unit is not None:
            options["unit_of_measurement"] = unit
        if unit == "min":
            options["device_class"] = "duration"
        entities.append(_Entity(Platform.SENSOR, object_id, name, options))
    entities.append(
        _Entity(
            Platform.SENSOR,
            "day_focus",
            "Day: one thing to work on",
            {
                "state_topic": summary,
                "value_template": "{{ value_json.focus }}",
                "json_attributes_topic": summary,
                "icon": "mdi:target",
            },
        )
    )
    return entities


def _sensor_entities(topics: Topics, wearer: str, sensor: str) -> list[_Entity]:
    status = topics.sensor_status(wearer, sensor)
    when_connected = {
        "topic": status,
        "value_template": "{% if value_json.connected %}online{% else %}offline{% endif %}",
    }
    return [
        _Entity(
            Platform.BINARY_SENSOR,
            "connected",
            "Connected",
            {
                "state_topic": status,
                "value_template": "{% if value_json.connected %}ON{% else %}OFF{% endif %}",
                "device_class": "connectivity",
                "entity_category": "diagnostic",
            },
        ),
        _Entity(
            Platform.SENSOR,
            "battery",
            "Battery",
            {
                "state_topic": status,
                "value_template": _none_or("value_json.battery_pct | round(0)", "battery_pct"),
                "device_class": "battery",
                "unit_of_measurement": "%",
                "state_class": "measurement",
                "entity_category": "diagnostic",
                "extra_availability": when_connected,
            },
        ),
        _Entity(
            Platform.SENSOR,
            "sample_rate",
            "Sample rate",
            {
                "state_topic": status,
                "value_template": _none_or("value_json.rate_hz | round(1)", "rate_hz"),
                "device_class": "frequency",
                "unit_of_measurement": "Hz",
                "state_class": "measurement",
                "entity_category": "diagnostic",
                "enabled_by_default": False,
                "extra_availability": when_connected,
            },
        ),
    ]


def node_prefix(topics: Topics) -> str:
    """The base topic as one id segment (``home/backwatch`` -> ``home_backwatch``)."""
    return topics.base.replace("/", "_")


def discovery_configs(
    topics: Topics,
    wearers: Sequence[DiscoveryWearer],
    *,
    prefix: str = DEFAULT_PREFIX,
    sitting_limit_s: float = 1800.0,
    sw_version: str | None = None,
) -> list[DiscoveryConfig]:
    """Every discovery message for this configuration (wearer entities, then sensors')."""
    check_segment(prefix, "discovery prefix")
    version = backwatch_version() if sw_version is None else sw_version
    origin = {"name": ORIGIN_NAME, "sw_version": version}
    availability = {"topic": topics.availability}
    base_id = node_prefix(topics)
    configs: list[DiscoveryConfig] = []
    for wearer in wearers:
        name = check_segment(wearer.name, "wearer")
        wearer_node = f"{base_id}_{name}"
        wearer_device = {
            "identifiers": [wearer_node],
            "name": f"backwatch {name}",
            "manufacturer": "backwatch",
            "model": "Back-care monitor",
            "sw_version": version,
        }
        configs.extend(
            _config(prefix, wearer_node, entity, wearer_device, origin, [availability], name)
            for entity in [
                *_wearer_entities(topics, name, sitting_limit_s),
                *_summary_entities(topics, name),
            ]
        )
        for sensor in wearer.sensors:
            sensor_id = check_segment(sensor.id, "sensor")
            sensor_node = f"{wearer_node}_{sensor_id}"
            sensor_device = {
                "identifiers": [sensor_node],
                "name": f"{name} {sensor_id} sensor",
                "manufacturer": "backwatch",
                "model": f"{sensor.placement} motion sensor",
                "via_device": wearer_node,
            }
            configs.extend(
                _config(
                    prefix,
                    sensor_node,
                    entity,
                    sensor_device,
                    origin,
                    [availability],
                    name,
                    sensor_id,
                )
                for entity in _sensor_entities(topics, name, sensor_id)
            )
    return configs


def _config(  # noqa: PLR0917 (a private builder; every part is named at the call)
    prefix: str,
    node_id: str,
    entity: _Entity,
    device: Mapping[str, Any],
    origin: Mapping[str, Any],
    availability: list[Mapping[str, Any]],
    wearer: str,
    sensor: str | None = None,
) -> DiscoveryConfig:
    options = dict(entity.options)
    entity_availability = list(availability)
    extra = options.pop("extra_availability", None)
    if extra is not None:
        entity_availability.append(extra)
    payload: dict[str, Any] = {
        "name": entity.name,
        "unique_id": f"{node_id}_{entity.object_id}",
        **options,
        "availability": entity_availability,
        "qos": 1,
        "device": dict(device),
        "origin": dict(origin),
    }
    if len(entity_availability) > 1:
        payload["availability_mode"] = "all"
    topic = f"{prefix}/{entity.platform.value}/{node_id}/{entity.object_id}/config"
    return DiscoveryConfig(entity.platform, topic, payload, wearer, sensor)


class DiscoveryAnnouncer:
    """Announces discovery on every connect and when Home Assistant comes online.

    Create it before entering the publisher (it subscribes to ``<prefix>/status``).
    """

    def __init__(
        self,
        publisher: MqttPublisher,
        store: AlertStore,
        clock: Clock,
        wearers: Sequence[DiscoveryWearer],
        *,
        prefix: str = DEFAULT_PREFIX,
        sitting_limit_s: float = 1800.0,
        max_delay_s: float = 2.0,
        rng: random.Random | None = None,
        sw_version: str | None = None,
    ) -> None:
        """Build the configs now (raises TopicError for a bad name) and hook into the link."""
        self._publisher = publisher
        self._store = store
        self._clock = clock
        self._prefix = check_segment(prefix, "discovery prefix")
        self._configs = discovery_configs(
            publisher.topics,
            wearers,
            prefix=self._prefix,
            sitting_limit_s=sitting_limit_s,
            sw_version=sw_version,
        )
        self._max_delay_s = max(0.0, max_delay_s)
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 (jitter)
        self._pending: asyncio.TimerHandle | None = None
        self.announcements = 0
        publisher.subscribe(self.status_topic, self._on_status)
        publisher.on_connected(self.announce)

    @property
    def status_topic(self) -> str:
        """``<prefix>/status``: Home Assistant's birth (``online``) and will (``offline``)."""
        return f"{self._prefix}/status"

    @property
    def configs(self) -> list[DiscoveryConfig]:
        """Every discovery message announced."""
        return list(self._configs)

    def announce(self) -> None:
        """Queue every config (retained) and retract topics no longer configured."""
        wanted = {config.topic for config in self._configs}
        now_s = self._clock.now().timestamp()
        for topic in sorted(set(self._store.announced()) - wanted):
            self._publisher.publish(topic, b"", retain=True)
            self._store.forget_announced(topic)
            logger.info("Home Assistant discovery retracted: %s", topic)
        for config in self._configs:
            self._publisher.publish(config.topic, config.to_json(), retain=True)
            self._store.record_announced(config.topic, config.wearer, config.sensor, now_s)
        self.announcements += 1
        logger.debug("Home Assistant discovery announced (%d entities)", len(self._configs))

    def _on_status(self, message: InboundMessage) -> None:
        if message.payload.strip().lower() != b"online":
            return
        delay_s = self._rng.uniform(0.0, self._max_delay_s)
        if self._pending is not None:
            self._pending.cancel()
        self._pending = asyncio.get_running_loop().call_later(delay_s, self._announce_later)
        logger.info("Home Assistant is online; discovery in %.1f s", delay_s)

    def _announce_later(self) -> None:
        self._pending = None
        try:
            self.announce()
        except Exception:
            logger.exception("Home Assistant discovery failed")
