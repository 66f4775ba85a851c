"""Command parsing and replies without a broker: every command, every kind of bad input, fuzz.

The payload examples here are the ones docs/mqtt.md shows; each is checked against its
``alerts/schemas/command_<name>.schema.json`` and every reply against ``reply`` and
``result_<name>``.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.catalogue import default_catalogue
from alerts.commands import (
    MAX_PAYLOAD_BYTES,
    Acknowledge,
    Calibrate,
    CommandName,
    CommandRejectedError,
    DeclareLoad,
    ErrorCode,
    ImOk,
    Outcome,
    ReportCramp,
    ReportSymptoms,
    SetQuietHours,
    Snooze,
    apply_to_policy,
    calibrate_result,
    declare_load_result,
    parse_request,
    reply_payload,
    response_topic_allowed,
)
from alerts.events import EventType, Observation
from alerts.guidance import Symptom
from alerts.mqtt import InboundMessage
from alerts.nudge import NudgeKind
from alerts.policy import DeliveryPolicy, PolicyRules, QuietHours
from alerts.topics import Topics
from tests.fakes import FakeClock
from tests.json_schema import errors, load_schema

TOPICS = Topics("backwatch")
NOW = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
WEARERS = frozenset({"alex", "sam"})

EXAMPLES: dict[CommandName, tuple[dict[str, Any], object]] = {
    CommandName.SNOOZE: (
        {"minutes": 30, "kind": "sitting"},
        Snooze("alex", NudgeKind.SITTING, 1800.0),
    ),
    CommandName.ACKNOWLEDGE: (
        {"nudge_id": "4f1c0e9a2b7d4c38a1e5f0b6c2d9e871"},
        Acknowledge("alex", "4f1c0e9a2b7d4c38a1e5f0b6c2d9e871"),
    ),
    CommandName.REPORT_CRAMP: ({}, ReportCramp("alex")),
    CommandName.REPORT_SYMPTOMS: (
        {"symptoms": ["leg_numbness", "stiffness"]},
        ReportSymptoms("alex", frozenset({Symptom.LEG_NUMBNESS, Symptom.STIFFNESS})),
    ),
    CommandName.CALIBRATE: ({"sensor": "chest"}, Calibrate("alex", "chest")),
    CommandName.DECLARE_LOAD: (
        {"load_kg": 12.5, "minutes": 90, "horizontal_cm": 35, "vertical_cm": 60},
        DeclareLoad("alex", 12.5, 5400.0, horizontal_cm=35.0, vertical_cm=60.0),
    ),
    CommandName.SET_QUIET_HOURS: (
        {"start": "22:30", "end": "06:45"},
        SetQuietHours("alex", QuietHours(time(22, 30), time(6, 45))),
    ),
    CommandName.IM_OK: ({}, ImOk("alex")),
}


def message(
    topic: str,
    payload: bytes | str | dict[str, Any],
    *,
    retain: bool = False,
    response_topic: str | None = None,
    correlation_data: bytes | None = None,
) -> InboundMessage:
    if isinstance(payload, dict):
        payload = json.dumps(payload)
    data = payload.encode() if isinstance(payload, str) else payload
    return InboundMessage(topic, data, retain, response_topic, correlation_data)


def rejected(msg: InboundMessage) -> CommandRejectedError:
    with pytest.raises(CommandRejectedError) as caught:
        parse_request(TOPICS, msg, wearers=WEARERS)
    return caught.value


def test_command_names_match_the_schemas_on_disk() -> None:
    for name in CommandName:
        load_schema(f"command_{name.value}")
        load_schema(f"result_{name.value}")
    assert set(EXAMPLES) == set(CommandName)


@pytest.mark.parametrize("name", list(CommandName))
def test_each_documented_example_parses_and_fits_its_schema(name: CommandName) -> None:
    payload, expected = EXAMPLES[name]
    assert errors(payload, load_schema(f"command_{name.value}")) == []
    request = parse_request(TOPICS, message(TOPICS.command("alex", name.value), payload))
    assert request.command == expected
    assert request.name is name
    assert request.route.topic == f"backwatch/alex/reply/{name.value}"


def test_empty_payloads_mean_an_empty_object() -> None:
    request = parse_request(TOPICS, message("backwatch/alex/cmd/report_cramp", b""))
    assert request.command == ReportCramp("alex")
    quiet = parse_request(TOPICS, message("backwatch/alex/cmd/set_quiet_hours", {"enabled": False}))
    assert quiet.command == SetQuietHours("alex", None)


BAD_PAYLOADS: list[tuple[str, bytes, ErrorCode]] = [
    ("snooze", b"{" + b" " * MAX_PAYLOAD_BYTES + b"}", ErrorCode.PAYLOAD_TOO_LARGE),
    ("snooze", b'{"minutes": 30, "kind": "\xff"}', ErrorCode.NOT_UTF8),
    ("snooze", b'{"minutes": 30', ErrorCode.INVALID_JSON),
    ("snooze", b'{"minutes": NaN}', ErrorCode.INVALID_JSON),
    ("snooze", b'{"minutes": 1, "minutes": 2}', ErrorCode.INVALID_JSON),
    ("snooze", b'{"minutes": ' + b"[" * 490 + b"]" * 490 + b"}", ErrorCode.INVALID_FIELDS),
    ("snooze", b"[30]", ErrorCode.NOT_AN_OBJECT),
    ("snooze", b'"30"', ErrorCode.NOT_AN_OBJECT),
    ("snooze", b'{"minutes": "30"}', ErrorCode.INVALID_FIELDS),
    ("snooze", b'{"minutes": true}', ErrorCode.INVALID_FIELDS),
    ("snooze", b'{"minutes": -1}', ErrorCode.INVALID_FIELDS),
    ("snooze", b'{"minutes": 30, "kind": "naps"}', ErrorCode.INVALID_FIELDS),
    ("snooze", b'{"minutes": 30, "color": "red"}', ErrorCode.INVALID_FIELDS),
    ("acknowledge", b'{"nudge_id": "a/b"}', ErrorCode.INVALID_FIELDS),
    ("acknowledge", b"{}", ErrorCode.INVALID_FIELDS),
    ("report_symptoms", b'{"symptoms": []}', ErrorCode.INVALID_FIELDS),
    ("report_symptoms", b'{"symptoms": ["stiffness", "stiffness"]}', ErrorCode.INVALID_FIELDS),
    ("report_symptoms", b'{"symptoms": "leg_numbness"}', ErrorCode.INVALID_FIELDS),
    ("calibrate", b'{"sensor": "chest/#"}', ErrorCode.INVALID_FIELDS),
    ("calibrate", b'{"sensor": "+"}', ErrorCode.INVALID_FIELDS),
    ("declare_load", b'{"load_kg": 500}', ErrorCode.INVALID_FIELDS),
    ("declare_load", b'{"load_kg": 5, "minutes": 0}', ErrorCode.INVALID_FIELDS),
    ("declare_load", b"{}", ErrorCode.INVALID_FIELDS),
    ("declare_load", b'{"load_kg": 5, "task": "crates"}', ErrorCode.INVALID_FIELDS),
    ("declare_load", b'{"task": "crates", "horizontal_cm": 30}', ErrorCode.INVALID_FIELDS),
    ("declare_load", b'{"task": "a/b"}', ErrorCode.INVALID_FIELDS),
    ("declare_load", b'{"load_kg": 5, "vertical_cm": -1}', ErrorCode.INVALID_FIELDS),
    ("set_quiet_hours", b'{"start": "25:00", "end": "07:00"}', ErrorCode.INVALID_FIELDS),
    ("set_quiet_hours", b'{"start": "22:00"}', ErrorCode.INVALID_FIELDS),
    ("set_quiet_hours", b'{"start": "07:00", "end": "07:00"}', ErrorCode.INVALID_FIELDS),
    ("set_quiet_hours", b'{"enabled": false, "start": "07:00"}', ErrorCode.INVALID_FIELDS),
    ("im_ok", b'{"ok": 1}', ErrorCode.INVALID_FIELDS),
    ("fly", b"{}", ErrorCode.UNKNOWN_COMMAND),
]


@pytest.mark.parametrize(("command", "payload", "code"), BAD_PAYLOADS)
def test_bad_payloads_get_their_error(command: str, payload: bytes, code: ErrorCode) -> None:
    error = rejected(message(f"backwatch/alex/cmd/{command}", payload))
    assert error.code is code
    assert error.route.topic == f"backwatch/alex/reply/{command}"
    reply = json.loads(
        reply_payload(error.route, Outcome.failed(code, error.reason), NOW).to_json()
    )
    assert errors(reply, load_schema("reply")) == []
    assert (reply["ok"], reply["error"]["code"], reply["result"]) == (False, code.value, None)


def test_field_errors_name_the_field_and_keep_the_request_id() -> None:
    error = rejected(message("backwatch/alex/cmd/snooze", {"minutes": 99999, "request_id": "r-17"}))
    assert error.reason.startswith("minutes: Input should be less than or equal to 10080")
    assert error.route.request_id == "r-17"


@pytest.mark.parametrize(
    ("topic", "reply_topic", "wearer", "command"),
    [
        ("backwatch/al ex/cmd/snooze", "backwatch/error", None, "snooze"),
        ("backwatch/" + "a" * 65 + "/cmd/snooze", "backwatch/error", None, "snooze"),
        ("backwatch/alex/cmd/snooze/now", "backwatch/alex/reply/error", "alex", None),
        ("backwatch/alex/cmd/sn.ooze", "backwatch/alex/reply/error", "alex", None),
        ("backwatch/alex/cmd/", "backwatch/alex/reply/error", "alex", None),
    ],
)
def test_topics_with_bad_segments_are_answered_where_possible(
    topic: str, reply_topic: str, wearer: str | None, command: str | None
) -> None:
    error = rejected(message(topic, {}))
    assert error.code is ErrorCode.INVALID_TOPIC
    assert (error.route.topic, error.route.wearer, error.route.command) == (
        reply_topic,
        wearer,
        command,
    )


def test_unknown_wearers_and_retained_commands_are_refused() -> None:
    assert rejected(message("backwatch/kim/cmd/im_ok", {})).code is ErrorCode.UNKNOWN_WEARER
    stale = rejected(message("backwatch/alex/cmd/report_cramp", {}, retain=True))
    assert stale.code is ErrorCode.RETAINED


def test_mqtt5_response_topic_and_correlation_data() -> None:
    request = parse_request(
        TOPICS,
        message(
            "backwatch/alex/cmd/im_ok",
            {},
            response_topic="phones/alex/replies",
            correlation_data=b"\x00\x01req",
        ),
    )
    assert request.route.topic == "phones/alex/replies"
    assert request.route.correlation_data == b"\x00\x01req"
    error = rejected(message("backwatch/bad one/cmd/x", {}, response_topic="phones/r"))
    assert error.route.topic == "phones/r"  # even a bad topic is answered there
    too_long = rejected(
        message("backwatch/alex/cmd/im_ok", {}, response_topic="r", correlation_data=b"x" * 200)
    )
    assert too_long.code is ErrorCode.INVALID_PROPERTIES
    assert too_long.route.correlation_data is None


@pytest.mark.parametrize(
    ("topic", "allowed"),
    [
        ("phones/alex/replies", True),
        ("backwatch/alex/reply/custom", True),
        ("backwatch/sam/reply/custom", False),  # another wearer's tree: their phone reads it
        ("backwatch/alex/nudge", False),
        ("backwatch/status", False),
        ("homeassistant/sensor/x/config", False),
        ("homeassistant", False),
        ("replies/#", False),
        ("replies/+/x", False),
        ("$SYS/broker", False),
        ("", False),
        ("r" * 300, False),
    ],
)
def test_response_topics_cannot_reach_our_or_home_assistants_topics(
    topic: str, allowed: bool
) -> None:
    assert response_topic_allowed(topic, TOPICS, ("homeassistant",), "alex") is allowed
    if not allowed:
        error = rejected(message("backwatch/alex/cmd/im_ok", {}, response_topic=topic))
        assert error.code is ErrorCode.INVALID_PROPERTIES
        assert error.route.topic == "backwatch/alex/reply/im_ok"


def make_policy(clock: FakeClock) -> DeliveryPolicy:
    counter = itertools.count(1)
    return DeliveryPolicy(
        default_catalogue(),
        clock,
        {},
        600.0,
        new_id=lambda: f"id{next(counter)}",
        rules=PolicyRules(timezone=UTC),
    )


def check_reply(name: CommandName, outcome: Outcome) -> dict[str, Any]:
    route = parse_request(
        TOPICS, message(TOPICS.command("alex", name.value), EXAMPLES[name][0])
    ).route
    reply = json.loads(reply_payload(route, outcome, NOW).to_json())
    assert errors(reply, load_schema("reply")) == []
    if outcome.error is None:
        assert errors(reply["result"], load_schema(f"result_{name.value}")) == []
    result: dict[str, Any] = reply["result"] or reply["error"]
    return result


def test_policy_commands_produce_schema_valid_results() -> None:
    clock = FakeClock(NOW)
    policy = make_policy(clock)
    sitting = policy.decide(
        Observation("alex", EventType.SITTING_BOUT, 0.0, 1900.0, {"bout_s": 1900.0})
    )
    assert sitting is not None
    outcomes = {
        CommandName.SNOOZE: apply_to_policy(policy, Snooze("alex", NudgeKind.SITTING, 1800.0)),
        CommandName.ACKNOWLEDGE: apply_to_policy(policy, Acknowledge("alex", sitting.id)),
        CommandName.REPORT_CRAMP: apply_to_policy(policy, ReportCramp("alex")),
        CommandName.REPORT_SYMPTOMS: apply_to_policy(
            policy, ReportSymptoms("alex", frozenset({Symptom.LEG_NUMBNESS}))
        ),
        CommandName.SET_QUIET_HOURS: apply_to_policy(
            policy, SetQuietHours("alex", QuietHours(time(22), time(7)))
        ),
        CommandName.IM_OK: apply_to_policy(policy, ImOk("alex")),
    }
    results = {}
    for name, outcome in outcomes.items():
        assert outcome is not None
        assert outcome.error is None, name
        results[name] = check_reply(name, outcome)
    assert results[CommandName.SNOOZE] == {"kind": "sitting", "until": "2024-05-01T09:30:00Z"}
    assert results[CommandName.ACKNOWLEDGE]["nudge_id"] == sitting.id
    cramp = outcomes[CommandName.REPORT_CRAMP]
    assert cramp is not None
    assert results[CommandName.REPORT_CRAMP]["nudge_ids"] == [n.id for n in cramp.nudges]
    assert len(cramp.nudges) == 2
    symptoms = results[CommandName.REPORT_SYMPTOMS]
    assert (symptoms["advice"], symptoms["red_flags"]) == ("seek_care_now", ["leg_numbness"])
    assert results[CommandName.SET_QUIET_HOURS] == {
        "enabled": True,
        "start": "22:00",
        "end": "07:00",
    }
    assert results[CommandName.IM_OK] == {"acknowledged": []}
    assert apply_to_policy(policy, Calibrate("alex", None)) is None
    assert apply_to_policy(policy, DeclareLoad("alex", 5.0, 60.0)) is None
    unknown = apply_to_policy(policy, Acknowledge("alex", "nope"))
    assert unknown is not None
    assert unknown.error is not None
    assert unknown.error[0] is ErrorCode.UNKNOWN_NUDGE
    check_reply(CommandName.ACKNOWLEDGE, unknown)


def test_monitor_side_results_fit_their_schemas() -> None:
    assert errors(calibrate_result(["chest", "thigh"]), load_schema("result_calibrate")) == []
    load = declare_load_result(12.5, datetime(2024, 5, 1, 10, 0, tzinfo=UTC), horizontal_cm=30.0)
    assert load == {
        "load_kg": 12.5,
        "task": None,
        "horizontal_cm": 30.0,
        "vertical_cm": None,
        "until": "2024-05-01T10:00:00Z",
    }
    assert errors(load, load_schema("result_declare_load")) == []
    task = declare_load_result(12.0, None, task="crates", horizontal_cm=45.0, vertical_cm=20.0)
    assert errors(task, load_schema("result_declare_load")) == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    ["minutes", "kind", "nudge_id", "symptoms", "sensor", "load_kg", "start", "end", "enabled",
     "request_id", "extra"]
)  # fmt: skip
payloads = (
    st.binary(max_size=64)
    | st.dictionaries(field_names, json_values, max_size=4).map(lambda d: json.dumps(d).encode())
    | json_values.map(lambda v: json.dumps(v).encode())
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from([*CommandName, "unknown"]), payload=payloads)
def test_fuzzed_payloads_are_parsed_or_refused_never_crash(name: str, payload: bytes) -> None:
    msg = message(f"backwatch/alex/cmd/{name}", payload)
    try:
        request = parse_request(TOPICS, msg, wearers=WEARERS)
    except CommandRejectedError as error:
        outcome = Outcome.failed(error.code, error.reason)
        reply = json.loads(reply_payload(error.route, outcome, NOW).to_json())
        assert errors(reply, load_schema("reply")) == []
        return
    document = json.loads(payload.decode().strip() or "{}")  # blank means {}
    assert errors(document, load_schema(f"command_{request.name.value}")) == []
