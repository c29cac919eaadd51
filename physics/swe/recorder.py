"""What a flood run records: running maxima, probe series, snapshots, and the
xarray Dataset they become (CF names and units)."""

from __future__ import annotations

import numpy as np
import warp as wp
import xarray as xr
from twin.physics.swe.hazard import hazard_variables
from twin.physics.swe.model import State
from twin.physics.swe.solver import FloodSolver

from twin.errors import InputError
from twin.io.cf import attach_grid_mapping
from twin.scene import DEFAULT_START_TIME

WET_THRESHOLD = 1e-3
"""Depth [m] above which a cell counts as wet in the results (max_stage, time_of_max_depth)."""

ARRIVAL_DEPTH = 0.01
"""Depth [m] whose first exceedance is a cell's ``arrival_time`` (1 cm: water that is
there, above the wet threshold and the solver's dry depth)."""


@wp.kernel
def gather(values: wp.array(dtype=float), index: wp.array(dtype=wp.int32), out: wp.array(dtype=float)):
    """out[p] = values[index[p]]."""
    p = wp.tid()
    out[p] = values[index[p]]


@wp.kernel
def gather64(values: wp.array(dtype=wp.float64), index: wp.array(dtype=wp.int32), out: wp.array(dtype=wp.float64)):
    """out[p] = values[index[p]] (float64 states)."""
    p = wp.tid()
    out[p] = values[index[p]]


