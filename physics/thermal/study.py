"""The machine twin on a sensor log: fit, run the filter, raise alarms, score them on NAB labels.

:func:`evaluate_log` is the whole offline study: the thermal model
(:mod:`twin.physics.thermal`) is fitted on NAB's probationary rows only (the labels
are never used to fit), the twin assimilates every reading (after the clock
steps are dropped, :meth:`twin.io.sensor_log.SensorLog.monotonic`), and two
detectors are scored with the same alarm rule (:func:`twin.anomaly.alarms`):

- ``twin``: the filter's standardised innovation |z|;
- ``zscore``: the rolling z-score of the reading over the day before it.

Each is scored at a threshold fixed in advance (``threshold``, the same number
for both: both statistics are in standard deviations) and at the threshold NAB's
own procedure would pick for it (the best over a sweep).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from twin.physics.thermal import ThermalModel, ThermalTwin, fit_thermal

from twin.anomaly import NabScore, alarms, best_threshold, nab_score, probationary_length, rolling_zscore
from twin.io.sensor_log import SensorLog, window_rows

__all__ = ["DetectorResult", "evaluate_log", "run_twin", "twin_statistic"]

HOLDOFF_S = 86400.0
"""After an alarm a detector stays quiet this long [s] (one alarm per event)."""
ZSCORE_WINDOW_S = 86400.0
"""The rolling z-score's window [s]."""


@dataclass(frozen=True)
class DetectorResult:
    """One detector on one log.

    Attributes:
        name: "twin" or "zscore"; threshold: in standard deviations.
        score: NAB standard-profile score at ``threshold``.
        lead_h: per labelled anomaly, hours from the first alarm in its window to the
            labelled time (positive: flagged before it), or None when missed.
        alarms: times of all scored alarms (ISO strings).
    """

    name: str
    threshold: float
    score: NabScore
    lead_h: list[float | None]
    alarms: list[str]

    def as_dict(self) -> dict:
        d = asdict(self)
        d["score"] = asdict(self.score)
        return d


def run_twin(model: ThermalModel, t: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """The twin over readings ``y`` at ``t`` [s] (n,): "predicted", "sigma", "z" (n,) (the first reading starts it: z = 0)."""
    twin = ThermalTwin(model, y[0], t[0])
    steps = [twin.assimilate(tk, yk) for tk, yk in zip(t[1:], y[1:])]
    return {"predicted": np.array([y[0]] + [i.predicted for i in steps]), "sigma": np.array([math.sqrt(model.r)] + [i.sigma for i in steps]),
            "z": np.array([0.0] + [i.z for i in steps])}


def twin_statistic(model: ThermalModel, t: np.ndarray, y: np.ndarray) -> np.ndarray:
    """|z| of the filter's innovation at each reading, (n,) (0 at the first)."""
    return np.abs(run_twin(model, t, y)["z"])


def _result(name: str, stat: np.ndarray, h: float, windows, holdoff: int, time: np.ndarray, labels: np.ndarray) -> DetectorResult:
    rows = alarms(stat, h, holdoff)
    score = nab_score(len(stat), windows, rows)
    lead = []
    for (a, b), label in zip(windows, labels):
        hit = rows[(rows >= a) & (rows <= b)]
        lead.append(None if not hit.size else float((label - time[hit[0]]) / np.timedelta64(3600, "s")))
    probation = probationary_length(len(stat))
    return DetectorResult(name, float(h), score, lead, [str(time[r]) for r in rows if r >= probation])


def fit_on_probation(log: SensorLog, channel: str) -> tuple[ThermalModel, np.ndarray, int]:
    """The thermal model fitted on NAB's probationary rows of ``channel`` (clock steps
    left out), the indices of the rows kept, and the number of probationary rows."""
    keep = log.monotonic()
    probation = probationary_length(len(keep))
    t, y = log.seconds()[keep][:probation], log.channels[channel][keep][:probation]
    return fit_thermal(t, y, ambient=float(np.min(y))), keep, probation


def evaluate_log(log: SensorLog, channel: str, windows: np.ndarray, labels: np.ndarray, *, threshold: float = 6.0) -> dict:
    """Fit, run and score the twin and the z-score baseline on ``log`` (see the module docstring).

    Args:
        log: the sensor log; channel: which of its channels.
        windows: NAB windows, datetime64 (m, 2); labels: the labelled anomaly times, (m,).
        threshold: the fixed alarm threshold [standard deviations].

    Returns:
        {"model": fitted parameters, "fixed": {detector: DetectorResult}, "tuned": {detector: DetectorResult}}.
    """
    model, keep, probation = fit_on_probation(log, channel)
    time, t, y = log.time[keep], log.seconds()[keep], log.channels[channel][keep]
    rows = window_rows(time, windows)
    holdoff = int(round(HOLDOFF_S / log.interval))
    stats = {"twin": twin_statistic(model, t, y), "zscore": rolling_zscore(y, int(round(ZSCORE_WINDOW_S / log.interval)))}
    fixed = {k: _result(k, s, threshold, rows, holdoff, time, labels) for k, s in stats.items()}
    tuned = {k: _result(k, s, best_threshold(s, rows, holdoff)[0], rows, holdoff, time, labels) for k, s in stats.items()}
    return {"model": asdict(model), "rows": len(y), "probationary_rows": probation, "fixed": fixed, "tuned": tuned}
