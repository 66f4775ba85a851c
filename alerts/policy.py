"""Delivery policy: which observations become nudges, with per-wearer, per-kind cool-downs."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType

from alerts.catalogue import Catalogue
from alerts.clock import Clock, as_utc
from alerts.events import Observation
from alerts.nudge import Nudge, NudgeKind


def new_nudge_id() -> str:
    """A fresh random nudge id (uuid4, 32 lowercase hex digits)."""
    return uuid.uuid4().hex


def _checked_cooldown_s(name: str, value_s: float) -> float:
    if not math.isfinite(value_s) or value_s < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value_s!r}")
    return float(value_s)


class DeliveryPolicy:
    """Turns observations into nudges, holding back repeats within a cool-down.

    The cool-down runs on the injected wall clock: after a nudge of kind K to wearer W at
    time T, further K nudges to W are suppressed while ``now - T < cooldown``; at exactly
    ``T + cooldown`` the next one goes out. Suppressed observations do not restart the
    cool-down. Deterministic and free of I/O given the clock and ``new_id``.
    """

    __slots__ = ("_catalogue", "_clock", "_cooldown_s", "_default_cooldown_s", "_last", "_new_id")

    def __init__(
        self,
        catalogue: Catalogue,
        clock: Clock,
        cooldown_s: Mapping[NudgeKind, float],
        default_cooldown_s: float,
        new_id: Callable[[], str] = new_nudge_id,
    ) -> None:
        """Set the wording, the clock, cool-downs per kind (others get the default)."""
        self._catalogue = catalogue
        self._clock = clock
        self._cooldown_s: Mapping[NudgeKind, float] = MappingProxyType(
            {
                kind: _checked_cooldown_s(f"cooldown_s[{kind.value}]", value_s)
                for kind, value_s in cooldown_s.items()
            }
        )
        self._default_cooldown_s = _checked_cooldown_s("default_cooldown_s", default_cooldown_s)
        self._new_id = new_id
        self._last: dict[tuple[str, NudgeKind], datetime] = {}

    def cooldown_for(self, kind: NudgeKind) -> float:
        """The cool-down in seconds applied to nudges of this kind."""
        return self._cooldown_s.get(kind, self._default_cooldown_s)

    def decide(self, observation: Observation) -> Nudge | None:
        """The nudge to send for this observation, or None while its kind is cooling down.

        Raises ``MissingTemplateError`` when the catalogue has no wording for the type.
        """
        wording = self._catalogue.render(observation)
        kind = wording.kind
        now = as_utc(self._clock.now())
        key = (observation.wearer, kind)
        last = self._last.get(key)
        if last is not None and (now - last).total_seconds() < self.cooldown_for(kind):
            return None
        nudge = Nudge(
            id=self._new_id(),
            time=now,
            wearer=observation.wearer,
            kind=kind,
            severity=wording.severity,
            title=wording.title,
            message=wording.message,
            guideline=wording.guideline,
            evidence=dict(wording.evidence),
            event_start_s=observation.start_s,
            event_end_s=observation.end_s,
        )
        self._last[key] = now
        return nudge
