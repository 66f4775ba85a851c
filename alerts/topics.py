"""The MQTT topic tree: segment validation and the builder for every topic backwatch uses.

Topic list (``<base>`` defaults to ``backwatch`` and may itself hold ``/``):

- ``<base>/status``: availability, ``online``/``offline`` plain text (retained; last will)
- ``<base>/<wearer>/state``: wearer state JSON (QoS 1, retained)
- ``<base>/<wearer>/nudge``: nudge JSON (QoS 1, not retained)
- ``<base>/<wearer>/event``: observation JSON (QoS 1, not retained)
- ``<base>/<wearer>/sensor/<sensor>/status``: sensor status JSON (QoS 1, retained)
- ``<base>/<wearer>/cmd/<command>``: commands to backwatch
- ``<base>/<wearer>/reply/<command>``: the reply to every command
- ``<base>/error``: replies to commands whose topic names no usable wearer
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SEGMENT_MAX_CHARS = 64
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


class TopicError(ValueError):
    """A name cannot be used as a topic segment; names the segment and where it came from."""

    def __init__(self, segment: str, role: str, reason: str) -> None:
        """Say which segment, in which role (``wearer``, ``sensor``, ...), is wrong and why."""
        super().__init__(f"invalid MQTT topic segment {segment!r} for {role}: {reason}")
        self.segment = segment
        self.role = role


def check_segment(segment: str, role: str = "topic segment") -> str:
    """Return ``segment`` if it is 1-64 chars of ``[A-Za-z0-9_-]``, else raise TopicError."""
    if not segment:
        raise TopicError(segment, role, "empty")
    if len(segment) > SEGMENT_MAX_CHARS:
        raise TopicError(segment, role, f"longer than {SEGMENT_MAX_CHARS} characters")
    if _SEGMENT.fullmatch(segment) is None:
        bad = sorted({char for char in segment if _SEGMENT.fullmatch(char) is None})
        raise TopicError(
            segment,
            role,
            f"only A-Z a-z 0-9 _ - are allowed (found {''.join(bad)!r}; no + # / or spaces)",
        )
    return segment


@dataclass(frozen=True, slots=True)
class Topics:
    """Builds every topic under one base; the base may be several segments (``home/backwatch``)."""

    base: str = "backwatch"

    def __post_init__(self) -> None:
        """Validate each segment of the base."""
        for segment in self.base.split("/"):
            check_segment(segment, f"base topic {self.base!r}")

    @property
    def availability(self) -> str:
        """``<base>/status``: ``online``/``offline``, retained, with ``offline`` as last will."""
        return f"{self.base}/status"

    def state(self, wearer: str) -> str:
        """``<base>/<wearer>/state``: the retained wearer state."""
        return f"{self._wearer(wearer)}/state"

    def nudge(self, wearer: str) -> str:
        """``<base>/<wearer>/nudge``: nudges, QoS 1, not retained."""
        return f"{self._wearer(wearer)}/nudge"

    def event(self, wearer: str) -> str:
        """``<base>/<wearer>/event``: observations, QoS 1, not retained."""
        return f"{self._wearer(wearer)}/event"

    def summary(self, wearer: str) -> str:
        """``<base>/<wearer>/summary``: the retained summary of the wearer's latest full day."""
        return f"{self._wearer(wearer)}/summary"

    def sensor_status(self, wearer: str, sensor: str) -> str:
        """``<base>/<wearer>/sensor/<sensor>/status``: retained sensor status."""
        return f"{self._wearer(wearer)}/sensor/{check_segment(sensor, 'sensor')}/status"

    def command(self, wearer: str, command: str) -> str:
        """``<base>/<wearer>/cmd/<command>``: a command to backwatch."""
        return f"{self._wearer(wearer)}/cmd/{check_segment(command, 'command')}"

    def reply(self, wearer: str, command: str) -> str:
        """``<base>/<wearer>/reply/<command>``: the reply to a command."""
        return f"{self._wearer(wearer)}/reply/{check_segment(command, 'command')}"

    @property
    def command_filter(self) -> str:
        """``<base>/+/cmd/+``: the subscription that receives every wearer's commands."""
        return f"{self.base}/+/cmd/+"

    @property
    def command_subscription(self) -> str:
        """``<base>/+/cmd/#``: every command topic, malformed ones (extra levels) included."""
        return f"{self.base}/+/cmd/#"

    @property
    def error(self) -> str:
        """``<base>/error``: replies to commands whose topic has no usable wearer segment."""
        return f"{self.base}/error"

    def parse_command(self, topic: str) -> tuple[str, str] | None:
        """``(wearer, command)`` for a topic matching ``command_filter``, else None."""
        prefix = f"{self.base}/"
        if not topic.startswith(prefix):
            return None
        parts = topic[len(prefix) :].split("/")
        if len(parts) != 3 or parts[1] != "cmd":
            return None
        wearer, _, command = parts
        try:
            check_segment(wearer, "wearer")
            check_segment(command, "command")
        except TopicError:
            return None
        return wearer, command

    def _wearer(self, wearer: str) -> str:
        return f"{self.base}/{check_segment(wearer, 'wearer')}"
