"""Back reports as self-contained HTML pages: a day (or a recording) and a week, with plots.

Plots are drawn with matplotlib (Agg, no pyplot state) into SVG and embedded as data URIs,
so a page needs no network and no other file. Numbers that matter carry a ``data-metric``
attribute (``<b data-metric="sitting_min">312</b>``) so tests and scripts can read them.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from matplotlib.figure import Figure

from alerts.summary import (
    AWKWARD_SHARE_LIMIT,
    FOCUS_ADVICE,
    DailySummary,
    Focus,
    choose_focus,
)
from monitor.activity import Activity
from monitor.report_model import (
    ACTIVITY_LETTERS,
    MINUTE_S,
    DayHistory,
    LiftRecord,
    WeekHistory,
    summary_of,
)

ACTIVITY_COLOURS = {
    Activity.LYING: "#8e9bd6",
    Activity.SITTING: "#e7a646",
    Activity.STANDING: "#7cc08f",
    Activity.WALKING: "#2f9e8f",
    Activity.RUNNING: "#1d5f86",
    Activity.UNKNOWN: "#d0d0d0",
}
TIMELINE_ACTIVITIES = (
    Activity.LYING,
    Activity.SITTING,
    Activity.STANDING,
    Activity.WALKING,
    Activity.RUNNING,
)
TECHNIQUE_COLOURS = {"squat": "#2f9e8f", "stoop": "#c0504d", "mixed": "#e7a646"}
BAND_COLOURS = ("#7cc08f", "#e7a646", "#c0504d")
RISK_COLOUR = "#c0392b"
_FIG_W_IN = 9.0
_HOUR_S = 3600.0

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f5f6f8;
color:#222}
main{max-width:960px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin:1.4em 0 .4em}
.sub{color:#666;margin:0 0 12px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.card{background:#fff;border-radius:8px;padding:10px 12px;box-shadow:0 1px 2px #0002}
.card .v{font-size:1.5em;font-weight:600}.card .l{color:#555;font-size:.85em}
.card.bad{border-left:5px solid #c0392b}.card.good{border-left:5px solid #2f9e8f}
.focus{background:#fff8e6;border:1px solid #e7a646;border-radius:8px;padding:10px 14px;
margin:14px 0}
figure{background:#fff;border-radius:8px;margin:10px 0;padding:8px;box-shadow:0 1px 2px #0002}
figure img{width:100%;height:auto;display:block}
figcaption{color:#555;font-size:.85em;padding:4px 6px}
table{border-collapse:collapse;width:100%;background:#fff;border-radius:8px;font-size:.9em}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eee}
.muted{color:#888}
footer{color:#888;font-size:.8em;margin-top:24px}
"""


class ReportError(ValueError):
    """A report that cannot be made (no history for the day asked, for instance)."""


@dataclass(frozen=True, slots=True)
class ReportContext:
    """How to show times: the zone of the wearer's days (None: the history's own seconds)."""

    timezone: tzinfo | None = None
    weekly_target_min: float = 150.0
    week_walking_min: float | None = None
    """Walking minutes of the seven days ending with the day shown (None: unknown)."""


def _figure(height_in: float) -> Figure:
    fig = Figure(figsize=(_FIG_W_IN, height_in), dpi=100, layout="constrained")
    fig.patch.set_facecolor("white")
    return fig


def _embed(fig: Figure) -> str:
    """The figure as an SVG data URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"data:image/svg+xml;base64,{data}"


def _figure_html(fig: Figure, alt: str, caption: str) -> str:
    return (
        f'<figure><img alt="{html.escape(alt)}" src="{_embed(fig)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _hours(day: DayHistory, t_s: float) -> float:
    return (t_s - day.start_s) / _HOUR_S


def _clock(day: DayHistory, t_s: float, ctx: ReportContext) -> str:
    """Local time of day for a day's history, hours from the start for a recording."""
    if day.day is None:
        return f"{_hours(day, t_s):.2f} h"
    return datetime.fromtimestamp(t_s, UTC).astimezone(ctx.timezone).strftime("%H:%M")


