"""Sitting bouts on sample time, and the observation when a bout reaches the limit.

A bout starts with the first sitting second. Lying continues a bout (it is not a break) but
does not start one. A bout ends only after a real break: ``break_s`` (default 60 s) in a
row that are neither sitting nor lying, i.e. upright (standing, walking, running) or
without data (``unknown``: nothing shows the wearer kept sitting). Shorter interruptions
are absorbed into the bout. The bout then ends where its last sitting or lying second ends.

While a bout goes on, an observation (``EventType.SITTING_BOUT``) is emitted when it
reaches ``limit_s`` (default 1800 s) and again at every further multiple of the limit:
``start_s`` is the bout's start, ``end_s`` the sample time at which the multiple was
reached (if that instant fell in a short interruption, the moment sitting resumed), and
``evidence`` holds ``bout_s`` (seconds since the bout started) and ``limit_s``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

from alerts.events import EventType, Observation
from monitor.activity import ACTIVITIES, Activity

_SEDENTARY = frozenset({Activity.SITTING, Activity.LYING})


@dataclass(frozen=True, slots=True)
class SittingBout:
    """A sitting bout: from its first sitting second to the end of its last sedentary one.

    ``nudges``: how many multiples of the limit the bout reached.
    """

    start_s: float
    end_s: float
    nudges: int

    @property
    def duration_s(self) -> float:
        """Length of the bout in seconds, short interruptions included."""
        return self.end_s - self.start_s


class SittingTracker:
    """Consumes classified one-second slots in time order; pure, no clock.

    Slots are handed in as runs ``(activity, count)`` starting at a slot start time; runs may
    be cut anywhere, the result is the same.
    """

    __slots__ = (
        "_bout_end",
        "_bout_start",
        "_break_s",
        "_gap_start",
        "_limit_s",
        "_nudges",
        "_slot_s",
        "bouts",
        "sitting_total_s",
        "wearer",
    )

    def __init__(
        self, wearer: str, limit_s: float = 1800.0, break_s: float = 60.0, slot_s: float = 1.0
    ) -> None:
        """A tracker for one wearer with the given limit and break length (seconds)."""
        if limit_s <= 0 or break_s <= 0 or slot_s <= 0:
            raise ValueError("limit_s, break_s and slot_s must be positive")
        self.wearer = wearer
        self._limit_s = limit_s
        self._break_s = break_s
        self._slot_s = slot_s
        self._bout_start: float | None = None
        self._bout_end = 0.0
        self._gap_start: float | None = None
        self._nudges = 0
        self.bouts: list[SittingBout] = []
        self.sitting_total_s = 0.0

    @property
    def ongoing_bout_s(self) -> float:
        """Length of the bout going on (to its last sedentary second), 0 if none."""
        if self._bout_start is None:
            return 0.0
        return self._bout_end - self._bout_start

    @property
    def current(self) -> SittingBout | None:
        """The bout going on, if any."""
        if self._bout_start is None:
            return None
        return SittingBout(self._bout_start, self._bout_end, self._nudges)

    def consume(
        self, start_s: float, runs: Sequence[tuple[Activity | int, int]]
    ) -> list[Observation]:
        """Take runs of slots starting at ``start_s``; return observations they trigger.

        An activity may be given as an :class:`Activity` or as its code in
        :data:`monitor.activity.ACTIVITIES`.
        """
        out: list[Observation] = []
        t = start_s
        for activity, count in runs:
            act = activity if isinstance(activity, Activity) else ACTIVITIES[activity]
            end = t + count * self._slot_s
            self._run(act, t, end, out)
            t = end
        return out

    def finish(self) -> None:
        """End of input: close the bout going on."""
        self._close()

    def _run(self, act: Activity, start: float, end: float, out: list[Observation]) -> None:
        if act is Activity.SITTING:
            self.sitting_total_s += end - start
        if act in _SEDENTARY:
            if self._bout_start is None:
                if act is not Activity.SITTING:
                    return
                self._bout_start = start
                self._nudges = 0
            self._gap_start = None
            self._bout_end = end
            bout_start = self._bout_start
            while bout_start + (self._nudges + 1) * self._limit_s <= end:
                self._nudges += 1
                reached = max(bout_start + self._nudges * self._limit_s, start)
                out.append(
                    Observation(
                        wearer=self.wearer,
                        type=EventType.SITTING_BOUT,
                        start_s=bout_start,
                        end_s=reached,
                        evidence=MappingProxyType(
                            {"bout_s": reached - bout_start, "limit_s": self._limit_s}
                        ),
                    )
                )
            return
        if self._bout_start is None:
            return
        if self._gap_start is None:
            self._gap_start = start
        if end - self._gap_start >= self._break_s:
            self._close()

    def _close(self) -> None:
        if self._bout_start is not None:
            self.bouts.append(SittingBout(self._bout_start, self._bout_end, self._nudges))
        self._bout_start = None
        self._gap_start = None
        self._nudges = 0
