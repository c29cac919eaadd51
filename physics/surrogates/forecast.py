"""A learned 2 m temperature forecast (one small conv net per lead) and the classical baselines it must beat.

Everything is in anomalies from the hourly climatology ``clim`` (the mean over
the *training* times at each hour of the day and grid point), a(t) = T(t) -
clim(hour(t)), standardised by the training spread. For a start time t and a
lead L [h], every grid point gets these input channels::

    0      (T(t) - mean) / spread                 the absolute level now
    1-6    a(t - k), k = 0, 1, 3, 6, 12, 24       the anomaly now and before
    7      clim(hour(t+L)) - clim(hour(t))        the diurnal change to come
    8-11   sin, cos of hour(t) and of hour(t+L)   time of day
    12     box3(a) - a                            a(t) split by spatial scale:
    13     box9(a) - box3(a)                      3 x 3 and 9 x 9 box means
    14     mean(a) - box9(a)                      and the grid mean

Channels 0-11 are the point's own; 12-14 carry the neighbourhood at three scales
(large-scale anomalies persist longer than small ones). The network
(:class:`twin.physics.surrogates.conv.ConvNet`, which also sees the 5 x 5 neighbourhood
of every channel) predicts the target's anomaly a(t+L); a zero output is the
climatology. Its linear path starts from the ridge regression on all 15 channels,
so it starts as a linear neighbourhood model and learns what that misses. Both
ridge penalties and the number of Adam iterations are chosen by cross-validation
over 4-day blocks of the training period (whole blocks left out, so that
neighbouring hours, nearly the same sample, never sit on both sides); the
iteration count by the one-standard-error rule (the fewest iterations as good as
the best within the folds' noise: :func:`one_standard_error_choice`). The penalty
also shrinks the intercept: the prior is the climatology, so where the anomaly
carries no skill (long leads) the model falls back to it. Everything the model
needs to predict (grid, climatology, scales, weights) is in the model file;
nothing is downloaded.

The baselines, all scored on the same held-out starts:

- persistence: T(t+L) = T(t);
- same-hour-yesterday persistence: the last known field at the target's hour
  of day, T(t + L - 24 ceil(L / 24));
- hourly climatology: clim(hour(t+L));
- ridge regression: per lead, a linear map of the point's own input channels
  (0-11: the network's inputs without the neighbourhood) to a(t+L), fitted and
  cross-validated as above.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from twin.physics.simulation import save_npz

from twin.errors import InputError

__all__ = ["FORMAT", "Forecaster", "Series", "baseline_forecasts", "read_series", "train_forecaster"]

FORMAT = "twin.forecast/2"
LAGS = (0, 1, 3, 6, 12, 24)
"""Hours back the inputs look (the longest is how much history a start needs)."""
CHANNELS = 15
POINTWISE = 12
"""The first POINTWISE channels are the point's own; the rest describe its neighbourhood."""
RIDGE_PENALTIES = tuple(10.0 ** k for k in range(-2, 9))
BLOCK_DAYS = 4
"""The ridge penalty and the network's iteration count are cross-validated leaving out blocks of this many days."""
CHECK_EVERY = 25
"""Adam iterations between cross-validation checks (fewer when the cap is lower); the count chosen is a multiple of it."""
PATIENCE = 100
"""Cross-validation stops when the mean error has not fallen for this many iterations (or at the cap)."""


