"""``make bench``: every benchmark of issue 8, its tables, and whether every target holds.

Usage: ``python -m bench.suite [--runs 3] [--live-span-s 45] [--scaling-span-s 25]
[--bench-python .venv-bench/bin/python] [--cache .bench-cache] [--only offline,live]
[--no-docs]``.

1. Offline analysis next to acti-motus (:mod:`bench.offline`), 24 h at 100 Hz.
2. Live daemon cost, 4 sensors (:mod:`bench.live`).
3. Latency from the sample that reached the sitting limit to the nudge at a subscriber.
4. Start-up: to the first sensor streaming and to ``online`` on the broker.
5. Scaling: ``analyze`` at 1, 8 and 24 h; the daemon at 1, 2, 4 and 8 sensors.

Prints the tables (Markdown), writes them into docs/performance.md between the
``<!-- bench:begin -->`` and ``<!-- bench:end -->`` markers (unless ``--no-docs``), and
exits 1 when a target is missed or a benchmark could not run (acti-motus missing counts).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.live import LiveError, LiveFigures, decision_lags_s, run_live
from bench.offline import run_offline
from bench.proc import MeasureError, machine_description
from bench.stats import Comparison, Report, Row, Summary, Target, replace_between

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs" / "performance.md"
BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"
LIVE_TABLE = "2. Live daemon, 4 sensors at 100 Hz (2 Polar H10 + 2 Thingy:52), daemon process only"
LATENCY_TABLE = (
    "3. Latency to a sitting nudge at a subscriber (through Mosquitto), "
    "from the notification carrying the decisive sample"
)
START_TABLE = "4. Start-up of `backwatch run` on the emulated stack"
SCALE_TABLE = "5b. Scaling of the daemon with the number of sensors (100 Hz each)"
CORE_PCT_TARGET = 2.0
RSS_MB_TARGET = 80.0
LATENCY_MS_TARGET = 50.0
START_S_TARGET = 2.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` percentile (0-100) of ``values`` (linear interpolation; NaN when empty)."""
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def live_rows(report: Report, runs: Sequence[LiveFigures]) -> None:
    """Benchmarks 2, 3 and 4 from repeated runs with 4 sensors."""
    add = report.add
    add(
        LIVE_TABLE,
        Row(
            "CPU, share of one core",
            Summary.of([r.core_pct for r in runs]),
            "%",
            target=Target(Comparison.AT_MOST, CORE_PCT_TARGET),
        ),
    )
    add(
        LIVE_TABLE,
        Row("CPU per sensor-hour", Summary.of([r.cpu_s_per_sensor_h for r in runs]), "s", 1),
    )
    add(
        LIVE_TABLE,
        Row(
            "resident memory at the end",
            Summary.of([r.rss_mb for r in runs]),
            "MB",
            0,
            target=Target(Comparison.AT_MOST, RSS_MB_TARGET),
        ),
    )
    add(
        LIVE_TABLE,
        Row("peak resident memory (VmHWM)", Summary.of([r.hwm_mb for r in runs]), "MB", 0),
    )
    rates = [r.samples_sent / r.span_s / r.sensors for r in runs if r.span_s > 0]
    add(LIVE_TABLE, Row("samples sent per sensor and second", Summary.of(rates), "Hz", 1))
    pooled = [x * 1000.0 for r in runs for x in r.latencies_s]
    pooled_limit = [x * 1000.0 for r in runs for x in r.limit_lags_s]
    add(
        LATENCY_TABLE,
        Row(
            "p50 per run",
            Summary.of([percentile([x * 1e3 for x in r.latencies_s], 50) for r in runs]),
            "ms",
            0,
        ),
    )
    add(
        LATENCY_TABLE,
        Row(
            "p99 per run",
            Summary.of([percentile([x * 1e3 for x in r.latencies_s], 99) for r in runs]),
            "ms",
            0,
            target=Target(Comparison.AT_MOST, LATENCY_MS_TARGET),
        ),
    )
    add(
        LATENCY_TABLE,
        Row(
            "nudges per run",
            Summary.of([float(len(r.latencies_s)) for r in runs]),
            "",
            0,
            note=f"pooled p50 {percentile(pooled, 50):.0f} ms, p99 {percentile(pooled, 99):.0f} ms",
        ),
    )
    add(
        LATENCY_TABLE,
        Row(
            "from the sample at which the bout reached the limit, p50 per run",
            Summary.of([percentile([x * 1e3 for x in r.limit_lags_s], 50) for r in runs]),
            "ms",
            0,
            note="adds the evaluator's decision delay below (look-ahead, minimum bouts, pace)",
        ),
    )
    add(
        LATENCY_TABLE,
        Row(
            "from the sample at which the bout reached the limit, p99 per run",
            Summary.of([percentile([x * 1e3 for x in r.limit_lags_s], 99) for r in runs]),
            "ms",
            0,
            note=f"pooled p99 {percentile(pooled_limit, 99):.0f} ms",
        ),
    )
    add(
        START_TABLE,
        Row(
            "to the first sensor streaming",
            Summary.of([r.first_subscribed_s for r in runs]),
            "s",
            target=Target(Comparison.AT_MOST, START_S_TARGET),
        ),
    )
    add(
        START_TABLE,
        Row(
            "to `online` at a subscriber",
            Summary.of([r.online_s for r in runs]),
            "s",
            target=Target(Comparison.AT_MOST, START_S_TARGET),
        ),
    )


