"""The one place for nudge wording: each observation type maps to a template that renders it.

Wording is general guidance with its source, never a diagnosis. Add an entry by writing a
small frozen template with a pure ``render(observation) -> Wording`` and listing it in
``DEFAULT_TEMPLATES``; the wording's ``kind`` decides which cool-down applies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from alerts.events import EventType, Observation
from alerts.nudge import NudgeKind, Severity

SECONDS_PER_MINUTE = 60.0


@dataclass(frozen=True, slots=True)
class Wording:
    """What the catalogue says about one observation, before policy stamps id and time."""

    kind: NudgeKind
    severity: Severity
    title: str
    message: str
    guideline: str
    evidence: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))


class NudgeTemplate(Protocol):
    """One catalogue entry: turns an observation of its type into wording (pure)."""

    def render(self, observation: Observation) -> Wording:
        """The kind, severity, title, message, guideline and evidence for this observation."""
        ...


class MissingTemplateError(LookupError):
    """The catalogue has no wording for an observation type."""

    def __init__(self, event_type: EventType) -> None:
        """Name the observation type that has no entry."""
        super().__init__(f"no catalogue entry for observation type {event_type.value!r}")
        self.event_type = event_type


def minutes_text(minutes: int) -> str:
    """A whole number of minutes in words: ``1 minute``, ``31 minutes``, ``1 hour 5 minutes``."""
    hours, rest_min = divmod(max(minutes, 0), 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour" + ("" if hours == 1 else "s"))
    if rest_min or not hours:
        parts.append(f"{rest_min} minute" + ("" if rest_min == 1 else "s"))
    return " ".join(parts)


@dataclass(frozen=True, slots=True)
class SittingTemplate:
    """Prolonged sitting: stand up and move (ADA 2016 / Dunstan 2012, guidelines.md §3).

    Reads ``bout_s`` (default: the observation's span), optional ``limit_s`` and optional
    ``break_s`` (default ``default_break_s``) from the observation's evidence.
    """

    default_break_s: float = 180.0
    severity: Severity = Severity.ADVICE
    title: str = "Time to stand up"
    guideline: str = (
        "ADA 2016 / Dunstan 2012 (Diabetes Care): break up sitting every 30 min "
        "with at least 3 min of light activity"
    )

    def render(self, observation: Observation) -> Wording:
        """Say how long the wearer has sat (whole minutes, rounded down) and what to do."""
        evidence = observation.evidence
        bout_s = float(evidence.get("bout_s", observation.end_s - observation.start_s))
        break_s = float(evidence.get("break_s", self.default_break_s))
        bout_whole_min = math.floor(bout_s / SECONDS_PER_MINUTE)
        break_whole_min = max(1, math.ceil(break_s / SECONDS_PER_MINUTE))
        message = (
            f"You have been sitting for {minutes_text(bout_whole_min)}. "
            f"Stand up and move for at least {minutes_text(break_whole_min)}"
            " \N{EM DASH} a short walk is ideal."
        )
        numbers = {"bout_min": round(bout_s / SECONDS_PER_MINUTE, 1)}
        if "limit_s" in evidence:
            numbers["limit_min"] = round(float(evidence["limit_s"]) / SECONDS_PER_MINUTE, 1)
        numbers["break_min"] = round(break_s / SECONDS_PER_MINUTE, 1)
        return Wording(
            kind=NudgeKind.SITTING,
            severity=self.severity,
            title=self.title,
            message=message,
            guideline=self.guideline,
            evidence=MappingProxyType(numbers),
        )


class Catalogue:
    """Observation type -> template; the only code that knows what nudges say."""

    __slots__ = ("_templates",)

    def __init__(self, templates: Mapping[EventType, NudgeTemplate] | None = None) -> None:
        """Keep a private copy of the entries (default: the shipped ``DEFAULT_TEMPLATES``)."""
        chosen = DEFAULT_TEMPLATES if templates is None else templates
        self._templates: Mapping[EventType, NudgeTemplate] = MappingProxyType(dict(chosen))

    @property
    def event_types(self) -> frozenset[EventType]:
        """The observation types this catalogue has wording for."""
        return frozenset(self._templates)

    def covers(self, event_type: EventType) -> bool:
        """Whether an observation of this type can be worded."""
        return event_type in self._templates

    def render(self, observation: Observation) -> Wording:
        """Word one observation (raises MissingTemplateError for an unknown type)."""
        try:
            template = self._templates[observation.type]
        except KeyError as exc:
            raise MissingTemplateError(observation.type) from exc
        return template.render(observation)


DEFAULT_TEMPLATES: Mapping[EventType, NudgeTemplate] = MappingProxyType(
    {EventType.SITTING_BOUT: SittingTemplate()}
)
"""The shipped wording, one entry per observation type."""


def default_catalogue(*, sitting_break_s: float = 180.0) -> Catalogue:
    """The shipped wording; ``sitting_break_s`` is the break asked for (strict option: 120)."""
    return Catalogue(
        {
            **DEFAULT_TEMPLATES,
            EventType.SITTING_BOUT: SittingTemplate(default_break_s=sitting_break_s),
        }
    )