def _hour_axis(ax: object, day: DayHistory) -> None:
    from matplotlib.axes import Axes  # noqa: PLC0415 (typing helper only)

    assert isinstance(ax, Axes)
    span_h = day.span_s / _HOUR_S
    ax.set_xlim(0, span_h)
    step = 2 if span_h > 12 else 1 if span_h > 3 else 0.25
    ticks = [i * step for i in range(int(span_h / step) + 1)]
    ax.set_xticks(ticks)
    if day.day is not None:
        ax.set_xticklabels([f"{int(t):02d}:00" for t in ticks])
        ax.set_xlabel("time of day")
    else:
        ax.set_xlabel("hours since the recording started")
    ax.grid(axis="x", color="#eee")


# -- day plots ---------------------------------------------------------------------------


def _timeline_plot(day: DayHistory) -> Figure:
    """Activity per minute, long sitting bouts outlined, lifts marked."""
    fig = _figure(2.6)
    ax = fig.add_subplot()
    rows = {a: i for i, a in enumerate(reversed(TIMELINE_ACTIVITIES))}
    letters = {v: k for k, v in ACTIVITY_LETTERS.items()}
    runs: dict[Activity, list[tuple[float, float]]] = {a: [] for a in TIMELINE_ACTIVITIES}
    minute_h = MINUTE_S / _HOUR_S
    text = day.minute_activity
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or text[i] != text[start]:
            activity = letters.get(text[start])
            if activity in runs:
                runs[activity].append((start * minute_h, (i - start) * minute_h))
            start = i
    for activity, spans in runs.items():
        if spans:
            ax.broken_barh(
                spans, (rows[activity] - 0.38, 0.76), facecolors=ACTIVITY_COLOURS[activity]
            )
    for a, b in day.long_bouts:
        ax.broken_barh(
            [(_hours(day, a), (b - a) / _HOUR_S)],
            (rows[Activity.SITTING] - 0.48, 0.96),
            facecolors="none",
            edgecolors=RISK_COLOUR,
            linewidth=1.6,
        )
    safe = [_hours(day, lift.time_s) for lift in day.lifts if not lift.risky]
    risky = [_hours(day, lift.time_s) for lift in day.lifts if lift.risky]
    y_lift = len(TIMELINE_ACTIVITIES) - 0.3
    if safe:
        ax.plot(safe, [y_lift] * len(safe), "|", color="#2f9e8f", markersize=9, label="lift")
    if risky:
        ax.plot(
            risky, [y_lift] * len(risky), "v", color=RISK_COLOUR, markersize=6, label="risky lift"
        )
    ax.set_yticks(list(rows.values()), [str(a) for a in rows])
    ax.set_ylim(-0.6, len(TIMELINE_ACTIVITIES) + 0.1)
    _hour_axis(ax, day)
    if safe or risky:
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=7, ncols=2, frameon=False)
    return fig


def _bouts_plot(day: DayHistory) -> Figure:
    """Each sitting bout as a bar at its start; bars past the limit in red."""
    fig = _figure(2.2)
    ax = fig.add_subplot()
    limit_min = day.sitting_limit_s / 60.0
    for a, b in day.sitting_bouts:
        minutes = (b - a) / 60.0
        colour = RISK_COLOUR if b - a >= day.sitting_limit_s else ACTIVITY_COLOURS[Activity.SITTING]
        ax.bar(
            _hours(day, a), minutes, width=max((b - a) / _HOUR_S, 0.08), align="edge", color=colour
        )
    ax.axhline(limit_min, color=RISK_COLOUR, linestyle="--", linewidth=1)
    ax.text(
        0.05, limit_min, f" limit {limit_min:g} min", color=RISK_COLOUR, va="bottom", fontsize=8
    )
    ax.set_ylabel("bout (min)")
    _hour_axis(ax, day)
    return fig


def _flexion_plot(shares: Sequence[float]) -> Figure:
    """Share of time per flexion band, with the 5 % guideline for beyond 60 degrees."""
    fig = _figure(1.9)
    ax = fig.add_subplot()
    labels = ["0-20° neutral", "20-60° moderate", "> 60° awkward"]
    percents = [100 * s for s in shares]
    ax.barh(labels[::-1], percents[::-1], color=BAND_COLOURS[::-1])
    for y, value in enumerate(percents[::-1]):
        ax.text(value + 1, y, f"{value:.1f} %", va="center", fontsize=8)
    ax.plot([100 * AWKWARD_SHARE_LIMIT] * 2, [-0.4, 0.4], color=RISK_COLOUR, linewidth=2)
    ax.text(
        100 * AWKWARD_SHARE_LIMIT + 1,
        -0.45,
        "guideline: under 5 %",
        color=RISK_COLOUR,
        fontsize=8,
        va="top",
    )
    ax.set_xlim(0, 110)
    ax.set_ylim(-1.0, 2.5)
    ax.set_xlabel("% of the time the trunk angle was measured")
    return fig


