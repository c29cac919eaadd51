"""Anomaly alarms and their score on the Numenta Anomaly Benchmark (NAB).

Scoring follows NAB's published definition (Lavin & Ahmad 2015, "Evaluating
Real-time Anomaly Detection Algorithms -- the Numenta Anomaly Benchmark", and
its reference scorer ``nab/sweeper.py``), standard profile:

- Each labelled window is a run of rows. A detection at row ``i`` inside a window
  whose last row is ``R`` and width ``W`` rows sits at ``y = -(R - i + 1) / W`` (-1 at
  its first row, near 0 at its last) and is worth ``A_TP sigma(y) / sigma(-1)``, with the
  scaled sigmoid ``sigma(y) = 2 / (1 + e^{5y}) - 1`` (and -1 for y > 3). Only the
  best (earliest) detection of a window counts.
- A detection outside every window is worth ``A_FP sigma(y)`` with
  ``y = |R_prev - i| / (W_prev - 1)`` its distance past the preceding window (in
  that window's widths), or ``A_FP * -1`` when no window precedes it.
- A window without a detection costs ``A_FN``.
- Rows of the probationary period -- the first ``min(floor(0.15 n), 0.15 * 5000)``
  rows, as in NAB's code -- are not scored (the detector is still learning).
- Standard profile: A_TP = 1, A_FP = 0.11 (a detection outside adds ``0.11 sigma(y) < 0``),
  A_FN = 1. The normalised score is ``100 (S - S_null) / (S_perfect - S_null)``:
  0 for the detector that never fires, 100 for one firing at every window's first row.

Alarms: a detector's statistic (a standardised residual) above ``threshold``
raises an alarm, and the detector then stays quiet for ``holdoff`` rows (one alarm
per event, not one per row of it); the same rule serves every detector compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["STANDARD", "NabProfile", "NabScore", "alarms", "best_threshold", "nab_score", "probationary_length",
           "rolling_zscore", "scaled_sigmoid"]


@dataclass(frozen=True)
class NabProfile:
    """Weights of a NAB application profile: a_tp (reward), a_fp, a_fn (costs, positive numbers)."""

    a_tp: float
    a_fp: float
    a_fn: float


STANDARD = NabProfile(1.0, 0.11, 1.0)
"""NAB's standard profile."""


def scaled_sigmoid(y: float) -> float:
    """NAB's ``2 / (1 + e^{5y}) - 1``, and -1 for ``y > 3``."""
    return -1.0 if y > 3.0 else 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def probationary_length(rows: int, percent: float = 0.15) -> int:
    """Rows NAB does not score at the start of a file: ``min(floor(percent n), percent * 5000)``."""
    return int(min(math.floor(percent * rows), percent * 5000))


@dataclass(frozen=True)
class NabScore:
    """A detector's score on one file.

    Attributes:
        raw: S, the sum of the weighted detections and misses.
        null, perfect: S of the detector that never fires and of the perfect one.
        normalised: 100 (S - S_null) / (S_perfect - S_null).
        tp, fp, fn: windows detected, scored detections outside windows, windows missed.
        first: for each window, the row of its first detection, or -1.
    """

    raw: float
    null: float
    perfect: float
    normalised: float
    tp: int
    fp: int
    fn: int
    first: tuple[int, ...]


def nab_score(rows: int, windows: list[tuple[int, int]], detections: np.ndarray, *, profile: NabProfile = STANDARD,
              probation_percent: float = 0.15) -> NabScore:
    """Score ``detections`` (row indices) against ``windows`` ((first row, last row), ascending) over ``rows`` rows."""
    probation = probationary_length(rows, probation_percent)
    max_tp = scaled_sigmoid(-1.0)
    det = np.unique(np.asarray(detections, dtype=np.int64))
    det = det[(det >= probation) & (det < rows)]
    counted = [(a, b) for a, b in windows if b >= probation]
    best = [None] * len(counted)
    first = [-1] * len(counted)
    fp_total, fp = 0.0, 0
    for i in det:
        k = next((n for n, (a, b) in enumerate(counted) if a <= i <= b), None)
        if k is not None:
            a, b = counted[k]
            width = b - a + 1
            value = profile.a_tp * scaled_sigmoid(-(b - i + 1) / width) / max_tp
            if best[k] is None or value > best[k]:
                best[k], first[k] = value, int(i)
            continue
        before = [(a, b) for a, b in windows if b < i]
        if before:
            a, b = before[-1]
            y = abs(b - i) / (b - a)
            fp_total += profile.a_fp * scaled_sigmoid(y)
        else:
            fp_total -= profile.a_fp
        fp += 1
    tp = sum(v is not None for v in best)
    fn = len(counted) - tp
    raw = sum(v for v in best if v is not None) + fp_total - profile.a_fn * fn
    null = -profile.a_fn * len(counted)
    perfect = profile.a_tp * len(counted)
    normalised = 100.0 * (raw - null) / (perfect - null) if perfect > null else 0.0
    return NabScore(raw, null, perfect, normalised, tp, fp, fn, tuple(first))


def alarms(statistic: np.ndarray, threshold: float, holdoff: int) -> np.ndarray:
    """Rows where ``statistic`` (n,) exceeds ``threshold`` and no alarm was raised in the ``holdoff`` rows before."""
    out, quiet_until = [], -1
    for i in np.flatnonzero(np.asarray(statistic) > threshold):
        if i > quiet_until:
            out.append(i)
            quiet_until = i + holdoff
    return np.array(out, dtype=np.int64)


def rolling_zscore(y: np.ndarray, window: int) -> np.ndarray:
    """|y_i - mean| / std over the ``window`` readings before row i (0 for the first ``window`` rows), (n,)."""
    y = np.asarray(y, np.float64)
    c1 = np.concatenate([[0.0], np.cumsum(y)])
    c2 = np.concatenate([[0.0], np.cumsum(y * y)])
    z = np.zeros_like(y)
    i = np.arange(window, len(y))
    mean = (c1[i] - c1[i - window]) / window
    var = np.maximum((c2[i] - c2[i - window]) / window - mean * mean, 1e-12)
    z[i] = np.abs(y[i] - mean) / np.sqrt(var)
    return z


def best_threshold(statistic: np.ndarray, windows: list[tuple[int, int]], holdoff: int, *,
                   candidates: np.ndarray | None = None, profile: NabProfile = STANDARD) -> tuple[float, NabScore]:
    """The threshold with the highest NAB score, as NAB tunes each detector (over the statistic's quantiles)."""
    s = np.asarray(statistic)
    if candidates is None:
        candidates = np.unique(np.quantile(s, 1.0 - np.geomspace(1e-4, 0.2, 60)))
    scored = [(float(h), nab_score(len(s), windows, alarms(s, h, holdoff), profile=profile)) for h in candidates]
    return max(scored, key=lambda hs: hs[1].raw)
