"""Benchmark 1 and the analyze half of 5: backwatch and acti-motus on the same synthetic day.

For each configuration (thigh alone; thigh + trunk) and each of ``runs`` repetitions, in the
same run of this program and on the same files (:mod:`bench.day`):

- backwatch, whole process: ``python -m monitor analyze --sensor thigh=F [--sensor
  trunk=F] --sensor-mount thigh=+x,-z [--sensor-mount trunk=+x,+z]`` under GNU time (wall,
  CPU, peak RSS); its JSON segments give the agreement with the ground truth.
- backwatch, pipeline: :mod:`bench.backwatch_run` (``analyze_sensors`` on the recordings
  already in memory), timed inside its own process.
- acti-motus, both at once: :mod:`bench.actimotus_run` in the benchmark environment, under
  GNU time; it times its pipeline (``Features`` + ``Activities``) inside.

Scaling: ``backwatch analyze`` (thigh + trunk) on the first 1 h and 8 h of the same files
(cut copies), next to the 24 h runs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.day import (
    ACTIVITY_NAMES,
    EXCLUDE_S,
    THIGH_MOUNT,
    TRUNK_MOUNT,
    DayFiles,
    agreement,
    day_files,
    day_scenario,
    labels_from_segments,
    truth_per_second,
)
from bench.proc import MeasureError, ProcessFigures, timed_run
from bench.stats import Comparison, Report, Row, Summary, Target

REPO = Path(__file__).resolve().parent.parent
SPEEDUP_TARGET = 3.0
PEAK_MB_TARGET = 500.0
AGREEMENT_TARGET_PCT = 99.0
TIMES = "\N{MULTIPLICATION SIGN}"
TABLE = "1. Offline analysis, 24 h at 100 Hz: backwatch and acti-motus in the same run"
AGREE_TABLE = (
    "1b. Agreement with the ground truth per activity "
    f"(1 s grid, ±{EXCLUDE_S:g} s around each change of activity left out)"
)
SCALE_TABLE = "5a. Scaling of `backwatch analyze` (thigh + trunk, 100 Hz)"


@dataclass(frozen=True, slots=True)
class Config:
    """One sensor set: thigh alone, or thigh and trunk."""

    name: str
    with_trunk: bool


CONFIGS = (Config("thigh", with_trunk=False), Config("thigh + trunk", with_trunk=True))


def analyze_command(files: DayFiles, with_trunk: bool) -> list[str]:
    """The measured ``backwatch analyze`` command line."""
    command = [sys.executable, "-m", "monitor", "analyze", "--sensor", f"thigh={files.thigh}"]
    if with_trunk:
        command += ["--sensor", f"trunk={files.trunk}"]
    command += ["--sensor-mount", f"thigh={THIGH_MOUNT}"]
    if with_trunk:
        command += ["--sensor-mount", f"trunk={TRUNK_MOUNT}"]
    return command


def pipeline_command(files: DayFiles, with_trunk: bool) -> list[str]:
    """The backwatch pipeline runner's command line."""
    command = [sys.executable, "-m", "bench.backwatch_run", "--thigh", str(files.thigh)]
    return command + (["--trunk", str(files.trunk)] if with_trunk else [])


def actimotus_command(
    bench_python: Path, files: DayFiles, with_trunk: bool, out: Path
) -> list[str]:
    """The acti-motus runner's command line (benchmark environment)."""
    command = [str(bench_python), str(REPO / "bench" / "actimotus_run.py")]
    command += ["--thigh", str(files.thigh), "--out", str(out)]
    return command + (["--trunk", str(files.trunk)] if with_trunk else [])


def cut_copy(source: Path, target: Path, rows: int) -> Path:
    """The header and the first ``rows`` rows of a recording CSV (reused when present)."""
    if target.exists():
        return target
    partial = target.with_suffix(".partial")
    with source.open("rb") as src, partial.open("wb") as dst:
        for index, line in enumerate(src):
            if index > rows:
                break
            dst.write(line)
    partial.rename(target)
    return target


