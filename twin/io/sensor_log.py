"""Sensor logs: time-stamped readings of machine channels from CSV files.

A log is a CSV file (comma, semicolon or tab separated: sniffed; UTF-8, a
byte-order mark and CRLF line ends allowed) with a header row; its first column holds the timestamps
(ISO 8601, e.g. ``2013-12-02 21:15:00`` or ``2013-12-02T21:15:00+01:00``), the
other columns hold one numeric channel each. A channel's unit is declared in
its header (``value [degF]`` or ``value (degF)``) or passed as ``units=``.
A timestamp without a UTC offset is read in the time zone ``timezone`` (an
IANA name, default UTC); every time is converted to UTC.

Reading reports what a twin must know about the clock: the sampling interval
(the median step), gaps (steps longer than 1.5 intervals), duplicated
timestamps and clock steps (a timestamp earlier than the one before it, as in
the NAB machine log on 7 January 2014, where the clock goes back 55 minutes).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import datetime
from datetime import timezone as dt_timezone
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from twin.errors import InputError
from twin.io.text import read_text

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ClockStep", "Gap", "SensorLog", "parse_timestamp", "read_nab_labels", "read_sensor_log", "window_rows"]

TIME_COLUMNS = ("timestamp", "time", "datetime", "date", "t")
"""Header names (case ignored) that mark a CSV file's first column as timestamps."""
GAP_FACTOR = 1.5
"""A step longer than this many sampling intervals is a gap."""
_UNIT = re.compile(r"^(.*?)\s*[\[(]\s*([^\])]*)\s*[\])]\s*$")


@dataclass(frozen=True)
class Gap:
    """Missing readings: the step from ``start`` to ``end`` (UTC) is longer than 1.5 intervals.

    Attributes:
        row: index (0-based, among the readings) of the reading after the gap.
        start, end: the readings either side (numpy datetime64, UTC).
        missing: readings that the sampling interval says are missing.
    """

    row: int
    start: np.datetime64
    end: np.datetime64
    missing: int


@dataclass(frozen=True)
class ClockStep:
    """The clock goes back: reading ``row`` is ``seconds`` earlier than the reading before it."""

    row: int
    before: np.datetime64
    after: np.datetime64
    seconds: float


@dataclass
class SensorLog:
    """Readings of one machine.

    Attributes:
        source: the file read.
        time: timestamps in file order, datetime64[s] UTC, shape (n,).
        channels: channel name -> readings, float64 shape (n,).
        units: channel name -> declared unit ("" when none is declared).
        interval: sampling interval [s] (median of the positive steps).
        gaps, clock_steps: what :func:`read_sensor_log` found.
        duplicates: timestamps that occur more than once (each listed once, ascending).
        timezone: the zone timestamps without an offset were read in.
    """

    source: str
    time: np.ndarray
    channels: dict[str, np.ndarray]
    units: dict[str, str]
    interval: float
    gaps: list[Gap] = field(default_factory=list)
    clock_steps: list[ClockStep] = field(default_factory=list)
    duplicates: np.ndarray = field(default_factory=lambda: np.array([], "datetime64[s]"))
    timezone: str = "UTC"

    @property
    def rows(self) -> int:
        return len(self.time)

    @property
    def span(self) -> tuple[np.datetime64, np.datetime64]:
        """Earliest and latest timestamp (UTC)."""
        return self.time.min(), self.time.max()

    def seconds(self) -> np.ndarray:
        """Time of each reading since the first one [s], float64 (n,) (negative steps kept)."""
        return (self.time - self.time[0]).astype("timedelta64[s]").astype(np.float64)

    def monotonic(self) -> np.ndarray:
        """Indices of the readings that move the clock forward: after a clock step, the
        readings up to the latest time already seen are left out (int64, ascending)."""
        t = self.time.astype(np.int64)
        latest = np.maximum.accumulate(np.concatenate([[t[0] - 1], t[:-1]]))
        return np.flatnonzero(t > latest)


