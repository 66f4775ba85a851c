"""The one place for nudge wording: each observation type maps to a template that renders it.

Wording is general guidance with its source, never a diagnosis. Add an entry by writing a
small frozen template with a pure ``render(observation) -> Wording`` and listing it in
``DEFAULT_TEMPLATES``; the wording's ``kind`` decides which cool-down applies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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


def span_text(seconds: float) -> str:
    """A duration in words: whole seconds under 90 s, whole minutes (rounded) above."""
    if seconds < 90.0:
        whole = max(0, round(seconds))
        return f"{whole} second" + ("" if whole == 1 else "s")
    return minutes_text(round(seconds / SECONDS_PER_MINUTE))


@dataclass(frozen=True, slots=True)
class SlouchTemplate:
    """Sitting bent forward beyond the holding-time limit (ISO 11226 / EN 1005-4).

    Reads ``hold_s`` (default: the observation's span), ``flexion_deg`` (mean trunk flexion
    of the hold) and ``limit_s`` (the acceptable holding time at that angle) from the
    evidence.
    """

    severity: Severity = Severity.ADVICE
    title: str = "Sit back and straighten up"
    guideline: str = (
        "ISO 11226 / EN 1005-4: trunk flexion of 20-60\N{DEGREE SIGN} may be held for "
        "240 s (at 20\N{DEGREE SIGN}) down to 60 s (at 60\N{DEGREE SIGN}), beyond "
        "60\N{DEGREE SIGN} not at all"
    )

    def render(self, observation: Observation) -> Wording:
        """Say how far and how long the wearer has leant forward, and how to sit instead."""
        evidence = observation.evidence
        hold_s = float(evidence.get("hold_s", observation.end_s - observation.start_s))
        flexion_deg = float(evidence.get("flexion_deg", math.nan))
        angle = f" about {round(flexion_deg)}\N{DEGREE SIGN}" if math.isfinite(flexion_deg) else ""
        message = (
            f"You have been sitting bent forward{angle} for {span_text(hold_s)}. "
            "Sit right back with your lower back against a lumbar support (a cushion or "
            "rolled towel will do), feet flat and knees a little lower than your hips."
        )
        numbers = {"hold_min": round(hold_s / SECONDS_PER_MINUTE, 1)}
        if math.isfinite(flexion_deg):
            numbers["flexion_deg"] = round(flexion_deg, 1)
        if "limit_s" in evidence:
            numbers["limit_min"] = round(float(evidence["limit_s"]) / SECONDS_PER_MINUTE, 1)
        return Wording(
            kind=NudgeKind.SLOUCH,
            severity=self.severity,
            title=self.title,
            message=message,
            guideline=self.guideline,
            evidence=MappingProxyType(numbers),
        )


@dataclass(frozen=True, slots=True)
class SideBendTemplate:
    """A sideways bend of the trunk held beyond 10 degrees (ISO 11226 / EN 1005-4).

    Reads ``hold_s`` (default: the observation's span) and ``lateral_deg`` (mean sideways
    bend of the hold, positive toward the wearer's right) from the evidence.
    """

    severity: Severity = Severity.ADVICE
    title: str = "Straighten up sideways"
    guideline: str = (
        "ISO 11226 / EN 1005-4: a sideways bend or twist of the trunk of more than "
        "10\N{DEGREE SIGN} held is not acceptable"
    )

    def render(self, observation: Observation) -> Wording:
        """Say which way and how long the wearer has leant, and what to change."""
        evidence = observation.evidence
        hold_s = float(evidence.get("hold_s", observation.end_s - observation.start_s))
        lateral_deg = float(evidence.get("lateral_deg", math.nan))
        if math.isfinite(lateral_deg):
            side = "right" if lateral_deg > 0 else "left"
            lean = f"about {round(abs(lateral_deg))}\N{DEGREE SIGN} to your {side}"
        else:
            lean = "to one side"
        message = (
            f"You have been leaning {lean} for {span_text(hold_s)}. Straighten up with your "
            "weight on both hips or both feet; bring what you are reaching for closer, or "
            "turn your whole body toward it."
        )
        numbers = {"hold_min": round(hold_s / SECONDS_PER_MINUTE, 1)}
        if math.isfinite(lateral_deg):
            numbers["lateral_deg"] = round(lateral_deg, 1)
        return Wording(
            kind=NudgeKind.SLOUCH,
            severity=self.severity,
            title=self.title,
            message=message,
            guideline=self.guideline,
            evidence=MappingProxyType(numbers),
        )


_SLEEP_ADVICE = {
    "side": "On your side, a pillow between your knees keeps your hips and spine in line.",
    "back": "On your back, a pillow under your knees eases the arch of your lower back.",
    "front": (
        "Lying on your front arches the lower back; try your side, with a pillow between "
        "your knees."
    ),
}


@dataclass(frozen=True, slots=True)
class SleepPositionTemplate:
    """The summary after a long spell lying down: time per position and matching advice.

    Reads ``lying_s`` and the seconds in each position, ``supine_s``, ``prone_s``,
    ``left_s`` and ``right_s``, from the evidence; the advice follows the position held
    longest (back, side or front).
    """

    severity: Severity = Severity.INFO
    title: str = "How you lay"
    guideline: str = (
        "Position from the trunk sensor while lying (Kukwa et al. 2022, Diagnostics "
        "12:1195); pillow advice is general back-care guidance, not a diagnosis"
    )

    def render(self, observation: Observation) -> Wording:
        """Summarise the shares of back, side and front, and advise for the main one."""
        evidence = observation.evidence
        seconds = {
            key: max(0.0, float(evidence.get(f"{key}_s", 0.0)))
            for key in ("supine", "prone", "left", "right")
        }
        lying_s = float(evidence.get("lying_s", observation.end_s - observation.start_s))
        placed = sum(seconds.values())
        share = {key: (value / placed if placed > 0 else 0.0) for key, value in seconds.items()}
        groups = {
            "back": share["supine"],
            "side": share["left"] + share["right"],
            "front": share["prone"],
        }
        main = max(groups, key=lambda key: groups[key])
        side_detail = (
            f" (left {round(100 * share['left'])} %, right {round(100 * share['right'])} %)"
        )
        parts = [
            f"{round(100 * groups[name])} % on your {name}"
            + (side_detail if name == "side" else "")
            for name in sorted(groups, key=lambda key: -groups[key])
            if groups[name] >= 0.005
        ]
        lying_text = minutes_text(round(lying_s / SECONDS_PER_MINUTE))
        if parts:
            message = (
                f"Of {lying_text} lying down you spent {', '.join(parts)}. {_SLEEP_ADVICE[main]}"
            )
        else:
            message = f"You were lying down for {lying_text}. {_SLEEP_ADVICE['side']}"
        numbers = {"lying_min": round(lying_s / SECONDS_PER_MINUTE, 1)}
        numbers.update({f"{key}_pct": round(100 * value, 1) for key, value in share.items()})
        return Wording(
            kind=NudgeKind.SLEEP_POSITION,
            severity=self.severity,
            title=self.title,
            message=message,
            guideline=self.guideline,
            evidence=MappingProxyType(numbers),
        )


def _finite_evidence(observation: Observation) -> dict[str, float]:
    """The observation's finite evidence numbers (keys already carry their units)."""
    return {
        key: float(value)
        for key, value in observation.evidence.items()
        if math.isfinite(float(value))
    }


LIFTING_INDEX_HIGH = 3.0
"""NIOSH 94-110: a lifting index above 3 means high risk."""


#: Lift risks that earn a form-coaching nudge, each with what was wrong and what to do.
LIFT_RISK_ADVICE: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "stoop": (
            "you bent at the back with your legs nearly straight",
            "bend your hips and knees and keep your back upright",
        ),
        "deep_flexion": (
            "your back bent beyond 60 degrees",
            "get down to the load with your knees instead of reaching with your back",
        ),
        "twist": (
            "you twisted while lifting",
            "turn with your feet, not your back",
        ),
        "lateral_bend": (
            "you leant to one side",
            "face the load square on and keep it centred",
        ),
        "fast_extension": (
            "you straightened up with a jerk",
            "rise smoothly and under control",
        ),
    }
)


