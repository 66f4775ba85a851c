"""Recording CSV contract: round trips, number formats, and every error as FILE:LINE: problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.recording import (
    ACC_COLUMNS,
    GYRO_COLUMNS,
    Recording,
    RecordingError,
    read_recording,
    write_recording,
)

HEADER6 = ",".join(ACC_COLUMNS + GYRO_COLUMNS)
HEADER3 = ",".join(ACC_COLUMNS)


def _recording(n: int, rate_hz: float, start_s: float, *, gyro: bool, seed: int = 0) -> Recording:
    rng = np.random.default_rng(seed)
    acc = rng.normal(0.0, 0.4, (n, 3))
    acc[:, 1] -= 1.0
    return Recording(
        t_s=start_s + np.arange(n) / rate_hz,
        acc_g=acc,
        gyro_dps=rng.normal(0.0, 60.0, (n, 3)) if gyro else None,
    )


def test_round_trip_six_axis(tmp_path: Path) -> None:
    original = _recording(5000, 100.0, 1_700_000_000.0, gyro=True)
    path = tmp_path / "trunk.csv"
    write_recording(path, original)
    lines = path.read_text(encoding="ascii").splitlines()
    assert lines[0] == HEADER6
    assert len(lines) == 5001
    assert " " not in lines[1]
    back = read_recording(path)
    assert back.gyro_dps is not None
    assert original.gyro_dps is not None
    np.testing.assert_allclose(back.t_s, original.t_s, rtol=0, atol=5e-7)
    np.testing.assert_allclose(back.acc_g, original.acc_g, rtol=0, atol=5e-7)
    np.testing.assert_allclose(back.gyro_dps, original.gyro_dps, rtol=0, atol=5e-5)
    assert back.rate_hz == pytest.approx(100.0, rel=1e-9)
    assert back.duration_s == pytest.approx(50.0, rel=1e-9)
    # writing what was read gives the same file
    again = tmp_path / "again.csv"
    write_recording(again, back)
    assert again.read_bytes() == path.read_bytes()


def test_round_trip_accelerometer_only(tmp_path: Path) -> None:
    original = _recording(300, 25.0, 0.0, gyro=False)
    path = tmp_path / "thigh.csv"
    write_recording(path, original)
    assert path.read_text(encoding="ascii").splitlines()[0] == HEADER3
    back = read_recording(path)
    assert back.gyro_dps is None
    np.testing.assert_allclose(back.acc_g, original.acc_g, rtol=0, atol=5e-7)
    assert back.columns == ACC_COLUMNS


def test_writer_formats_values_exactly(tmp_path: Path) -> None:
    recording = Recording(
        t_s=np.array([0.0, 0.02, 0.04]),
        acc_g=np.array([[-0.0000004, -1.5, 12.25], [0.1234565, 0.0, -0.9999996], [1, 2, 3]]),
        gyro_dps=np.array([[-0.00004, 250.5, -1999.99995], [0, 0, 0], [1, 1, 1]]),
    )
    path = tmp_path / "x.csv"
    write_recording(path, recording)
    lines = path.read_text(encoding="ascii").splitlines()
    assert lines[1] == "0.000000,0.000000,-1.500000,12.250000,0.0000,250.5000,-2000.0000"
    assert lines[2].startswith("0.020000,0.123456,0.000000,-1.000000,")  # 0.1234565 is below .5


def test_other_number_formats_and_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(
        b"\xef\xbb\xbf t_s , ax_g,ay_g,az_g\r\n"
        b"0,1e-3, -1.0E0 ,+.5\r\n"
        b"0.01,2,3,4\r\n"
        b"0.02,-0.5,0.25,7.\r\n"
        b"0.03,1,1,1\r\n\r\n\n"
    )
    recording = read_recording(path)
    np.testing.assert_array_equal(recording.t_s, [0.0, 0.01, 0.02, 0.03])
    np.testing.assert_array_equal(
        recording.acc_g, [[0.001, -1.0, 0.5], [2, 3, 4], [-0.5, 0.25, 7.0], [1, 1, 1]]
    )


def test_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(f"{HEADER3}\n0.00,1,2,3\n0.04,4,5,6", encoding="ascii")
    recording = read_recording(path)
    np.testing.assert_array_equal(recording.acc_g[-1], [4.0, 5.0, 6.0])


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.floats(min_value=-5e4, max_value=5e4, allow_nan=False, allow_infinity=False),
        min_size=6,
        max_size=60,
    ),
    decimals=st.sampled_from([0, 1, 3, 6, 9]),
)
def test_fast_parser_matches_python_float(
    tmp_path_factory: pytest.TempPathFactory, values: list[float], decimals: int
) -> None:
    """Plain decimals take the vectorised path; it must agree with float() exactly."""
    rows = len(values) // 3
    text = [HEADER3]
    expected = []
    for i in range(rows):
        fields = [f"{v:.{decimals}f}" for v in values[3 * i : 3 * i + 3]]
        text.append(f"{i * 0.01:.2f}," + ",".join(fields))
        expected.append([float(f) for f in fields])
    path = tmp_path_factory.mktemp("fast") / "x.csv"
    path.write_text("\n".join(text) + "\n", encoding="ascii")
    recording = read_recording(path)
    np.testing.assert_array_equal(recording.acc_g, np.array(expected))
    assert np.array_equal(np.signbit(recording.acc_g), np.signbit(np.array(expected)))


def test_large_file_errors_name_the_right_line(tmp_path: Path) -> None:
    """An error far past the first read chunk still names its own line."""
    original = _recording(60_000, 100.0, 1000.0, gyro=True)
    path = tmp_path / "big.csv"
    write_recording(path, original)
    lines = path.read_text(encoding="ascii").splitlines(keepends=True)
    assert sum(len(line) for line in lines) > 2 * (1 << 20)
    bad = lines.copy()
    bad[50_000] = bad[50_000].replace(",", ",x", 1)
    path.write_text("".join(bad), encoding="ascii")
    with pytest.raises(RecordingError) as caught:
        read_recording(path)
    assert caught.value.line == 50_001
    assert (
        str(caught.value)
        == f"{path}:50001: column 2 (ax_g) is not a number: {bad[50_000].split(',')[1]!r}"
    )


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="ascii")
    return path


def _steady(n: int, rate_hz: float = 50.0) -> list[str]:
    return [f"{i / rate_hz:.6f},0,-1,0" for i in range(n)]


@pytest.mark.parametrize(
    ("lines", "line_no", "problem"),
    [
        ([], 1, "empty file: expected the header t_s,ax_g,ay_g,az_g or "),
        (["time,x,y,z", "0,1,2,3"], 1, "header must be t_s,ax_g,ay_g,az_g or t_s,ax_g,ay_g,az_g,"),
        ([HEADER3], 2, "no samples after the header"),
        ([HEADER3, "0,0,-1,0"], 2, "only one sample"),
        ([HEADER3, *_steady(4), "0.08,0,-1"], 6, "expected 4 values (t_s,ax_g,ay_g,az_g), found 3"),
        ([HEADER6, "0,0,-1,0"], 2, "expected 7 values"),
        ([HEADER3, *_steady(3), "0.06,0,abc,0"], 5, "column 3 (ay_g) is not a number: 'abc'"),
        ([HEADER3, *_steady(3), "0.06,0,,0"], 5, "column 3 (ay_g) is not a number: ''"),
        (
            [HEADER3, *_steady(3), "0.06,nan,-1,0"],
            5,
            "column 2 (ax_g) is not a finite number: 'nan'",
        ),
        ([HEADER3, *_steady(3), "", "0.06,0,-1,0"], 5, "empty line"),
        (
            [HEADER3, *_steady(3), "0.04,0,-1,0"],
            5,
            "time 0.04 s is not after the previous sample's 0.04 s",
        ),
        ([HEADER3, *_steady(3), "0.02,0,-1,0"], 5, "time 0.02 s is not after"),
        (
            [HEADER3, *_steady(20, 10.0)],
            2,
            "sample rate 10 Hz (median interval 0.1 s) is outside 25-200 Hz",
        ),
        ([HEADER3, *_steady(20, 400.0)], 2, "sample rate 400 Hz"),
        (
            [HEADER3, *_steady(10), "0.260000,0,-1,0", "0.280000,0,-1,0"],
            12,
            "sample rate not steady: 0.08 s since the previous sample, the file's interval",
        ),
    ],
)
def test_every_error_is_file_line_problem(
    tmp_path: Path, lines: list[str], line_no: int, problem: str
) -> None:
    path = _write(tmp_path, "\n".join(lines) + ("\n" if lines else ""))
    with pytest.raises(RecordingError) as caught:
        read_recording(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line_no}: "), message
    assert problem in message
    assert "\n" not in message
    assert caught.value.line == line_no


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    with pytest.raises(RecordingError) as caught:
        read_recording(missing)
    assert str(caught.value) == f"{missing}:1: cannot read the file: No such file or directory"
    with pytest.raises(RecordingError, match="cannot read the file"):
        read_recording(tmp_path)  # a directory


def test_recording_checks_its_arrays() -> None:
    with pytest.raises(ValueError, match="acc_g must have shape"):
        Recording(t_s=np.arange(3.0), acc_g=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="gyro_dps must have shape"):
        Recording(t_s=np.arange(3.0), acc_g=np.zeros((3, 3)), gyro_dps=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="at least two samples"):
        Recording(t_s=np.arange(1.0), acc_g=np.zeros((1, 3)))


def test_writer_refuses_non_finite(tmp_path: Path) -> None:
    recording = _recording(10, 50.0, 0.0, gyro=False)
    recording.acc_g[3, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        write_recording(tmp_path / "x.csv", recording)
