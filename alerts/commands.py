"""Inbound commands on ``<base>/<wearer>/cmd/<command>``: parse, validate, answer every one.

A command is a small JSON object (at most ``MAX_PAYLOAD_BYTES``; an empty payload means
``{}``) whose fields are typed and closed (unknown keys are refused). Parsing yields a frozen
command value for the daemon; anything wrong (oversize, not UTF-8, bad JSON, not an object,
wrong or unknown fields, unknown command or wearer, a topic with bad segments, a retained
command) is answered with an error reply and one log line, and changes nothing else.

Replies go to ``<base>/<wearer>/reply/<command>``, or to the MQTT 5 response topic when the
request names one (its correlation data is echoed). A request whose command segment is
unusable is answered on ``<base>/<wearer>/reply/error``, one whose wearer segment is unusable
on ``<base>/error``. MQTT 3.1.1 clients may put a ``request_id`` in the payload; it is echoed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from alerts.clock import Clock, UtcTime, as_utc, utc_iso
from alerts.guidance import RED_FLAG_SYMPTOMS, Symptom
from alerts.mqtt import InboundMessage, MqttPublisher
from alerts.nudge import NUDGE_ID_PATTERN, Nudge, NudgeKind
from alerts.policy import (
    DeliveryPolicy,
    PolicyInputError,
    QuietHours,
    UnknownNudgeError,
)
from alerts.topics import TopicError, Topics, check_segment

logger = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 1024
"""Largest command payload accepted; every valid command fits in a few hundred bytes."""
MAX_CORRELATION_BYTES = 128
MAX_RESPONSE_TOPIC_BYTES = 256
MAX_REASON_CHARS = 300
MAX_SNOOZE_MIN = 7 * 24 * 60
MAX_LOAD_KG = 200.0
MAX_LOAD_MIN = 12 * 60
MAX_HAND_CM = 200.0
ERROR_COMMAND = "error"
"""The command segment of ``<base>/<wearer>/reply/error``."""

SEGMENT_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
REQUEST_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class CommandName(StrEnum):
    """Every command backwatch accepts."""

    SNOOZE = "snooze"
    ACKNOWLEDGE = "acknowledge"
    REPORT_CRAMP = "report_cramp"
    REPORT_SYMPTOMS = "report_symptoms"
    CALIBRATE = "calibrate"
    DECLARE_LOAD = "declare_load"
    SET_QUIET_HOURS = "set_quiet_hours"
    IM_OK = "im_ok"


class ErrorCode(StrEnum):
    """Why a command was refused or failed."""

    PAYLOAD_TOO_LARGE = "payload_too_large"
    NOT_UTF8 = "not_utf8"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    INVALID_FIELDS = "invalid_fields"
    UNKNOWN_COMMAND = "unknown_command"
    UNKNOWN_WEARER = "unknown_wearer"
    INVALID_TOPIC = "invalid_topic"
    INVALID_PROPERTIES = "invalid_properties"
    RETAINED = "retained"
    BUSY = "busy"
    UNKNOWN_NUDGE = "unknown_nudge"
    REJECTED = "rejected"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal_error"


# -- payloads (the JSON each command accepts) ---------------------------------------------------

RequestId = Annotated[str, StringConstraints(pattern=REQUEST_ID_PATTERN)]
ClockText = Annotated[str, StringConstraints(pattern=CLOCK_PATTERN)]
Segment = Annotated[str, StringConstraints(pattern=SEGMENT_PATTERN)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    request_id: RequestId | None = None


class SnoozePayload(_Payload):
    """``{"minutes": 30, "kind": "sitting"}``; no kind snoozes all; 0 minutes ends the snooze."""

    minutes: Annotated[float, Field(ge=0, le=MAX_SNOOZE_MIN)]
    kind: NudgeKind | None = None


class AcknowledgePayload(_Payload):
    """``{"nudge_id": "..."}``."""

    nudge_id: Annotated[str, StringConstraints(pattern=NUDGE_ID_PATTERN)]


class ReportCrampPayload(_Payload):
    """``{}``."""


class ReportSymptomsPayload(_Payload):
    """``{"symptoms": ["leg_numbness", ...]}`` (1 to 11 distinct symptoms)."""

    symptoms: Annotated[list[Symptom], Field(min_length=1, max_length=len(Symptom))]

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.symptoms)) != len(self.symptoms):
            raise ValueError("symptoms must not repeat")
        return self


class CalibratePayload(_Payload):
    """``{}`` (every sensor of the wearer) or ``{"sensor": "chest"}``."""

    sensor: Segment | None = None


class DeclareLoadPayload(_Payload):
    """``{"load_kg": 12.5, "minutes": 60}`` or ``{"task": "crates"}``: what lifts now carry.

    Either a mass (optionally with the hands' horizontal distance from the ankles and their
    height at the start of the lift, in cm) or the name of a task configured for the wearer;
    0 kg ends a declared load.
    """

    load_kg: Annotated[float, Field(ge=0, le=MAX_LOAD_KG)] | None = None
    task: Segment | None = None
    horizontal_cm: Annotated[float, Field(ge=0, le=MAX_HAND_CM)] | None = None
    vertical_cm: Annotated[float, Field(ge=0, le=MAX_HAND_CM)] | None = None
    minutes: Annotated[float, Field(gt=0, le=MAX_LOAD_MIN)] = 60.0

    @model_validator(mode="after")
    def _load_or_task(self) -> Self:
        if (self.load_kg is None) == (self.task is None):
            raise ValueError("give exactly one of load_kg and task")
        if self.task is not None and (self.horizontal_cm, self.vertical_cm) != (None, None):
            raise ValueError("a task brings its own distances; give them in its configuration")
        return self


class SetQuietHoursPayload(_Payload):
    """``{"start": "22:00", "end": "07:00"}`` or ``{"enabled": false}`` (local wall time)."""

    enabled: bool = True
    start: ClockText | None = None
    end: ClockText | None = None

    @model_validator(mode="after")
    def _start_and_end(self) -> Self:
        if self.enabled and (self.start is None or self.end is None):
            raise ValueError("start and end are required unless enabled is false")
        if not self.enabled and (self.start is not None or self.end is not None):
            raise ValueError("start and end go with enabled quiet hours only")
        if self.enabled and self.start == self.end:
            raise ValueError("start and end must differ")
        return self


class ImOkPayload(_Payload):
    """``{}``: the wearer is fine after a fall check."""


PAYLOAD_MODELS: Mapping[CommandName, type[_Payload]] = {
    CommandName.SNOOZE: SnoozePayload,
    CommandName.ACKNOWLEDGE: AcknowledgePayload,
    CommandName.REPORT_CRAMP: ReportCrampPayload,
    CommandName.REPORT_SYMPTOMS: ReportSymptomsPayload,
    CommandName.CALIBRATE: CalibratePayload,
    CommandName.DECLARE_LOAD: DeclareLoadPayload,
    CommandName.SET_QUIET_HOURS: SetQuietHoursPayload,
    CommandName.IM_OK: ImOkPayload,
}
"""The payload model of each command."""


# -- command values (what the daemon handles) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snooze:
    """Hold back one kind (None: all) for ``duration_s``; 0 ends the snooze."""

    wearer: str
    kind: NudgeKind | None
    duration_s: float


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """The wearer has seen a nudge (stops an urgent alert's repeats)."""

    wearer: str
    nudge_id: str


@dataclass(frozen=True, slots=True)
class ReportCramp:
    """The wearer reports a back cramp: start the relief plan."""

    wearer: str


@dataclass(frozen=True, slots=True)
class ReportSymptoms:
    """The wearer reports symptoms; red flags get an urgent "seek care now"."""

    wearer: str
    symptoms: frozenset[Symptom]


@dataclass(frozen=True, slots=True)
class Calibrate:
    """Calibrate the wearer's sensors (one, or all with None) while standing upright."""

    wearer: str
    sensor: str | None


@dataclass(frozen=True, slots=True)
class DeclareLoad:
    """Lifts in the next ``duration_s`` carry a load: ``load_kg`` (0 ends) or a named ``task``.

    Exactly one of ``load_kg`` and ``task`` is set; the distances go with ``load_kg``.
    """

    wearer: str
    load_kg: float | None
    duration_s: float
    task: str | None = None
    horizontal_cm: float | None = None
    vertical_cm: float | None = None


@dataclass(frozen=True, slots=True)
class SetQuietHours:
    """The wearer's own quiet hours (None: none at all)."""

    wearer: str
    hours: QuietHours | None


@dataclass(frozen=True, slots=True)
class ImOk:
    """The wearer is fine: acknowledges open fall checks."""

    wearer: str


Command = (
    Snooze
    | Acknowledge
    | ReportCramp
    | ReportSymptoms
    | Calibrate
    | DeclareLoad
    | SetQuietHours
    | ImOk
)


def _clock_time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def command_value(name: CommandName, wearer: str, payload: _Payload) -> Command:
    """The command value for a validated payload."""
    match payload:
        case SnoozePayload():
            return Snooze(wearer, payload.kind, payload.minutes * 60.0)
        case AcknowledgePayload():
            return Acknowledge(wearer, payload.nudge_id)
        case ReportSymptomsPayload():
            return ReportSymptoms(wearer, frozenset(payload.symptoms))
        case CalibratePayload():
            return Calibrate(wearer, payload.sensor)
        case DeclareLoadPayload():
            return DeclareLoad(
                wearer,
                payload.load_kg,
                payload.minutes * 60.0,
                task=payload.task,
                horizontal_cm=payload.horizontal_cm,
                vertical_cm=payload.vertical_cm,
            )
        case SetQuietHoursPayload():
            if not payload.enabled or payload.start is None or payload.end is None:
                return SetQuietHours(wearer, None)
            return SetQuietHours(
                wearer, QuietHours(_clock_time(payload.start), _clock_time(payload.end))
            )
        case ImOkPayload():
            return ImOk(wearer)
        case ReportCrampPayload():
            return ReportCramp(wearer)
    raise AssertionError(f"no command value for {name}")  # pragma: no cover


# -- replies --------------------------------------------------------------------------------


class ReplyError(BaseModel):
    """What went wrong: a stable code and a sentence for people."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: ErrorCode
    reason: Annotated[str, StringConstraints(min_length=1, max_length=MAX_REASON_CHARS)]


class Reply(BaseModel):
    """The payload on a reply topic: a result, or an error with its reason."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    command: Segment | None
    wearer: Segment | None
    request_id: RequestId | None
    ok: bool
    result: dict[str, Any] | None
    error: ReplyError | None
    time: UtcTime

    def to_json(self) -> str:
        """Compact JSON in declaration order."""
        return self.model_dump_json()


@dataclass(frozen=True, slots=True)
class ReplyRoute:
    """Where and how to answer one request."""

    topic: str
    command: str | None
    wearer: str | None
    request_id: str | None
    correlation_data: bytes | None


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """A valid command and where its reply goes."""

    command: Command
    name: CommandName
    route: ReplyRoute


class CommandRejectedError(Exception):
    """A request that is answered with an error and goes no further."""

    def __init__(self, route: ReplyRoute, code: ErrorCode, reason: str) -> None:
        """Keep the route, the code and the reason."""
        super().__init__(f"{code.value}: {reason}")
        self.route = route
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Outcome:
    """What handling a command produced: a result or an error, and nudges to publish."""

    result: Mapping[str, Any] | None = None
    error: tuple[ErrorCode, str] | None = None
    nudges: tuple[Nudge, ...] = ()

    @classmethod
    def ok(cls, result: Mapping[str, Any], nudges: Sequence[Nudge] = ()) -> Outcome:
        """A success with its result."""
        return cls(result=dict(result), nudges=tuple(nudges))

    @classmethod
    def failed(cls, code: ErrorCode, reason: str) -> Outcome:
        """A failure with its reason."""
        return cls(error=(code, reason))


def reply_payload(route: ReplyRoute, outcome: Outcome, now: datetime) -> Reply:
    """The reply for an outcome on a route."""
    error = None
    if outcome.error is not None:
        code, reason = outcome.error
        error = ReplyError(code=code, reason=_shorten(reason))
    return Reply(
        command=route.command,
        wearer=route.wearer,
        request_id=route.request_id,
        ok=outcome.error is None,
        result=None if outcome.error is not None else dict(outcome.result or {}),
        error=error,
        time=now,
    )


def _shorten(text: str) -> str:
    clean = " ".join(text.split()) or "rejected"
    if len(clean) <= MAX_REASON_CHARS:
        return clean
    return clean[: MAX_REASON_CHARS - 3] + "..."


# -- parsing --------------------------------------------------------------------------------


def _valid_segment(text: str, role: str) -> str | None:
    try:
        return check_segment(text, role)
    except TopicError:
        return None


def response_topic_allowed(
    topic: str, topics: Topics, protected: Sequence[str], wearer: str | None
) -> bool:
    """Whether a client-given response topic is safe to publish on.

    Not empty, no wildcards or NUL, at most 256 bytes, not ``$``-reserved, never inside
    the protected prefixes (Home Assistant discovery), and inside backwatch's own tree only
    as a reply topic of the wearer the command is for (a reply must not land where another
    wearer's phone reads).
    """
    if not topic or len(topic.encode("utf-8")) > MAX_RESPONSE_TOPIC_BYTES:
        return False
    if any(char in topic for char in "+#\x00") or topic.startswith("$"):
        return False
    for prefix in protected:
        if topic == prefix or topic.startswith(f"{prefix}/"):
            return False
    base = topics.base
    if topic == base or topic.startswith(f"{base}/"):
        parts = topic[len(base) + 1 :].split("/")
        return (
            len(parts) == 3
            and wearer is not None
            and parts[0] == wearer
            and parts[1] == "reply"
            and _valid_segment(parts[2], "command") is not None
        )
    return True


def parse_request(
    topics: Topics,
    message: InboundMessage,
    *,
    wearers: Collection[str] | None = None,
    max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    protected_prefixes: Sequence[str] = ("homeassistant",),
) -> CommandRequest:
    """A valid command with its reply route; raises CommandRejectedError with a route."""
    wearer_raw, command_raw = _split_topic(topics, message.topic)
    wearer = _valid_segment(wearer_raw, "wearer") if wearer_raw is not None else None
    command = _valid_segment(command_raw, "command") if command_raw is not None else None
    correlation = message.correlation_data
    correlation_ok = correlation is None or len(correlation) <= MAX_CORRELATION_BYTES
    response = message.response_topic
    response_ok = response is None or response_topic_allowed(
        response, topics, protected_prefixes, wearer
    )
    if response is not None and response_ok:
        topic = response
    elif wearer is None:
        topic = topics.error
    else:
        topic = topics.reply(wearer, command if command is not None else ERROR_COMMAND)
    route = ReplyRoute(
        topic=topic,
        command=command,
        wearer=wearer,
        request_id=None,
        correlation_data=correlation if correlation_ok else None,
    )
    if wearer is None or command is None:
        raise CommandRejectedError(
            route,
            ErrorCode.INVALID_TOPIC,
            "command topics are <base>/<wearer>/cmd/<command> with segments of "
            "A-Z a-z 0-9 _ - (1-64 characters; no + # / or spaces)",
        )
    if not correlation_ok:
        raise CommandRejectedError(
            route,
            ErrorCode.INVALID_PROPERTIES,
            f"correlation data longer than {MAX_CORRELATION_BYTES} bytes",
        )
    if not response_ok:
        raise CommandRejectedError(
            route,
            ErrorCode.INVALID_PROPERTIES,
            "response topic not allowed (wildcards, reserved, too long, or inside "
            "backwatch's or Home Assistant's topics other than this wearer's reply topics)",
        )
    if message.retain:
        raise CommandRejectedError(
            route, ErrorCode.RETAINED, "commands must not be retained (it would repeat them)"
        )
    try:
        name = CommandName(command)
    except ValueError:
        known = ", ".join(c.value for c in CommandName)
        raise CommandRejectedError(
            route, ErrorCode.UNKNOWN_COMMAND, f"unknown command {command!r} (known: {known})"
        ) from None
    if wearers is not None and wearer not in wearers:
        raise CommandRejectedError(route, ErrorCode.UNKNOWN_WEARER, f"unknown wearer {wearer!r}")
    payload = _payload(route, name, message.payload, max_payload_bytes)
    route = ReplyRoute(
        topic=route.topic,
        command=route.command,
        wearer=route.wearer,
        request_id=payload.request_id,
        correlation_data=route.correlation_data,
    )
    return CommandRequest(command=command_value(name, wearer, payload), name=name, route=route)


def _split_topic(topics: Topics, topic: str) -> tuple[str | None, str | None]:
    """``(wearer, command)`` as written (command None when levels are missing or extra)."""
    prefix = f"{topics.base}/"
    if not topic.startswith(prefix):
        return None, None
    parts = topic[len(prefix) :].split("/")
    if len(parts) < 3 or parts[1] != "cmd":
        return None, None
    if len(parts) != 3:
        return parts[0], None
    return parts[0], parts[2]


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _value in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key appears twice")
    return dict(pairs)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _payload(route: ReplyRoute, name: CommandName, raw: bytes, max_bytes: int) -> _Payload:
    if len(raw) > max_bytes:
        raise CommandRejectedError(
            route,
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"payload of {len(raw)} bytes is larger than {max_bytes}",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandRejectedError(route, ErrorCode.NOT_UTF8, "payload is not UTF-8") from None
    if not text.strip():
        text = "{}"
    try:
        document = json.loads(
            text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants
        )
    except (ValueError, RecursionError) as exc:
        raise CommandRejectedError(
            route, ErrorCode.INVALID_JSON, f"payload is not valid JSON: {exc}"
        ) from None
    if not isinstance(document, dict):
        raise CommandRejectedError(route, ErrorCode.NOT_AN_OBJECT, "payload must be a JSON object")
    request_id = document.get("request_id")
    if isinstance(request_id, str) and _request_id_ok(request_id):
        route = ReplyRoute(
            route.topic, route.command, route.wearer, request_id, route.correlation_data
        )
    try:
        return PAYLOAD_MODELS[name].model_validate_json(text, strict=True)
    except ValidationError as exc:
        raise CommandRejectedError(route, ErrorCode.INVALID_FIELDS, _describe_fields(exc)) from None


def _request_id_ok(text: str) -> bool:
    try:
        _Payload(request_id=text)
    except ValidationError:
        return False
    return True


def _describe_fields(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:3]:
        location = ".".join(str(part) for part in error["loc"]) or "payload"
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{location[:40]}: {message}")
    return "; ".join(parts)


# -- carrying out what the policy owns --------------------------------------------------------


def apply_to_policy(policy: DeliveryPolicy, command: Command) -> Outcome | None:
    """Carry out a command the delivery policy owns; None for calibrate and declare_load."""
    match command:
        case Snooze():
            try:
                snoozed = policy.snooze(command.wearer, command.kind, command.duration_s)
            except PolicyInputError as exc:
                return Outcome.failed(ErrorCode.REJECTED, str(exc))
            return Outcome.ok(
                {
                    "kind": None if snoozed.kind is None else snoozed.kind.value,
                    "until": None if snoozed.until is None else utc_iso(snoozed.until),
                }
            )
        case Acknowledge():
            try:
                done = policy.acknowledge(command.wearer, command.nudge_id)
            except UnknownNudgeError as exc:
                return Outcome.failed(ErrorCode.UNKNOWN_NUDGE, str(exc))
            return Outcome.ok(
                {
                    "nudge_id": done.nudge_id,
                    "root_id": done.root_id,
                    "stopped_escalation": done.stopped_escalation,
                    "already_acknowledged": done.already_acknowledged,
                }
            )
        case ImOk():
            return Outcome.ok({"acknowledged": policy.im_ok(command.wearer)})
        case ReportCramp():
            plan = policy.report_cramp(command.wearer)
            return Outcome.ok(
                {
                    "plan_id": plan.plan_id,
                    "nudge_ids": [nudge.id for nudge in plan.nudges],
                    "started": utc_iso(plan.started),
                    "next_step": None if plan.next_step is None else utc_iso(plan.next_step),
                    "ends": utc_iso(plan.ends),
                    "replaced_plan": plan.replaced_plan,
                    "repeated": plan.repeated,
                },
                plan.nudges,
            )
        case ReportSymptoms():
            try:
                report = policy.report_symptoms(command.wearer, command.symptoms)
            except PolicyInputError as exc:
                return Outcome.failed(ErrorCode.REJECTED, str(exc))
            if report.red_flags:
                advice = "seek_care_now"
            elif Symptom.PAIN_NOT_IMPROVING in report.symptoms:
                advice = "see_a_professional"
            else:
                advice = "self_care"
            return Outcome.ok(
                {
                    "symptoms": [s.value for s in report.symptoms],
                    "red_flags": [s.value for s in report.red_flags],
                    "advice": advice,
                    "nudge_id": None if report.nudge is None else report.nudge.id,
                    "open_alert_id": report.open_alert_id,
                },
                () if report.nudge is None else (report.nudge,),
            )
        case SetQuietHours():
            policy.set_quiet_hours(command.wearer, command.hours)
            return Outcome.ok(quiet_hours_result(command.hours))
        case Calibrate() | DeclareLoad():
            return None
    raise AssertionError(f"unhandled command {command!r}")  # pragma: no cover


def quiet_hours_result(hours: QuietHours | None) -> dict[str, Any]:
    """``{"enabled", "start", "end"}`` for a reply."""
    if hours is None:
        return {"enabled": False, "start": None, "end": None}
    return {
        "enabled": True,
        "start": hours.start.strftime("%H:%M"),
        "end": hours.end.strftime("%H:%M"),
    }


def calibrate_result(sensors: Sequence[str]) -> dict[str, Any]:
    """The result the daemon replies to ``calibrate`` with: the sensors being calibrated."""
    return {"sensors": list(sensors)}


def declare_load_result(
    load_kg: float,
    until: datetime | None,
    *,
    task: str | None = None,
    horizontal_cm: float | None = None,
    vertical_cm: float | None = None,
) -> dict[str, Any]:
    """The result the daemon replies to ``declare_load`` with (distances None: assumed)."""
    return {
        "load_kg": float(load_kg),
        "task": task,
        "horizontal_cm": horizontal_cm,
        "vertical_cm": vertical_cm,
        "until": None if until is None else utc_iso(until),
    }


RED_FLAG_NAMES = tuple(sorted(s.value for s in RED_FLAG_SYMPTOMS))
"""Symptom names that make an urgent alert (for documentation and clients)."""


# -- the listener -------------------------------------------------------------------------------


class CommandListener:
    """Receives commands through a publisher's connection; answers bad ones itself.

    Create it before entering the publisher (it subscribes to ``<base>/+/cmd/#``), then
    ``async for request in listener`` to get valid commands and answer each with ``reply``.
    """

    def __init__(
        self,
        publisher: MqttPublisher,
        clock: Clock,
        *,
        wearers: Collection[str] | None = None,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        queue_size: int = 64,
        protected_prefixes: Sequence[str] = ("homeassistant",),
    ) -> None:
        """Subscribe to the command topics of ``publisher``'s tree."""
        self._publisher = publisher
        self._topics = publisher.topics
        self._clock = clock
        self._wearers = None if wearers is None else frozenset(wearers)
        self._max_payload_bytes = max_payload_bytes
        self._protected = tuple(protected_prefixes)
        self._queue: asyncio.Queue[CommandRequest] = asyncio.Queue(maxsize=queue_size)
        self.accepted_count = 0
        self.rejected_count = 0
        publisher.subscribe(self._topics.command_subscription, self._on_message)

    def __aiter__(self) -> Self:
        """Iterate over valid commands as they arrive (forever)."""
        return self

    async def __anext__(self) -> CommandRequest:
        """The next valid command."""
        return await self._queue.get()

    def reply(self, request: CommandRequest, outcome: Outcome) -> None:
        """Answer a request with what handling it produced (publishes nothing else)."""
        self._send(request.route, outcome)

    def _on_message(self, message: InboundMessage) -> None:
        try:
            request = parse_request(
                self._topics,
                message,
                wearers=self._wearers,
                max_payload_bytes=self._max_payload_bytes,
                protected_prefixes=self._protected,
            )
        except CommandRejectedError as rejected:
            self.rejected_count += 1
            logger.warning(
                "refused MQTT command on %r: %s: %r",
                message.topic[:200],
                rejected.code.value,
                rejected.reason[:200],
            )
            self._send(rejected.route, Outcome.failed(rejected.code, rejected.reason))
            return
        try:
            self._queue.put_nowait(request)
        except asyncio.QueueFull:
            self.rejected_count += 1
            logger.warning("refused MQTT command %s: too many waiting", request.name.value)
            self._send(request.route, Outcome.failed(ErrorCode.BUSY, "too many commands waiting"))
            return
        self.accepted_count += 1
        logger.info("command %s for %s", request.name.value, request.route.wearer)

    def _send(self, route: ReplyRoute, outcome: Outcome) -> None:
        reply = reply_payload(route, outcome, as_utc(self._clock.now()))
        self._publisher.publish(
            route.topic, reply.to_json(), retain=False, correlation_data=route.correlation_data
        )


OtherCommandHandler = Callable[[Command], Outcome]
"""Handles what the policy does not own (``Calibrate``, ``DeclareLoad``): the daemon's part."""


async def serve_commands(
    listener: CommandListener,
    policy: DeliveryPolicy,
    publisher: MqttPublisher,
    other: OtherCommandHandler | None = None,
) -> None:
    """Answer every command forever: policy commands here, the rest through ``other``.

    Nudges a command produces are published before its reply. A handler that raises is
    answered with ``internal_error`` (and logged); the loop goes on.
    """
    async for request in listener:
        try:
            outcome = apply_to_policy(policy, request.command)
            if outcome is None:
                if other is None:
                    outcome = Outcome.failed(
                        ErrorCode.UNAVAILABLE, f"{request.name.value} is not available here"
                    )
                else:
                    outcome = other(request.command)
        except Exception:
            logger.exception("command %s failed", request.name.value)
            outcome = Outcome.failed(ErrorCode.INTERNAL, "internal error; see the daemon's log")
        for nudge in outcome.nudges:
            publisher.publish_nudge(nudge)
        listener.reply(request, outcome)