def label_list(observation: Observation, key: str) -> list[str]:
    """A comma-separated label of the observation as a list (empty when absent)."""
    return [part for part in observation.labels.get(key, "").split(",") if part]


def lift_risks(observation: Observation) -> list[str]:
    """The risks of a lift observation that earn coaching, from its labels or 0/1 flags."""
    named = set(label_list(observation, "risks"))
    named |= {
        name
        for name in LIFT_RISK_ADVICE
        if float(observation.evidence.get(f"risk_{name}", 0.0)) > 0.0
    }
    return [name for name in LIFT_RISK_ADVICE if name in named]


@dataclass(frozen=True, slots=True)
class LiftFormTemplate:
    """A risky lift: what was wrong and how to lift next time (NIOSH 94-110, HSE INDG143).

    Reads the ``risks`` and ``technique`` labels (or the ``risk_<name>`` 0/1 evidence),
    ``peak_flexion_deg`` and, when a load was declared, ``lifting_index``; a lifting index
    above 3 makes it a warning. Only risky lifts (or one with a lifting index above 1, or an
    observation without labels or risk flags, as sent before risks were named) are nudged:
    see :meth:`wants_nudge`.
    """

    title: str = "Lift with your legs"
    guideline: str = (
        "NIOSH 94-110 lifting equation (lifting index above 1 raises risk); "
        "UK HSE INDG143: bend hips and knees, keep the load close"
    )

    def wants_nudge(self, observation: Observation) -> bool:
        """Whether the lift is worth coaching: any risk, or a lifting index above 1."""
        index = float(observation.evidence.get("lifting_index", math.nan))
        if math.isfinite(index) and index > 1.0:
            return True
        flagged = "risks" in observation.labels or any(
            key.startswith("risk_") for key in observation.evidence
        )
        return bool(lift_risks(observation)) or not flagged

    def render(self, observation: Observation) -> Wording:
        """Name the trunk angle, what was wrong (and lifting index) and the better technique."""
        evidence = _finite_evidence(observation)
        peak_deg = evidence.get("peak_flexion_deg")
        index = evidence.get("lifting_index")
        risks = lift_risks(observation)
        if peak_deg is not None:
            first = f"That lift was done with your back bent about {round(peak_deg)} degrees"
        else:
            first = "That lift was done with a rounded back"
        if index is not None:
            first += f" and a lifting index of {index:.1f}"
        if risks:
            wrong = "; ".join(LIFT_RISK_ADVICE[name][0] for name in risks)
            do = "; ".join(LIFT_RISK_ADVICE[name][1] for name in risks)
            message = (
                f"{first}: {wrong}. Next time {do}, keep the load close to your body and "
                "let your legs do the work."
            )
        else:
            message = (
                f"{first}. Next time bend your hips and knees, keep the load close to your "
                "body and let your legs do the work."
            )
        high = index is not None and index > LIFTING_INDEX_HIGH
        return Wording(
            kind=NudgeKind.LIFT_FORM,
            severity=Severity.WARNING if high else Severity.ADVICE,
            title=self.title,
            message=message,
            guideline=self.guideline,
            evidence=MappingProxyType(evidence),
        )


