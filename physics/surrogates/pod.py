"""A flood sweep's response surface: reduced bases of its outputs plus a regression.

Trained on a ``twin batch`` store (``results.zarr``), the surrogate maps the sweep's
varied parameters p (d numbers) to the peak-depth field (ny, nx) and the probe
hydrographs (nprobes, ntimes) of the flood scene:

1. each output is flattened per run into a row, Y (n_runs, m), centred on its mean
   and reduced by proper orthogonal decomposition (the SVD of the centred rows):
   the leading r modes keep all but ``1 - energy`` of the variance;
2. the r mode coefficients are regressed over the parameters, scaled to the unit
   cube of the trained range, by one of :data:`REGRESSIONS`: ``rbf`` (the default),
   a polyharmonic cubic radial basis function phi(s) = s^3 plus a linear polynomial
   (the standard, shape-parameter-free RBF interpolant: the (n + d + 1) linear
   system is solved in closed form), or ``mlp``, a small tanh network trained with
   Warp (:mod:`twin.physics.surrogates.mlp`).

Prediction is a (n,) kernel row times (n, r) weights (or the network's few products)
times (r, m) modes: well under a millisecond on a CPU. Depths are clipped at 0.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from twin.physics.simulation import save_npz
from twin.physics.surrogates.mlp import MLP
from twin.physics.swe.run import FloodRun

from twin.errors import InputError

FORMAT = "twin-surrogate-pod/2"
WET_THRESHOLD = 1e-3
"""Depth [m] above which a cell counts as wet (as in the solver's Result)."""


def _kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """phi(|a_i - b_j|) = |a_i - b_j|^3 for rows of a (k, d) and b (n, d) -> (k, n)."""
    d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    return d2 * np.sqrt(d2)


def _with_linear(x: np.ndarray) -> np.ndarray:
    return np.hstack([np.ones((len(x), 1)), x])


@dataclass
class RBF:
    """Cubic RBF interpolant with a linear tail: centres (n, d) in [0, 1]^d, weights
    (n + d + 1, r)."""

    centres: np.ndarray
    weights: np.ndarray

    @classmethod
    def fit(cls, unit_params: np.ndarray, coefficients: np.ndarray) -> "RBF":
        """Interpolate ``coefficients`` (n, r) at ``unit_params`` (n, d)."""
        n, d = unit_params.shape
        system = np.zeros((n + d + 1, n + d + 1))
        system[:n, :n] = _kernel(unit_params, unit_params)
        system[:n, n:] = _with_linear(unit_params)
        system[n:, :n] = system[:n, n:].T
        rhs = np.vstack([coefficients, np.zeros((d + 1, coefficients.shape[1]))])
        return cls(unit_params, np.linalg.solve(system, rhs))

    def predict(self, unit_params: np.ndarray) -> np.ndarray:
        """Coefficients (k, r) at ``unit_params`` (k, d)."""
        return np.hstack([_kernel(unit_params, self.centres), _with_linear(unit_params)]) @ self.weights


REGRESSIONS = {"rbf": RBF, "mlp": MLP}
"""The regressions of the mode coefficients, by the name ``--regression`` takes."""


@dataclass
class Reduced:
    """One output reduced by POD: mean (m,), modes (r, m), and the regression of the r
    mode coefficients over the parameters."""

    mean: np.ndarray
    modes: np.ndarray
    regression: RBF | MLP

    @classmethod
    def fit(cls, unit_params: np.ndarray, rows: np.ndarray, energy: float, regression: str = "rbf") -> "Reduced":
        """POD of ``rows`` (n, m) keeping ``energy`` of the variance, ``regression`` of
        its coefficients over ``unit_params`` (n, d) in [0, 1]^d."""
        mean = rows.mean(axis=0)
        _, s, vt = np.linalg.svd(rows - mean, full_matrices=False)
        kept = np.cumsum(s * s) / max(float((s * s).sum()), 1e-300)
        r = min(int(np.searchsorted(kept, energy)) + 1, s.size)
        modes = vt[:r]
        return cls(mean, modes, REGRESSIONS[regression].fit(unit_params, (rows - mean) @ modes.T))

    def predict(self, unit_params: np.ndarray) -> np.ndarray:
        """Rows (k, m) at ``unit_params`` (k, d)."""
        return self.mean + self.regression.predict(unit_params) @ self.modes

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything the model file holds of it, by name."""
        return {"mean": self.mean, "modes": self.modes, **vars(self.regression)}

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray], regression: str) -> "Reduced":
        """The inverse of :meth:`arrays`, for a ``regression`` of :data:`REGRESSIONS`."""
        kind = REGRESSIONS[regression]
        return cls(a["mean"], a["modes"], kind(**{f.name: a[f.name] for f in fields(kind)}))


@dataclass
class FloodSurrogate:
    """A trained surrogate of a flood sweep.

    Attributes:
        names: the varied parameters, in order; low, high: their trained range, (d,) each:
            the design's box for a Latin hypercube, the values' hull otherwise.
        fixed: every other scene parameter, as the sweep ran it.
        wet: cells with water in any training run, (ny, nx) bool (the field is 0 elsewhere).
        peak: the reduced peak-depth field over the ``wet`` cells.
        probes: the reduced probe depths, flattened (nprobes * ntimes).
        grid: x (nx,), y (ny,), probe_time (ntimes,) [s], probe names, static fields
            (bed_elevation, ground_elevation, building, probe_x, probe_y, probe_bed).
        meta: scene script, CRS, title, sweep fingerprint, number of runs, modes kept.
    """

    names: list[str]
    low: np.ndarray
    high: np.ndarray
    fixed: dict
    wet: np.ndarray
    peak: Reduced
    probes: Reduced
    grid: dict[str, np.ndarray]
    meta: dict

    def unit(self, params: dict, source: str = "surrogate") -> np.ndarray:
        """The varied parameters of ``params`` scaled to [0, 1]^d, (1, d).

        Raises:
            InputError: a varied parameter outside the trained range, or another
                parameter different from the value the sweep held it at.
        """
        for name, value in self.fixed.items():
            if name in params and params[name] != value:
                raise InputError(source, f"parameter {name}", f"{params[name]!r} differs from the value the surrogate "
                                 f"was trained with ({value!r}); run the solver for this one")
        x = np.array([float(params[n]) for n in self.names])
        for n, v, lo, hi in zip(self.names, x, self.low, self.high):
            if not lo - 1e-9 * abs(lo) <= v <= hi + 1e-9 * abs(hi):
                raise InputError(source, f"parameter {n}", f"{v:g} is outside the trained range [{lo:g}, {hi:g}]; "
                                 "run the solver for this one")
        return ((x - self.low) / (self.high - self.low))[None, :]

    def predict(self, params: dict, source: str = "surrogate") -> dict[str, np.ndarray]:
        """Peak depth [m] (ny, nx) and probe depths [m] (nprobes, ntimes) at ``params``."""
        u = self.unit(params, source)
        peak = np.zeros(self.wet.shape)
        peak[self.wet] = np.maximum(self.peak.predict(u)[0], 0.0)
        nprobe, ntime = len(self.grid["probe"]), len(self.grid["probe_time"])
        probes = np.maximum(self.probes.predict(u)[0], 0.0).reshape(nprobe, ntime)
        return {"max_depth": peak, "probe_depth": probes}

    # -- files -------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the model to one .npz file, atomically."""
        path = Path(path)
        arrays = {"low": self.low, "high": self.high, "wet": self.wet,
                  **{f"peak_{k}": v for k, v in self.peak.arrays().items()},
                  **{f"probes_{k}": v for k, v in self.probes.arrays().items()},
                  **{f"grid_{k}": v for k, v in self.grid.items()}}
        meta = {"format": FORMAT, "names": self.names, "fixed": self.fixed, **self.meta}
        save_npz(path, meta=np.array(json.dumps(meta)), **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "FloodSurrogate":
        path = Path(path)
        try:
            with np.load(path) as z:
                a = {k: z[k] for k in z.files}
            meta = json.loads(str(a.pop("meta")))
        except FileNotFoundError:
            raise InputError(path, "", "no such surrogate model") from None
        except (ValueError, OSError, KeyError) as e:
            raise InputError(path, "", f"not a twin surrogate model ({e})") from None
        if meta.get("format") != FORMAT:
            raise InputError(path, "", f"not a twin surrogate model (format {meta.get('format')!r}, expected {FORMAT})")
        if meta.get("regression") not in REGRESSIONS:
            raise InputError(path, "", f"not a twin surrogate model (regression {meta.get('regression')!r})")
        names, fixed = meta.pop("names"), meta.pop("fixed")
        meta.pop("format")
        part = {prefix: {k[len(prefix):]: v for k, v in a.items() if k.startswith(prefix)} for prefix in ("peak_", "probes_", "grid_")}
        try:
            peak, probes = (Reduced.from_arrays(part[p], meta["regression"]) for p in ("peak_", "probes_"))
        except KeyError as e:
            raise InputError(path, "", f"not a twin surrogate model (no {e})") from None
        return cls(names, a["low"], a["high"], fixed, a["wet"], peak, probes, part["grid_"], meta)


def train(sweep_dir: str | Path, *, energy: float = 1 - 1e-4, regression: str = "rbf") -> FloodSurrogate:
    """Train on the finished runs of a ``twin batch`` store, the mode coefficients by
    ``regression`` (a key of :data:`REGRESSIONS`).

    Raises:
        InputError: the folder holds no store, the sweep kept no ``max_depth`` or
            ``probe_depth``, a varied parameter is not a number, or too few runs finished.
    """
    import xarray as xr

    store = Path(sweep_dir) / "results.zarr"
    if not store.is_dir():
        raise InputError(sweep_dir, "", "holds no results.zarr (the --out folder of twin batch)")
    ds = xr.open_zarr(store, decode_times=False)
    if ds.attrs.get("twin_kind", "flood") != "flood":
        raise InputError(store, "twin_kind", f"is a sweep of {ds.attrs['twin_kind']} runs; the surrogate learns flood "
                         "sweeps (peak depth and hydrographs)")
    for name in ("max_depth", "probe_depth"):
        if name not in ds:
            raise InputError(store, name, "the sweep did not keep it; add it to [keep] (peak_fields, probes)")
    names = json.loads(ds.attrs["varied"])
    ds = ds[[*names, "status", "max_depth", "probe_depth", *FloodRun.static_fields]].load()  # not the snapshots a sweep may keep
    for n in names:
        if not np.issubdtype(ds[n].dtype, np.number):
            raise InputError(store, f"parameter {n}", "is not a number; a surrogate interpolates numeric parameters only")
    done = ds.isel(run=np.flatnonzero(ds["status"].values == "done"))
    if done.sizes["run"] < len(names) + 2:
        raise InputError(store, "", f"{done.sizes['run']} finished runs; at least {len(names) + 2} are needed")
    x = np.stack([done[n].values.astype(np.float64) for n in names], axis=1)
    low, high = x.min(axis=0), x.max(axis=0)
    design = json.loads(ds.attrs["design"])
    if design["kind"] == "latin_hypercube":  # the trained range is the design's box, not the samples' hull
        low, high = (np.array([design["ranges"][n][i] for n in names]) for i in (0, 1))
    if np.any(high <= low):
        raise InputError(store, "", "every varied parameter needs at least two different values")
    unit = (x - low) / (high - low)
    peaks = done["max_depth"].values.astype(np.float64)
    wet = (peaks > 0).any(axis=0)
    probe_rows = done["probe_depth"].values.astype(np.float64).reshape(done.sizes["run"], -1)
    provenance = [json.loads(line) for line in (Path(sweep_dir) / "provenance.jsonl").read_text().splitlines()]
    summary = next(p["summary"] for p in provenance if p["status"] == "done")
    params = dict(summary["parameters"])
    fixed = {k: v for k, v in params.items() if k not in names}
    grid = {"x": ds["x"].values, "y": ds["y"].values, "probe": ds["probe"].values, "probe_time": ds["probe_time"].values,
            **{k: ds[k].values for k in FloodRun.static_fields}}
    start = time.perf_counter()
    peak = Reduced.fit(unit, peaks[:, wet], energy, regression)
    probes = Reduced.fit(unit, probe_rows, energy, regression)
    training_s = time.perf_counter() - start
    meta = {"scene_script": ds.attrs["scene_script"], "crs": summary["grid"]["crs"], "title": summary["scene"],
            "sweep_fingerprint": ds.attrs["sweep_fingerprint"], "training_runs": int(done.sizes["run"]),
            "modes": {"max_depth": len(peak.modes), "probe_depth": len(probes.modes)}, "energy": energy,
            "regression": regression, "training_time_s": training_s}
    return FloodSurrogate(names, low, high, fixed, wet, peak, probes, grid, meta)