def _segments(stdout: str) -> list[tuple[str, float, float]]:
    record = json.loads(stdout.splitlines()[0])
    return [(s["activity"], float(s["start_s"]), float(s["end_s"])) for s in record["segments"]]


def _agreement_rows(
    report: Report, tool: str, config: str, shares: dict[str, float | None], *, target: bool
) -> None:
    for name in ACTIVITY_NAMES:
        share = shares.get(name)
        report.add(
            AGREE_TABLE,
            Row(
                f"{tool}, {config}: {name}",
                Summary.of([100.0 * share] if share is not None else []),
                "%",
                digits=2,
                target=Target(Comparison.AT_LEAST, AGREEMENT_TARGET_PCT) if target else None,
                note="" if share is not None else "no such seconds",
            ),
        )


def run_offline(
    report: Report, cache: Path, bench_python: Path | None, runs: int, hours: float = 24.0
) -> None:
    """Measure benchmark 1; add its rows (and failures) to ``report``."""
    print(f"offline: building or reusing the {hours:g} h day in {cache}", flush=True)
    files = day_files(cache, hours)
    truth = truth_per_second(files.scenario)
    day_whole: list[ProcessFigures] = []
    judged = {name: int((truth == i).sum()) for i, name in enumerate(ACTIVITY_NAMES)}
    print(f"  judged seconds per activity: {judged}", flush=True)
    for config in CONFIGS:
        bw_whole: list[ProcessFigures] = []
        bw_pipeline: list[float] = []
        am_whole: list[ProcessFigures] = []
        am_pipeline: list[float] = []
        bw_labels: npt.NDArray[np.int_] | None = None
        am_labels: npt.NDArray[np.int_] | None = None
        am_error = ""
        for run in range(runs):
            print(f"  {config.name}: run {run + 1}/{runs}", flush=True)
            whole = timed_run(analyze_command(files, config.with_trunk), cwd=REPO)
            bw_whole.append(whole)
            bw_labels = labels_from_segments(_segments(whole.stdout), truth.shape[0])
            pipeline = timed_run(pipeline_command(files, config.with_trunk), cwd=REPO)
            bw_pipeline.append(float(json.loads(pipeline.stdout)["pipeline_s"]))
            if bench_python is None:
                am_error = "the benchmark environment (.venv-bench) with acti-motus is missing"
                continue
            out = cache / "actimotus-labels.npy"
            try:
                figures = timed_run(
                    actimotus_command(bench_python, files, config.with_trunk, out), cwd=REPO
                )
            except MeasureError as exc:
                am_error = f"acti-motus failed: {exc}"
                continue
            am_whole.append(figures)
            am_pipeline.append(float(json.loads(figures.stdout)["pipeline_s"]))
            am_labels = np.load(out).astype(np.int_)
        _rows(
            report,
            config,
            bw_whole=bw_whole,
            bw_pipeline=bw_pipeline,
            am_whole=am_whole,
            am_pipeline=am_pipeline,
        )
        if config.with_trunk:
            day_whole = bw_whole
        if bw_labels is not None:
            shares = agreement(truth, bw_labels)
            # Lying on the back looks like sitting to a thigh sensor: the target is on both.
            _agreement_rows(report, "backwatch", config.name, shares, target=config.with_trunk)
        if am_labels is not None:
            shares = agreement(truth, am_labels)
            _agreement_rows(report, "acti-motus", config.name, shares, target=False)
        if am_error:
            report.fail(f"{config.name}: {am_error.splitlines()[0]}")
            print(am_error, flush=True)
    run_scaling(report, files, cache, runs, day_whole)


