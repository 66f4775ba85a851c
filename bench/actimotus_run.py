"""Runs acti-motus on benchmark recordings; executed by the benchmark venv's Python, not ours.

Usage: ``.venv-bench/bin/python bench/actimotus_run.py --thigh FILE [--trunk FILE] --out
LABELS.npy``. Reads the recording CSVs (``t_s,ax_g,ay_g,az_g,...``; only the accelerometer
is used, acti-motus takes no gyroscope) with pandas' pyarrow CSV reader into the input
acti-motus documents: a DataFrame of acceleration in g on a DatetimeIndex. Then, timed as
the pipeline: ``Features().compute`` per sensor and ``Activities().compute(thigh,
trunk=...)``, with the package's defaults. Writes the activity of each second as an int16
index into ``bench.day.ACTIVITY_NAMES`` (-1: no such activity, e.g. non-wear or bicycling)
and prints one JSON line of timings.

This file imports only numpy, pandas and acti-motus (none of backwatch), so it runs in the
separate benchmark environment that ``make bench`` creates; acti-motus is never a
dependency of backwatch.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

#: acti-motus activity -> index into bench.day.ACTIVITY_NAMES
#: (lying, sitting, standing, walking, running).
ACTIVITY_INDEX = {
    "lie": 0,
    "sit": 1,
    "kneel": 1,
    "stand": 2,
    "shuffle": 2,
    "squat": 2,
    "slow-walk": 3,
    "walk": 3,
    "fast-walk": 3,
    "stairs": 3,
    "run": 4,
}
#: Sample times in the files start at 0; acti-motus wants dates: midnight of a day.
DAY_START = "2026-11-25T00:00:00Z"


def _vmhwm_mb() -> float:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def read_acc(pd: Any, path: Path) -> Any:
    """One recording as acti-motus's input: acc_x/y/z in g on a UTC DatetimeIndex."""
    frame = pd.read_csv(path, engine="pyarrow", usecols=["t_s", "ax_g", "ay_g", "az_g"])
    start = pd.Timestamp(DAY_START)
    index = start + pd.to_timedelta(frame["t_s"].to_numpy(), unit="s")
    acc = pd.DataFrame(
        frame[["ax_g", "ay_g", "az_g"]].to_numpy(),
        index=pd.DatetimeIndex(index, name="datetime"),
        columns=["acc_x", "acc_y", "acc_z"],
    )
    del frame
    return acc


def main(argv: list[str] | None = None) -> int:
    """Read, run the pipeline, write labels, print timings."""
    parser = argparse.ArgumentParser(prog="actimotus_run")
    parser.add_argument("--thigh", type=Path, required=True)
    parser.add_argument("--trunk", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    pd = importlib.import_module("pandas")
    actimotus = importlib.import_module("actimotus")
    t0 = time.perf_counter()
    thigh = read_acc(pd, args.thigh)
    trunk = read_acc(pd, args.trunk) if args.trunk is not None else None
    t1 = time.perf_counter()
    thigh_features = actimotus.Features().compute(thigh)
    del thigh
    trunk_features = actimotus.Features().compute(trunk) if trunk is not None else None
    del trunk
    t2 = time.perf_counter()
    activities, _references = actimotus.Activities().compute(thigh_features, trunk=trunk_features)
    t3 = time.perf_counter()
    seconds = (activities.index - pd.Timestamp(DAY_START)).total_seconds().to_numpy()
    codes = activities["activity"].map(ACTIVITY_INDEX).fillna(-1).to_numpy(dtype=np.int16)
    n = int(np.ceil(seconds.max())) + 1 if seconds.size else 0
    labels = np.full(n, -1, dtype=np.int16)
    labels[seconds.astype(np.int64)] = codes
    np.save(args.out, labels)
    counts = activities["activity"].value_counts().to_dict()
    version = importlib.import_module("importlib.metadata").version("acti-motus")
    result = {
        "tool": "acti-motus",
        "version": version,
        "read_s": t1 - t0,
        "features_s": t2 - t1,
        "activities_s": t3 - t2,
        "pipeline_s": t3 - t1,
        "vmhwm_mb": _vmhwm_mb(),
        "counts": {str(k): int(v) for k, v in counts.items()},
    }
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
