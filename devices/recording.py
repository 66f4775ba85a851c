"""Recording CSV files: the one-file-per-sensor format that analyze and replay read, and its writer.

The contract: a header row ``t_s,ax_g,ay_g,az_g`` and optionally ``,gx_dps,gy_dps,gz_dps``;
then one sample per line: time in seconds, acceleration in g and angular rate in degrees per
second, all in the sensor's frame, at any steady rate from 25 to 200 Hz.

Reading is fast for the common case (plain decimals such as ``0.012345``): a vectorised numpy
parser turns whole chunks of the file into numbers at once. Chunks it does not accept (numbers
in exponent notation, spaces, odd bytes) go through ``numpy.loadtxt``, and only when that fails
does a line-by-line pass run to name the exact line at fault.

``read_recording`` returns the whole file; ``iter_recording`` yields it chunk by chunk
(about 1 MB of text each) for readers that need not hold it all, such as ``analyze`` on a
day-long file: the same parsing and checks, except that the typical interval is the median
of the first 100 000 intervals rather than of ones spread over the whole file.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from devices.samples import FloatArray

ACC_COLUMNS = ("t_s", "ax_g", "ay_g", "az_g")
GYRO_COLUMNS = ("gx_dps", "gy_dps", "gz_dps")
MIN_RATE_HZ = 25.0
MAX_RATE_HZ = 200.0
# Every interval must lie within this fraction of the file's median interval (one missing
# sample doubles an interval and is therefore rejected: the contract asks for a steady rate).
MAX_INTERVAL_DEVIATION = 0.5
# Decimals written per column: microseconds, micro-g and 1e-4 degrees per second.
T_DECIMALS = 6
ACC_DECIMALS = 6
GYRO_DECIMALS = 4

_CHUNK_BYTES = 1 << 20  # small enough that numpy's temporaries reuse memory between chunks
_WRITE_CHUNK_ROWS = 1 << 16
_CAPACITY_MARGIN = 1.2
_MEDIAN_SAMPLE = 100_000
_RATE_SLACK = 1e-6
_NL, _COMMA, _DOT, _PLUS, _MINUS, _SPACE = b"\n,.+- "
_ZERO = ord("0")
_FLOAT_EXACT_INT = 2**53
_MAX_DIGITS = 18
_POW10_FLOAT = 10.0 ** np.arange(23, dtype=np.float64)
_WORD_PAD = b"0" * 16
_ALL_BITS = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
_ASCII_ZEROS = np.uint64(0x3030_3030_3030_3030)
_SWAR_STEPS = (
    (np.uint64(8), np.uint64(10), np.uint64(0x00FF_00FF_00FF_00FF)),
    (np.uint64(16), np.uint64(100), np.uint64(0x0000_FFFF_0000_FFFF)),
    (np.uint64(32), np.uint64(10000), np.uint64(0x0000_0000_FFFF_FFFF)),
)


class RecordingError(ValueError):
    """A recording file that does not follow the CSV contract; ``str`` is ``FILE:LINE: problem``."""

    def __init__(self, path: str, line: int, problem: str) -> None:
        """Name the file, the 1-based line and what is wrong there."""
        super().__init__(f"{path}:{line}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


@dataclass(frozen=True, slots=True, eq=False)
class Recording:
    """One sensor's samples: times (n,) in seconds, acceleration (n, 3) in g, gyro (n, 3) in °/s.

    Arrays are in the sensor frame; ``gyro_dps`` is None for an accelerometer-only recording.
    """

    t_s: FloatArray
    acc_g: FloatArray
    gyro_dps: FloatArray | None = None

    def __post_init__(self) -> None:
        """Check that the arrays describe the same samples, at least two of them."""
        n = self.t_s.shape[0]
        if self.t_s.ndim != 1:
            raise ValueError(f"t_s must be one-dimensional, got shape {self.t_s.shape}")
        if n < 2:
            raise ValueError(f"a recording needs at least two samples, got {n}")
        if self.acc_g.shape != (n, 3):
            raise ValueError(f"acc_g must have shape ({n}, 3), got {self.acc_g.shape}")
        if self.gyro_dps is not None and self.gyro_dps.shape != (n, 3):
            raise ValueError(f"gyro_dps must have shape ({n}, 3), got {self.gyro_dps.shape}")

    def __len__(self) -> int:
        """Number of samples."""
        return int(self.t_s.shape[0])

    @property
    def rate_hz(self) -> float:
        """Mean sample rate over the recording."""
        return (len(self) - 1) / float(self.t_s[-1] - self.t_s[0])

    @property
    def duration_s(self) -> float:
        """Time covered by the samples: one sample period per sample."""
        return len(self) / self.rate_hz

    @property
    def columns(self) -> tuple[str, ...]:
        """The CSV columns this recording is written with."""
        return ACC_COLUMNS + (GYRO_COLUMNS if self.gyro_dps is not None else ())


# --------------------------------------------------------------------------- reading


def read_recording(path: str | os.PathLike[str]) -> Recording:
    """Read a recording CSV file; any departure from the contract raises RecordingError."""
    name = os.fspath(path)
    try:
        with Path(name).open("rb") as file:
            header_bytes = file.readline()
            columns = _parse_header(name, header_bytes)
            body_bytes = os.fstat(file.fileno()).st_size - len(header_bytes)
            values = _Columns(len(columns), body_bytes)
            _read_body(name, file, columns, values)
    except OSError as exc:
        raise RecordingError(name, 1, f"cannot read the file: {exc.strerror or exc}") from exc
    n = values.rows
    if n == 0:
        raise RecordingError(name, 2, "no samples after the header")
    if n == 1:
        raise RecordingError(name, 2, "only one sample: at least two are needed for the rate")
    t_s, acc_g, gyro_dps = values.finish()
    _check_times(name, t_s)
    return Recording(t_s=t_s, acc_g=acc_g, gyro_dps=gyro_dps)


@dataclass(frozen=True, slots=True, eq=False)
class RecordingChunk:
    """Consecutive samples of a recording file: ``first_line`` is the 1-based line of the first.

    Arrays as in :class:`Recording` (a chunk may hold a single sample).
    """

    first_line: int
    t_s: FloatArray
    acc_g: FloatArray
    gyro_dps: FloatArray | None

    def __len__(self) -> int:
        """Number of samples."""
        return int(self.t_s.shape[0])


def iter_recording(path: str | os.PathLike[str]) -> Iterator[RecordingChunk]:
    """Read a recording CSV file chunk by chunk, holding only the chunk being handed out.

    Departures from the contract raise RecordingError (naming the line) when the chunk that
    holds them is reached. The first ~100 000 samples are held back until the typical
    interval is known.
    """
    name = os.fspath(path)
    try:
        with Path(name).open("rb") as file:
            columns = _parse_header(name, file.readline())
            checker = _TimeChecker(name)
            pending: list[RecordingChunk] = []
            for first_line, values, _ in _parsed_chunks(name, file, columns):
                if values.shape[0] == 0:
                    continue
                chunk = RecordingChunk(
                    first_line,
                    values[:, 0].copy(),
                    values[:, 1:4].copy(),
                    values[:, 4:7].copy() if values.shape[1] > 4 else None,
                )
                if checker.median_s is None:
                    pending.append(chunk)
                    if sum(len(c) for c in pending) <= _MEDIAN_SAMPLE:
                        continue
                    checker.learn(np.concatenate([c.t_s for c in pending]), pending[0].first_line)
                    for held in pending:
                        checker.check(held.t_s, held.first_line)
                        yield held
                    pending = []
                    continue
                checker.check(chunk.t_s, chunk.first_line)
                yield chunk
            if checker.median_s is None:
                rows = sum(len(c) for c in pending)
                if rows == 0:
                    raise RecordingError(name, 2, "no samples after the header")
                if rows == 1:
                    raise RecordingError(
                        name, 2, "only one sample: at least two are needed for the rate"
                    )
                checker.learn(np.concatenate([c.t_s for c in pending]), pending[0].first_line)
                for held in pending:
                    checker.check(held.t_s, held.first_line)
                    yield held
    except OSError as exc:
        raise RecordingError(name, 1, f"cannot read the file: {exc.strerror or exc}") from exc


class _TimeChecker:
    """``_check_times`` chunk by chunk: the typical interval from the first samples."""

    __slots__ = ("last_s", "median_s", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self.median_s: float | None = None
        self.last_s: float | None = None

    def learn(self, t_s: FloatArray, first_line: int) -> None:
        """Take the typical interval from the first samples (checking them on the way)."""
        _check_increasing(self.path, t_s, first_line)
        median_s = float(np.median(np.diff(t_s)[:_MEDIAN_SAMPLE]))
        _check_rate(self.path, median_s)
        self.median_s = median_s

    def check(self, t_s: FloatArray, first_line: int) -> None:
        """Check the next chunk's times, including the step from the previous chunk."""
        assert self.median_s is not None
        joined = t_s if self.last_s is None else np.concatenate(([self.last_s], t_s))
        line = first_line if self.last_s is None else first_line - 1
        _check_increasing(self.path, joined, line)
        _check_steady(self.path, joined, line, self.median_s)
        self.last_s = float(t_s[-1])