def _rows(
    report: Report,
    config: Config,
    *,
    bw_whole: Sequence[ProcessFigures],
    bw_pipeline: Sequence[float],
    am_whole: Sequence[ProcessFigures],
    am_pipeline: Sequence[float],
) -> None:
    name = config.name
    speed = Target(Comparison.AT_LEAST, SPEEDUP_TARGET)
    add = report.add
    add(TABLE, Row(f"{name}: backwatch pipeline", Summary.of(bw_pipeline), "s"))
    add(TABLE, Row(f"{name}: acti-motus pipeline", Summary.of(am_pipeline), "s"))
    ratios = [a / b for a, b in zip(am_pipeline, bw_pipeline, strict=False) if b > 0]
    add(
        TABLE,
        Row(
            f"{name}: pipeline speed-up (acti-motus / backwatch, per run)",
            Summary.of(ratios),
            TIMES,
            digits=1,
            target=speed,
        ),
    )
    add(
        TABLE,
        Row(f"{name}: backwatch whole process", Summary.of([f.wall_s for f in bw_whole]), "s"),
    )
    add(
        TABLE,
        Row(f"{name}: acti-motus whole process", Summary.of([f.wall_s for f in am_whole]), "s"),
    )
    whole_ratios = [
        a.wall_s / b.wall_s for a, b in zip(am_whole, bw_whole, strict=False) if b.wall_s > 0
    ]
    add(TABLE, Row(f"{name}: whole-process speed-up", Summary.of(whole_ratios), TIMES, digits=1))
    add(
        TABLE,
        Row(f"{name}: backwatch CPU (user + system)", Summary.of([f.cpu_s for f in bw_whole]), "s"),
    )
    add(
        TABLE,
        Row(
            f"{name}: acti-motus CPU (user + system)", Summary.of([f.cpu_s for f in am_whole]), "s"
        ),
    )
    add(
        TABLE,
        Row(
            f"{name}: backwatch peak memory",
            Summary.of([f.peak_mb for f in bw_whole]),
            "MB",
            digits=0,
            target=Target(Comparison.AT_MOST, PEAK_MB_TARGET),
        ),
    )
    add(
        TABLE,
        Row(f"{name}: acti-motus peak memory", Summary.of([f.peak_mb for f in am_whole]), "MB", 0),
    )
    mem_ratios = [
        a.peak_mb / b.peak_mb for a, b in zip(am_whole, bw_whole, strict=False) if b.peak_mb > 0
    ]
    mem_row = Row(
        f"{name}: memory ratio (acti-motus / backwatch)", Summary.of(mem_ratios), TIMES, 1
    )
    add(TABLE, mem_row)


def run_scaling(
    report: Report,
    files: DayFiles,
    cache: Path,
    runs: int,
    day_whole: Sequence[ProcessFigures],
) -> None:
    """``backwatch analyze`` (thigh + trunk) at 1 h, 8 h and the whole day (runs given)."""
    per_hour: dict[float, float] = {}
    peaks: dict[float, float] = {}
    for hours in (1.0, 8.0, files.hours):
        if hours > files.hours:
            continue
        if hours == files.hours:
            part = files
        else:
            rows = int(hours * 3600 * 100)
            part = DayFiles(
                hours,
                day_scenario(hours),
                cut_copy(files.thigh, cache / f"{files.thigh.stem}-first{hours:g}h.csv", rows),
                cut_copy(files.trunk, cache / f"{files.trunk.stem}-first{hours:g}h.csv", rows),
            )
        if hours == files.hours and day_whole:
            figures = list(day_whole)
        else:
            command = analyze_command(part, with_trunk=True)
            figures = [timed_run(command, cwd=REPO) for _ in range(runs)]
        walls = Summary.of([f.wall_s for f in figures])
        peak = Summary.of([f.peak_mb for f in figures])
        per_hour[hours] = walls.median / hours
        peaks[hours] = peak.median
        report.add(SCALE_TABLE, Row(f"{hours:g} h: wall", walls, "s"))
        report.add(SCALE_TABLE, Row(f"{hours:g} h: peak memory", peak, "MB", digits=0))
    if 1.0 in peaks and files.hours in peaks:
        growth = peaks[files.hours] / peaks[1.0]
        report.add(
            SCALE_TABLE,
            Row(
                f"peak memory {files.hours:g} h / 1 h (no step: at most 1.5)",
                Summary.of([growth]),
                TIMES,
                digits=2,
                target=Target(Comparison.AT_MOST, 1.5),
            ),
        )
    text = ", ".join(f"{h:g} h: {s:.2f} s/h" for h, s in per_hour.items())
    print(f"  analyze wall per hour of data: {text}", flush=True)
