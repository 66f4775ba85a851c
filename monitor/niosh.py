"""The revised NIOSH lifting equation: recommended weight limit and lifting index of a lift.

Waters, Putz-Anderson, Garg (1994), NIOSH Pub. 94-110 (guidelines §2), metric form:

    RWL = LC · HM · VM · DM · AM · FM · CM,   LC = 23 kg,   LI = load / RWL

- HM = 25 / H (H: hands from the midpoint between the ankles, cm); 1 for H ≤ 25, 0 above 63.
- VM = 1 - 0.003 |V - 75| (V: hand height at the origin, cm); 0 outside 0-175.
- DM = 0.82 + 4.5 / D (D: vertical travel, cm); 1 for D ≤ 25, 0 above 175.
- AM = 1 - 0.0032 A (A: asymmetry, degrees); 0 above 135.
- FM from the manual's table by lifts per minute, work duration (≤ 1 h, ≤ 2 h, ≤ 8 h) and
  V < 75 or ≥ 75; below 0.2 lifts/min the 0.2 row, above 15 zero, between rows linear
  interpolation. Recovery time between work spells is not modelled: the duration is the
  continuous lifting time (longer than 8 h uses the 8 h column).
- CM: good 1.00; fair 0.95 for V < 75, 1.00 for V ≥ 75; poor 0.90.

LI ≤ 1 is acceptable for most workers, 1 < LI ≤ 3 increased risk, LI > 3 high risk.

**What a trunk or waist sensor cannot measure.** H, V, D and the coupling need the hands
and the object; the wearer declares them per task (MQTT command or configuration), and
whatever is not declared comes from :class:`NioshDefaults`, chosen for the lifts the
sensor does see (a bend to pick something up from low down): H 40 cm (an object held a
forearm's length in front of the ankles, not hugged close), V 30 cm (a low origin), D 45 cm
(up to about knuckle height), fair coupling, 1 lift per minute, 8 hours (the longest, most
conservative column). The asymmetry A is the lift's measured twist when the sensor has a
gyroscope (the trunk's axial rotation during the lift), else 0°; the frequency is the
measured lift rate when given. :class:`NioshResult` lists which inputs were assumed.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from enum import StrEnum

LOAD_CONSTANT_KG = 23.0

#: Frequency multiplier table (NIOSH 94-110, Table 5): lifts/min, then FM for
#: (≤ 1 h, V < 75), (≤ 1 h, V ≥ 75), (≤ 2 h, V < 75), (≤ 2 h, V ≥ 75), (≤ 8 h, V < 75),
#: (≤ 8 h, V ≥ 75).
FM_TABLE: tuple[tuple[float, tuple[float, float, float, float, float, float]], ...] = (
    (0.2, (1.00, 1.00, 0.95, 0.95, 0.85, 0.85)),
    (0.5, (0.97, 0.97, 0.92, 0.92, 0.81, 0.81)),
    (1.0, (0.94, 0.94, 0.88, 0.88, 0.75, 0.75)),
    (2.0, (0.91, 0.91, 0.84, 0.84, 0.65, 0.65)),
    (3.0, (0.88, 0.88, 0.79, 0.79, 0.55, 0.55)),
    (4.0, (0.84, 0.84, 0.72, 0.72, 0.45, 0.45)),
    (5.0, (0.80, 0.80, 0.60, 0.60, 0.35, 0.35)),
    (6.0, (0.75, 0.75, 0.50, 0.50, 0.27, 0.27)),
    (7.0, (0.70, 0.70, 0.42, 0.42, 0.22, 0.22)),
    (8.0, (0.60, 0.60, 0.35, 0.35, 0.18, 0.18)),
    (9.0, (0.52, 0.52, 0.30, 0.30, 0.00, 0.15)),
    (10.0, (0.45, 0.45, 0.26, 0.26, 0.00, 0.13)),
    (11.0, (0.41, 0.41, 0.00, 0.23, 0.00, 0.00)),
    (12.0, (0.37, 0.37, 0.00, 0.21, 0.00, 0.00)),
    (13.0, (0.00, 0.34, 0.00, 0.00, 0.00, 0.00)),
    (14.0, (0.00, 0.31, 0.00, 0.00, 0.00, 0.00)),
    (15.0, (0.00, 0.28, 0.00, 0.00, 0.00, 0.00)),
)


class NioshError(ValueError):
    """An input outside what the lifting equation accepts (negative load, distance...)."""


class Coupling(StrEnum):
    """How well the hands can grip the object."""

    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"


class LiftingRisk(StrEnum):
    """Rating of a lifting index."""

    ACCEPTABLE = "acceptable"  # LI <= 1
    INCREASED = "increased"  # 1 < LI <= 3
    HIGH = "high"  # LI > 3


def horizontal_multiplier(h_cm: float) -> float:
    """HM = 25 / H; 1 up to 25 cm, 0 beyond 63 cm."""
    _check("horizontal_cm", h_cm)
    if h_cm <= 25.0:
        return 1.0
    if h_cm > 63.0:
        return 0.0
    return 25.0 / h_cm


def vertical_multiplier(v_cm: float) -> float:
    """VM = 1 - 0.003 |V - 75|; 0 beyond 175 cm."""
    _check("vertical_cm", v_cm)
    if v_cm > 175.0:
        return 0.0
    return 1.0 - 0.003 * abs(v_cm - 75.0)


def distance_multiplier(d_cm: float) -> float:
    """DM = 0.82 + 4.5 / D; 1 up to 25 cm, 0 beyond 175 cm."""
    _check("travel_cm", d_cm)
    if d_cm <= 25.0:
        return 1.0
    if d_cm > 175.0:
        return 0.0
    return 0.82 + 4.5 / d_cm


def asymmetric_multiplier(a_deg: float) -> float:
    """AM = 1 - 0.0032 A; 0 beyond 135 degrees."""
    _check("asymmetry_deg", a_deg)
    if a_deg > 135.0:
        return 0.0
    return 1.0 - 0.0032 * a_deg


def frequency_multiplier(per_min: float, duration_h: float, v_cm: float) -> float:
    """FM from the table (linear between rows; the 0.2 row below it; 0 above 15/min)."""
    _check("frequency_per_min", per_min)
    _check("duration_h", duration_h)
    column = (0 if duration_h <= 1.0 else 2 if duration_h <= 2.0 else 4) + (
        1 if v_cm >= 75.0 else 0
    )
    f = max(per_min, FM_TABLE[0][0])
    if f > FM_TABLE[-1][0]:
        return 0.0
    for (f0, row0), (f1, row1) in itertools.pairwise(FM_TABLE):
        if f <= f1:
            a, b = row0[column], row1[column]
            return a + (b - a) * (f - f0) / (f1 - f0)
    return FM_TABLE[-1][1][column]


def coupling_multiplier(coupling: Coupling, v_cm: float) -> float:
    """CM: good 1.00; fair 0.95 below V = 75 cm, else 1.00; poor 0.90."""
    if coupling is Coupling.GOOD:
        return 1.0
    if coupling is Coupling.FAIR:
        return 0.95 if v_cm < 75.0 else 1.0
    return 0.90


def _check(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0.0:
        raise NioshError(f"{name} must be a finite number >= 0, got {value}")


@dataclass(frozen=True, slots=True)
class LiftTask:
    """What the wearer declared about a lifting task; None: not declared."""

    load_kg: float
    horizontal_cm: float | None = None
    vertical_cm: float | None = None
    travel_cm: float | None = None
    asymmetry_deg: float | None = None
    coupling: Coupling | None = None
    frequency_per_min: float | None = None
    duration_h: float | None = None


@dataclass(frozen=True, slots=True)
class NioshDefaults:
    """Values used for what was neither declared nor measured (see the module docstring)."""

    horizontal_cm: float = 40.0
    vertical_cm: float = 30.0
    travel_cm: float = 45.0
    asymmetry_deg: float = 0.0
    coupling: Coupling = Coupling.FAIR
    frequency_per_min: float = 1.0
    duration_h: float = 8.0


@dataclass(frozen=True, slots=True)
class NioshInputs:
    """The inputs the equation was evaluated with."""

    load_kg: float
    horizontal_cm: float
    vertical_cm: float
    travel_cm: float
    asymmetry_deg: float
    coupling: Coupling
    frequency_per_min: float
    duration_h: float


@dataclass(frozen=True, slots=True)
class NioshMultipliers:
    """The six multipliers of the equation."""

    hm: float
    vm: float
    dm: float
    am: float
    fm: float
    cm: float

    @property
    def product(self) -> float:
        """HM · VM · DM · AM · FM · CM."""
        return self.hm * self.vm * self.dm * self.am * self.fm * self.cm


@dataclass(frozen=True, slots=True)
class NioshResult:
    """Recommended weight limit, lifting index and how they were obtained.

    ``assumed``: names of the inputs taken from the defaults; ``measured``: those taken from
    the sensor (``asymmetry_deg`` from the lift's twist, ``frequency_per_min`` from the lift
    rate). ``lifting_index`` is infinite when the RWL is zero (a task outside the equation's
    range: nothing may be lifted that way).
    """

    rwl_kg: float
    lifting_index: float
    risk: LiftingRisk
    multipliers: NioshMultipliers
    inputs: NioshInputs
    assumed: frozenset[str] = field(default_factory=frozenset)
    measured: frozenset[str] = field(default_factory=frozenset)


def rating(lifting_index: float) -> LiftingRisk:
    """The band of a lifting index."""
    if lifting_index <= 1.0:
        return LiftingRisk.ACCEPTABLE
    if lifting_index <= 3.0:
        return LiftingRisk.INCREASED
    return LiftingRisk.HIGH


def multipliers(inputs: NioshInputs) -> NioshMultipliers:
    """The six multipliers for complete inputs."""
    v = inputs.vertical_cm
    return NioshMultipliers(
        hm=horizontal_multiplier(inputs.horizontal_cm),
        vm=vertical_multiplier(v),
        dm=distance_multiplier(inputs.travel_cm),
        am=asymmetric_multiplier(inputs.asymmetry_deg),
        fm=frequency_multiplier(inputs.frequency_per_min, inputs.duration_h, v),
        cm=coupling_multiplier(inputs.coupling, v),
    )


def assess_lift(
    task: LiftTask,
    defaults: NioshDefaults | None = None,
    *,
    twist_deg: float | None = None,
    lifts_per_min: float | None = None,
) -> NioshResult:
    """RWL and LI for a declared task; measured twist and rate fill what was not declared.

    Declared values win over measured ones, measured over defaults.
    """
    d = defaults if defaults is not None else NioshDefaults()
    _check("load_kg", task.load_kg)
    assumed: set[str] = set()
    measured: set[str] = set()

    def pick(name: str, declared: float | None, sensed: float | None, default: float) -> float:
        if declared is not None:
            return declared
        if sensed is not None and math.isfinite(sensed):
            measured.add(name)
            return abs(sensed)
        assumed.add(name)
        return default

    coupling = task.coupling
    if coupling is None:
        assumed.add("coupling")
        coupling = d.coupling
    inputs = NioshInputs(
        load_kg=task.load_kg,
        horizontal_cm=pick("horizontal_cm", task.horizontal_cm, None, d.horizontal_cm),
        vertical_cm=pick("vertical_cm", task.vertical_cm, None, d.vertical_cm),
        travel_cm=pick("travel_cm", task.travel_cm, None, d.travel_cm),
        asymmetry_deg=pick("asymmetry_deg", task.asymmetry_deg, twist_deg, d.asymmetry_deg),
        coupling=coupling,
        frequency_per_min=pick(
            "frequency_per_min", task.frequency_per_min, lifts_per_min, d.frequency_per_min
        ),
        duration_h=pick("duration_h", task.duration_h, None, d.duration_h),
    )
    m = multipliers(inputs)
    rwl = LOAD_CONSTANT_KG * m.product
    li = task.load_kg / rwl if rwl > 0.0 else (math.inf if task.load_kg > 0.0 else 0.0)
    return NioshResult(
        rwl_kg=rwl,
        lifting_index=li,
        risk=rating(li),
        multipliers=m,
        inputs=inputs,
        assumed=frozenset(assumed),
        measured=frozenset(measured),
    )