def _expected_header() -> str:
    return f"{','.join(ACC_COLUMNS)} or {','.join(ACC_COLUMNS + GYRO_COLUMNS)}"


def _parse_header(path: str, header_bytes: bytes) -> tuple[str, ...]:
    if not header_bytes:
        raise RecordingError(path, 1, f"empty file: expected the header {_expected_header()}")
    text = header_bytes.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    names = tuple(part.strip() for part in text.split(","))
    if names in (ACC_COLUMNS, ACC_COLUMNS + GYRO_COLUMNS):
        return names
    shown = text if len(text) <= 80 else text[:77] + "..."
    raise RecordingError(path, 1, f"header must be {_expected_header()}, found {shown!r}")


class _Columns:
    """Output columns filled chunk by chunk, sized from the file's length.

    The capacity is estimated from the bytes per line of the first chunk (with a margin) and
    grows when the estimate falls short; pages past the last row are never touched, so they
    cost address space but no memory.
    """

    __slots__ = ("acc_g", "body_bytes", "gyro_dps", "n_columns", "rows", "t_s")

    def __init__(self, n_columns: int, body_bytes: int) -> None:
        """Nothing allocated until the first chunk tells the bytes per line."""
        self.n_columns = n_columns
        self.body_bytes = body_bytes
        self.rows = 0
        self.t_s = np.empty(0)
        self.acc_g = np.empty((0, 3))
        self.gyro_dps: FloatArray | None = None

    def _grow(self, capacity: int) -> None:
        n = self.rows
        t_s, acc_g = np.empty(capacity), np.empty((capacity, 3))
        t_s[:n], acc_g[:n] = self.t_s[:n], self.acc_g[:n]
        self.t_s, self.acc_g = t_s, acc_g
        if self.n_columns == len(ACC_COLUMNS) + len(GYRO_COLUMNS):
            gyro_dps = np.empty((capacity, 3))
            if self.gyro_dps is not None:
                gyro_dps[:n] = self.gyro_dps[:n]
            self.gyro_dps = gyro_dps

    def append(self, values: FloatArray, chunk_bytes: int) -> None:
        """Append parsed rows, shape (k, n_columns), that came from ``chunk_bytes`` bytes."""
        k = values.shape[0]
        end = self.rows + k
        if end > self.t_s.shape[0]:
            per_line = max(chunk_bytes / max(k, 1), 2.0 * self.n_columns)
            estimate = int(self.body_bytes / per_line * _CAPACITY_MARGIN) + 1024
            self._grow(max(end, estimate, 2 * self.t_s.shape[0]))
        self.t_s[self.rows : end] = values[:, 0]
        self.acc_g[self.rows : end] = values[:, 1:4]
        if self.gyro_dps is not None:
            self.gyro_dps[self.rows : end] = values[:, 4:7]
        self.rows = end

    def finish(self) -> tuple[FloatArray, FloatArray, FloatArray | None]:
        """The filled part of each column."""
        n = self.rows
        gyro = self.gyro_dps[:n] if self.gyro_dps is not None else None
        return self.t_s[:n], self.acc_g[:n], gyro