LIFT_RISK_SHORT: Mapping[str, str] = MappingProxyType(
    {
        "stoop": "bent at the back with straight legs",
        "deep_flexion": "bent beyond 60 degrees",
        "twist": "twisted",
        "lateral_bend": "leant to one side",
        "fast_extension": "straightened up with a jerk",
    }
)


def lift_bundle_wording(risks_per_lift: Sequence[Sequence[str]], since: str) -> Wording:
    """One coaching nudge for the risky lifts a cool-down held back since ``since`` (HH:MM)."""
    if not risks_per_lift:
        raise ValueError("lift_bundle_wording needs at least one held lift")
    counts = {name: sum(name in risks for risks in risks_per_lift) for name in LIFT_RISK_ADVICE}
    named = [name for name in LIFT_RISK_ADVICE if counts[name]]
    lifts = len(risks_per_lift)
    what = ", ".join(f"{counts[name]} {LIFT_RISK_SHORT[name]}" for name in named)
    risky = "1 more lift was risky" if lifts == 1 else f"{lifts} more lifts were risky"
    do = "; ".join(LIFT_RISK_ADVICE[name][1] for name in named) or (
        "bend your hips and knees and keep your back upright"
    )
    message = (
        f"Since {since}, {risky}"
        + (f" ({what})" if what else "")
        + (f". Next time {do}, keep the load close and let your legs do the work.")
    )
    evidence = {"lift_count": float(lifts)} | {
        f"{name}_count": float(counts[name]) for name in named
    }
    return Wording(
        kind=NudgeKind.LIFT_FORM,
        severity=Severity.ADVICE,
        title="Several risky lifts",
        message=message,
        guideline=LiftFormTemplate().guideline,
        evidence=MappingProxyType(evidence),
    )


