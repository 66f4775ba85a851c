"""``backwatch analyze``: recordings in, one JSON Lines record per input out (and a report page)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from config.settings import load_settings
from devices.mount import Mount
from devices.recording import RecordingChunk, iter_recording
from devices.samples import Placement
from monitor.analyze import AnalysisResult, analyze_streams
from monitor.daemon import evaluation_thresholds
from monitor.evaluation import EvaluationThresholds, SensorSetup

EXIT_CANT_CREATE = 73  # EX_CANTCREAT: the report file cannot be written
_PROGRESS_MIN_S = 3600.0  # report progress once per hour of samples analysed


class AnalyzeUsageError(ValueError):
    """Arguments of ``analyze`` that do not describe a set of recordings."""


class ReportWriteError(OSError):
    """The report page could not be written."""


@dataclass(frozen=True, slots=True)
class AnalysisInput:
    """One JSON Lines record's worth of input: one wearer's sensors and their files."""

    label: str
    files: dict[Placement, Path]
    mounts: dict[Placement, Mount]


def _split_pair(text: str, what: str) -> tuple[Placement, str]:
    placement, sep, value = text.partition("=")
    if not sep or not value:
        raise AnalyzeUsageError(f"{what} {text!r} is not PLACEMENT=VALUE")
    try:
        return Placement(placement.strip()), value
    except ValueError as exc:
        allowed = ", ".join(p.value for p in Placement)
        raise AnalyzeUsageError(f"{what} {text!r}: placement must be one of {allowed}") from exc


def plan_inputs(args: argparse.Namespace) -> list[AnalysisInput]:
    """Turn the command line into the list of analyses to run, in order."""
    if args.sensor and args.files:
        raise AnalyzeUsageError("give either FILE... or --sensor PLACEMENT=FILE, not both")
    if args.sensor:
        files: dict[Placement, Path] = {}
        for text in args.sensor:
            placement, value = _split_pair(text, "--sensor")
            if placement in files:
                raise AnalyzeUsageError(f"--sensor names {placement} twice")
            files[placement] = Path(value)
        mounts: dict[Placement, Mount] = {}
        for text in args.sensor_mount:
            placement, value = _split_pair(text, "--sensor-mount")
            if placement not in files:
                raise AnalyzeUsageError(f"--sensor-mount for {placement}, which has no --sensor")
            mounts[placement] = Mount.parse(value)
        if args.mount is not None:
            raise AnalyzeUsageError("with --sensor, give mounts as --sensor-mount PLACEMENT=UP,FWD")
        label = str(next(iter(files.values())))
        return [AnalysisInput(label, files, mounts)]
    if not args.files:
        raise AnalyzeUsageError("no recordings given (FILE... or --sensor PLACEMENT=FILE)")
    if args.sensor_mount:
        raise AnalyzeUsageError("--sensor-mount goes with --sensor")
    placement = Placement(args.placement)
    mounts = {placement: Mount.parse(args.mount)} if args.mount is not None else {}
    return [AnalysisInput(str(path), {placement: path}, mounts) for path in args.files]


def analyze_input(item: AnalysisInput, thresholds: EvaluationThresholds) -> dict[str, object]:
    """Read (chunk by chunk) and evaluate one input; the JSON Lines record.

    Inputs longer than an hour report each hour analysed on stderr.
    """
    return record_of(item, evaluate_input(item, thresholds))


def evaluate_input(item: AnalysisInput, thresholds: EvaluationThresholds) -> AnalysisResult:
    """Read (chunk by chunk) and evaluate one input (progress per hour on stderr)."""
    streams: dict[SensorSetup, Iterator[RecordingChunk]] = {}
    for placement, path in item.files.items():
        setup = SensorSetup(placement.value, placement, item.mounts.get(placement))
        streams[setup] = iter_recording(path)

    def progress(done_s: float) -> None:
        print(
            f"backwatch: {item.label}: {done_s / _PROGRESS_MIN_S:.0f} h analysed",
            file=sys.stderr,
            flush=True,
        )

    return analyze_streams(streams, thresholds, progress=progress)


def record_of(item: AnalysisInput, result: AnalysisResult) -> dict[str, object]:
    """The JSON Lines record of one evaluated input."""
    record = result.to_json_dict(item.label)
    if len(item.files) > 1:
        record["sensors"] = {str(p): str(path) for p, path in item.files.items()}
    return record


def run_analyze(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``backwatch analyze``; errors propagate to the CLI as one-line messages."""
    try:
        inputs = plan_inputs(args)
    except AnalyzeUsageError as exc:
        print(f"backwatch analyze: {exc}", file=sys.stderr)
        return 64
    report: Path | None = getattr(args, "report", None)
    if report is not None and len(inputs) != 1:
        print(
            "backwatch analyze: --report makes one page: give one FILE or one set of --sensor",
            file=sys.stderr,
        )
        return 64
    thresholds = evaluation_thresholds(load_settings(args.config)) if args.config else None
    for item in inputs:
        result = evaluate_input(item, thresholds or EvaluationThresholds())
        out.write(json.dumps(record_of(item, result), separators=(",", ":")) + "\n")
        out.flush()
        if report is not None:
            try:
                write_recording_report(item, result, report)
            except ReportWriteError as exc:
                print(f"backwatch analyze: {exc}", file=sys.stderr)
                return EXIT_CANT_CREATE
    return 0


def write_recording_report(item: AnalysisInput, result: AnalysisResult, path: Path) -> None:
    """Write the HTML report of one evaluated input (raises ReportWriteError)."""
    from monitor.report import render_day  # noqa: PLC0415 (matplotlib loads only when asked)
    from monitor.report_model import from_analysis  # noqa: PLC0415

    page = render_day(from_analysis(result, title=Path(item.label).name))
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ReportWriteError(f"cannot write the report {path}: {exc.strerror or exc}") from exc
