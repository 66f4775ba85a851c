"""Bad input of every kind on every command topic of a running daemon: an error reply each time.

One daemon (a subprocess with a simulated wearer ``sam``) serves the whole test. Hypothesis
sends payloads that are never a valid command (random bytes, oversize, not UTF-8, not JSON,
JSON that is not an object, wrong types or ranges, unknown or missing fields) to every command
topic, to unknown commands and wearers, and to topics with bad segments or extra levels. Each
request carries MQTT 5 correlation data, so its one reply is found without guessing. The
daemon must answer each with ``ok: false`` and the documented code on the documented topic,
stay alive, and change nothing it keeps (snoozes, quiet hours, plans, reports, nudges).
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from alerts.commands import MAX_PAYLOAD_BYTES, PAYLOAD_MODELS, CommandName
from alerts.guidance import Symptom
from alerts.nudge import NudgeKind
from monitor.broker import PrivateMosquitto
from tests.harness import REPO, SensorSpec, write_config

BASE = "fault-cmd"
WEARER = "sam"
SENSOR = "chest"
SEGMENT = re.compile(r"[A-Za-z0-9_-]{1,64}")
CLOCK = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
KEPT_TABLES = ("snoozes", "quiet_hours", "relief_plans", "relief_steps", "reports", "nudges")
PAYLOAD_CODES = {
    "payload_too_large",
    "not_utf8",
    "invalid_json",
    "not_an_object",
    "invalid_fields",
    "unknown_nudge",
    "rejected",
}

JsonValue = Any
Oracle = Callable[[JsonValue], bool]
"""Whether a value is acceptable for one field."""


def _number_in(low: float, high: float, *, low_open: bool = False) -> Oracle:
    def accepts(value: JsonValue) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        above = low < value if low_open else low <= value
        return above and value <= high

    return accepts


def _symptoms(value: JsonValue) -> bool:
    names = {s.value for s in Symptom}
    return (
        isinstance(value, list)
        and 1 <= len(value) <= len(names)
        and all(isinstance(v, str) and v in names for v in value)
        and len(set(value)) == len(value)
    )


def _clock(value: JsonValue) -> bool:
    return isinstance(value, str) and CLOCK.fullmatch(value) is not None


# For each command: a valid base payload and what each of its fields accepts. A request is
# made bad by giving one field a value its oracle refuses, or by adding an unknown key.
# acknowledge accepts no id at all here: nothing was ever sent, so every id is unknown.
COMMANDS: dict[str, tuple[dict[str, JsonValue], dict[str, Oracle]]] = {
    CommandName.SNOOZE: (
        {"minutes": 30},
        {
            "minutes": _number_in(0, 7 * 24 * 60),
            "kind": lambda v: (
                v is None or (isinstance(v, str) and v in {k.value for k in NudgeKind})
            ),
        },
    ),
    CommandName.ACKNOWLEDGE: ({"nudge_id": "0" * 32}, {"nudge_id": lambda _v: False}),
    CommandName.REPORT_CRAMP: ({}, {}),
    CommandName.REPORT_SYMPTOMS: ({"symptoms": ["stiffness"]}, {"symptoms": _symptoms}),
    CommandName.CALIBRATE: ({"sensor": SENSOR}, {"sensor": lambda v: v is None or v == SENSOR}),
    CommandName.DECLARE_LOAD: (
        {"load_kg": 10},
        {"load_kg": _number_in(0, 200), "minutes": _number_in(0, 12 * 60, low_open=True)},
    ),
    CommandName.SET_QUIET_HOURS: (
        {"start": "22:00", "end": "07:00"},
        {"enabled": lambda v: isinstance(v, bool), "start": _clock, "end": _clock},
    ),
    CommandName.IM_OK: ({}, {}),
}
assert set(COMMANDS) == set(CommandName), "a new command needs its bad inputs here"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**6), max_value=10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def bad_fields(draw: st.DrawFn, command: str) -> bytes:
    """A JSON object for ``command`` with one unacceptable field, an unknown key, or a gap."""
    base, oracles = COMMANDS[command]
    document = dict(base)
    choices = ["unknown_key"] + [f"field:{name}" for name in oracles]
    if base and command != CommandName.CALIBRATE:  # calibrate's {} is valid (all sensors)
        choices.append("missing")
    choice = draw(st.sampled_from(choices))
    if choice == "unknown_key":
        known = set(PAYLOAD_MODELS[CommandName(command)].model_fields)
        key = draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in known))
        document[key] = draw(json_values)
    elif choice == "missing":
        document = {}
    else:
        name = choice.removeprefix("field:")
        document[name] = draw(json_values.filter(lambda v: not oracles[name](v)))
    return json.dumps(document).encode("utf-8")


def _not_a_command_object(raw: bytes) -> bool:
    """True unless ``raw`` decodes to a JSON object (or is blank, which means ``{}``)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    if not text.strip():
        return False
    try:
        return not isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return True


