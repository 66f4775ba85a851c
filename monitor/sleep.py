"""Lying position (back, front, left or right side) and the summary of a long spell lying down.

**Position** (after Kukwa et al. 2022, who classified sleep position from the orientation of
one trunk sensor against polysomnography: 97-99 % agreement): while the wearer lies, gravity
falls across the trunk, and its direction in the body's transverse plane tells the position.
With ``a_x`` the share along the body's forward axis and ``a_y`` along its left axis
(:func:`sleep_positions`), the angle ``atan2(a_y, a_x)`` is 0° lying on the back (the chest
faces up), ±180° on the front, +90° on the right side (the left side faces up) and -90°
on the left side; each position takes the 90° sector around its angle. It needs a mount
whose forward direction is known (declared, calibrated or learned from walking); a waist
sensor works as well as one on the trunk.

**Spells** (:class:`SleepTracker`): a lying spell starts with the first second decided
lying and ends once ``break_s`` seconds in a row are anything else (up and about, sitting
up, or without data); the spell ends where its last lying second ends. Shorter breaks
(turning over, a trip to the bathroom) stay inside the spell but do not count as lying. A
spell of at least ``min_lying_s`` seconds lying gives one
:data:`~alerts.events.EventType.SLEEP_POSITION` observation when it ends (or at the end of
the data): ``start_s``/``end_s`` span the spell; ``evidence`` holds ``lying_s``, the
seconds in each position (``supine_s``, ``prone_s``, ``left_s``, ``right_s``,
``unknown_s``) and ``position_changes``: how often a new position was held for at least
``position_min_s`` seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from alerts.events import EventType, Observation
from devices.samples import FloatArray
from monitor.activity import LYING, run_lengths

CodeArray = npt.NDArray[np.int8]


class SleepPosition(StrEnum):
    """Which side is down while lying."""

    SUPINE = "supine"
    PRONE = "prone"
    LEFT = "left"
    RIGHT = "right"
    UNKNOWN = "unknown"


#: Positions by integer code, as :func:`sleep_positions` returns them.
POSITIONS: tuple[SleepPosition, ...] = tuple(SleepPosition)
SUPINE, PRONE, LEFT, RIGHT, POSITION_UNKNOWN = range(len(POSITIONS))
# Sector index round(angle / 90°) mod 4 -> position code.
_SECTOR = np.array([SUPINE, RIGHT, PRONE, LEFT], dtype=np.int8)


def sleep_positions(mean_b: FloatArray) -> CodeArray:
    """Position code of each body-frame mean acceleration (n, 3); unknown without one."""
    acc = np.asarray(mean_b, dtype=np.float64)
    ax, ay = acc[:, 0], acc[:, 1]
    transverse = np.hypot(ax, ay)
    known = np.isfinite(transverse) & (transverse > 0.0)
    angle = np.where(known, np.arctan2(ay, ax), 0.0)
    sector = np.mod(np.round(angle / (math.pi / 2.0)), 4).astype(np.int64)
    codes = _SECTOR[np.clip(sector, 0, 3)]
    return np.asarray(np.where(known, codes, POSITION_UNKNOWN), dtype=np.int8)


@dataclass(frozen=True, slots=True)
class LyingSpell:
    """A spell lying down: its span, lying seconds, seconds per position and changes."""

    start_s: float
    end_s: float
    lying_s: float
    position_s: tuple[float, float, float, float, float]  # by code: supine .. unknown
    position_changes: int

    def seconds(self, position: SleepPosition) -> float:
        """Seconds lying in one position."""
        return self.position_s[POSITIONS.index(position)]

    @property
    def main_position(self) -> SleepPosition:
        """The position held longest (unknown when none is known)."""
        known = self.position_s[:POSITION_UNKNOWN]
        if max(known) <= 0.0:
            return SleepPosition.UNKNOWN
        return POSITIONS[int(np.argmax(known))]


class SleepTracker:
    """Consumes decided windows in time order: lying spells and their summaries.

    Windows may be handed in cut anywhere; the result is the same.
    """

    __slots__ = (
        "_break",
        "_changes",
        "_gap_start",
        "_held",
        "_last_lying",
        "_latest",
        "_min_lying_s",
        "_position_min",
        "_position_s",
        "_run_code",
        "_run_length",
        "_start",
        "spells",
        "wearer",
    )

    def __init__(
        self,
        wearer: str,
        min_lying_s: float = 3600.0,
        break_s: float = 900.0,
        position_min_s: float = 60.0,
    ) -> None:
        """A tracker for one wearer; spells of ``min_lying_s`` lying get a summary."""
        if min_lying_s <= 0 or break_s <= 0 or position_min_s <= 0:
            raise ValueError("min_lying_s, break_s and position_min_s must be positive")
        self.wearer = wearer
        self._min_lying_s = min_lying_s
        self._break = max(1, math.ceil(break_s))
        self._position_min = max(1, math.ceil(position_min_s))
        self.spells: list[LyingSpell] = []
        self._latest = POSITION_UNKNOWN
        self._reset()

    def _reset(self) -> None:
        self._start: int | None = None
        self._last_lying = 0
        self._gap_start: int | None = None
        self._position_s = [0.0] * len(POSITIONS)
        self._held: int | None = None
        self._run_code = POSITION_UNKNOWN
        self._run_length = 0
        self._changes = 0

    @property
    def current(self) -> LyingSpell | None:
        """The spell going on, if any."""
        return None if self._start is None else self._spell()

    @property
    def latest_position(self) -> SleepPosition | None:
        """Position in the latest decided window if it was lying, else None."""
        return (
            None if self._start is None or self._gap_start is not None else POSITIONS[self._latest]
        )

    def push(
        self, first: int, codes: CodeArray, positions: CodeArray
    ) -> list[tuple[float, Observation]]:
        """Windows ``first ..``: activity codes and position codes (unknown where not known).

        Returns ``(known_s, observation)`` pairs for spells that ended in these windows.
        """
        out: list[tuple[float, Observation]] = []
        lying = codes == LYING
        a = 0
        for is_lying, length in run_lengths(lying):
            b = a + length
            if is_lying:
                self._lying(first + a, positions[a:b])
            elif self._start is not None:
                if self._gap_start is None:
                    self._gap_start = first + a
                reached = self._gap_start + self._break - 1  # window where the break is complete
                if reached < first + b:
                    out.extend(self._close(reached + 0.5))
            a = b
        return out

    def finish(self, end_s: float) -> list[tuple[float, Observation]]:
        """End of data at ``end_s``: close the spell going on."""
        return self._close(end_s) if self._start is not None else []

    def _lying(self, c: int, positions: CodeArray) -> None:
        if self._start is None:
            self._start = c
        self._gap_start = None
        self._last_lying = c + positions.shape[0] - 1
        counts = np.bincount(positions, minlength=len(POSITIONS))
        for code in range(len(POSITIONS)):
            self._position_s[code] += float(counts[code])
        self._latest = int(positions[-1])
        for code, length in run_lengths(positions):
            if code == POSITION_UNKNOWN:
                continue
            if code == self._run_code:
                self._run_length += length
            else:
                self._run_code, self._run_length = code, length
            if self._run_length >= self._position_min and self._held != code:
                if self._held is not None:
                    self._changes += 1
                self._held = code

    def _spell(self) -> LyingSpell:
        assert self._start is not None
        p = self._position_s
        return LyingSpell(
            start_s=self._start - 0.5,
            end_s=self._last_lying + 0.5,
            lying_s=float(sum(p)),
            position_s=(p[0], p[1], p[2], p[3], p[4]),
            position_changes=self._changes,
        )

    def _close(self, known_s: float) -> list[tuple[float, Observation]]:
        spell = self._spell()
        self._reset()
        if spell.lying_s < self._min_lying_s:
            return []
        self.spells.append(spell)
        evidence = {"lying_s": spell.lying_s}
        evidence.update({f"{p.value}_s": spell.seconds(p) for p in POSITIONS})
        evidence["position_changes"] = float(spell.position_changes)
        observation = Observation(
            wearer=self.wearer,
            type=EventType.SLEEP_POSITION,
            start_s=spell.start_s,
            end_s=spell.end_s,
            evidence=MappingProxyType(evidence),
        )
        return [(known_s, observation)]