@dataclass(frozen=True, slots=True)
class BendFrequencyTemplate:
    """Bending the trunk too often (EN 1005-4: bends beyond 20 degrees per minute).

    Reads ``per_min`` from the evidence and the ``band`` label (``acceptable`` under 2 per
    minute, ``conditional`` 2-10, ``not_acceptable`` 10 or more); only conditional or worse
    is nudged (:meth:`wants_nudge`), not acceptable as a warning.
    """

    title: str = "Slow down the bending"
    guideline: str = (
        "EN 1005-4: trunk bends beyond 20\N{DEGREE SIGN} under 2 per minute acceptable, "
        "2-10 conditional, 10 or more not acceptable"
    )

    def wants_nudge(self, observation: Observation) -> bool:
        """Only a conditional or not acceptable pace is worth a nudge."""
        return observation.labels.get("band", "conditional") != "acceptable"

    def render(self, observation: Observation) -> Wording:
        """Say how often the wearer bent and how to bend less."""
        evidence = _finite_evidence(observation)
        per_min = evidence.get("per_min")
        band = observation.labels.get("band", "conditional")
        rate = f"about {per_min:.0f} times a minute" if per_min is not None else "very often"
        message = (
            f"You have been bending forward {rate}. Raise what you work on to waist height, "
            "keep things within reach and take short pauses between bends."
        )
        return Wording(
            kind=NudgeKind.LIFT_FORM,
            severity=Severity.WARNING if band == "not_acceptable" else Severity.ADVICE,
            title=self.title,
            message=message,
            guideline=self.guideline,
            evidence=MappingProxyType(evidence),
        )


@dataclass(frozen=True, slots=True)
class FallCheckTemplate:
    """A possible fall: ask whether the wearer is OK (urgent; repeated until answered)."""

    title: str = "Did you fall?"
    message: str = (
        "backwatch noticed what looks like a fall. If you are hurt, cannot get up or have "
        "severe back pain, call for help now. If you are fine, tap I'm OK."
    )
    guideline: str = (
        "Fall detection from a trunk sensor (Bourke & Lyons 2008, Huynh 2015): a possible "
        "fall, not a diagnosis"
    )

    def render(self, observation: Observation) -> Wording:
        """The fall check, carrying the observation's finite evidence numbers."""
        return Wording(
            kind=NudgeKind.FALL_CHECK,
            severity=Severity.URGENT,
            title=self.title,
            message=self.message,
            guideline=self.guideline,
            evidence=MappingProxyType(_finite_evidence(observation)),
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

    def wants_nudge(self, observation: Observation) -> bool:
        """Whether the observation is worth a nudge at all (a template may say it is not)."""
        template = self._templates.get(observation.type)
        wants = getattr(template, "wants_nudge", None)
        return True if wants is None else bool(wants(observation))

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
    {
        EventType.SITTING_BOUT: SittingTemplate(),
        EventType.SLOUCH: SlouchTemplate(),
        EventType.SIDE_BEND: SideBendTemplate(),
        EventType.SLEEP_POSITION: SleepPositionTemplate(),
        EventType.LIFT: LiftFormTemplate(),
        EventType.FALL: FallCheckTemplate(),
        EventType.BEND_FREQUENCY: BendFrequencyTemplate(),
    }
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