class FloodRecorder:
    """Records a flood run for :class:`twin.physics.simulation.Simulation`.

    Args:
        solver: the solver whose states are recorded.
        probes: probe name -> (j, i) cell.
        static: (ny, nx) fields stored once: ``ground_elevation`` [m], ``building`` (bool).
        attrs: global attributes of the Dataset (``crs``, ``title``, ``start_time`` (ISO 8601), ...).
        arrival_depth: depth [m] whose first exceedance is the arrival time.
        hazard: track the running maximum of h |u| and the arrival time at every step.
    """

    kind = "flood"

    def __init__(self, solver: FloodSolver, probes: dict[str, tuple[int, int]], static: dict[str, np.ndarray], attrs: dict,
                 *, arrival_depth: float = ARRIVAL_DEPTH, hazard: bool = True):
        self.solver = solver
        m = solver.model
        self.model = m
        n = m.nx * m.ny
        self.max_depth = wp.zeros(n, dtype=m.real, device=m.device)
        self.max_speed = wp.zeros(n, dtype=m.real, device=m.device)
        self.time_of_max_depth = wp.zeros(n, dtype=wp.float64, device=m.device)
        self.arrival_depth = float(arrival_depth)
        self.hazard = hazard
        self.max_depth_velocity = wp.zeros(n if hazard else 0, dtype=m.real, device=m.device)
        self.arrival_time = wp.full(n if hazard else 0, np.nan, dtype=wp.float64, device=m.device)
        self.probe_names = list(probes)
        self._probe_index = wp.array([j * m.nx + i for j, i in probes.values()] or [0], dtype=wp.int32, device=m.device)
        self._probe_out = wp.zeros(len(self._probe_index), dtype=m.real, device=m.device)
        self._gather = gather64 if m.dtype == "float64" else gather
        self.probe_times: list[float] = []
        self.probe_values: list[np.ndarray] = []  # each (3, nprobes): h, hu, hv
        self.static = static
        self.attrs = attrs
        self.cells = n  # grid cells, for summary.json

    def update(self, state: State, t: float) -> None:
        """Fold the state at time t [s] into the running maxima."""
        self.solver.track_maxima(state, t, self.max_depth, self.max_speed, self.time_of_max_depth,
                                 self.max_depth_velocity if self.hazard else None,
                                 self.arrival_time if self.hazard else None, self.arrival_depth)

    def sample_probes(self, state: State, t: float) -> None:
        """Append depth and discharges at the probe cells at time t [s]."""
        if not self.probe_names:
            return
        rows = []
        for a in (state.h, state.hu, state.hv):
            wp.launch(self._gather, dim=len(self.probe_names), inputs=[a, self._probe_index], outputs=[self._probe_out], device=self.model.device)
            rows.append(self._probe_out.numpy().astype(np.float64))
        self.probe_times.append(t)
        self.probe_values.append(np.stack(rows))

    def snapshot(self, state: State) -> dict[str, np.ndarray]:
        """depth [m], u, v [m/s] as float32 (ny, nx)."""
        m = self.model
        h = state.h.numpy().astype(np.float64).reshape(m.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            wet = h > m.h_dry
            u = np.where(wet, state.hu.numpy().reshape(m.shape) / h, 0.0)
            v = np.where(wet, state.hv.numpy().reshape(m.shape) / h, 0.0)
        return {"depth": h.astype(np.float32), "u": u.astype(np.float32), "v": v.astype(np.float32)}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything needed to resume the recording bit for bit."""
        return {
            "max_depth": self.max_depth.numpy(),
            "max_speed": self.max_speed.numpy(),
            "time_of_max_depth": self.time_of_max_depth.numpy(),
            "max_depth_velocity": self.max_depth_velocity.numpy(),
            "arrival_time": self.arrival_time.numpy(),
            "probe_times": np.asarray(self.probe_times, np.float64),
            "probe_values": np.asarray(self.probe_values, np.float64).reshape(len(self.probe_values), 3, len(self.probe_names)),
        }

    def load_state_dict(self, d: dict[str, np.ndarray]) -> None:
        self.max_depth.assign(d["max_depth"])
        self.max_speed.assign(d["max_speed"])
        self.time_of_max_depth.assign(d["time_of_max_depth"])
        if self.hazard:
            if "max_depth_velocity" not in d:
                raise InputError("run/checkpoint.npz", "max_depth_velocity",
                                 "missing: the checkpoint was written by an older twin; run again without resuming")
            self.max_depth_velocity.assign(d["max_depth_velocity"])
            self.arrival_time.assign(d["arrival_time"])
        self.probe_times = list(d["probe_times"])
        self.probe_values = list(d["probe_values"])

    def summary(self, ds: xr.Dataset) -> dict:
        """No entries of its own in summary.json besides the shared ones."""
        return {}

    def dataset(self, times: list[float], snapshots: list[dict[str, np.ndarray]], recorded: dict[str, np.ndarray]) -> xr.Dataset:
        """The Result: snapshots (time, y, x), maxima (y, x), probes (probe, probe_time); CF grid mapping and
        time in "seconds since" the start time (:func:`twin.io.cf.attach_grid_mapping`)."""
        m = self.model
        shape = m.shape
        bed = m.bed_elevation()
        x, y = m.x_centres(), m.y_centres()
        depth = np.stack([s["depth"] for s in snapshots]) if snapshots else np.zeros((0, *shape), np.float32)
        u = np.stack([s["u"] for s in snapshots]) if snapshots else depth.copy()
        v = np.stack([s["v"] for s in snapshots]) if snapshots else depth.copy()
        stage = np.where(depth > WET_THRESHOLD, depth + bed.astype(np.float32), np.nan).astype(np.float32)
        max_depth = recorded["max_depth"].astype(np.float64).reshape(shape)
        wet = max_depth > WET_THRESHOLD
        tmax = np.where(wet, recorded["time_of_max_depth"].reshape(shape), np.nan)
        pv = recorded["probe_values"]
        ph = pv[:, 0, :].T
        with np.errstate(divide="ignore", invalid="ignore"):
            pu = np.where(ph > m.h_dry, pv[:, 1, :].T / ph, 0.0)
            pvv = np.where(ph > m.h_dry, pv[:, 2, :].T / ph, 0.0)
        p_j = np.array([divmod(int(k), m.nx)[0] for k in self._probe_index.numpy()[: len(self.probe_names)]], int)
        p_i = np.array([divmod(int(k), m.nx)[1] for k in self._probe_index.numpy()[: len(self.probe_names)]], int)
        p_bed = bed[p_j, p_i] if len(p_j) else np.zeros(0)
        yx, tyx = ("y", "x"), ("time", "y", "x")
        pt = ("probe", "probe_time")

        def var(dims, data, standard_name, units, long_name):
            attrs = {"units": units, "long_name": long_name}
            if standard_name:
                attrs["standard_name"] = standard_name
            return (dims, data, attrs)

        hazard = {}
        if self.hazard:
            hazard = {
                "max_depth_velocity": var(yx, recorded["max_depth_velocity"].astype(np.float32).reshape(shape), "", "m2 s-1",
                                          "maximum of depth times speed, h |u|, over the run (tracked every step)"),
                "arrival_time": var(yx, recorded["arrival_time"].reshape(shape), "", "s",
                                    f"first time the depth exceeded {self.arrival_depth:g} m (NaN where never)"),
            }
            hazard.update(hazard_variables(max_depth, recorded["max_speed"].astype(np.float64).reshape(shape),
                                           recorded["max_depth_velocity"].astype(np.float64).reshape(shape),
                                           WET_THRESHOLD))
        ds = xr.Dataset(
            {
                "depth": var(tyx, depth, "sea_floor_depth_below_sea_surface", "m", "water depth"),
                "stage": var(tyx, stage, "water_surface_height_above_reference_datum", "m", "water surface elevation (NaN where dry)"),
                "u": var(tyx, u, "eastward_water_velocity", "m s-1", "depth-averaged eastward velocity"),
                "v": var(tyx, v, "northward_water_velocity", "m s-1", "depth-averaged northward velocity"),
                "max_depth": var(yx, max_depth.astype(np.float32), "", "m", "maximum water depth over the run"),
                "max_stage": var(yx, np.where(wet, max_depth + bed, np.nan).astype(np.float32), "", "m", "maximum water surface elevation (NaN where never wet)"),
                "max_speed": var(yx, recorded["max_speed"].astype(np.float32).reshape(shape), "", "m s-1", "maximum depth-averaged speed"),
                "time_of_max_depth": var(yx, tmax, "", "s", "time of the maximum depth after the start time (NaN where never wet)"),
                **hazard,
                "bed_elevation": var(yx, bed.astype(np.float32), "", "m", "bed elevation used by the solver (buildings included when raised)"),
                "ground_elevation": var(yx, self.static["ground_elevation"].astype(np.float32), "surface_altitude", "m", "bare terrain elevation"),
                "building": var(yx, self.static["building"].astype(np.int8), "", "1", "1 inside a building footprint"),
                "probe_x": var(("probe",), x[p_i] if len(p_i) else np.zeros(0), "projection_x_coordinate", "m", "probe x"),
                "probe_y": var(("probe",), y[p_j] if len(p_j) else np.zeros(0), "projection_y_coordinate", "m", "probe y"),
                "probe_bed": var(("probe",), p_bed, "", "m", "bed elevation at the probe cell"),
                "probe_depth": var(pt, ph, "", "m", "water depth at the probe"),
                "probe_stage": var(pt, np.where(ph > WET_THRESHOLD, ph + p_bed[:, None], np.nan), "", "m", "water surface elevation at the probe (NaN where dry)"),
                "probe_u": var(pt, pu, "", "m s-1", "eastward velocity at the probe"),
                "probe_v": var(pt, pvv, "", "m s-1", "northward velocity at the probe"),
            },
            coords={
                "x": ("x", x, {"units": "m", "standard_name": "projection_x_coordinate", "long_name": "cell centre x"}),
                "y": ("y", y, {"units": "m", "standard_name": "projection_y_coordinate", "long_name": "cell centre y"}),
                "time": ("time", np.asarray(times, np.float64), {"units": "s", "standard_name": "time", "long_name": "simulated time"}),
                "probe_time": ("probe_time", np.asarray(recorded["probe_times"], np.float64), {"units": "s", "long_name": "simulated time of probe samples"}),
                "probe": ("probe", np.asarray(self.probe_names, dtype=str)),
            },
            attrs={"Conventions": "CF-1.10", "wet_threshold_m": WET_THRESHOLD, "arrival_depth_m": self.arrival_depth, **self.attrs},
        )
        return attach_grid_mapping(ds, self.attrs.get("crs"), self.attrs.get("start_time", DEFAULT_START_TIME))
