"""MQTT publishing: connection settings and a publisher that keeps every message until acked.

The publisher owns one background task. It connects with a retained ``offline`` last will
on the availability topic and publishes ``online`` (retained) on every connect. Messages
wait in an in-memory queue and leave it only after the broker's PUBACK (QoS 1); when the
broker goes away the task reconnects with capped exponential backoff and resends what is
pending, in order, each payload unchanged (so a nudge keeps its id). Delivery is
at-least-once: a message whose PUBACK was lost is sent again, receivers drop duplicates by id.

With an ``Outbox`` (``AlertStore.outbox``) nudges and events are written to it before they
are queued and marked sent on PUBACK; a publisher created later on the same outbox (after a
restart or a crash) starts with whatever was still pending, in order, payloads unchanged.

The same connection receives: ``subscribe(filter, handler)`` registers a handler that gets
every ``InboundMessage`` on that filter (commands, Home Assistant's status); subscriptions are
renewed on every connect. It speaks MQTT 5 by default (``MqttConnection.mqtt5``) so replies
can honour a response topic and correlation data; MQTT 3.1.1 peers work through the broker.
After a reconnect the latest retained messages are sent again (a broker restarted without
persistence has lost them), and ``on_connected`` callbacks run on every connect.

With a fixed ``client_id`` the session is persistent (MQTT 5: clean start off and a session
expiry of ``session_expiry_s``; MQTT 3.1.1: clean session off): the broker keeps the command
subscriptions while the daemon is away (a restart, a crash, a network outage) and hands over
the commands that arrived meanwhile when it reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import math
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from pydantic import SecretStr

from alerts.events import Observation
from alerts.nudge import Nudge
from alerts.state import SensorStatus, WearerState
from alerts.store import Outbox, OutboxItem, StoreError
from alerts.topics import Topics

logger = logging.getLogger(__name__)

ONLINE = b"online"
OFFLINE = b"offline"
QOS_AT_LEAST_ONCE = 1


class MqttUnavailable(Exception):  # noqa: N818 (the name the rest of backwatch uses)
    """The broker cannot be reached, or the publisher is not (or no longer) running."""


class MqttConfigError(ValueError):
    """The MQTT connection settings cannot be used (bad port, unreadable TLS files)."""


@dataclass(frozen=True, slots=True)
class MqttConnection:
    """Where and how to connect to the broker.

    A plain-str ``password`` is wrapped in a SecretStr on creation; it is left out of repr
    and never logged.
    """

    host: str
    port: int = 1883
    client_id: str | None = None
    username: str | None = None
    password: SecretStr | str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_s: int = 60
    mqtt5: bool = True
    session_expiry_s: int = 3600
    """How long the broker keeps the session of a fixed ``client_id`` while disconnected
    (MQTT 5; 0: a clean session on every connect). MQTT 3.1.1 brokers keep it until their
    own expiry."""

    def __post_init__(self) -> None:
        """Wrap a plain password; refuse settings no broker could accept, naming the field."""
        if isinstance(self.password, str):
            object.__setattr__(self, "password", SecretStr(self.password))
        if not self.host:
            raise MqttConfigError("mqtt host: empty")
        if not 1 <= self.port <= 65535:
            raise MqttConfigError(f"mqtt port: {self.port} is not in 1..65535")
        if self.keepalive_s < 1:
            raise MqttConfigError(f"mqtt keepalive_s: {self.keepalive_s} must be >= 1")
        if self.session_expiry_s < 0:
            raise MqttConfigError(f"mqtt session_expiry_s: {self.session_expiry_s} must be >= 0")
        if self.key_file is not None and self.cert_file is None:
            raise MqttConfigError("mqtt key_file: given without cert_file")
        if not self.tls and any(f is not None for f in (self.ca_file, self.cert_file)):
            raise MqttConfigError("mqtt ca_file/cert_file: given but tls is off")

    def password_text(self) -> str | None:
        """The password itself, for the client library only."""
        if isinstance(self.password, SecretStr):
            return self.password.get_secret_value()
        return self.password

    @property
    def address(self) -> str:
        """``host:port`` for messages (no credentials)."""
        return f"{self.host}:{self.port}"

    @property
    def persistent_session(self) -> bool:
        """Whether the broker keeps this client's session between connections."""
        return self.client_id is not None and self.session_expiry_s > 0