def _chunks(file: io.BufferedReader) -> Iterator[bytes]:
    """Chunks of whole lines, each ending in a newline (the last one given one if missing)."""
    rest = b""
    while block := file.read(_CHUNK_BYTES):
        block = rest + block
        cut = block.rfind(b"\n") + 1
        if cut == 0:
            rest = block
            continue
        rest = block[cut:]
        yield block[:cut]
    if rest:
        yield rest + b"\n"


def _read_body(path: str, file: io.BufferedReader, columns: tuple[str, ...], out: _Columns) -> None:
    """Parse every data line into ``out``; blank lines are allowed only at the end."""
    for _, values, chunk_bytes in _parsed_chunks(path, file, columns):
        out.append(values, chunk_bytes)


def _parsed_chunks(
    path: str, file: io.BufferedReader, columns: tuple[str, ...]
) -> Iterator[tuple[int, FloatArray, int]]:
    """Each chunk's first line number, its rows (k, columns) and its length in bytes."""
    line_no = 2
    blank_line: int | None = None  # first of a run of blank lines not yet followed by data
    for raw_chunk in _chunks(file):
        chunk = raw_chunk.replace(b"\r\n", b"\n") if b"\r" in raw_chunk else raw_chunk
        n_lines = _count_byte(chunk, _NL)
        values = _parse_plain_decimals(chunk, len(columns))
        if values is None:
            values = _parse_with_loadtxt(chunk, len(columns), n_lines)
        if values is None:
            values, trailing_blank = _parse_lines(path, chunk, line_no, columns)
            if values.shape[0] and blank_line is not None:
                raise RecordingError(path, blank_line, "empty line")
            if trailing_blank is not None:
                blank_line = blank_line if blank_line is not None else trailing_blank
        elif blank_line is not None:
            raise RecordingError(path, blank_line, "empty line")
        yield line_no, values, len(chunk)
        line_no += n_lines


