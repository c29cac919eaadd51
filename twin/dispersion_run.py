"""Dispersion scene scripts: what `twin run` does with a ``setup()`` that returns a :class:`DispersionRun`."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from twin.scene import Scene

__all__ = ["DispersionRun", "run_dispersion"]


@dataclass
class DispersionRun:
    """What to simulate for a dispersion scene (all coordinates in the scene CRS, metres).

    Attributes:
        scene: the place, with its weather fields.
        x, y: wind-grid nodes [m, scene CRS], each ascending and evenly spaced; z: node heights [m].
        wind_x, wind_y: grid-axis winds [m/s], each (nt, nz, ny, nx); wind_times: [s] of the nt fields.
        source: release point (x, y, z) [m]; mass [kg]; particles; release_duration [s] (0: a puff).
        duration, output_interval, dt: [s].
        diffusivity: (Kx, Ky, Kz) [m2/s]; deposition_velocity [m/s]; surface_layer [m].
        cell: output cell size (dx, dy, dz) [m]; the output grid spans the wind grid.
        seed: random seed of the turbulent walk.
        background: fields to draw the plume over, name -> (values (ny_out, nx_out), units, long name).
        notes: plain statements about the run (e.g. the weather held steady).
    """

    scene: Scene
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    wind_x: np.ndarray
    wind_y: np.ndarray
    source: tuple[float, float, float]
    mass: float
    particles: int
    duration: float
    output_interval: float
    dt: float
    release_duration: float = 0.0
    wind_times: np.ndarray | None = None
    diffusivity: tuple[float, float, float] = (0.0, 0.0, 0.0)
    deposition_velocity: float = 0.0
    surface_layer: float = 50.0
    cell: tuple[float, float, float] = (10e3, 10e3, 500.0)
    seed: int = 0
    background: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def run(self, out_dir: str | Path, *, parameters: dict, script: str = "", device: str | None = None,
            resume: bool = False, progress: bool = True) -> dict:
        """Simulate into ``out_dir`` (what `twin run` calls for a scene with its own loop), or
        go on from its last checkpoint (``resume``); the summary."""
        return run_dispersion(self, out_dir, parameters=parameters, script=script, device=device, resume=resume,
                              progress=progress)

    def pictures(self, out_dir: str | Path, *, progress: bool = True) -> dict[str, Path]:
        """The plume pictures of the Result in ``out_dir``."""
        from viewer.plume_maps import write_plume_pictures

        return write_plume_pictures(Path(out_dir) / "result.zarr", out_dir)

    def output_shape(self) -> tuple[int, int, int]:
        """(nz, ny, nx) of the output grid: whole cells inside the wind grid."""
        span = (self.x[-1] - self.x[0], self.y[-1] - self.y[0], self.z[-1] - self.z[0])
        return tuple(max(1, int(span[a] // self.cell[a])) for a in (2, 1, 0))

    def output_grid(self, origin: tuple[float, float] = (0.0, 0.0)):
        """The :class:`physics.dispersion.OutputGrid` of the output cells, in metres from ``origin``
        (the default: scene CRS coordinates)."""
        from physics.dispersion import OutputGrid

        return OutputGrid((self.x[0] - origin[0], self.y[0] - origin[1], self.z[0]), self.cell, self.output_shape())


def run_dispersion(run: DispersionRun, out_dir: str | Path, *, parameters: dict, script: str = "", device: str | None = None,
                   resume: bool = False, progress: bool = True) -> dict:
    """Build the model on the device, simulate and record ``run`` into ``out_dir``; return the summary."""
    from physics.device import pick_device
    from physics.dispersion import Control, DispersionRecorder, DispersionSolver, Model, Release
    from physics.simulation import RunSettings, Simulation
    from twin.runner import versions

    device = pick_device(device)
    ox, oy = run.scene.origin
    model = Model.on_grid(run.x - ox, run.y - oy, run.z, diffusivity=run.diffusivity, deposition_velocity=run.deposition_velocity,
                          surface_layer=run.surface_layer, origin=(ox, oy), crs=run.scene.crs, device=device)
    control = Control.from_numpy(model, run.wind_x, run.wind_y, times=run.wind_times)
    solver = DispersionSolver(model, dt=run.dt, seed=run.seed)
    grid = run.output_grid((ox, oy))
    recorder = DispersionRecorder(solver, grid, {"crs": run.scene.crs, "title": run.scene.name, "scene_script": str(script),
                                                 "start_time": run.scene.start_time,
                                                 "notes": " ".join(run.notes), "release_x_m": float(run.source[0]),
                                                 "release_y_m": float(run.source[1]), "release_z_m": float(run.source[2])},
                                   background=run.background)
    src = (run.source[0] - ox, run.source[1] - oy, run.source[2])
    state = model.state(Release(src, run.mass, run.particles, duration=run.release_duration))
    settings = RunSettings(run.duration, run.output_interval, probe_interval=run.output_interval)
    meta = {"scene": run.scene.name, "script": str(script), "parameters": parameters, "device": device,
            "grid": {"wind_nodes": list(model.shape), "output_cells": list(grid.shape), "crs": run.scene.crs},
            "solver": {"dt_s": run.dt, "particles": run.particles, "diffusivity_m2_s": list(run.diffusivity),
                       "deposition_velocity_m_s": run.deposition_velocity, "seed": run.seed},
            "notes": run.notes, "versions": versions(), "command": " ".join(sys.argv)}
    sim = Simulation(solver, recorder, state, control, settings, Path(out_dir), meta, progress=progress)
    return sim.run(resume=resume)
