"""Reading a recording chunk by chunk: the same samples and the same errors as read_recording."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from devices.recording import (
    Recording,
    RecordingError,
    iter_recording,
    read_recording,
    write_recording,
)


def _write(path: Path, n: int, rate_hz: float = 100.0, gyro: bool = True) -> Recording:
    rng = np.random.default_rng(n)
    recording = Recording(
        t_s=1_700_000_000.0 + np.arange(n) / rate_hz,
        acc_g=rng.normal(0.0, 1.0, (n, 3)),
        gyro_dps=rng.normal(0.0, 50.0, (n, 3)) if gyro else None,
    )
    write_recording(path, recording)
    return recording


@pytest.mark.parametrize(("n", "gyro"), [(2, True), (5000, False), (250_000, True)])
def test_chunks_hold_exactly_the_samples_read_recording_reads(
    tmp_path: Path, n: int, gyro: bool
) -> None:
    path = tmp_path / "r.csv"
    _write(path, n, gyro=gyro)
    whole = read_recording(path)
    chunks = list(iter_recording(path))
    assert len(chunks) >= (2 if n > 100_000 else 1)
    assert chunks[0].first_line == 2
    lines = [c.first_line for c in chunks]
    assert lines == [2 + sum(len(c) for c in chunks[:i]) for i in range(len(chunks))]
    np.testing.assert_array_equal(np.concatenate([c.t_s for c in chunks]), whole.t_s)
    np.testing.assert_array_equal(np.concatenate([c.acc_g for c in chunks]), whole.acc_g)
    if gyro:
        assert whole.gyro_dps is not None
        got = np.concatenate([c.gyro_dps for c in chunks if c.gyro_dps is not None])
        np.testing.assert_array_equal(got, whole.gyro_dps)
    else:
        assert all(c.gyro_dps is None for c in chunks)


def _back_in_time(path: Path, line: int) -> None:
    """Give ``line`` a time one second before its predecessor's."""
    lines = path.read_text().splitlines(keepends=True)
    before = float(lines[line - 2].split(",")[0])
    fields = lines[line - 1].split(",")
    fields[0] = f"{before - 1.0:.6f}"
    lines[line - 1] = ",".join(fields)
    path.write_text("".join(lines))


def _gap(path: Path, line: int) -> None:
    """Drop five samples from ``line`` on: the sample after them comes too late."""
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[: line - 1] + lines[line + 4 :]))


@pytest.mark.parametrize(
    ("line", "fault", "message"),
    [
        (180_000, _back_in_time, "is not after"),
        (180_000, _gap, "not steady"),
        (3, _back_in_time, "is not after"),
        (3, _gap, "not steady"),
    ],
)
def test_a_fault_anywhere_names_its_line(
    tmp_path: Path, line: int, fault: Callable[[Path, int], None], message: str
) -> None:
    path = tmp_path / "r.csv"
    _write(path, 200_000)
    fault(path, line)
    with pytest.raises(RecordingError, match=message) as streamed:
        for _ in iter_recording(path):
            pass
    with pytest.raises(RecordingError, match=message) as whole:
        read_recording(path)
    assert streamed.value.line == whole.value.line == line


def test_too_few_samples_and_bad_rate(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("t_s,ax_g,ay_g,az_g\n")
    with pytest.raises(RecordingError, match="no samples"):
        list(iter_recording(path))
    path.write_text("t_s,ax_g,ay_g,az_g\n0.0,0,0,1\n")
    with pytest.raises(RecordingError, match="only one sample"):
        list(iter_recording(path))
    _write(path, 100, rate_hz=500.0)
    with pytest.raises(RecordingError, match="outside"):
        list(iter_recording(path))
    with pytest.raises(RecordingError, match="cannot read"):
        list(iter_recording(tmp_path / "missing.csv"))
