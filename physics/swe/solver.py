"""The shallow-water Solver: launches the kernels of :mod:`physics.swe.kernels`."""

from __future__ import annotations

import numpy as np
import warp as wp

from physics.swe.kernels import BOUNDARY_CODES, kernels_for
from physics.swe.model import Control, Model, State, _cell_name
from twin.errors import InputError, SimulationError
from twin.scene import EDGES


class FloodSolver:
    """2-D shallow-water equations, finite volumes, HLL + hydrostatic reconstruction.

    ``step(state_in, state_out, control, dt, t)`` advances by ``dt`` [s] from time
    ``t`` [s]; it launches kernels and touches nothing but ``state_out`` and the
    solver's own scratch and volume counters.

    Attributes:
        volume_from_sources: water added by rain and inflows so far [m^3] (host float64).
        boundary_inflow: water that entered through each edge so far [m^3], edge -> value.
    """

    def __init__(self, model: Model, control: Control | None = None):
        self.model = model
        self.k = kernels_for(model.real)
        dev, real, n = model.device, model.real, model.nx * model.ny
        self._stage = State(*(wp.zeros(n, dtype=real, device=dev) for _ in range(4)))
        nfx = (model.nx + 1) * model.ny
        nfy = model.nx * (model.ny + 1)
        self._u = wp.zeros(n, dtype=real, device=dev)
        self._v = wp.zeros(n, dtype=real, device=dev)
        self._fx = [wp.zeros(nfx, dtype=real, device=dev) for _ in range(4)]
        self._fy = [wp.zeros(nfy, dtype=real, device=dev) for _ in range(4)]
        self._max_rate = wp.zeros(1, dtype=real, device=dev)
        self._first_bad = wp.zeros(1, dtype=wp.int32, device=dev)
        self._inflow = wp.zeros(4, dtype=wp.float64, device=dev)
        self._empty_real = wp.zeros(0, dtype=real, device=dev)
        self._empty_int = wp.zeros(0, dtype=wp.int32, device=dev)
        self.volume_from_sources = 0.0
        self._control = None
        self.set_control(control or Control())

    # -- control ---------------------------------------------------------------------
    def set_control(self, control: Control) -> None:
        """Validate ``control`` and upload its static fields."""
        m = self.model
        control.validate(m)
        self._control = control
        dev, real = m.device, m.real
        self._rain = self._empty_real
        self._rain_volume_rate = 0.0
        if control.rain_rate is not None:
            rain = np.asarray(control.rain_rate, dtype=np.float64) * ~self._solid_mask()
            self._rain = wp.array(rain.ravel(), dtype=real, device=dev)
            self._rain_volume_rate = float(self._rain.numpy().astype(np.float64).sum() * m.cell_area)
        self._infiltration = None
        if control.infiltration_rate is not None:
            self._infiltration = wp.array(np.asarray(control.infiltration_rate, np.float64).ravel(), dtype=real, device=dev)
        self._source_of_cell = self._empty_int
        self._source_cells = np.zeros(0)
        if control.source_of_cell is not None and len(control.source_discharge):
            soc = np.where(self._solid_mask(), -1, np.asarray(control.source_of_cell)).astype(np.int32)
            self._source_cells = np.bincount(soc[soc >= 0], minlength=len(control.source_discharge)).astype(np.float64)
            empty = np.flatnonzero(self._source_cells == 0)
            if empty.size:
                raise InputError("control.source_of_cell", f"inflow {int(empty[0])}", "feeds no open cell")
            self._source_of_cell = wp.array(soc.ravel(), dtype=wp.int32, device=dev)
        self._source_rate = wp.zeros(max(len(self._source_cells), 1), dtype=real, device=dev)

    def _solid_mask(self) -> np.ndarray:
        return self.model.solid.numpy().reshape(self.model.shape).astype(bool)

    def _edge_value(self, edge: str, t: float) -> float:
        """Kernel argument of an edge at time t: stage relative to z_ref [m] or
        discharge per unit width [m^2/s]."""
        m = self.model
        kind = m.boundary_kinds[edge]
        if kind == "stage":
            return self._control.boundary_series[edge](t) - m.z_ref
        if kind == "discharge":
            length = m.ny * m.dy if edge in ("west", "east") else m.nx * m.dx
            return self._control.boundary_series[edge](t) / length
        return 0.0

    def _set_sources(self, t: float) -> tuple[float, float]:
        """Upload inflow rates at time t; return (rain scale, source volume rate [m^3/s])."""
        c = self._control
        rate = self._rain_volume_rate * c.rain_scale(t) if self._rain.shape[0] else 0.0
        scale = c.rain_scale(t)
        if len(self._source_cells):
            q = np.array([s(t) for s in c.source_discharge])
            self._source_rate.assign(q / (self._source_cells * self.model.cell_area))
            rate += float(q.sum())
        return scale, rate

    # -- time step -------------------------------------------------------------------
    def stable_dt(self, state: State) -> float:
        """Largest dt [s] the CFL condition allows (inf when all is dry); checks the state.

        Raises:
            SimulationError: a non-finite or negative value, naming the cell.
        """
        m = self.model
        self._max_rate.zero_()
        self._first_bad.fill_(np.iinfo(np.int32).max)
        wp.launch(self.k.compute_wave_speed, dim=m.nx * m.ny,
                  inputs=[state.h, state.hu, state.hv, m.solid, m.dx, m.dy, m.h_dry, m.g],
                  outputs=[self._max_rate, self._first_bad], device=m.device)
        bad = int(self._first_bad.numpy()[0])
        if bad != np.iinfo(np.int32).max:
            h, hu, hv = (a.numpy()[bad] for a in (state.h, state.hu, state.hv))
            j, i = divmod(bad, m.nx)
            x, y = m.x0 + (i + 0.5) * m.dx, m.y0 + (j + 0.5) * m.dy
            raise SimulationError(f"{_cell_name(bad, m.nx)} at x={x:.2f} m, y={y:.2f} m: depth {h}, hu {hu}, hv {hv} (not finite or negative)")
        rate = float(self._max_rate.numpy()[0])
        return m.cfl / rate if rate > 0 else float("inf")

    def _fluxes(self, s: State, t: float) -> None:
        m = self.model
        bk = m.boundary_kinds
        code = BOUNDARY_CODES
        wp.launch(self.k.compute_velocities, dim=m.nx * m.ny, inputs=[s.h, s.hu, s.hv, m.h_dry],
                  outputs=[self._u, self._v], device=m.device)
        wp.launch(self.k.compute_x_fluxes, dim=(m.nx + 1) * m.ny,
                  inputs=[s.h, self._u, self._v, m.bed, m.solid, m.nx, m.order, m.g,
                          code[bk["west"]], self._edge_value("west", t), code[bk["east"]], self._edge_value("east", t)],
                  outputs=self._fx, device=m.device)
        wp.launch(self.k.compute_y_fluxes, dim=m.nx * (m.ny + 1),
                  inputs=[s.h, self._u, self._v, m.bed, m.solid, m.nx, m.ny, m.order, m.g,
                          code[bk["south"]], self._edge_value("south", t), code[bk["north"]], self._edge_value("north", t)],
                  outputs=self._fy, device=m.device)

    def _stage_update(self, s: State, base: State, out: State, t: float, dt: float, base_weight: float, step_weight: float) -> None:
        """One stage; ``step_weight`` is this stage's share of the step's fluxes and
        sources (1 for Euler, 1/2 for each of Heun's stages), for the volume counters."""
        m = self.model
        scale, volume_rate = self._set_sources(t)
        weight_dt = dt * step_weight
        self.volume_from_sources += volume_rate * weight_dt
        wp.launch(self.k.update_cells, dim=m.nx * m.ny,
                  inputs=[s.h, s.hu, s.hv, base.h, base.hu, base.hv, *self._fx, *self._fy,
                          m.solid, m.manning_n, self._rain, scale, self._source_of_cell, self._source_rate,
                          m.nx, m.dx, m.dy, dt, base_weight, m.h_dry, m.g],
                  outputs=[out.h, out.hu, out.hv], device=m.device)
        wp.launch(self.k.accumulate_boundary_inflow, dim=m.nx + m.ny,
                  inputs=[self._fx[0], self._fy[0], m.nx, m.ny, m.dx, m.dy, weight_dt],
                  outputs=[self._inflow], device=m.device)

    def step(self, state_in: State, state_out: State, control: Control, dt: float, t: float) -> None:
        """Advance ``state_in`` by ``dt`` [s] from time ``t`` [s] into ``state_out``."""
        if control is not self._control:
            self.set_control(control)
        if self.model.order == 1:
            self._fluxes(state_in, t)
            self._stage_update(state_in, state_in, state_out, t, dt, 0.0, 1.0)
        else:
            mid = self._stage
            self._fluxes(state_in, t)
            self._stage_update(state_in, state_in, mid, t, dt, 0.0, 0.5)
            self._fluxes(mid, t + dt)
            self._stage_update(mid, state_in, state_out, t + dt, dt, 0.5, 0.5)
        if self._infiltration is not None:
            wp.copy(state_out.infiltrated, state_in.infiltrated)
            wp.launch(self.k.apply_infiltration, dim=self.model.nx * self.model.ny,
                      inputs=[state_out.h, self._infiltration, dt], outputs=[state_out.infiltrated],
                      device=self.model.device)

    # -- accounting ------------------------------------------------------------------
    @property
    def boundary_inflow(self) -> dict[str, float]:
        return dict(zip(EDGES, (float(v) for v in self._inflow.numpy())))

    def accounting(self) -> dict:
        """Counters to checkpoint: sources and per-edge inflow [m^3]."""
        return {"volume_from_sources": self.volume_from_sources, "boundary_inflow": self._inflow.numpy().tolist()}

    def restore_accounting(self, acc: dict) -> None:
        self.volume_from_sources = float(acc["volume_from_sources"])
        self._inflow.assign(np.asarray(acc["boundary_inflow"], dtype=np.float64))

    def volume(self, state: State) -> float:
        """Water stored in the domain [m^3] (float64 sum)."""
        return float(state.h.numpy().astype(np.float64).sum() * self.model.cell_area)

    def volume_balance(self, state: State, initial_volume: float) -> dict:
        """Stored, added, lost and the balance error [m^3]: stored - initial - net in."""
        stored = self.volume(state)
        infiltrated = float(state.infiltrated.numpy().astype(np.float64).sum() * self.model.cell_area)
        edges = self.boundary_inflow
        net_in = self.volume_from_sources + sum(edges.values()) - infiltrated
        return {
            "initial_m3": initial_volume,
            "stored_m3": stored,
            "sources_m3": self.volume_from_sources,
            "boundary_inflow_m3": edges,
            "infiltrated_m3": infiltrated,
            "error_m3": stored - initial_volume - net_in,
            "relative_error": (stored - initial_volume - net_in) / max(abs(initial_volume) + self.volume_from_sources + sum(abs(v) for v in edges.values()), 1e-300),
        }