def tls_context(connection: MqttConnection) -> ssl.SSLContext | None:
    """The TLS context for this connection (None without TLS); verifies the broker."""
    if not connection.tls:
        return None
    try:
        context = ssl.create_default_context(
            cafile=str(connection.ca_file) if connection.ca_file is not None else None
        )
        if connection.cert_file is not None:
            context.load_cert_chain(connection.cert_file, connection.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise MqttConfigError(f"mqtt TLS files could not be loaded: {exc}") from exc
    return context


def observation_json(observation: Observation) -> str:
    """The event payload: ``{"wearer","type","start_s","end_s","evidence","labels"}``, compact.

    ``decided_s`` follows when the live evaluation decided the observation (its decisive
    sample's time).

    ``labels`` holds the observation's words (a lift's ``technique`` and ``risks``, a fall's
    ``direction``...); evidence only finite numbers.
    """
    document = {
        "wearer": observation.wearer,
        "type": observation.type.value,
        "start_s": float(observation.start_s),
        "end_s": float(observation.end_s),
        "evidence": {
            key: float(value)
            for key, value in observation.evidence.items()
            if math.isfinite(float(value))
        },
        "labels": dict(observation.labels),
    }
    if observation.decided_s is not None:
        document["decided_s"] = float(observation.decided_s)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message received on a subscribed filter, with its MQTT 5 reply properties."""

    topic: str
    payload: bytes
    retain: bool
    response_topic: str | None = None
    correlation_data: bytes | None = None


InboundHandler = Callable[[InboundMessage], None]
"""Called in the receive loop for each message on a subscribed filter; must not block."""


@dataclass(frozen=True, slots=True)
class _Outgoing:
    """One message waiting for the broker's acknowledgement (``seq``: its outbox row)."""

    topic: str
    payload: bytes
    retain: bool
    seq: int | None = None
    correlation_data: bytes | None = None


class _Link(enum.Enum):
    """Where the connection stands, for logging each change once."""

    NEVER_CONNECTED = enum.auto()
    CONNECTED = enum.auto()
    LOST = enum.auto()


class MqttPublisher:
    """Publishes nudges, events and state; an async context manager owning one background task.

    ``publish_*`` only queue (they never wait for the broker and never raise for broker
    trouble); ``pending_count`` says how many messages still wait for an acknowledgement.
    On exit it waits up to ``drain_timeout_s`` for the queue to empty, publishes ``offline``
    (retained) and disconnects. A retained message replaces a queued, not yet sent retained
    message on the same topic, in its place in the queue (only the latest matters). Beyond
    ``max_pending`` the oldest message is dropped and counted in ``dropped_count``.
    """

    def __init__(
        self,
        connection: MqttConnection,
        topics: Topics,
        *,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        publish_timeout_s: float = 10.0,
        drain_timeout_s: float = 5.0,
        max_pending: int = 10_000,
        outbox: Outbox | None = None,
    ) -> None:
        """Check the settings (TLS files are loaded here); nothing connects until entered.

        With ``outbox``, what it still holds from an earlier run is queued first, in order.
        """
        if not 0 < backoff_initial_s <= backoff_max_s:
            raise MqttConfigError("mqtt backoff: need 0 < backoff_initial_s <= backoff_max_s")
        if max_pending < 1:
            raise MqttConfigError(f"mqtt max_pending: {max_pending} must be >= 1")
        self._connection = connection
        self._topics = topics
        self._tls_context = tls_context(connection)
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._backoff_s = backoff_initial_s
        self._publish_timeout_s = publish_timeout_s
        self._drain_timeout_s = drain_timeout_s
        self._max_pending = max_pending
        self._pending: deque[_Outgoing] = deque()
        self._in_flight: _Outgoing | None = None
        self._wakeup = asyncio.Event()
        self._drained = asyncio.Event()
        self._connected = asyncio.Event()
        self._give_up = asyncio.Event()
        self._closing = False
        self._closed = False
        self._runner: asyncio.Task[None] | None = None
        self._link = _Link.NEVER_CONNECTED
        self._reported_unreachable = False
        self._dropping = False
        self._dropped_count = 0
        self._last_error = ""
        self._outbox = outbox
        self._handlers: list[tuple[str, InboundHandler]] = []
        self._connect_callbacks: list[Callable[[], None]] = []
        self._retained: dict[str, bytes] = {}
        if outbox is not None:
            for item in _read_pending(outbox):
                self._pending.append(_Outgoing(item.topic, item.payload, item.retain, item.seq))
            if self._pending:
                logger.info(
                    "%d message(s) from the outbox wait to be published", len(self._pending)
                )

    @property
    def topics(self) -> Topics:
        """The topic tree this publisher writes to."""
        return self._topics

    @property
    def pending_count(self) -> int:
        """Messages queued or in flight, not yet acknowledged by the broker."""
        return len(self._pending)

    @property
    def dropped_count(self) -> int:
        """Messages thrown away because more than ``max_pending`` were waiting."""
        return self._dropped_count

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up right now."""
        return self._connected.is_set()

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        """Return once connected; raise MqttUnavailable after ``timeout_s`` (None: wait on)."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._wait_while_running(self._connected)
        except TimeoutError as exc:
            detail = f": {self._last_error}" if self._last_error else ""
            raise MqttUnavailable(
                f"no connection to MQTT broker {self._connection.address} "
                f"within {timeout_s} s{detail}"
            ) from exc

    async def flush(self, timeout_s: float | None = None) -> None:
        """Return once every queued message is acknowledged; MqttUnavailable after ``timeout_s``."""
        try:
            async with asyncio.timeout(timeout_s):
                while self._pending:
                    await self._wait_while_running(self._drained)
        except TimeoutError as exc:
            raise MqttUnavailable(
                f"{len(self._pending)} MQTT message(s) still unacknowledged by "
                f"{self._connection.address} after {timeout_s} s"
            ) from exc

    async def _wait_while_running(self, event: asyncio.Event) -> None:
        """Wait for ``event``; MqttUnavailable if the publisher is not (or no longer) running."""
        runner = self._runner
        if runner is None or runner.done() or self._closed:
            raise MqttUnavailable("MQTT publisher is not running (use it with 'async with')")
        waiter = asyncio.create_task(event.wait())
        try:
            await asyncio.wait((waiter, runner), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if not event.is_set():
            raise MqttUnavailable("MQTT publisher stopped")

    def subscribe(self, topic_filter: str, handler: InboundHandler) -> None:
        """Receive messages on ``topic_filter`` (QoS 1); call before entering the publisher."""
        if self._runner is not None:
            raise RuntimeError("subscribe before the publisher is entered")
        self._handlers.append((topic_filter, handler))

    def on_connected(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` after every connect (subscriptions made, before queued sends)."""
        self._connect_callbacks.append(callback)

    def publish_nudge(self, nudge: Nudge) -> None:
        """Queue a nudge for ``<base>/<wearer>/nudge`` (QoS 1, not retained; outbox first)."""
        self._enqueue(self._topics.nudge(nudge.wearer), nudge.to_json(), retain=False, durable=True)

    def publish_event(self, observation: Observation) -> None:
        """Queue an observation for ``<base>/<wearer>/event`` (QoS 1, not retained; outbox)."""
        self._enqueue(
            self._topics.event(observation.wearer),
            observation_json(observation),
            retain=False,
            durable=True,
        )

    def publish(
        self,
        topic: str,
        payload: str | bytes,
        *,
        retain: bool = False,
        correlation_data: bytes | None = None,
    ) -> None:
        """Queue any message (QoS 1) on a topic the caller built from validated parts.

        ``correlation_data`` is sent as the MQTT 5 property (ignored on MQTT 3.1.1).
        """
        self._enqueue(topic, payload, retain=retain, correlation_data=correlation_data)

    def publish_state(self, wearer: str, state: WearerState) -> None:
        """Queue the wearer's state for ``<base>/<wearer>/state`` (QoS 1, retained)."""
        self._enqueue(self._topics.state(wearer), state.to_json(), retain=True)

    def publish_sensor_status(self, wearer: str, sensor: str, status: SensorStatus) -> None:
        """Queue a sensor's status for ``<base>/<wearer>/sensor/<sensor>/status`` (retained)."""
        self._enqueue(self._topics.sensor_status(wearer, sensor), status.to_json(), retain=True)

    async def __aenter__(self) -> Self:
        """Start the background task that connects, sends and reconnects."""
        if self._runner is not None:
            raise RuntimeError("MqttPublisher can be entered only once")
        self._runner = asyncio.create_task(self._run(), name="mqtt-publisher")
        self._runner.add_done_callback(_log_crash)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Drain (up to ``drain_timeout_s``), publish ``offline`` retained, disconnect."""
        runner = self._runner
        self._closing = True
        self._wakeup.set()
        try:
            if runner is not None:
                await self._finish(runner)
        finally:
            self._closed = True
            self._connected.clear()
        if self._pending:
            logger.warning(
                "MQTT publisher closed with %d message(s) not acknowledged by %s",
                len(self._pending),
                self._connection.address,
            )

    async def _finish(self, runner: asyncio.Task[None]) -> None:
        try:
            try:
                await asyncio.wait_for(asyncio.shield(runner), self._drain_timeout_s)
            except TimeoutError:
                self._give_up.set()
                self._wakeup.set()
                try:
                    await asyncio.wait_for(asyncio.shield(runner), self._publish_timeout_s)
                except TimeoutError:
                    runner.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await runner
        except asyncio.CancelledError:
            runner.cancel()
            raise

    def _enqueue(
        self,
        topic: str,
        payload: str | bytes,
        *,
        retain: bool,
        durable: bool = False,
        correlation_data: bytes | None = None,
    ) -> None:
        if self._closing:
            raise MqttUnavailable("MQTT publisher is closing; message not accepted")
        data = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
        if retain and self._replace_queued(_Outgoing(topic, data, retain, None, correlation_data)):
            return
        if len(self._pending) >= self._max_pending:
            self._drop_oldest()
        seq = None
        if durable and self._outbox is not None:
            try:
                seq = self._outbox.add(topic, data, retain=retain)
            except StoreError as exc:
                logger.error("outbox write failed (%s); %s is kept in memory only", exc, topic)  # noqa: TRY400 (cause named)
        self._pending.append(_Outgoing(topic, data, retain, seq, correlation_data))
        self._drained.clear()
        self._wakeup.set()

    def _replace_queued(self, newer: _Outgoing) -> bool:
        """Put a retained message in the place of a queued one on its topic; False if none.

        Taking the older one's place (not the back of the queue) keeps a topic that is
        republished often from being pushed back for ever while a backlog drains.
        """
        for index, item in enumerate(self._pending):
            if item is not self._in_flight and item.retain and item.topic == newer.topic:
                self._discard(item)
                self._pending[index] = newer
                self._drained.clear()
                self._wakeup.set()
                return True
        return False

    def _discard(self, item: _Outgoing) -> None:
        if item.seq is not None and self._outbox is not None:
            try:
                self._outbox.discard(item.seq)
            except StoreError as exc:
                logger.error("outbox update failed: %s", exc)  # noqa: TRY400 (cause named)

    def _acknowledged(self, item: _Outgoing) -> None:
        if item.retain:
            if item.payload:
                self._retained[item.topic] = item.payload
            else:
                self._retained.pop(item.topic, None)
        if item.seq is not None and self._outbox is not None:
            try:
                self._outbox.mark_sent(item.seq)
            except StoreError as exc:
                logger.error("outbox update failed: %s", exc)  # noqa: TRY400 (cause named)

    def _drop_oldest(self) -> None:
        index = 1 if self._pending[0] is self._in_flight else 0
        if index >= len(self._pending):
            return
        self._discard(self._pending[index])
        del self._pending[index]
        self._dropped_count += 1
        if not self._dropping:
            self._dropping = True
            logger.warning(
                "more than %d MQTT messages waiting for %s; dropping the oldest",
                self._max_pending,
                self._connection.address,
            )

    async def _run(self) -> None:
        while True:
            if self._closing and (not self._pending or self._give_up.is_set()):
                return
            try:
                await self._session()
            except (aiomqtt.MqttError, MqttUnavailable, OSError) as exc:
                self._on_failure(exc)
            else:
                return
            if self._closing and self._give_up.is_set():
                return
            logger.debug("next MQTT connection attempt in %.1f s", self._backoff_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._give_up.wait(), self._backoff_s)
            self._backoff_s = min(self._backoff_s * 2.0, self._backoff_max_s)

    async def _session(self) -> None:
        """One connection: announce online, send until closed or the link breaks."""
        connection = self._connection
        client = aiomqtt.Client(
            hostname=connection.host,
            port=connection.port,
            identifier=connection.client_id,
            username=connection.username,
            password=connection.password_text(),
            keepalive=connection.keepalive_s,
            timeout=self._publish_timeout_s,
            tls_context=self._tls_context,
            will=aiomqtt.Will(
                self._topics.availability, OFFLINE, qos=QOS_AT_LEAST_ONCE, retain=True
            ),
            protocol=aiomqtt.ProtocolVersion.V5
            if connection.mqtt5
            else aiomqtt.ProtocolVersion.V311,
            **_session_options(connection),
        )
        try:
            async with client:
                await client.publish(
                    self._topics.availability, ONLINE, qos=QOS_AT_LEAST_ONCE, retain=True
                )
                options = self._subscribe_options()
                for topic_filter, _handler in self._handlers:
                    if options is None:
                        await client.subscribe(topic_filter, qos=QOS_AT_LEAST_ONCE)
                    else:
                        await client.subscribe(topic_filter, options=options)
                self._on_connected()
                try:
                    await self._pump(client)
                finally:
                    self._connected.clear()
        except BaseException:
            _abandon(client)
            raise

    async def _pump(self, client: aiomqtt.Client) -> None:
        """Send pending messages while watching the link; returns after a clean close."""
        sender = asyncio.create_task(self._send_all(client))
        watcher = asyncio.create_task(self._watch(client))
        try:
            await asyncio.wait((sender, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sender.cancel()
            watcher.cancel()
            await asyncio.gather(sender, watcher, return_exceptions=True)
        if not sender.cancelled():
            sender.result()
            return
        if not watcher.cancelled():
            watcher.result()
        raise MqttUnavailable("connection to the broker ended")

    async def _send_all(self, client: aiomqtt.Client) -> None:
        while True:
            if self._pending and not self._give_up.is_set():
                item = self._pending[0]
                self._in_flight = item
                try:
                    await client.publish(
                        item.topic,
                        item.payload,
                        qos=QOS_AT_LEAST_ONCE,
                        retain=item.retain,
                        properties=self._properties(item),
                    )
                finally:
                    self._in_flight = None
                if self._pending and self._pending[0] is item:
                    self._pending.popleft()
                self._acknowledged(item)
                if not self._pending:
                    self._drained.set()
                self._dropping = False
                continue
            if self._closing:
                await client.publish(
                    self._topics.availability, OFFLINE, qos=QOS_AT_LEAST_ONCE, retain=True
                )
                return
            self._wakeup.clear()
            await self._wakeup.wait()

    def _subscribe_options(self) -> SubscribeOptions | None:
        """MQTT 5: keep the retain flag as published, so a retained command is recognised."""
        if not self._connection.mqtt5:
            return None
        return SubscribeOptions(qos=QOS_AT_LEAST_ONCE, retainAsPublished=True)

    def _properties(self, item: _Outgoing) -> Properties | None:
        if item.correlation_data is None or not self._connection.mqtt5:
            return None
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.CorrelationData = item.correlation_data
        return properties

    async def _watch(self, client: aiomqtt.Client) -> None:
        """Hand received messages to their handlers; raise aiomqtt.MqttError on a drop."""
        async for message in client.messages:
            self._dispatch(message)

    def _dispatch(self, message: aiomqtt.Message) -> None:
        payload = message.payload
        if isinstance(payload, str):
            data = payload.encode("utf-8")
        elif isinstance(payload, bytes | bytearray):
            data = bytes(payload)
        else:
            data = b"" if payload is None else str(payload).encode("utf-8")
        properties = message.properties
        response_topic = getattr(properties, "ResponseTopic", None)
        correlation = getattr(properties, "CorrelationData", None)
        inbound = InboundMessage(
            topic=message.topic.value,
            payload=data,
            retain=bool(message.retain),
            response_topic=response_topic if isinstance(response_topic, str) else None,
            correlation_data=bytes(correlation)
            if isinstance(correlation, bytes | bytearray)
            else None,
        )
        for topic_filter, handler in self._handlers:
            if not message.topic.matches(topic_filter):
                continue
            try:
                handler(inbound)
            except Exception:
                logger.exception("handler for MQTT messages on %s failed", topic_filter)

    def _on_connected(self) -> None:
        address = self._connection.address
        if self._link is _Link.LOST:
            logger.info(
                "reconnected to MQTT broker %s; resending %d pending message(s)",
                address,
                len(self._pending),
            )
        else:
            logger.info("connected to MQTT broker %s", address)
        if self._link is _Link.LOST:
            self._resend_retained()
        self._link = _Link.CONNECTED
        self._reported_unreachable = False
        self._last_error = ""
        self._backoff_s = self._backoff_initial_s
        self._connected.set()
        for callback in self._connect_callbacks:
            try:
                callback()
            except Exception:
                logger.exception("MQTT on-connect callback failed")

    def _resend_retained(self) -> None:
        """Queue the latest acknowledged retained messages again, unless newer ones wait."""
        waiting = {item.topic for item in self._pending if item.retain}
        again = [
            _Outgoing(topic, payload, retain=True)
            for topic, payload in self._retained.items()
            if topic not in waiting
        ]
        self._pending.extend(again)
        if again:
            self._drained.clear()

    def _on_failure(self, exc: BaseException) -> None:
        self._connected.clear()
        self._last_error = _describe(exc)
        address = self._connection.address
        if self._link is _Link.CONNECTED:
            self._link = _Link.LOST
            logger.warning(
                "lost connection to MQTT broker %s (%s); keeping %d pending message(s), "
                "reconnecting",
                address,
                self._last_error,
                len(self._pending),
            )
        elif not self._reported_unreachable and self._link is _Link.NEVER_CONNECTED:
            logger.warning(
                "MQTT broker %s unavailable (%s); retrying with backoff up to %.0f s",
                address,
                self._last_error,
                self._backoff_max_s,
            )
        else:
            logger.debug("MQTT broker %s still unavailable: %s", address, self._last_error)
        self._reported_unreachable = True


def _session_options(connection: MqttConnection) -> dict[str, Any]:
    """Client options for a persistent session, or none for a clean one."""
    if not connection.persistent_session:
        return {}
    if not connection.mqtt5:
        return {"clean_session": False}
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = connection.session_expiry_s
    return {"clean_start": False, "properties": properties}


def _read_pending(outbox: Outbox) -> list[OutboxItem]:
    try:
        return list(outbox.pending())
    except StoreError as exc:
        logger.error("outbox could not be read (%s); starting without it", exc)  # noqa: TRY400
        return []


def _abandon(client: aiomqtt.Client) -> None:
    """Leave no half-open connection behind a failed attempt.

    When a broker accepts TCP but never answers CONNECT (hung), aiomqtt gives up waiting
    for CONNACK yet keeps the socket; once the broker wakes, that forgotten client would
    come alive holding our last will. Disconnecting paho sends DISCONNECT (the broker then
    discards the will) and closes the socket. aiomqtt has no public call for this.
    """
    with contextlib.suppress(Exception):
        client._client.disconnect()


def _describe(exc: BaseException) -> str:
    """The most telling text for a connection failure (the cause behind aiomqtt's wrapper)."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    return str(cause) or type(cause).__name__


def _log_crash(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        logger.error("MQTT publisher task stopped: %r", exc, exc_info=exc)
