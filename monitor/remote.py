"""Talking to a running daemon over MQTT, as the CLI does for ``backwatch calibrate``."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import uuid
from typing import Any

import aiomqtt

from config.settings import Settings, mqtt_password

MAX_REPLY_BYTES = 65_536
"""Largest reply read; backwatch's replies are a few hundred bytes."""


class RemoteCommandError(Exception):
    """The broker could not be reached, or the daemon did not answer in time."""


def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    mqtt = settings.mqtt
    if not mqtt.tls:
        return None
    context = ssl.create_default_context(cafile=str(mqtt.ca_file) if mqtt.ca_file else None)
    if mqtt.cert_file is not None and mqtt.key_file is not None:
        context.load_cert_chain(str(mqtt.cert_file), str(mqtt.key_file))
    return context


def _reply(raw: object) -> dict[str, Any] | None:
    """A reply's JSON object; None for anything else on the topic (too big, not JSON)."""
    if not isinstance(raw, bytes | bytearray) or len(raw) > MAX_REPLY_BYTES:
        return None
    try:
        reply = json.loads(raw)
    except ValueError:
        return None
    return reply if isinstance(reply, dict) else None


async def send_command(
    settings: Settings,
    wearer: str,
    command: str,
    payload: dict[str, Any],
    *,
    timeout_s: float = 10.0,
) -> dict[str, Any]:
    """Publish one command to ``<base>/<wearer>/cmd/<command>`` and return the daemon's reply.

    The request carries a fresh ``request_id`` so that only the answer to this request is
    taken (MQTT 3.1.1 has no correlation data).
    """
    mqtt = settings.mqtt
    secret = mqtt_password(mqtt, os.environ.get("CREDENTIALS_DIRECTORY"))
    password = None if secret is None else secret.get_secret_value()
    request_id = uuid.uuid4().hex
    base = f"{mqtt.base_topic}/{wearer}"
    try:
        async with aiomqtt.Client(
            mqtt.host,
            mqtt.port,
            identifier=f"backwatch-cli-{request_id[:8]}",
            username=mqtt.username,
            password=password,
            tls_context=_tls_context(settings),
        ) as client:
            await client.subscribe(f"{base}/reply/{command}", qos=1)
            body = json.dumps({**payload, "request_id": request_id})
            await client.publish(f"{base}/cmd/{command}", body, qos=1)
            async with asyncio.timeout(timeout_s):
                async for message in client.messages:
                    reply = _reply(message.payload)
                    if reply is not None and reply.get("request_id") == request_id:
                        return reply
    except aiomqtt.MqttError as exc:
        raise RemoteCommandError(
            f"cannot reach the broker at {mqtt.host}:{mqtt.port}: {exc}"
        ) from exc
    except TimeoutError as exc:
        raise RemoteCommandError(
            f"no answer from backwatch within {timeout_s:g} s (is `backwatch run` running "
            f"with base topic {mqtt.base_topic!r}?)"
        ) from exc
    raise RemoteCommandError("the broker closed the connection before the daemon answered")
