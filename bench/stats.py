"""Benchmark figures: min/median/max of repeated runs, targets, and the Markdown tables.

A :class:`Row` is one measured figure with its unit and, where the issue sets one, its
:class:`Target`. A target is judged on the median of the runs (the machine is shared, so a
single slow run is noise; a regression moves the median). :class:`Report` gathers rows
into titled tables and says whether every target holds.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Comparison(StrEnum):
    """How a figure is held against its limit."""

    AT_MOST = "≤"
    AT_LEAST = "≥"


@dataclass(frozen=True, slots=True)
class Summary:
    """Min, median and max of repeated measurements (NaN when there are none)."""

    min: float
    median: float
    max: float
    runs: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        """Summarise the finite values of ``values``."""
        finite = [float(v) for v in values if math.isfinite(v)]
        if not finite:
            return cls(math.nan, math.nan, math.nan, 0)
        return cls(min(finite), statistics.median(finite), max(finite), len(finite))

    def text(self, digits: int) -> str:
        """``min / median / max`` with ``digits`` decimals (a dash when nothing was measured)."""
        if self.runs == 0:
            return "—"
        if self.runs == 1:
            return f"{self.median:.{digits}f}"
        return f"{self.min:.{digits}f} / {self.median:.{digits}f} / {self.max:.{digits}f}"


@dataclass(frozen=True, slots=True)
class Target:
    """A limit from the issue, e.g. at most 500 MB or at least 3 times faster."""

    comparison: Comparison
    limit: float

    def holds(self, summary: Summary) -> bool:
        """Whether the median meets the limit (never when nothing was measured)."""
        if summary.runs == 0 or not math.isfinite(summary.median):
            return False
        if self.comparison is Comparison.AT_MOST:
            return summary.median <= self.limit
        return summary.median >= self.limit

    def text(self, digits: int, unit: str) -> str:
        """E.g. ``≤ 500 MB``."""
        return f"{self.comparison} {self.limit:.{digits}f} {unit}".rstrip()


@dataclass(frozen=True, slots=True)
class Row:
    """One figure of a table."""

    what: str
    summary: Summary
    unit: str = ""
    digits: int = 2
    target: Target | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        """``holds``, ``MISSED`` or empty (no target)."""
        if self.target is None:
            return ""
        return "holds" if self.target.holds(self.summary) else "MISSED"

    @property
    def missed(self) -> bool:
        """True when a target is set and not met."""
        return self.target is not None and not self.target.holds(self.summary)

    def cells(self) -> list[str]:
        """The table cells: what, measured, target, verdict, note."""
        measured = f"{self.summary.text(self.digits)} {self.unit}".rstrip()
        target = self.target.text(self.digits, self.unit) if self.target is not None else ""
        return [self.what, measured, target, self.verdict, self.note]


@dataclass(slots=True)
class Report:
    """Titled tables of rows, in the order they were measured."""

    tables: dict[str, list[Row]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def add(self, table: str, row: Row) -> Row:
        """Append ``row`` to ``table`` (created on first use)."""
        self.tables.setdefault(table, []).append(row)
        return row

    def fail(self, message: str) -> None:
        """Record a benchmark that could not run at all (it counts as a missed target)."""
        self.failures.append(message)

    @property
    def ok(self) -> bool:
        """Every target holds and every benchmark ran."""
        return not self.failures and not any(
            row.missed for rows in self.tables.values() for row in rows
        )

    def missed(self) -> list[str]:
        """Names of the missed targets and of the failures."""
        names = [
            f"{title}: {row.what}"
            for title, rows in self.tables.items()
            for row in rows
            if row.missed
        ]
        return names + self.failures

    def markdown(self) -> str:
        """Every table as Markdown, each under a ``###`` title."""
        parts: list[str] = []
        for title, rows in self.tables.items():
            parts.append(f"### {title}\n")
            parts.append("| what | min / median / max | target | | note |")
            parts.append("|---|---|---|---|---|")
            parts.extend("| " + " | ".join(row.cells()) + " |" for row in rows)
            parts.append("")
        if self.failures:
            parts.append("### Benchmarks that did not run\n")
            parts.extend(f"- {failure}" for failure in self.failures)
            parts.append("")
        return "\n".join(parts)


def replace_between(text: str, begin: str, end: str, body: str) -> str:
    """``text`` with what lies between the marker lines replaced (markers added at the end)."""
    start = text.find(begin)
    stop = text.find(end, start + len(begin)) if start >= 0 else -1
    block = f"{begin}\n{body.rstrip()}\n{end}"
    if start < 0 or stop < 0:
        return text.rstrip() + "\n\n" + block + "\n"
    return text[:start] + block + text[stop + len(end) :]