def _count_byte(data: bytes | npt.NDArray[np.uint8], byte: int) -> int:
    """Occurrences of one byte value (numpy counts faster than ``bytes.count``)."""
    array = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes) else data
    return int(np.count_nonzero(array == byte))


def _parse_plain_decimals(chunk: bytes, n_columns: int) -> FloatArray | None:
    """Vectorised parse of lines of plain decimals (``-12.345``); None if the chunk is not that.

    Accepted fields: an optional sign, digits, at most one dot, at least one digit, and each
    column printed with a fixed number of decimals (as any logger's printf does). Results
    equal Python's ``float()`` of each field: the mantissa is an exact integer in float64
    (at most 2**53) divided once by an exact power of ten.
    """
    b = np.frombuffer(chunk, dtype=np.uint8)
    sep_pos = np.flatnonzero((b == _COMMA) | (b == _NL))
    n_fields = sep_pos.size
    if n_fields == 0 or n_fields % n_columns:
        return None
    n_signs = _count_byte(b, _MINUS) + _count_byte(b, _PLUS)
    n_dots = _count_byte(b, _DOT)
    n_digits_total = int(np.count_nonzero((b - np.uint8(_ZERO)) < 10))
    if n_digits_total + n_dots + n_signs + n_fields != b.size:
        return None  # bytes other than digits, dots, signs, commas and newlines
    ends = sep_pos.reshape(-1, n_columns)
    seps = b[ends]
    if not (np.all(seps[:, -1] == _NL) and np.all(seps[:, :-1] == _COMMA)):
        return None
    flat_starts = np.empty_like(sep_pos)
    flat_starts[0] = 0
    flat_starts[1:] = sep_pos[:-1] + 1
    starts = flat_starts.reshape(-1, n_columns)
    first = b.take(starts)
    negative = first == _MINUS
    signed = negative | (first == _PLUS)
    if int(np.count_nonzero(signed)) != n_signs:
        return None  # a sign somewhere other than at the start of a field
    layout = _column_decimals(chunk, b, starts[0], ends, n_dots)
    if layout is None:
        return None
    has_dot = np.array([places is not None for places in layout])
    decimals = np.array([places or 0 for places in layout])
    n_digits = ends - starts - signed - has_dot
    if n_digits.min() < 1 or n_digits.max() > _MAX_DIGITS:
        return None  # a field without digits ("-", "."), or too many for an exact int64
    # Drop the dots: each field then is [sign]digits, its end moved left by the dots before it.
    digit_ends = ends - (np.arange(ends.shape[0])[:, None] * int(has_dot.sum()))
    digit_ends -= np.cumsum(has_dot)
    padded = _WORD_PAD + (chunk.translate(None, b".") if has_dot.any() else chunk)
    # words[i]: the eight bytes before offset i, read as one little-endian integer
    words = np.ndarray((len(padded) - 15,), dtype="<u8", buffer=padded, offset=8, strides=(1,))
    mantissa = _swar_digits(words[digit_ends], np.minimum(n_digits, 8).astype(np.uint64))
    for group in range(8, int(n_digits.max()), 8):
        cols = np.flatnonzero(n_digits.max(axis=0) > group)
        counts = np.clip(n_digits[:, cols] - group, 0, 8).astype(np.uint64)
        upper = _swar_digits(words[digit_ends[:, cols] - group], counts)
        mantissa[:, cols] += upper * _POW10_FLOAT[group]
    if float(mantissa.max()) > _FLOAT_EXACT_INT:
        return None  # not exact in float64; numpy's parser rounds correctly instead
    mantissa /= _POW10_FLOAT[decimals]
    np.negative(mantissa, out=mantissa, where=negative)
    return mantissa