@dataclass
class Series:
    """Hourly 2 m temperature on a latitude-longitude grid.

    Attributes:
        t2m: [K], shape (time, latitude, longitude), NaN where missing.
        times: [s since 1970-01-01 UTC], shape (time,), ascending.
        latitude, longitude: [degrees], ascending.
        source: where it came from (for messages).
    """

    t2m: np.ndarray
    times: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    source: str = ""

    @property
    def hours(self) -> np.ndarray:
        """Hour of the day (0-23, UTC) of each time."""
        return ((self.times // 3600) % 24).astype(np.int64)

    def index_of(self, times: np.ndarray) -> np.ndarray:
        """Index of each of ``times`` in the series, -1 where it is not there."""
        k = np.searchsorted(self.times, times)
        k = np.clip(k, 0, len(self.times) - 1)
        return np.where(self.times[k] == times, k, -1)


def read_series(path: str | Path, variable: str = "t2m") -> Series:
    """The hourly temperature field of a NetCDF or GRIB file (via :func:`twin.io.weather.read_weather`)."""
    from twin.io.weather import read_weather

    w = read_weather(path, [variable])
    f = w.fields[variable]
    if f.dims != ("time", "latitude", "longitude"):
        raise InputError(path, f"variable {variable!r}", f"has dimensions ({', '.join(f.dims)}); a forecast needs (time, latitude, longitude)")
    if f.units != "K":
        raise InputError(path, f"variable {variable!r}", f"is in {w.raw_units[variable]!r}, not a temperature unit")
    times = f.coords["time"]
    if np.any(np.mod(times, 3600.0) != 0):
        raise InputError(path, "coordinate time", "times must fall on whole hours")
    return Series(f.values, times, f.coords["latitude"], f.coords["longitude"], str(path))


def _hour_features(hours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    angle = 2 * np.pi * hours / 24.0
    return np.sin(angle), np.cos(angle)


@dataclass
class Scales:
    """Standardisation: ``mean`` and ``spread`` [K] of the training temperatures; ``climatology`` (24, H, W) [K]."""

    mean: float
    spread: float
    climatology: np.ndarray


def fit_scales(series: Series, train: np.ndarray) -> Scales:
    """Mean, spread and hourly climatology of the training times ``train`` (indices); every hour must be present."""
    t = series.t2m[train]
    hours = series.hours[train]
    missing = sorted(set(range(24)) - set(hours.tolist()))
    if missing:
        raise InputError(series.source, "time", f"the training period lacks hours {missing} of the day; it needs at least one full day")
    clim = np.stack([np.nanmean(t[hours == h], axis=0) for h in range(24)])
    return Scales(float(np.nanmean(t)), float(np.nanstd(t)), clim)


def _lag_index(series: Series, starts: np.ndarray) -> np.ndarray:
    """Index of the time LAGS hours before each start (B, len(LAGS)); -1 where the series lacks it."""
    need = series.times[starts][:, None] - 3600.0 * np.array(LAGS)[None, :]
    return series.index_of(need.ravel()).reshape(need.shape)


def starts_with_inputs(series: Series) -> np.ndarray:
    """Indices of the start times whose inputs (the LAGS hours before) the series holds."""
    return np.flatnonzero(np.all(_lag_index(series, np.arange(len(series.times))) >= 0, axis=1))


def anomaly(series: Series, index: np.ndarray, scales: Scales) -> np.ndarray:
    """T - clim(hour) [K] at time indices ``index``, shape (len(index), H, W)."""
    return series.t2m[index] - scales.climatology[series.hours[index]]


def features(series: Series, starts: np.ndarray, lead: int, scales: Scales) -> np.ndarray:
    """Input channels (B, 15, H, W) float32 for start indices ``starts`` and lead [h]."""
    from scipy.ndimage import uniform_filter

    s = scales.spread
    hours = series.hours[starts]
    target_hours = (hours + lead) % 24
    lag_index = _lag_index(series, starts)
    chans = [(series.t2m[starts] - scales.mean) / s]
    chans += [anomaly(series, lag_index[:, k], scales) / s for k in range(len(LAGS))]
    chans += [(scales.climatology[target_hours] - scales.climatology[hours]) / s]
    ones = np.ones_like(chans[0])
    for h in (hours, target_hours):
        sin, cos = _hour_features(h)
        chans += [sin[:, None, None] * ones, cos[:, None, None] * ones]
    now = np.nan_to_num(chans[1], nan=0.0)
    box3, box9 = (uniform_filter(now, size=(1, k, k), mode="nearest") for k in (3, 9))
    chans += [box3 - now, box9 - box3, now.mean(axis=(1, 2), keepdims=True) - box9]
    x = np.stack(chans, axis=1)
    return np.nan_to_num(x, nan=0.0).astype(np.float32)


def baseline_forecasts(series: Series, starts: np.ndarray, lead: int, scales: Scales) -> dict[str, np.ndarray]:
    """Persistence, same-hour-yesterday persistence and hourly climatology [K], each (B, H, W)."""
    T = series.t2m
    back = 24 * math.ceil(lead / 24)
    yesterday = series.index_of(series.times[starts] + 3600.0 * (lead - back))
    if np.any(yesterday < 0):
        raise InputError(series.source, "time", f"the same hour yesterday is missing for some starts of lead {lead} h")
    return {
        "persistence": T[starts],
        "same_hour_yesterday": T[yesterday],
        "climatology": scales.climatology[(series.hours[starts] + lead) % 24],
    }


def fit_ridge(x: np.ndarray, y: np.ndarray, blocks: np.ndarray, penalties: tuple[float, ...] = RIDGE_PENALTIES) -> tuple[np.ndarray, float]:
    """Weights (C + 1,) of a pointwise ridge regression y ~ x (inputs (B, C, H, W), targets (B, H, W))
    and the penalty, chosen from ``penalties`` by cross-validation leaving out one block of
    samples at a time (``blocks`` (B,) labels: whole days, so that neighbouring hours, which are
    nearly the same sample, are never on both sides), then refitted on everything. The penalty
    shrinks the intercept too (toward a zero anomaly: the climatology)."""
    def design(a):
        return np.concatenate([a.transpose(0, 2, 3, 1).reshape(-1, a.shape[1]), np.ones((a.shape[0] * a.shape[2] * a.shape[3], 1))], axis=1)

    def solve(gram, rhs, penalty):
        return np.linalg.solve(gram + penalty * np.eye(gram.shape[0]), rhs)

    per_pixel = x.shape[2] * x.shape[3]
    a = design(x.astype(np.float64))
    b = y.reshape(-1).astype(np.float64)
    gram, rhs = a.T @ a, a.T @ b
    if len(penalties) == 1:
        return solve(gram, rhs, penalties[0]), penalties[0]
    rows = np.repeat(blocks, per_pixel)
    folds = []  # each block's rows and the normal equations without it
    for k in np.unique(blocks):
        ak, bk = a[rows == k], b[rows == k]
        folds.append((ak, bk, gram - ak.T @ ak, rhs - ak.T @ bk))
    errors = []
    for penalty in penalties:
        sq = 0.0
        for ak, bk, gram_rest, rhs_rest in folds:
            w = solve(gram_rest, rhs_rest, penalty)
            sq += float(np.sum((ak @ w - bk) ** 2))
        errors.append(sq / len(b))
    best = penalties[int(np.argmin(errors))]
    return solve(gram, rhs, best), best


def ridge_predict(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Ridge output (B, H, W) for inputs (B, C, H, W)."""
    return np.tensordot(x.astype(np.float64), weights[:-1], axes=([1], [0])) + weights[-1]


class Forecaster:
    """Trained networks, one per lead, with the grid and scales they were trained on.

    Attributes:
        leads: [h]; nets: lead -> ConvNet; scales: Scales;
        latitude, longitude: the grid [degrees]; info: training metadata.
    """

    def __init__(self, nets, scales: Scales, latitude, longitude, info: dict):
        self.nets, self.scales = nets, scales
        self.latitude, self.longitude, self.info = np.asarray(latitude), np.asarray(longitude), info

    @property
    def leads(self) -> list[int]:
        """The leads [h] the model has a network for, in training order."""
        return list(self.nets)

    def check_grid(self, series: Series) -> None:
        """InputError unless ``series`` is on the grid the model was trained on."""
        if series.t2m.shape[1:] != self.scales.climatology.shape[1:] or not (
                np.allclose(series.latitude, self.latitude) and np.allclose(series.longitude, self.longitude)):
            raise InputError(series.source, "variable 't2m'", f"its grid ({len(series.latitude)} x {len(series.longitude)} points, lat "
                             f"{series.latitude[0]:g} .. {series.latitude[-1]:g}, lon {series.longitude[0]:g} .. {series.longitude[-1]:g}) "
                             f"is not the model's ({len(self.latitude)} x {len(self.longitude)}, lat {self.latitude[0]:g} .. "
                             f"{self.latitude[-1]:g}, lon {self.longitude[0]:g} .. {self.longitude[-1]:g})")

    def predict(self, series: Series, starts: np.ndarray, lead: int) -> np.ndarray:
        """Forecast t2m [K] (B, H, W) at lead [h] from each start index."""
        x = features(series, starts, lead, self.scales)
        return self.scales.climatology[(series.hours[starts] + lead) % 24] + self.scales.spread * self.nets[lead].predict(x)

    def save(self, path: str | Path) -> Path:
        """Write the model to ``path`` (an .npz; written atomically)."""
        path = Path(path)
        arrays = {f"theta_{lead}": n.theta.numpy() for lead, n in self.nets.items()}
        meta = {"format": FORMAT, "leads": self.leads, "hidden": next(iter(self.nets.values())).hidden,
                "mean": self.scales.mean, "spread": self.scales.spread, "info": self.info}
        save_npz(path, meta=np.array(json.dumps(meta)), climatology=self.scales.climatology,
                 latitude=self.latitude, longitude=self.longitude, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path, *, device: str = "cpu") -> "Forecaster":
        from twin.physics.surrogates.conv import ConvNet

        path = Path(path)
        try:
            with np.load(path) as z:
                data = {k: z[k] for k in z.files}
            meta = json.loads(str(data["meta"]))
        except FileNotFoundError:
            raise InputError(path, "", "no such file") from None
        except (ValueError, OSError, KeyError, json.JSONDecodeError) as e:
            raise InputError(path, "", f"not a twin forecast model ({e})") from None
        if meta.get("format") != FORMAT:
            raise InputError(path, "meta", f"format is not {FORMAT}")
        nets = {int(lead): ConvNet(CHANNELS, meta["hidden"], data[f"theta_{lead}"], device=device) for lead in meta["leads"]}
        return cls(nets, Scales(meta["mean"], meta["spread"], data["climatology"]), data["latitude"], data["longitude"], meta["info"])


def _split(series: Series, holdout_hours: int) -> tuple[np.ndarray, float]:
    """Candidate start indices and the first held-out time [s]."""
    return starts_with_inputs(series), float(series.times[-1] - 3600.0 * (holdout_hours - 1))


def train_forecaster(series: Series, *, leads=(1, 6, 24, 48), holdout_hours: int = 96, hidden: int = 8,
                     iterations: int = 600, batch: int = 16, learning_rate: float = 3e-3, seed: int = 0,
                     device: str = "cpu", progress: bool = True) -> tuple[Forecaster, dict]:
    """Train one network per lead on the times before the last ``holdout_hours`` and score it there.

    Training samples are the starts whose target lies before the held-out period;
    the held-out samples are the starts inside it whose target the series holds.

    Returns:
        The Forecaster and a report: per lead the RMSE [K] of the model and of each
        baseline on the held-out starts, their count, training time [s] and
        forecasts per second. After Ctrl-C, the leads finished so far (and
        ``report["interrupted"]``); Ctrl-C during the first lead propagates.
    """
    from twin.physics.surrogates.conv import ConvNet

    candidates, first_held = _split(series, holdout_hours)
    train_times = np.flatnonzero(series.times < first_held)
    if len(train_times) < 48:
        raise InputError(series.source, "time", f"only {len(train_times)} hours before the held-out period; training needs at least 48")
    scales = fit_scales(series, train_times)
    rng = np.random.default_rng(seed)
    nets, report = {}, {"leads": {}, "holdout_start": first_held, "holdout_hours": holdout_hours}
    t_all = time.perf_counter()
    try:
        for lead in leads:
            target_times = series.times[candidates] + 3600.0 * lead
            has_target = series.index_of(target_times) >= 0
            train = candidates[has_target & (target_times < first_held)]
            test = candidates[has_target & (series.times[candidates] >= first_held)]
            if len(train) < 2:
                raise InputError(series.source, "time", f"too few training starts for lead {lead} h ({len(train)})")

            def y(starts, lead=lead):
                return (anomaly(series, _target(series, starts, lead), scales) / scales.spread).astype(np.float32)

            x_train, y_train = features(series, train, lead, scales), y(train)
            blocks = ((series.times[train] - series.times[0]) // (BLOCK_DAYS * 86400)).astype(np.int64)
            if len(np.unique(blocks)) < 2:
                raise InputError(series.source, "time", f"lead {lead} h: cross-validation needs more than {BLOCK_DAYS} days of training starts")
            start, penalty = fit_ridge(x_train, y_train, blocks)  # the network's start: a linear neighbourhood model
            ridge, ridge_penalty = fit_ridge(x_train[:, :POINTWISE], y_train, blocks)  # the baseline: the point's own channels
            t0 = time.perf_counter()
            every = min(CHECK_EVERY, iterations)
            folds = []  # each block left out in turn: a network started from the ridge fitted without it
            for k in np.unique(blocks):
                out = blocks == k
                w, _ = fit_ridge(x_train[~out], y_train[~out], blocks[~out], penalties=(penalty,))
                net = ConvNet(CHANNELS, hidden, seed=seed + lead, device=device)
                net.theta.assign(_with_linear_path(net, w))
                folds.append((net, _adam(net, x_train, y_train, np.flatnonzero(~out), every, batch=batch, learning_rate=learning_rate,
                                         rng=rng), x_train[out], y_train[out]))
            weights = np.array([np.count_nonzero(blocks == k) for k in np.unique(blocks)]) / len(train)
            curves = [[_mse(net, xv, yv)] for net, _, xv, yv in folds]
            with _bar(iterations, f"lead {lead} h, cross-validation", progress) as bar:
                while len(curves[0]) * every <= iterations:  # all folds in step, until the mean stops falling
                    for (net, steps, xv, yv), curve in zip(folds, curves):
                        next(steps)
                        curve.append(_mse(net, xv, yv))
                    bar.update(every)
                    cv = weights @ np.array(curves)
                    bar.set_postfix(cv=f"{cv[-1]:.4f}", best=f"{cv.min():.4f}", refresh=False)
                    if (len(cv) - 1 - int(np.argmin(cv))) * every >= PATIENCE:
                        break
            chosen = one_standard_error_choice(np.array(curves), weights) * every
            net = ConvNet(CHANNELS, hidden, seed=seed + lead, device=device)
            net.theta.assign(_with_linear_path(net, start))
            steps = _adam(net, x_train, y_train, np.arange(len(train)), every, batch=batch, learning_rate=learning_rate, rng=rng)
            with _bar(chosen, f"lead {lead} h", progress) as bar:
                for _ in range(chosen // every):
                    bar.set_postfix(loss=f"{next(steps):.4f}", refresh=False)
                    bar.update(every)
            entry = {"train_starts": int(len(train)), "test_starts": int(len(test)), "start_penalty": penalty, "ridge_penalty": ridge_penalty,
                     "cv_mse": cv.tolist(), "cv_fold_mse": np.array(curves).tolist(), "iterations_chosen": chosen, "train_time_s": time.perf_counter() - t0}
            if len(test):
                truth = series.t2m[_target(series, test, lead)]
                clim = scales.climatology[(series.hours[test] + lead) % 24]
                x_test = features(series, test, lead, scales)
                t0 = time.perf_counter()
                model = clim + scales.spread * net.predict(x_test)
                entry["forecasts_per_s"] = len(test) / (time.perf_counter() - t0)
                preds = {"model": model, **baseline_forecasts(series, test, lead, scales),
                         "ridge": clim + scales.spread * ridge_predict(ridge, x_test[:, :POINTWISE])}
                entry["rmse_K"] = {name: float(np.sqrt(np.nanmean((p - truth) ** 2))) for name, p in preds.items()}
                entry["start_rmse_K"] = float(np.sqrt(np.nanmean((clim + scales.spread * ridge_predict(start, x_test) - truth) ** 2)))
            report["leads"][str(lead)] = entry
            nets[lead] = net
    except KeyboardInterrupt:
        if not nets:
            raise
        report["interrupted"] = True  # the leads finished so far are kept
    report["train_time_s"] = time.perf_counter() - t_all
    info = {"trained_on": series.source, "holdout_hours": holdout_hours, "iterations": iterations, "batch": batch,
            "learning_rate": learning_rate, "seed": seed, "hidden": hidden}
    return Forecaster(nets, scales, series.latitude, series.longitude, info), report


def one_standard_error_choice(fold_errors: np.ndarray, weights: np.ndarray) -> int:
    """The fewest checkpoints whose cross-validated error is within one standard error of the best.

    ``fold_errors`` (K folds, checkpoints) is each left-out block's error after 0, 1, 2, ...
    checkpoints; ``weights`` (K,) the blocks' shares of the samples. The best checkpoint has the
    lowest weighted mean error; a checkpoint before it is as good when its mean excess over the best
    is at most the standard error of that excess across the folds (paired: the folds' weather, common
    to every checkpoint, cancels). This is the one-standard-error rule (Hastie, Tibshirani & Friedman,
    The Elements of Statistical Learning, 7.10): with a handful of folds the minimum alone is noise.
    """
    best = int(np.argmin(weights @ fold_errors))
    for i in range(best):
        excess = fold_errors[:, i] - fold_errors[:, best]
        if weights @ excess <= np.std(excess, ddof=1) / np.sqrt(len(excess)):
            return i
    return best


def _target(series: Series, starts: np.ndarray, lead: int) -> np.ndarray:
    """Index of the time ``lead`` hours after each start (the caller made sure it exists)."""
    return series.index_of(series.times[starts] + 3600.0 * lead)


def _with_linear_path(net, linear: np.ndarray) -> np.ndarray:
    """``net``'s weights with the linear path set to ``linear`` (C + 1,), a ridge solution (the network learns what it misses)."""
    theta = net.theta.numpy().copy()
    theta[net.at["skip"]:net.at["skip"] + CHANNELS] = linear[:-1]
    theta[net.at["b3"]] = linear[-1]
    return theta


def _mse(net, x: np.ndarray, y: np.ndarray) -> float:
    """The network's mean squared error on inputs ``x`` (B, C, H, W) and targets ``y`` (B, H, W)."""
    return float(np.mean((net.predict(x) - y) ** 2))


def _adam(net, x: np.ndarray, y: np.ndarray, rows: np.ndarray, every: int, *, batch: int, learning_rate: float, rng):
    """Mini-batch Adam (``warp.optim.Adam``) on the mean squared error over the samples ``rows``
    of ``x``, ``y``: each ``next()`` runs ``every`` iterations of ``batch`` random ones and returns
    the last batch's loss."""
    from warp.optim import Adam

    opt = Adam([net.theta], lr=learning_rate)
    while True:
        for _ in range(every):
            pick = rows[rng.choice(len(rows), size=min(batch, len(rows)), replace=False)]
            loss, grad = net.loss_and_grad(x[pick], y[pick])
            opt.step([grad])
        yield loss


def _bar(total: int, label: str, progress: bool):
    """A progress bar of Adam iterations on stderr (silent unless ``progress``)."""
    import sys

    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="it", file=sys.stderr, disable=not progress, mininterval=1.0)