def _zone(name: str):
    if name.upper() == "UTC":
        return dt_timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError("timezone", "", f"{name!r} is not an IANA time zone name (e.g. UTC, Europe/Berlin)") from None


def parse_timestamp(text: str, zone=dt_timezone.utc) -> np.datetime64:
    """An ISO 8601 timestamp as datetime64[s] UTC; without an offset it is read in ``zone``.

    Raises:
        ValueError: not an ISO 8601 timestamp.
    """
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    d = datetime.fromisoformat(text)
    if d.tzinfo is None:
        d = d.replace(tzinfo=zone)
    return np.datetime64(int(d.timestamp()), "s")


def _split_unit(name: str) -> tuple[str, str]:
    m = _UNIT.match(name)
    return (m.group(1).strip(), m.group(2).strip()) if m else (name.strip(), "")


def _dialect(path: Path, text: str) -> str:
    """The delimiter of a log: comma, semicolon or tab, sniffed from the header line."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    if counts[best] == 0:
        raise InputError(path, "line 1", "expected a header 'timestamp,<channel>,...' separated by commas, semicolons or tabs")
    return best


def _times(path: Path, column: str, text: pd.Series, lines: np.ndarray, zone) -> np.ndarray:
    """Timestamps (ISO 8601; without an offset read in ``zone``) as datetime64[s] UTC, parsed by pandas column-wise."""
    import pandas as pd  # heavy; only for logs

    text = text.str.strip()
    aware = text.str.contains(r"(?:[zZ]|[+-]\d\d:?\d\d)$", regex=True)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    try:
        if aware.any():
            out[aware] = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce")
        if (~aware).any():
            naive = pd.to_datetime(text[~aware], format="ISO8601", errors="coerce")
            name = "UTC" if zone is dt_timezone.utc else zone.key
            dst = np.ones(int((~aware).sum()), bool)  # an hour that occurs twice: the first (summer time), as fold=0
            out[~aware] = naive.dt.tz_localize(name, ambiguous=dst, nonexistent="shift_forward").dt.tz_convert("UTC")
    except (ValueError, TypeError, OverflowError, AttributeError):
        out[:] = pd.NaT
    if out.isna().any():
        # a bad timestamp, an offset the pattern did not see ("...-1"), a date beyond pandas' years 1677-2262:
        # row by row, naming the first bad one
        return np.array([_one_time(path, column, t, n, zone) for t, n in zip(text, lines)], dtype="datetime64[s]")
    return out.dt.tz_localize(None).to_numpy().astype("datetime64[s]")


def _one_time(path: Path, column: str, text: str, line: int, zone) -> np.datetime64:
    """One timestamp by :func:`parse_timestamp`, or the InputError naming its line."""
    try:
        return parse_timestamp(text, zone)
    except (ValueError, OverflowError, OSError):
        raise InputError(path, f"line {line}, column {column}", f"{text!r} is not an ISO 8601 timestamp") from None


def _values(path: Path, name: str, text: pd.Series, lines: np.ndarray, delimiter: str) -> np.ndarray:
    """A channel's readings as float64; the first that is not a finite number is an InputError naming its line."""
    import pandas as pd

    clean = text.str.strip()
    if delimiter != ",":
        clean = clean.str.replace(",", ".", regex=False)  # a decimal comma, as semicolon-separated exports write
    v = pd.to_numeric(clean, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(v)
    if bad.any():
        k = int(np.argmax(bad))
        raise InputError(path, f"line {lines[k]}, column {name}", f"{text.iloc[k]!r} is not a finite number")
    return v


def read_sensor_log(path: str | Path, *, units: dict[str, str] | None = None, timezone: str = "UTC") -> SensorLog:
    """Read a CSV sensor log (see the module docstring).

    The delimiter (comma, semicolon or tab) is sniffed from the header; a UTF-8
    byte-order mark and CRLF line ends are read; with a semicolon or tab a
    decimal comma is read as a decimal point.

    Args:
        path: the CSV file.
        units: channel name -> unit, for channels whose header declares none.
        timezone: IANA zone of timestamps written without a UTC offset.

    Raises:
        InputError: an unreadable file, no header, fewer than two readings, a
            timestamp that is not ISO 8601, a value that is not a finite
            number, a row with the wrong number of fields (file, line, column).
    """
    import pandas as pd  # heavy; only for logs

    path = Path(path)
    zone = _zone(timezone)
    text = read_text(path, encoding="utf-8-sig")
    delimiter = _dialect(path, text)
    try:
        rows = [(n, r) for n, r in enumerate(csv.reader(text.splitlines(), delimiter=delimiter), start=1)
                if any(c.strip() for c in r)]
    except csv.Error as e:
        raise InputError(path, "", f"not a CSV file ({e})") from None
    header = rows[0][1] if rows else []
    if len(header) < 2 or header[0].strip().lower() not in TIME_COLUMNS:
        raise InputError(path, "line 1", f"expected a header 'timestamp,<channel>,...' (first column one of {', '.join(TIME_COLUMNS)})")
    names, declared = zip(*(_split_unit(h) for h in header[1:]))
    unit_of = {n: u or (units or {}).get(n, "") for n, u in zip(names, declared)}
    body = rows[1:]
    for lineno, row in body:
        if len(row) != len(header):
            raise InputError(path, f"line {lineno}", f"expected {len(header)} fields, found {len(row)}")
    if len(body) < 2:
        raise InputError(path, "", f"needs at least two readings, found {len(body)}")
    lines = np.array([n for n, _ in body])
    columns = [pd.Series(c, dtype=object) for c in zip(*(r for _, r in body))]
    time = _times(path, header[0].strip(), columns[0], lines, zone)
    channels = {n: _values(path, n, columns[k + 1], lines, delimiter) for k, n in enumerate(names)}
    log = SensorLog(str(path), time, channels, unit_of, 0.0, timezone=timezone)
    _clock_report(log)
    return log


def _clock_report(log: SensorLog) -> None:
    """Fill ``interval``, ``gaps``, ``clock_steps`` and ``duplicates`` of ``log``."""
    t = log.time
    steps = np.diff(t).astype("timedelta64[s]").astype(np.float64)
    forward = steps[steps > 0]
    log.interval = float(np.median(forward)) if forward.size else 0.0
    for k in np.flatnonzero(steps < 0):
        log.clock_steps.append(ClockStep(int(k + 1), t[k], t[k + 1], float(-steps[k])))
    if log.interval > 0:
        for k in np.flatnonzero(steps > GAP_FACTOR * log.interval):
            log.gaps.append(Gap(int(k + 1), t[k], t[k + 1], int(round(steps[k] / log.interval)) - 1))
    uniq, counts = np.unique(t, return_counts=True)
    log.duplicates = uniq[counts > 1]


def read_nab_labels(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """NAB labels of one file (``anomaly_timestamps`` and ``anomaly_windows`` in a JSON object).

    Returns:
        The labelled anomaly times, datetime64[s] (k,), and the windows, datetime64[s] (m, 2), UTC.
    """
    import json

    path = Path(path)
    try:
        d = json.loads(read_text(path))
        stamps = np.array([parse_timestamp(s) for s in d["anomaly_timestamps"]], dtype="datetime64[s]")
        windows = np.array([[parse_timestamp(a), parse_timestamp(b)] for a, b in d["anomaly_windows"]], dtype="datetime64[s]")
    except json.JSONDecodeError as e:
        raise InputError(path, f"line {e.lineno}, column {e.colno}", f"not JSON ({e.msg})") from None
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(path, "", f"expected anomaly_timestamps and anomaly_windows [[start, end], ...] of ISO timestamps ({e})") from None
    return stamps, windows.reshape(-1, 2)


def window_rows(time: np.ndarray, windows: np.ndarray) -> list[tuple[int, int]]:
    """(first row, last row) of each window (m, 2) among ascending ``time`` (n,): the rows inside it."""
    lo = np.searchsorted(time, windows[:, 0], side="left")
    hi = np.searchsorted(time, windows[:, 1], side="right") - 1
    return [(int(a), int(b)) for a, b in zip(lo, hi)]
