"""What a dispersion run records: gridded concentration and column mass at every
output, the mass budget, a sample of particle positions, and the xarray Dataset
they become (CF names and units)."""

from __future__ import annotations

import numpy as np
import warp as wp
import xarray as xr
from twin.physics.dispersion.kernels import bin_particle_mass
from twin.physics.dispersion.model import State
from twin.physics.dispersion.solver import DispersionSolver, mass_budget

from twin.io.cf import attach_grid_mapping
from twin.scene import DEFAULT_START_TIME

__all__ = ["DispersionRecorder", "OutputGrid"]


class OutputGrid:
    """Cells the particle mass is counted in: lower corner ``lo`` (x, y, z) [m, local],
    cell size ``cell`` (dx, dy, dz) [m], ``shape`` (nz, ny, nx)."""

    def __init__(self, lo: tuple[float, float, float], cell: tuple[float, float, float], shape: tuple[int, int, int]):
        self.lo, self.cell, self.shape = tuple(map(float, lo)), tuple(map(float, cell)), tuple(map(int, shape))

    def centres(self, axis: int) -> np.ndarray:
        """Cell centres [m, local] along axis 0 (x), 1 (y) or 2 (z)."""
        n = self.shape[2 - axis]
        return self.lo[axis] + (np.arange(n) + 0.5) * self.cell[axis]


class DispersionRecorder:
    """Records a dispersion run for :class:`twin.physics.simulation.Simulation`.

    Args:
        solver: the solver whose states are recorded.
        grid: the output cells.
        attrs: global attributes of the Dataset (``crs``, ``title``, ``start_time`` (ISO 8601), ...).
        tracked: how many particles' positions to keep at each output (the first ones).
        background: fields stored once on the output grid, name -> (values (ny, nx),
            units, long name): the weather the plume is drawn over.
    """

    kind = "dispersion"

    def __init__(self, solver: DispersionSolver, grid: OutputGrid, attrs: dict, *, tracked: int = 2000,
                 background: dict[str, tuple[np.ndarray, str, str]] | None = None):
        self.background = background or {}
        self.model = solver.model
        self.grid = grid
        self.attrs = attrs
        self.tracked = tracked
        self.cells = int(np.prod(grid.shape))
        self._mass = wp.zeros(grid.shape, dtype=float, device=self.model.device)

    def update(self, state: State, t: float) -> None:
        """Nothing is folded in between outputs."""

    def sample_probes(self, state: State, t: float) -> None:
        """A dispersion run has no probes."""

    def mass_grid(self, state: State) -> np.ndarray:
        """Airborne mass [kg] in each output cell, (nz, ny, nx) float32."""
        self._mass.zero_()
        g = self.grid
        wp.launch(bin_particle_mass, dim=state.count, inputs=[state.pos, state.mass, state.status, wp.vec3(*g.lo), wp.vec3(*g.cell)],
                  outputs=[self._mass], device=self.model.device)
        return self._mass.numpy()

    def snapshot(self, state: State) -> dict[str, np.ndarray]:
        """concentration [kg m-3] (nz, ny, nx), column_mass [kg m-2] (ny, nx), the mass
        budget [kg] and the tracked particles' positions (k, 3) [m, local] (NaN when not airborne)."""
        dx, dy, dz = self.grid.cell
        mass = self.mass_grid(state).astype(np.float64)
        s = state.numpy()
        budget = mass_budget(s)
        k = min(self.tracked, state.count)
        pos = np.where((s["status"][:k] == 0)[:, None], s["pos"][:k], np.nan).astype(np.float32)
        return {"concentration": (mass / (dx * dy * dz)).astype(np.float32),
                "column_mass": (mass.sum(axis=0) / (dx * dy)).astype(np.float32),
                "particles": pos, **{name: np.float64(v) for name, v in budget.items()}}

    def state_dict(self) -> dict[str, np.ndarray]:
        return {}

    def load_state_dict(self, d: dict[str, np.ndarray]) -> None:
        """Nothing to restore: every output is a snapshot."""

    def summary(self, ds: xr.Dataset) -> dict:
        """No entries of its own in summary.json besides the shared ones."""
        return {}

    def dataset(self, times: list[float], snapshots: list[dict[str, np.ndarray]], recorded: dict[str, np.ndarray]) -> xr.Dataset:
        """The Result: concentration (time, z, y, x), column_mass (time, y, x), budget (time), particles (time, particle, 3);
        CF grid mapping and time in "seconds since" the start time (:func:`twin.io.cf.attach_grid_mapping`)."""
        g, m = self.grid, self.model
        x, y, z = g.centres(0) + m.origin[0], g.centres(1) + m.origin[1], g.centres(2)

        def stack(name):
            return np.stack([s[name] for s in snapshots])

        budget = {name: (("time",), stack(name), {"units": "kg", "long_name": f"mass {name[:-3].replace('_', ' ')}"})
                  for name in ("airborne_kg", "deposited_kg", "left_domain_kg", "not_released_kg")}
        particles = stack("particles")
        particles[..., 0] += m.origin[0]
        particles[..., 1] += m.origin[1]
        ds = xr.Dataset(
            {
                "concentration": (("time", "z", "y", "x"), stack("concentration"),
                                  {"units": "kg m-3", "long_name": "mass concentration of the released tracer in air"}),
                "column_mass": (("time", "y", "x"), stack("column_mass"),
                                {"units": "kg m-2", "long_name": "airborne tracer mass per unit area (vertical column)"}),
                "particle_position": (("time", "particle", "xyz"), particles,
                                      {"units": "m", "long_name": "position of the first particles (x, y in the scene CRS, z height); NaN when not airborne"}),
                **budget,
                **{name: (("y", "x"), np.asarray(a, np.float32), {"units": units, "long_name": long_name})
                   for name, (a, units, long_name) in self.background.items()},
            },
            coords={
                "x": ("x", x, {"units": "m", "standard_name": "projection_x_coordinate"}),
                "y": ("y", y, {"units": "m", "standard_name": "projection_y_coordinate"}),
                "z": ("z", z, {"units": "m", "standard_name": "height", "positive": "up"}),
                "time": ("time", np.asarray(times, np.float64), {"units": "s", "standard_name": "time", "long_name": "simulated time"}),
                "xyz": ("xyz", np.array(["x", "y", "z"])),
            },
            attrs={"Conventions": "CF-1.10", "twin_kind": "dispersion", **self.attrs},
        )
        return attach_grid_mapping(ds, self.attrs.get("crs"), self.attrs.get("start_time", DEFAULT_START_TIME))