def decision_rows(report: Report) -> None:
    """The evaluator's own share of the latency (same samples, no Bluetooth or broker)."""
    lags_ms = [x * 1000.0 for x in decision_lags_s()]
    note = "in the evaluator alone (look-ahead, minimum bout, 2 s pace), fed 0.1 s blocks"
    report.add(
        LATENCY_TABLE,
        Row(
            "evaluator decision delay, p50",
            Summary.of([percentile(lags_ms, 50)]),
            "ms",
            0,
            note=note,
        ),
    )
    report.add(
        LATENCY_TABLE,
        Row("evaluator decision delay, p99", Summary.of([percentile(lags_ms, 99)]), "ms", 0),
    )


def run_live_suite(report: Report, runs: int, span_s: float, scaling_span_s: float) -> None:
    """Benchmarks 2-4 (4 sensors, ``runs`` times) and the daemon scaling."""
    four: list[LiveFigures] = []
    for run in range(runs):
        print(f"live: 4 sensors, run {run + 1}/{runs} ({span_s:g} s)", flush=True)
        try:
            four.append(run_live(4, span_s, run))
        except (LiveError, MeasureError, OSError) as exc:
            report.fail(f"live daemon run failed: {str(exc).splitlines()[0]}")
            print(exc, flush=True)
    live_rows(report, four)
    decision_rows(report)
    for count in (1, 2, 4, 8):
        figures = list(four) if count == 4 else []
        for run in range(max(0, min(2, runs) - len(figures))):
            print(f"live: {count} sensors, run {run + 1} ({scaling_span_s:g} s)", flush=True)
            try:
                figures.append(run_live(count, scaling_span_s, 10 + run))
            except (LiveError, MeasureError, OSError) as exc:
                report.fail(
                    f"live daemon run with {count} sensors failed: {str(exc).splitlines()[0]}"
                )
        report.add(
            SCALE_TABLE,
            Row(
                f"{count} sensors: CPU, share of one core",
                Summary.of([f.core_pct for f in figures]),
                "%",
            ),
        )
        report.add(
            SCALE_TABLE,
            Row(
                f"{count} sensors: CPU per sensor-hour",
                Summary.of([f.cpu_s_per_sensor_h for f in figures]),
                "s",
                1,
            ),
        )
        report.add(
            SCALE_TABLE,
            Row(
                f"{count} sensors: resident memory",
                Summary.of([f.rss_mb for f in figures]),
                "MB",
                0,
            ),
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks, print and write the tables; 0 only when every target holds."""
    parser = argparse.ArgumentParser(prog="python -m bench.suite")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--live-span-s", type=float, default=45.0)
    parser.add_argument("--scaling-span-s", type=float, default=25.0)
    parser.add_argument(
        "--bench-python", type=Path, default=REPO / ".venv-bench" / "bin" / "python"
    )
    parser.add_argument("--cache", type=Path, default=REPO / ".bench-cache")
    parser.add_argument("--only", default="offline,live")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    only = {part.strip() for part in args.only.split(",")}
    started = time.perf_counter()
    machine = machine_description()
    print(f"machine: {machine}", flush=True)
    report = Report()
    if "offline" in only:
        bench_python = args.bench_python if args.bench_python.exists() else None
        run_offline(report, args.cache, bench_python, args.runs)
    if "live" in only:
        run_live_suite(report, args.runs, args.live_span_s, args.scaling_span_s)
    took_min = (time.perf_counter() - started) / 60.0
    verdict = "every target holds" if report.ok else "MISSED: " + "; ".join(report.missed())
    header = (
        f"Machine: {machine}. Command: `make bench` (`python -m bench.suite --runs {args.runs}`), "
        f"{took_min:.1f} min. Figures are min / median / max over the runs; a target is judged "
        f"on the median.\n\nResult: {verdict}.\n"
    )
    tables = header + "\n" + report.markdown()
    print("\n" + tables, flush=True)
    if not args.no_docs and only == {"offline", "live"}:
        DOCS.write_text(
            replace_between(DOCS.read_text(encoding="utf-8"), BEGIN, END, tables), encoding="utf-8"
        )
        print(f"tables written to {DOCS.relative_to(REPO)}", flush=True)
    print(verdict, flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