def _column_decimals(
    chunk: bytes,
    b: npt.NDArray[np.uint8],
    first_starts: npt.NDArray[np.intp],
    ends: npt.NDArray[np.intp],
    n_dots: int,
) -> list[int | None] | None:
    """Decimals per column when every row of a column has them alike (None: no dot), else None.

    Writers print a column with a fixed number of decimals; then the dot sits at the same
    distance from each field's end and the digits alone give the value.
    """
    n_rows, n_columns = ends.shape
    layout: list[int | None] = []
    expected_dots = 0
    for col in range(n_columns):
        end = int(ends[0, col])
        dot = chunk.find(b".", int(first_starts[col]), end)
        if dot < 0:
            layout.append(None)
            continue
        places = end - dot - 1
        if not np.all(b.take(ends[:, col] - (places + 1)) == _DOT):
            return None
        layout.append(places)
        expected_dots += n_rows
    # Any dot beyond those checked lies elsewhere (a second dot, or a column of mixed layout).
    return layout if n_dots == expected_dots else None


def _swar_digits(
    words: npt.NDArray[np.uint64], counts: npt.NDArray[np.uint64] | np.uint64
) -> FloatArray:
    """Value of the last ``counts`` ASCII digits of each little-endian eight-byte word.

    Bytes before those digits are replaced by ASCII zeros, then pairs, quads and halves of
    digits are combined with three multiply-shift-mask steps (SIMD within a register).
    """
    keep = np.left_shift(_ALL_BITS, (np.uint64(8) - counts) * np.uint64(8))
    words &= keep
    words |= _ASCII_ZEROS & ~keep
    words -= _ASCII_ZEROS
    for shift, factor, lanes in _SWAR_STEPS:
        high = words >> shift
        words *= factor
        words += high
        words &= lanes
    return words.astype(np.float64)


