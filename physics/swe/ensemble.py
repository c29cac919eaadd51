"""Ensembles: N scenarios of one grid run as one batched State, in the same launches.

The members are stacked along y, each ``ny`` rows, with one solid separator row between
two members (``member_rows = ny + 1``); the flux kernels treat the faces next to a
separator as the member's own south or north edge, and the device clock
(:mod:`twin.physics.swe.clock`) gives each member its own time, CFL step, controls and source
counts, so every member is bitwise its own single run on the CPU (tests/test_gpu.py).
Members share the grid, the bed, the solid cells and the boundary kinds; they may differ
in Manning's n, initial state, rain pattern and every time series of their Control
(inflows, boundary stages or discharges, the rain scale).

    members = scenario_members(model, control, state, manning=[0.02, 0.03], inflow=[1, 2])
    result = run_ensemble(members, RunSettings(600, 60), "out/ensemble", probes=...)
    result.depth  # (member, time, y, x)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import warp as wp
import xarray as xr
from twin.physics.simulation import RunSettings, Simulation, write_text, write_zarr
from twin.physics.swe.clock import DeviceClock, MemberControls
from twin.physics.swe.model import Control, Model, State
from twin.physics.swe.recorder import FloodRecorder
from twin.physics.swe.solver import FloodSolver

from twin.errors import InputError
from twin.scene import TimeSeries


@dataclass
class Member:
    """One scenario: a Model of the shared grid (its own Manning's n), its Control and its
    initial State."""

    model: Model
    control: Control
    state: State


def scenario_members(model: Model, control: Control, state: State, *, manning=None, inflow=None, rain=None,
                     level=None) -> list[Member]:
    """Members varying one base scenario, one per index of the given lists (all the same
    length): ``manning`` Manning's n [s m^-1/3] (a number or an (ny, nx) field), ``inflow``
    a factor on every inflow's discharge, ``rain`` a factor on the rain pattern, ``level``
    [m] added to the initial water surface of the wet cells."""
    given = {k: v for k, v in dict(manning=manning, inflow=inflow, rain=rain, level=level).items() if v is not None}
    sizes = {len(v) for v in given.values()}
    if len(sizes) != 1:
        raise InputError("ensemble", ", ".join(given) or "members", "give one list of values per varied input, all of one length")
    n = sizes.pop()
    h0 = state.h.numpy().astype(np.float64).reshape(model.shape)
    u0 = np.where(h0 > 0, state.hu.numpy().reshape(model.shape) / np.where(h0 > 0, h0, 1), 0.0)
    v0 = np.where(h0 > 0, state.hv.numpy().reshape(model.shape) / np.where(h0 > 0, h0, 1), 0.0)
    members = []
    for m in range(n):
        mm = model
        if "manning" in given:
            field = np.broadcast_to(np.asarray(given["manning"][m], np.float64), model.shape)
            mm = replace(model, manning_n=wp.array(np.ascontiguousarray(field).ravel(), dtype=model.real, device=model.device))
        c = replace(control)
        if "inflow" in given:
            c.source_discharge = [TimeSeries(s.times, s.values * given["inflow"][m]) for s in control.source_discharge]
        if "rain" in given and control.rain_rate is not None:
            c.rain_rate = np.asarray(control.rain_rate, np.float64) * given["rain"][m]
        s = state.clone()
        if "level" in given:
            h = np.where(h0 > 0, h0 + given["level"][m], 0.0).clip(0.0)
            s = mm.state(h, u0, v0)
        members.append(Member(mm, c, s))
    return members


def _stack(arrays: list[np.ndarray], fill=0.0) -> np.ndarray:
    """(ny, nx) arrays of the members, stacked with a separator row of ``fill`` between two."""
    out = []
    for k, a in enumerate(arrays):
        if k:
            out.append(np.full((1, a.shape[1]), fill, a.dtype))
        out.append(a)
    return np.concatenate(out)


class EnsembleSolver(FloodSolver):
    """A FloodSolver over the stacked grid of ``members`` (see the module docstring); it
    only steps through its device clock. Volumes and inflows are per member."""

    def __init__(self, members: list[Member], **solver_options):
        base = members[0].model
        for k, mem in enumerate(members):
            m = mem.model
            same = (m.nx, m.ny, m.dx, m.dy, m.x0, m.y0, m.z_ref, m.order, m.cfl, m.h_dry, m.g, m.dtype, m.boundary_kinds)
            if same != (base.nx, base.ny, base.dx, base.dy, base.x0, base.y0, base.z_ref, base.order, base.cfl, base.h_dry,
                        base.g, base.dtype, base.boundary_kinds) or not (np.array_equal(m.bed.numpy(), base.bed.numpy())
                                                                         and np.array_equal(m.solid.numpy(), base.solid.numpy())):
                raise InputError("ensemble", f"member {k}", "differs from member 0 in its grid, bed, solid cells, boundaries or options")
        n, ny, shape = len(members), base.ny, base.shape
        self.n_members = n

        def stacked(name: str, fill=0.0) -> np.ndarray:
            return _stack([getattr(mem.model, name).numpy().reshape(shape) for mem in members], fill)

        bed = base.bed.numpy().reshape(shape)
        model = replace(base, ny=n * (ny + 1) - 1,
                        bed=wp.array(_stack([bed] * n, bed.max()).ravel(), dtype=base.real, device=base.device),
                        manning_n=wp.array(stacked("manning_n").ravel(), dtype=base.real, device=base.device),
                        solid=wp.array(stacked("solid", 1).ravel(), dtype=wp.uint8, device=base.device))
        super().__init__(model, self._stacked_control(members), **solver_options)
        self.member_rows = ny + 1
        self.members = members
        self._inflow = wp.zeros(4 * n, dtype=wp.float64, device=base.device)
        rain = self._rain.numpy().astype(np.float64).reshape(model.shape) if self._rain.shape[0] else None
        self._member_controls = MemberControls(
            [mem.control for mem in members],
            np.array([float(self.member_view(rain, k).ravel().sum() * base.cell_area) if rain is not None else 0.0 for k in range(n)]),
            (self._source_cells * base.cell_area).reshape(n, -1),
        )

    @staticmethod
    def _stacked_control(members: list[Member]) -> Control:
        shape = members[0].model.shape
        controls = [mem.control for mem in members]
        for name in ("rain_rate", "infiltration_rate", "source_of_cell"):
            if len({getattr(c, name) is None for c in controls}) > 1:
                raise InputError("ensemble", name, "is given for some members and not for others")
        if len({len(c.source_discharge) for c in controls}) > 1:
            raise InputError("ensemble", "source_discharge", "every member must have the same number of inflows")
        c0 = controls[0]
        n_sources = len(c0.source_discharge)

        def stacked(name: str, fill, offset=False):
            if getattr(c0, name) is None:
                return None
            fields = [np.broadcast_to(np.asarray(getattr(c, name)), shape) for c in controls]
            if offset:
                fields = [np.where(f >= 0, f + k * n_sources, -1) for k, f in enumerate(fields)]
            return _stack(fields, fill)

        return Control(rain_rate=stacked("rain_rate", 0.0), rain_scale=c0.rain_scale,
                       infiltration_rate=stacked("infiltration_rate", 0.0), source_of_cell=stacked("source_of_cell", -1, True),
                       source_discharge=[s for c in controls for s in c.source_discharge], boundary_series=c0.boundary_series)

    def member_view(self, a: np.ndarray, k: int) -> np.ndarray:
        """Member k's rows of a stacked (NY, nx) or (..., NY, nx) array."""
        r = self.member_rows
        return a[..., k * r: k * r + r - 1, :]

    def initial_state(self) -> State:
        """The members' initial states, stacked."""
        shape = self.members[0].model.shape
        arrays = {name: _stack([getattr(mem.state, name).numpy().reshape(shape) for mem in self.members]).ravel()
                  for name in ("h", "hu", "hv", "infiltrated")}
        return State(**{k: wp.array(a, dtype=self.model.real, device=self.model.device) for k, a in arrays.items()})

    def device_clock(self, **options) -> DeviceClock:
        return DeviceClock(self, self._member_controls, **options)

    def stable_dt(self, state, t=None):
        raise InputError("ensemble", "resident", "an ensemble steps only with the device clock (Simulation(resident=True))")

    # -- per-member accounting ---------------------------------------------------------
    def accounting(self) -> dict:
        return {"volume_from_sources": self._volumes, "boundary_inflow": self._inflow.numpy().tolist()}

    def restore_accounting(self, acc: dict) -> None:
        self._volumes = list(acc["volume_from_sources"])
        self._inflow.assign(np.asarray(acc["boundary_inflow"], dtype=np.float64))

    @property
    def volume_from_sources(self):
        return self._volumes

    @volume_from_sources.setter
    def volume_from_sources(self, value):
        self._volumes = list(np.broadcast_to(np.asarray(value, np.float64), (getattr(self, "n_members", 1),)))

    def volume(self, state: State) -> list[float]:
        """Water stored in each member [m^3] (float64 sums, as FloodSolver.volume)."""
        h = state.h.numpy().reshape(self.model.shape)
        return [float(self.member_view(h, k).ravel().astype(np.float64).sum() * self.model.cell_area) for k in range(self.n_members)]

    def volume_balance(self, state: State, initial_volume: list[float]) -> list[dict]:
        """FloodSolver.volume_balance of each member."""
        out = []
        inf = state.infiltrated.numpy().reshape(self.model.shape)
        inflow = self._inflow.numpy().reshape(self.n_members, 4)
        for k, (stored, initial) in enumerate(zip(self.volume(state), initial_volume)):
            infiltrated = float(self.member_view(inf, k).ravel().astype(np.float64).sum() * self.model.cell_area)
            edges = dict(zip(("west", "east", "south", "north"), (float(v) for v in inflow[k])))
            sources = self._volumes[k]
            net_in = sources + sum(edges.values()) - infiltrated
            out.append({"initial_m3": initial, "stored_m3": stored, "sources_m3": sources, "boundary_inflow_m3": edges,
                        "infiltrated_m3": infiltrated, "error_m3": stored - initial - net_in,
                        "relative_error": (stored - initial - net_in) / max(abs(initial) + sources + sum(abs(v) for v in edges.values()), 1e-300)})
        return out


def run_ensemble(members: list[Member], settings: RunSettings, out_dir, *, probes: dict[str, tuple[int, int]] | None = None,
                 static: dict[str, np.ndarray] | None = None, attrs: dict | None = None, meta: dict | None = None,
                 progress: bool = False, **solver_options) -> xr.Dataset:
    """Run ``members`` together into ``out_dir``; write and return the Result with a
    ``member`` axis (``out_dir/result.zarr``; the stacked run's files are in
    ``out_dir/stacked``) and ``out_dir/summary.json`` (per-member steps and volume balances).

    ``probes``: name -> (j, i) cell, sampled in every member; ``static``: the (ny, nx)
    ``ground_elevation`` and ``building`` fields (default: the bed, no buildings)."""
    if not members:
        raise InputError("ensemble", "members", "no members")
    out_dir = Path(out_dir)
    solver = EnsembleSolver(members, **solver_options)
    base = members[0].model
    n, r = len(members), solver.member_rows
    probes = probes or {}
    static = static or {"ground_elevation": base.bed_elevation(), "building": np.zeros(base.shape, bool)}
    stacked_probes = {f"{name}#{k}": (j + k * r, i) for k in range(n) for name, (j, i) in probes.items()}
    stacked_static = {name: _stack([np.asarray(a)] * n, 0) for name, a in static.items()}
    recorder = FloodRecorder(solver, stacked_probes, stacked_static, attrs or {})
    sim = Simulation(solver, recorder, solver.initial_state(), solver._control, settings, out_dir / "stacked",
                     meta or {}, progress=progress, resident=True)
    summary = sim.run()
    steps = sim.device_clock.read()[:, sim.device_clock.STEPS].astype(int).tolist()
    with xr.open_zarr(out_dir / "stacked" / "result.zarr") as stacked:
        ds = split_members(stacked.load(), solver, list(probes))
    ds.attrs["members"] = n
    ds.attrs["member_steps"] = steps
    write_zarr(ds, out_dir / "result.zarr")
    summary["member_volume_balance"] = summary.pop("volume_balance")
    summary["member_steps"] = steps
    write_text(out_dir / "summary.json", json.dumps(summary, indent=2, default=float))
    return ds


def split_members(stacked: xr.Dataset, solver: EnsembleSolver, probe_names: list[str]) -> xr.Dataset:
    """The stacked run's Result with a ``member`` axis: (member, time, y, x) and so on."""
    base = solver.members[0].model
    r = solver.member_rows
    parts = []
    for k in range(solver.n_members):
        part = stacked.isel(y=slice(k * r, k * r + base.ny)).assign_coords(y=base.y_centres())
        part = part.sel(probe=[f"{name}#{k}" for name in probe_names]).assign_coords(probe=np.asarray(probe_names, dtype=str))
        parts.append(part)
    varying = [v for v in stacked.data_vars if v not in ("bed_elevation", "ground_elevation", "building", "probe_x", "probe_y", "probe_bed")]
    return xr.concat(parts, dim="member", data_vars=varying, coords="minimal", compat="override", join="override")