def bad_payloads(command: str) -> st.SearchStrategy[bytes]:
    """Any payload that is not a valid ``command`` for this daemon's wearer."""
    raw = st.binary(max_size=64).filter(_not_a_command_object)
    huge = st.integers(MAX_PAYLOAD_BYTES + 1, 64 * 1024).map(
        lambda n: b'{"request_id": "' + b"x" * n + b'"}'
    )
    not_utf8 = st.binary(min_size=1, max_size=16).map(lambda b: b'{"k": "\xff' + b + b'"}')
    not_objects = json_values.filter(lambda v: not isinstance(v, dict)).map(
        lambda v: json.dumps(v).encode()
    )
    constants = st.sampled_from(
        [b'{"minutes": NaN}', b'{"load_kg": Infinity}', b'{"a": 1, "a": 1}', b"{", b"{}}"]
    )
    return st.one_of(raw, huge, not_utf8, not_objects, constants, bad_fields(command))


bad_segments = st.one_of(
    st.just(""),
    st.text(min_size=65, max_size=80, alphabet="abc"),
    st.text(
        alphabet=st.characters(
            whitelist_categories=("L", "N", "P", "S", "Zs"), blacklist_characters="+#/"
        ),
        min_size=1,
        max_size=12,
    ),
).filter(lambda s: SEGMENT.fullmatch(s) is None)


@dataclass(frozen=True, slots=True)
class Request:
    """One bad request: where it goes, what it carries, and what the reply must say."""

    topic: str
    payload: bytes
    reply_topic: str
    codes: frozenset[str]


@st.composite
def bad_requests(draw: st.DrawFn) -> Request:
    """A bad request of one of the kinds the daemon must refuse."""
    kind = draw(
        st.sampled_from(
            [
                "payload",
                "payload",
                "payload",
                "unknown_wearer",
                "unknown_command",
                "bad_wearer",
                "bad_command",
                "extra_level",
            ]
        )
    )
    command = draw(st.sampled_from(sorted(COMMANDS)))
    good_payload = json.dumps(COMMANDS[command][0]).encode()
    if kind == "payload":
        payload = draw(bad_payloads(command))
        return Request(
            f"{BASE}/{WEARER}/cmd/{command}",
            payload,
            f"{BASE}/{WEARER}/reply/{command}",
            frozenset(PAYLOAD_CODES),
        )
    if kind == "unknown_wearer":
        wearer = draw(st.from_regex(SEGMENT, fullmatch=True).filter(lambda w: w != WEARER))
        return Request(
            f"{BASE}/{wearer}/cmd/{command}",
            good_payload,
            f"{BASE}/{wearer}/reply/{command}",
            frozenset({"unknown_wearer"}),
        )
    if kind == "unknown_command":
        name = draw(st.from_regex(SEGMENT, fullmatch=True).filter(lambda c: c not in COMMANDS))
        return Request(
            f"{BASE}/{WEARER}/cmd/{name}",
            good_payload,
            f"{BASE}/{WEARER}/reply/{name}",
            frozenset({"unknown_command"}),
        )
    if kind == "bad_wearer":
        wearer = draw(bad_segments)
        return Request(
            f"{BASE}/{wearer}/cmd/{command}",
            good_payload,
            f"{BASE}/error",
            frozenset({"invalid_topic"}),
        )
    if kind == "bad_command":
        name = draw(bad_segments)
        return Request(
            f"{BASE}/{WEARER}/cmd/{name}",
            good_payload,
            f"{BASE}/{WEARER}/reply/error",
            frozenset({"invalid_topic"}),
        )
    extra = draw(st.from_regex(SEGMENT, fullmatch=True))
    return Request(
        f"{BASE}/{WEARER}/cmd/{command}/{extra}",
        good_payload,
        f"{BASE}/{WEARER}/reply/error",
        frozenset({"invalid_topic"}),
    )


class Phone:
    """An MQTT 5 client (paho, its own network thread) that sends commands and waits for replies."""

    def __init__(self, broker: PrivateMosquitto) -> None:
        """Connect and subscribe to every reply topic of the tree."""
        self._replies: queue.Queue[tuple[str, bytes, bytes | None]] = queue.Queue()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="fuzzer", protocol=mqtt.MQTTv5
        )
        self._client.on_message = self._on_message
        self._client.connect(broker.host, broker.port)
        self._client.loop_start()
        for topic in (f"{BASE}/+/reply/#", f"{BASE}/error", f"{BASE}/+/state"):
            self._client.subscribe(topic, qos=1)
        self.states: list[dict[str, Any]] = []
        self._sequence = 0

    def _on_message(self, _client: object, _userdata: object, message: mqtt.MQTTMessage) -> None:
        if message.topic.endswith("/state"):
            self.states.append(json.loads(message.payload))
            return
        correlation = getattr(message.properties, "CorrelationData", None)
        self._replies.put((message.topic, bytes(message.payload), correlation))

    def ask(
        self, topic: str, payload: bytes, timeout_s: float = 20.0
    ) -> tuple[str, dict[str, Any]]:
        """Publish one request; return the topic and payload of the reply that correlates."""
        self._sequence += 1
        correlation = f"req-{self._sequence}".encode()
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.CorrelationData = correlation
        self._client.publish(topic, payload, qos=1, properties=properties).wait_for_publish(10)
        deadline = time.monotonic() + timeout_s
        while True:
            reply_topic, body, got = self._replies.get(
                timeout=max(0.01, deadline - time.monotonic())
            )
            if got == correlation:
                return reply_topic, json.loads(body)

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()