def _parse_with_loadtxt(chunk: bytes, n_columns: int, n_lines: int) -> FloatArray | None:
    """Parse with numpy's C parser (other number formats); None where it objects."""
    try:
        text = chunk.decode("ascii")
        values = np.loadtxt(
            io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2, comments=None
        )
    except (ValueError, UnicodeDecodeError):
        return None
    if values.shape != (n_lines, n_columns) or not np.all(np.isfinite(values)):
        return None  # blank lines skipped, wrong column count or non-finite values
    return np.asarray(values, dtype=np.float64)


def _parse_lines(
    path: str, chunk: bytes, first_line: int, columns: tuple[str, ...]
) -> tuple[FloatArray, int | None]:
    """Line-by-line parse that names the exact line at fault.

    Returns the rows and the number of the first blank line of a blank run at the end of the
    chunk (None if the chunk ends in data); a blank line followed by data is an error.
    """
    rows: list[list[float]] = []
    blank_line: int | None = None
    lines = chunk.decode("utf-8", errors="replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for index, line in enumerate(lines):
        line_no = first_line + index
        if not line.strip():
            if blank_line is None:
                blank_line = line_no
            continue
        if blank_line is not None:
            raise RecordingError(path, blank_line, "empty line")
        fields = line.split(",")
        if len(fields) != len(columns):
            raise RecordingError(
                path,
                line_no,
                f"expected {len(columns)} values ({','.join(columns)}), found {len(fields)}",
            )
        row = []
        for col, field in enumerate(fields):
            try:
                value = float(field)
            except ValueError:
                raise RecordingError(
                    path,
                    line_no,
                    f"column {col + 1} ({columns[col]}) is not a number: {field.strip()!r}",
                ) from None
            if not math.isfinite(value):
                raise RecordingError(
                    path,
                    line_no,
                    f"column {col + 1} ({columns[col]}) is not a finite number: {field.strip()!r}",
                )
            row.append(value)
        rows.append(row)
    values = np.array(rows, dtype=np.float64).reshape(-1, len(columns))
    return values, blank_line


def _check_times(path: str, t_s: FloatArray) -> None:
    """Times strictly increasing at one steady rate within 25-200 Hz.

    The typical interval is the median of at most ~100 000 evenly spread intervals; then a
    min/max pass checks all of them, and only a failure looks for the first line at fault.
    """
    _check_increasing(path, t_s, 2)
    intervals = np.diff(t_s)
    stride = max(1, intervals.size // _MEDIAN_SAMPLE)
    median_s = float(np.median(intervals[::stride]))
    _check_rate(path, median_s)
    _check_steady(path, t_s, 2, median_s)


def _check_increasing(path: str, t_s: FloatArray, first_line: int) -> None:
    """Each time after the one before; ``first_line`` is the line of ``t_s[0]``."""
    intervals = np.diff(t_s)
    if intervals.size and not float(intervals.min()) > 0.0:
        i = int(np.flatnonzero(~(intervals > 0.0))[0]) + 1
        raise RecordingError(
            path,
            first_line + i,
            f"time {float(t_s[i])!r} s is not after the previous sample's {float(t_s[i - 1])!r} s",
        )


def _check_rate(path: str, median_s: float) -> None:
    rate_hz = 1.0 / median_s
    if not MIN_RATE_HZ * (1 - _RATE_SLACK) <= rate_hz <= MAX_RATE_HZ * (1 + _RATE_SLACK):
        raise RecordingError(
            path,
            2,
            f"sample rate {rate_hz:.4g} Hz (median interval {median_s:.6g} s) is outside "
            f"{MIN_RATE_HZ:g}-{MAX_RATE_HZ:g} Hz",
        )


def _check_steady(path: str, t_s: FloatArray, first_line: int, median_s: float) -> None:
    """Every interval within ``MAX_INTERVAL_DEVIATION`` of the typical one."""
    intervals = np.diff(t_s)
    if intervals.size == 0:
        return
    low_s = (1.0 - MAX_INTERVAL_DEVIATION) * median_s
    high_s = (1.0 + MAX_INTERVAL_DEVIATION) * median_s
    if float(intervals.min()) < low_s or float(intervals.max()) > high_s:
        i = int(np.flatnonzero((intervals < low_s) | (intervals > high_s))[0]) + 1
        raise RecordingError(
            path,
            first_line + i,
            f"sample rate not steady: {float(intervals[i - 1]):.6g} s since the previous sample, "
            f"the file's interval is {median_s:.6g} s ({1.0 / median_s:.4g} Hz)",
        )


# --------------------------------------------------------------------------- writing


def write_recording(path: str | os.PathLike[str], recording: Recording) -> None:
    """Write ``recording`` as a contract CSV (header, then fixed-decimal values per line)."""
    name = os.fspath(path)
    arrays = [recording.t_s[:, None], recording.acc_g]
    decimals = [T_DECIMALS] + [ACC_DECIMALS] * 3
    if recording.gyro_dps is not None:
        arrays.append(recording.gyro_dps)
        decimals += [GYRO_DECIMALS] * 3
    table = np.hstack(arrays)
    if not np.all(np.isfinite(table)):
        raise ValueError("a recording to write must hold only finite numbers")
    try:
        with Path(name).open("wb") as file:
            file.write((",".join(recording.columns) + "\n").encode("ascii"))
            for start in range(0, table.shape[0], _WRITE_CHUNK_ROWS):
                rows = table[start : start + _WRITE_CHUNK_ROWS]
                file.write(_format_rows(rows, decimals))
    except OSError as exc:
        raise RecordingError(name, 1, f"cannot write the file: {exc.strerror or exc}") from exc


def _format_rows(rows: FloatArray, decimals: list[int]) -> bytes:
    """Rows as CSV text, formatted with integer digit arithmetic instead of per-value printf."""
    parts = []
    last = len(decimals) - 1
    for col, places in enumerate(decimals):
        separator = _NL if col == last else _COMMA
        parts.append(_format_column(rows[:, col], places, separator))
    text: bytes = np.hstack(parts).tobytes()
    return text.translate(None, b" ")


def _format_column(values: FloatArray, places: int, separator: int) -> npt.NDArray[np.uint8]:
    """Fixed-width byte matrix of ``values`` with ``places`` decimals; pad bytes are spaces."""
    scaled = np.rint(values * 10.0**places).astype(np.int64)
    negative = scaled < 0
    magnitude = np.abs(scaled)
    whole, fraction = np.divmod(magnitude, 10**places)
    whole_digits = max(1, len(str(int(whole.max())))) if whole.size else 1
    width = 1 + whole_digits + (1 + places if places else 0) + 1
    out = np.full((values.shape[0], width), _SPACE, dtype=np.uint8)
    out[:, 0] = np.where(negative, _MINUS, _SPACE)
    for j in range(whole_digits):
        power = 10 ** (whole_digits - 1 - j)
        digit = (whole // power) % 10 + _ZERO
        leading = (whole < power) & (j < whole_digits - 1)
        out[:, 1 + j] = np.where(leading, _SPACE, digit)
    if places:
        out[:, 1 + whole_digits] = _DOT
        for j in range(places):
            out[:, 2 + whole_digits + j] = (fraction // 10 ** (places - 1 - j)) % 10 + _ZERO
    out[:, -1] = separator
    return out
