"""Times backwatch's classification pipeline on benchmark recordings, in a process of its own.

Usage: ``python -m bench.backwatch_run --thigh FILE [--trunk FILE]``. Reads the recordings
(``devices.recording.read_recording``), then times ``monitor.analyze.analyze_sensors`` on
them, the whole offline evaluation (activity, sitting bouts, posture, lying, steps, lifts,
falls), with the mounts of :mod:`bench.day`. Prints one JSON line: seconds reading, seconds
in the pipeline, this process's peak resident memory, and the segments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.day import THIGH_MOUNT, TRUNK_MOUNT
from devices.mount import Mount
from devices.recording import Recording, read_recording
from devices.samples import Placement
from monitor.analyze import analyze_sensors
from monitor.evaluation import SensorSetup


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), MB."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    """Read, time the pipeline, print the JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.backwatch_run")
    parser.add_argument("--thigh", type=Path, required=True)
    parser.add_argument("--trunk", type=Path)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    sensors: dict[SensorSetup, Recording] = {
        SensorSetup("thigh", Placement.THIGH, Mount.parse(THIGH_MOUNT)): read_recording(args.thigh)
    }
    if args.trunk is not None:
        setup = SensorSetup("trunk", Placement.TRUNK, Mount.parse(TRUNK_MOUNT))
        sensors[setup] = read_recording(args.trunk)
    t1 = time.perf_counter()
    result = analyze_sensors(sensors)
    t2 = time.perf_counter()
    out = {
        "tool": "backwatch",
        "read_s": t1 - t0,
        "pipeline_s": t2 - t1,
        "vmhwm_mb": peak_rss_mb(),
        "segments": [[str(s.activity), s.start_s, s.end_s] for s in result.segments],
    }
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
