"""The flood twin's run: what a flood scene script's ``setup(p)`` returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from twin.physics.simulation import Problem, Run, RunSettings

from twin.scene import Scene

__all__ = ["FloodRun"]


@dataclass
class FloodRun(Run):
    """What to simulate for a flood scene.

    Attributes:
        scene: the place.
        duration: simulated time [s]; output_interval, probe_interval: [s].
        resolution: grid cell size [m].
        buildings: "raise" (bed raised by the building height) or "wall" (cut out).
        order: 1 or 2 (space and time); dtype: "float32" or "float64".
        cfl: Courant number; h_dry: dry threshold [m].
        fixed_dt: a fixed time step [s] instead of the CFL-adaptive one (the run stops
            with a clear message if it ever exceeds the CFL limit).
        hot_start: "RESULT_DIR[:TIME]": start from the state of the flood run in RESULT_DIR at its
            stored time TIME [s] (the last by default) and go on to ``duration``; None: from the
            scene's initial water at t = 0 (``twin run --hot-start``).
    """

    kind: ClassVar[str] = "flood"
    static_fields: ClassVar[tuple[str, ...]] = ("bed_elevation", "ground_elevation", "building", "probe_x", "probe_y",
                                                "probe_bed")
    sweep_keep: ClassVar[dict[str, list[str]]] = {"peak_fields": ["max_depth"], "probes": ["probe_depth"]}

    scene: Scene
    duration: float
    output_interval: float
    resolution: float
    probe_interval: float = 1.0
    buildings: str = "raise"
    order: int = 2
    dtype: str = "float32"
    cfl: float = 0.5
    h_dry: float = 1e-4
    fixed_dt: float | None = None
    hot_start: str | None = None

    @property
    def title(self) -> str:
        return self.scene.name

    def build(self, device: str) -> Problem:
        """Rasterise the scene and build the flood solver and recorder on ``device``."""
        from twin.physics.swe.from_scene import flood_problem
        from twin.physics.swe.recorder import FloodRecorder
        from twin.physics.swe.solver import FloodSolver

        model, control, fg = flood_problem(self.scene, resolution=self.resolution, buildings=self.buildings,
                                           order=self.order, cfl=self.cfl, h_dry=self.h_dry, dtype=self.dtype,
                                           device=device)
        if self.hot_start is None:
            state, t0 = model.state_from_stage(fg.initial_stage), 0.0
        else:
            from twin.physics.swe.hot_start import load_hot_start, parse_hot_start

            result_dir, time = parse_hot_start(self.hot_start)
            state, t0 = load_hot_start(result_dir, model, crs=self.scene.crs, time=time)
        solver = FloodSolver(model, control)
        recorder = FloodRecorder(solver, fg.probe_cells, {"ground_elevation": fg.ground, "building": fg.building},
                                 {"crs": self.scene.crs, "title": self.scene.name, "start_time": self.scene.start_time})
        meta = {
            "grid": {"nx": model.nx, "ny": model.ny, "dx": model.dx, "dy": model.dy, "x0": model.x0, "y0": model.y0,
                     "crs": self.scene.crs},
            "solver": {"order": self.order, "dtype": self.dtype, "cfl": self.cfl, "h_dry_m": self.h_dry,
                       "buildings": self.buildings},
            "terrain_cells_filled": fg.filled_nodata,
            "hot_start": None if self.hot_start is None else {"result": str(result_dir), "time_s": t0},
        }
        settings = RunSettings(self.duration, self.output_interval, self.probe_interval, fixed_dt=self.fixed_dt)
        return Problem(solver, recorder, state, control, settings, meta, t0=t0, snapshot_states=True)

    def sweep_metrics(self, result, summary: dict) -> dict[str, float]:
        """Wall time [s], steps, volume balance error (relative), the deepest water anywhere [m],
        the area ever wet [m^2]."""
        max_depth = result["max_depth"].values.astype(np.float64)
        cell = summary["grid"]["dx"] * summary["grid"]["dy"]
        wet = max_depth > result.attrs["wet_threshold_m"]
        return {**super().sweep_metrics(result, summary),
                "volume_relative_error": float(summary["volume_balance"]["relative_error"]),
                "peak_depth_m": float(max_depth.max()), "wet_area_m2": float(wet.sum() * cell)}

    def report(self, summary: dict) -> str:
        vb = summary["volume_balance"]
        return f"{super().report(summary)}; volume error {vb['relative_error']:.2e} of the water moved"