def _lifts_plot(day: DayHistory) -> Figure:
    """Lifts per hour (10 minutes in a short recording) by technique, risky counts on top."""
    fig = _figure(2.2)
    ax = fig.add_subplot()
    bin_s = _HOUR_S if day.span_s > 3 * _HOUR_S else 600.0
    bins = max(1, math.ceil(day.span_s / bin_s))
    width_h = bin_s / _HOUR_S
    centres = [(i + 0.5) * width_h for i in range(bins)]

    def bin_of(lift: LiftRecord) -> int:
        return min(bins - 1, max(0, int((lift.time_s - day.start_s) // bin_s)))

    bottom = [0.0] * bins
    for technique, colour in TECHNIQUE_COLOURS.items():
        counts = [0.0] * bins
        for lift in day.lifts:
            if lift.technique == technique:
                counts[bin_of(lift)] += 1
        if any(counts):
            ax.bar(
                centres, counts, bottom=bottom, width=0.8 * width_h, color=colour, label=technique
            )
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    risky = [0] * bins
    for lift in day.lifts:
        if lift.risky:
            risky[bin_of(lift)] += 1
    top = max([*bottom, 1.0])
    marked = [i for i in range(bins) if risky[i]]
    if marked:
        ax.scatter(
            [centres[i] for i in marked],
            [bottom[i] + 0.06 * top for i in marked],
            color=RISK_COLOUR,
            marker="v",
            zorder=3,
            label="with a risk (count)",
        )
        for i in marked:
            ax.text(
                centres[i],
                bottom[i] + 0.12 * top,
                str(risky[i]),
                ha="center",
                fontsize=7,
                color=RISK_COLOUR,
            )
    ax.set_ylim(0, top * 1.3)
    ax.set_ylabel("lifts per hour" if bin_s == _HOUR_S else "lifts per 10 min")
    _hour_axis(ax, day)
    ax.legend(loc="upper left", fontsize=7, frameon=False, ncols=4)
    return fig


def _walking_plot(day: DayHistory, ctx: ReportContext) -> Figure:
    """The week's walking minutes so far against the weekly target."""
    fig = _figure(1.3)
    ax = fig.add_subplot()
    today = day.walking_min
    week = ctx.week_walking_min if ctx.week_walking_min is not None else today
    before = max(0.0, week - today)
    ax.barh([0], [before], color="#9fd3c9", label="earlier this week")
    ax.barh([0], [today], left=[before], color=ACTIVITY_COLOURS[Activity.WALKING], label="this day")
    ax.axvline(ctx.weekly_target_min, color=RISK_COLOUR, linestyle="--")
    ax.text(
        ctx.weekly_target_min,
        0.45,
        f" target {ctx.weekly_target_min:g} min/week",
        fontsize=8,
        color=RISK_COLOUR,
        va="bottom",
    )
    ax.set_yticks([])
    ax.set_xlim(0, max(ctx.weekly_target_min, week) * 1.15)
    ax.set_ylim(-0.6, 0.9)
    if day.day is None:
        ax.set_xlabel("minutes walking or running in the recording")
    else:
        ax.set_xlabel("minutes walking or running, last 7 days")
        ax.legend(loc="lower right", fontsize=7, frameon=False)
    return fig


def _sleep_plot(day: DayHistory) -> Figure:
    """Minutes in each lying position over the day's sleep spells."""
    fig = _figure(1.6)
    ax = fig.add_subplot()
    seconds = day.sleep_position_s()
    names = list(seconds)
    minutes = [seconds[n] / 60.0 for n in names]
    ax.barh(names[::-1], minutes[::-1], color="#8e9bd6")
    for y, value in enumerate(minutes[::-1]):
        ax.text(value + 1, y, f"{value:.0f} min", va="center", fontsize=8)
    ax.set_xlim(0, max([*minutes, 1.0]) * 1.2)
    ax.set_xlabel("minutes lying, per position")
    return fig


# -- page parts --------------------------------------------------------------------------


def _card(label: str, value: str, metric: str, tone: str = "") -> str:
    cls = f"card {tone}".strip()
    return (
        f'<div class="{cls}"><div class="v" data-metric="{metric}">{html.escape(value)}</div>'
        f'<div class="l">{html.escape(label)}</div></div>'
    )


def _page(title: str, subtitle: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body><main>"
        f'<h1>{html.escape(title)}</h1><p class="sub">{html.escape(subtitle)}</p>{body}'
        "<footer>backwatch gives general guidance, not a diagnosis. See a professional for "
        "numbness, weakness, loss of bladder or bowel control, or pain that does not improve."
        "</footer></main></body></html>\n"
    )


def day_summary(day: DayHistory, ctx: ReportContext) -> DailySummary:
    """The day's ``DailySummary`` with the walking and target of ``ctx``."""
    return summary_of(
        day, week_walking_min=ctx.week_walking_min, weekly_target_min=ctx.weekly_target_min
    )


def _focus_html(focus: Focus, reason: str) -> str:
    return (
        f'<div class="focus"><b>One thing to work on: <span data-metric="focus">'
        f"{html.escape(focus.value.replace('_', ' '))}</span></b><br>{html.escape(reason)} "
        f"{html.escape(FOCUS_ADVICE[focus])}</div>"
    )


def _focus_reason(summary: DailySummary) -> str:
    match summary.focus:
        case Focus.LIFTING:
            return f"{summary.risky_lifts} of {summary.lifts} lifts had a risk."
        case Focus.BENDING:
            share = summary.flexion_over_60_share or 0.0
            return f"The back was bent past 60° for {100 * share:.1f} % of the time."
        case Focus.SITTING:
            return (
                f"{summary.long_sitting_bouts} sitting bout(s) went past "
                f"{summary.sitting_limit_min:g} min."
            )
        case Focus.ACTIVITY:
            return (
                f"{summary.week_walking_min:.0f} of {summary.weekly_target_min:.0f} minutes "
                "walked in the last 7 days."
            )
    return "No guideline was exceeded."


def _nudge_table(day: DayHistory, ctx: ReportContext) -> str:
    if not day.nudges:
        return '<p class="muted">No nudges were sent.</p>'
    rows = []
    for nudge in day.nudges:
        ack = (
            "—"
            if nudge.acknowledged_s is None
            else f"yes, {_clock(day, nudge.acknowledged_s, ctx)}"
        )
        rows.append(
            f"<tr><td>{_clock(day, nudge.time_s, ctx)}</td><td>{html.escape(nudge.kind)}</td>"
            f"<td>{html.escape(nudge.title)}</td><td>{html.escape(ack)}</td></tr>"
        )
    return (
        '<table data-metric="nudge_table"><tr><th>time</th><th>kind</th><th>nudge</th>'
        f"<th>acknowledged</th></tr>{''.join(rows)}</table>"
    )


def render_day(day: DayHistory, ctx: ReportContext | None = None) -> str:
    """The day (or recording) report as one self-contained HTML page."""
    ctx = ctx if ctx is not None else ReportContext()
    summary = day_summary(day, ctx)
    shares = day.flexion.shares()
    awkward_bad = shares is not None and shares[2] > AWKWARD_SHARE_LIMIT
    cards = [
        _card("sitting (h)", f"{summary.sitting_min / 60:.1f}", "sitting_h"),
        _card(
            f"sitting bouts past {summary.sitting_limit_min:g} min",
            str(summary.long_sitting_bouts),
            "long_sitting_bouts",
            "bad" if summary.long_sitting_bouts else "good",
        ),
        _card(
            "longest sitting bout (min)", f"{summary.longest_sitting_min:.0f}", "longest_bout_min"
        ),
        _card(
            "time bent past 60°",
            "—" if shares is None else f"{100 * shares[2]:.1f} %",
            "awkward_pct",
            "bad" if awkward_bad else "good" if shares is not None else "",
        ),
        _card(
            "lifts (risky)",
            f"{summary.lifts} ({summary.risky_lifts})",
            "lifts",
            "bad" if summary.focus is Focus.LIFTING else "",
        ),
        _card("steps", f"{summary.steps:,}", "steps"),
        _card("walking (min)", f"{summary.walking_min:.0f}", "walking_min"),
        _card(
            "nudges (acknowledged)",
            f"{summary.nudges} ({summary.nudges_acknowledged})",
            "nudges",
        ),
    ]
    parts = [
        f'<div class="cards">{"".join(cards)}</div>',
        _focus_html(summary.focus, _focus_reason(summary)),
    ]
    parts.append("<h2>The day</h2>")
    parts.append(
        _figure_html(
            _timeline_plot(day),
            "activity timeline",
            "Activity minute by minute; sitting bouts past the limit outlined in red; "
            "lifts marked on top (red: with a risk).",
        )
    )
    parts.append("<h2>Sitting bouts</h2>")
    if day.sitting_bouts:
        parts.append(
            _figure_html(
                _bouts_plot(day),
                "sitting bouts",
                f"{len(day.sitting_bouts)} bouts; red: past the "
                f"{summary.sitting_limit_min:g}-minute limit.",
            )
        )
    else:
        parts.append('<p class="muted">No sitting bouts.</p>')
    parts.append("<h2>Trunk flexion</h2>")
    if shares is not None:
        parts.append(
            _figure_html(
                _flexion_plot(shares),
                "trunk flexion bands",
                f"Measured {day.flexion.measured_s / 3600:.1f} h. ISO 11226 calls 0-20° "
                "neutral; 20-60° may be held for a limited time; over 5 % of the time past 60° "
                "goes with more back pain (Hoogendoorn 2000).",
            )
        )
    else:
        parts.append('<p class="muted">No trunk angles (no trunk sensor or orientation yet).</p>')
    parts.append("<h2>Lifts</h2>")
    if day.lifts:
        techniques = {
            t: sum(1 for lift in day.lifts if lift.technique == t) for t in TECHNIQUE_COLOURS
        }
        parts.append(
            _figure_html(
                _lifts_plot(day),
                "lifts per hour",
                "Lifts by technique: "
                + ", ".join(f"{n} {t}" for t, n in techniques.items() if n)
                + f"; {summary.risky_lifts} with a risk (stoop, deep flexion, twist, ...).",
            )
        )
    else:
        parts.append('<p class="muted">No lifts.</p>')
    parts.append("<h2>Walking toward the weekly target</h2>")
    parts.append(
        _figure_html(
            _walking_plot(day, ctx),
            "walking minutes",
            f"{summary.steps:,} steps and {summary.walking_min:.0f} minutes walking this day; "
            f"{summary.week_walking_min:.0f} of {ctx.weekly_target_min:g} minutes in 7 days."
            if day.day is not None
            else f"{summary.steps:,} steps and {summary.walking_min:.0f} minutes walking in the "
            f"recording; the weekly target is {ctx.weekly_target_min:g} minutes.",
        )
    )
    parts.append("<h2>Sleep positions</h2>")
    if day.sleep:
        parts.append(
            _figure_html(
                _sleep_plot(day),
                "sleep positions",
                "A pillow between the knees helps side sleepers, one under the knees back "
                "sleepers.",
            )
        )
    else:
        parts.append('<p class="muted">No long lying spell.</p>')
    parts.append("<h2>Nudges</h2>")
    parts.append(_nudge_table(day, ctx))
    subtitle = f"{day.wearer} · {_duration_text(day.recorded_s)} recorded"
    return _page(f"Back report: {day.title}", subtitle, "".join(parts))


def _duration_text(seconds: float) -> str:
    hours, minutes = divmod(round(seconds / 60.0), 60)
    return f"{hours} h {minutes:02d} min"


# -- week --------------------------------------------------------------------------------


def _per_day_bars(
    week: WeekHistory, height_in: float, draw: Callable[[object, list[str]], str]
) -> Figure:
    fig = _figure(height_in)
    ax = fig.add_subplot()
    labels = [d.day.strftime("%a %d") if d.day is not None else d.title for d in week.days]
    ylabel = draw(ax, labels)
    ax.set_ylabel(ylabel)
    return fig


def render_week(week: WeekHistory, ctx: ReportContext | None = None) -> str:
    """The week report: trends day by day, and what to change."""
    from matplotlib.axes import Axes  # noqa: PLC0415

    ctx = ctx if ctx is not None else ReportContext(weekly_target_min=week.weekly_target_min)
    days = list(week.days)
    if not any(d.has_data for d in days):
        raise ReportError(f"no history for {week.wearer} in that week")
    x = list(range(len(days)))

    def activity_bars(ax: object, labels: list[str]) -> str:
        assert isinstance(ax, Axes)
        bottom = [0.0] * len(days)
        for activity in TIMELINE_ACTIVITIES:
            hours = [d.seconds(activity) / _HOUR_S for d in days]
            ax.bar(x, hours, bottom=bottom, color=ACTIVITY_COLOURS[activity], label=str(activity))
            bottom = [b + h for b, h in zip(bottom, hours, strict=True)]
        ax.set_xticks(x, labels)
        ax.legend(fontsize=7, frameon=False, ncols=5, loc="upper left")
        ax.set_ylim(0, max([*bottom, 1.0]) * 1.25)
        return "hours"

    def sitting_bars(ax: object, labels: list[str]) -> str:
        assert isinstance(ax, Axes)
        longest = [max((b - a for a, b in d.sitting_bouts), default=0.0) / 60 for d in days]
        long_bouts = [len(d.long_bouts) for d in days]
        ax.bar(x, longest, color=ACTIVITY_COLOURS[Activity.SITTING], label="longest bout (min)")
        limit = days[0].sitting_limit_s / 60
        ax.axhline(limit, color=RISK_COLOUR, linestyle="--", linewidth=1)
        for i, n in enumerate(long_bouts):
            if n:
                ax.text(
                    i, longest[i] + 1, f"{n} past limit", ha="center", fontsize=7, color=RISK_COLOUR
                )
        ax.set_xticks(x, labels)
        ax.set_ylim(0, max([*longest, limit]) * 1.25)
        return "longest bout (min)"

    def awkward_bars(ax: object, labels: list[str]) -> str:
        assert isinstance(ax, Axes)
        values = []
        for d in days:
            shares = d.flexion.shares()
            values.append(0.0 if shares is None else 100 * shares[2])
        colours = [
            RISK_COLOUR if v > 100 * AWKWARD_SHARE_LIMIT else BAND_COLOURS[1] for v in values
        ]
        ax.bar(x, values, color=colours)
        ax.axhline(100 * AWKWARD_SHARE_LIMIT, color=RISK_COLOUR, linestyle="--", linewidth=1)
        ax.set_xticks(x, labels)
        ax.set_ylim(0, max([*values, 100 * AWKWARD_SHARE_LIMIT]) * 1.3)
        return "% bent > 60°"

    def lift_bars(ax: object, labels: list[str]) -> str:
        assert isinstance(ax, Axes)
        risky = [d.risky_lifts for d in days]
        safe = [d.lift_count - r for d, r in zip(days, risky, strict=True)]
        ax.bar(x, safe, color=TECHNIQUE_COLOURS["squat"], label="no risk")
        ax.bar(x, risky, bottom=safe, color=RISK_COLOUR, label="risky")
        ax.set_xticks(x, labels)
        ax.legend(fontsize=7, frameon=False)
        return "lifts"

    def walking_bars(ax: object, labels: list[str]) -> str:
        assert isinstance(ax, Axes)
        minutes = [d.walking_min for d in days]
        running = 0.0
        cumulative = []
        for m in minutes:
            running += m
            cumulative.append(running)
        ax.bar(x, minutes, color=ACTIVITY_COLOURS[Activity.WALKING], label="walking per day")
        ax.plot(x, cumulative, "o-", color="#1d5f86", label="total so far")
        ax.axhline(
            ctx.weekly_target_min,
            color=RISK_COLOUR,
            linestyle="--",
            linewidth=1,
            label=f"{ctx.weekly_target_min:g} min target",
        )
        ax.set_xticks(x, labels)
        ax.legend(fontsize=7, frameon=False, loc="upper left")
        ax.set_ylim(0, max([*cumulative, ctx.weekly_target_min]) * 1.3)
        return "minutes"

    def nudge_bars(ax: object, labels: list[str]) -> str:
        assert isinstance(ax, Axes)
        sent = [len(d.nudges) for d in days]
        acked = [d.acknowledged_nudges for d in days]
        ax.bar([i - 0.2 for i in x], sent, width=0.4, color="#8e9bd6", label="sent")
        ax.bar([i + 0.2 for i in x], acked, width=0.4, color="#2f9e8f", label="acknowledged")
        ax.set_xticks(x, labels)
        ax.legend(fontsize=7, frameon=False)
        return "nudges"

    total = WeekHistory(week.wearer, days, ctx.weekly_target_min)
    with_data = total.days_with_data
    sitting_h = sum(d.seconds(Activity.SITTING) for d in days) / _HOUR_S
    long_bouts = sum(len(d.long_bouts) for d in days)
    lifts = sum(d.lift_count for d in days)
    risky = sum(d.risky_lifts for d in days)
    flex = days[0].flexion
    for d in days[1:]:
        flex = flex.plus(d.flexion)
    shares = flex.shares()
    steps = sum(d.steps for d in days)
    walking = total.walking_min
    nudges = sum(len(d.nudges) for d in days)
    acked = sum(d.acknowledged_nudges for d in days)
    last = with_data[-1]
    week_summary = DailySummary(
        wearer=week.wearer,
        day=(last.day.isoformat() if last.day is not None else "1970-01-01"),
        recorded_min=round(sum(d.recorded_s for d in days) / 60, 1),
        lying_min=round(sum(d.seconds(Activity.LYING) for d in days) / 60, 1),
        sitting_min=round(sitting_h * 60, 1),
        standing_min=round(sum(d.seconds(Activity.STANDING) for d in days) / 60, 1),
        walking_min=round(walking, 1),
        longest_sitting_min=round(
            max((b - a for d in days for a, b in d.sitting_bouts), default=0.0) / 60, 1
        ),
        long_sitting_bouts=long_bouts,
        sitting_limit_min=days[0].sitting_limit_s / 60,
        steps=steps,
        flexion_over_60_share=None if shares is None else round(shares[2], 4),
        lifts=lifts,
        risky_lifts=risky,
        nudges=nudges,
        nudges_acknowledged=acked,
        week_walking_min=round(walking, 1),
        weekly_target_min=ctx.weekly_target_min,
    )
    # Sitting bouts past the limit are judged per day: scale the week's count to a day.
    per_day = week_summary.model_copy(
        update={"long_sitting_bouts": round(long_bouts / max(1, len(with_data)))}
    )
    focus = choose_focus(per_day)
    week_summary = week_summary.model_copy(update={"focus": focus})
    cards = [
        _card("days recorded", str(len(with_data)), "days"),
        _card("sitting (h)", f"{sitting_h:.1f}", "sitting_h"),
        _card(
            "sitting bouts past the limit",
            str(long_bouts),
            "long_sitting_bouts",
            "bad" if long_bouts else "good",
        ),
        _card(
            "time bent past 60°",
            "—" if shares is None else f"{100 * shares[2]:.1f} %",
            "awkward_pct",
            "" if shares is None else "bad" if shares[2] > AWKWARD_SHARE_LIMIT else "good",
        ),
        _card("lifts (risky)", f"{lifts} ({risky})", "lifts"),
        _card("steps", f"{steps:,}", "steps"),
        _card(
            f"walking (min of {ctx.weekly_target_min:g})",
            f"{walking:.0f}",
            "walking_min",
            "good" if walking >= ctx.weekly_target_min else "bad",
        ),
        _card("nudges (acknowledged)", f"{nudges} ({acked})", "nudges"),
    ]
    reason = _focus_reason(week_summary)
    if focus is Focus.SITTING:
        reason = f"{long_bouts} sitting bouts went past the limit this week."
    parts = [f'<div class="cards">{"".join(cards)}</div>', _focus_html(focus, reason)]
    sections = (
        ("Activity per day", activity_bars, "Hours lying, sitting, standing, walking, running."),
        (
            "Sitting",
            sitting_bars,
            "Longest sitting bout per day; the dashed line is the limit.",
        ),
        ("Bending", awkward_bars, "Share of the measured time bent past 60°; guideline 5 %."),
        ("Lifts", lift_bars, "Lifts per day; red: with a risk."),
        (
            "Walking",
            walking_bars,
            f"Walking minutes per day and the week's total against {ctx.weekly_target_min:g}.",
        ),
        ("Nudges", nudge_bars, "Nudges sent and acknowledged per day."),
    )
    for heading, draw, caption in sections:
        parts.append(f"<h2>{heading}</h2>")
        parts.append(_figure_html(_per_day_bars(total, 2.0, draw), heading.lower(), caption))
    first = days[0].title
    last_title = days[-1].title
    return _page(
        f"Back report: week {first} to {last_title}",
        f"{week.wearer} · {len(with_data)} of {len(days)} days recorded",
        "".join(parts),
    )