@dataclass(frozen=True, slots=True)
class FuzzRig:
    """The running daemon, its state directory and the phone that talks to it."""

    daemon: subprocess.Popen[bytes]
    state_dir: Path
    phone: Phone
    log_path: Path


def kept_state(state_dir: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables commands could change."""
    with contextlib.closing(sqlite3.connect(state_dir / "alerts.sqlite3", timeout=10)) as conn:
        return {
            table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in KEPT_TABLES
        }


def calibrations(state_dir: Path) -> list[tuple[Any, ...]]:
    """What the calibration store holds (a calibrate command would add a row)."""
    files = sorted(p for p in state_dir.glob("*.sqlite3") if p.name != "alerts.sqlite3")
    rows: list[tuple[Any, ...]] = []
    for path in files:
        with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn:
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                rows += [(path.name, table, *r) for r in conn.execute(f"SELECT * FROM {table}")]
    return rows


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, mosquitto: PrivateMosquitto) -> Iterator[FuzzRig]:
    """One daemon for the whole module, with a wearer standing still for an hour."""
    directory = tmp_path_factory.mktemp("fault-cmd")
    scenario = directory / "still.toml"
    scenario.write_text(
        'name = "still"\ndescription = "standing"\n\n[[step]]\nactivity = "standing"\n'
        "duration_min = 60\n",
        encoding="utf-8",
    )
    config = write_config(
        directory / "backwatch.toml",
        host=mosquitto.host,
        port=mosquitto.port,
        base_topic=BASE,
        scenario=str(scenario),
        sensors=(SensorSpec(SENSOR, "trunk", "-y,+z", seed=1),),
        speed=1,
        extra="[policy]\ntips = false\n[daemon]\nstate_interval_s = 1\n",
    )
    phone = Phone(mosquitto)
    log_path = directory / "daemon.log"
    with log_path.open("wb") as log_file:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(config)],
            cwd=REPO,
            stdout=log_file,
            stderr=log_file,
        )
    try:
        deadline = time.monotonic() + 60
        while not any(s.get("sample_time_s") is not None for s in phone.states):
            assert daemon.poll() is None, log_path.read_text(encoding="utf-8")[-3000:]
            assert time.monotonic() < deadline, "the daemon never published its state"
            time.sleep(0.1)
        yield FuzzRig(daemon, directory / "state", phone, log_path)
    finally:
        daemon.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            daemon.wait(timeout=15)
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        phone.close()


@pytest.fixture(scope="module")
def state_before(rig: FuzzRig) -> tuple[dict[str, list[tuple[Any, ...]]], list[tuple[Any, ...]]]:
    """What the daemon keeps before the first bad request."""
    return kept_state(rig.state_dir), calibrations(rig.state_dir)


@settings(max_examples=150)
@given(request=bad_requests())
def test_every_bad_command_gets_an_error_reply_and_changes_nothing(
    rig: FuzzRig,
    state_before: tuple[dict[str, list[tuple[Any, ...]]], list[tuple[Any, ...]]],
    request: Request,
) -> None:
    reply_topic, reply = rig.phone.ask(request.topic, request.payload)
    assert rig.daemon.poll() is None, rig.log_path.read_text(encoding="utf-8")[-3000:]
    assert reply_topic == request.reply_topic, (request, reply)
    assert reply["ok"] is False, (request, reply)
    assert reply["result"] is None
    assert reply["error"]["code"] in request.codes, (request, reply)
    assert reply["error"]["reason"]


def test_after_the_fuzzing_the_daemon_kept_its_state_and_still_serves(
    rig: FuzzRig,
    state_before: tuple[dict[str, list[tuple[Any, ...]]], list[tuple[Any, ...]]],
) -> None:
    # Runs after the property test (pytest keeps file order): nothing it sent changed a thing.
    tables, stored_calibrations = state_before
    assert kept_state(rig.state_dir) == tables
    assert calibrations(rig.state_dir) == stored_calibrations
    assert all(s["relief_plan"] is None for s in rig.phone.states)
    assert rig.daemon.poll() is None
    topic, reply = rig.phone.ask(f"{BASE}/{WEARER}/cmd/snooze", b'{"minutes": 0}')
    assert topic == f"{BASE}/{WEARER}/reply/snooze"
    assert reply["ok"] is True, reply
