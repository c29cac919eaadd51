"""The dispersion twin's run: what a plume scene script's ``setup(p)`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from twin.physics.simulation import Problem, Run, RunSettings

from twin.scene import Scene

__all__ = ["DispersionRun"]


@dataclass
class DispersionRun(Run):
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

    kind: ClassVar[str] = "dispersion"

    @property
    def title(self) -> str:
        return self.scene.name

    def output_shape(self) -> tuple[int, int, int]:
        """(nz, ny, nx) of the output grid: whole cells inside the wind grid."""
        span = (self.x[-1] - self.x[0], self.y[-1] - self.y[0], self.z[-1] - self.z[0])
        return tuple(max(1, int(span[a] // self.cell[a])) for a in (2, 1, 0))

    def output_grid(self, origin: tuple[float, float] = (0.0, 0.0)):
        """The :class:`twin.physics.dispersion.OutputGrid` of the output cells, in metres from ``origin``
        (the default: scene CRS coordinates)."""
        from twin.physics.dispersion import OutputGrid

        return OutputGrid((self.x[0] - origin[0], self.y[0] - origin[1], self.z[0]), self.cell, self.output_shape())


    def build(self, device: str) -> Problem:
        """Build the particle model, winds, solver and recorder on ``device``."""
        from twin.physics.dispersion import Control, DispersionRecorder, DispersionSolver, Model, Release

        ox, oy = self.scene.origin
        model = Model.on_grid(self.x - ox, self.y - oy, self.z, diffusivity=self.diffusivity,
                              deposition_velocity=self.deposition_velocity, surface_layer=self.surface_layer,
                              origin=(ox, oy), crs=self.scene.crs, device=device)
        control = Control.from_numpy(model, self.wind_x, self.wind_y, times=self.wind_times)
        solver = DispersionSolver(model, dt=self.dt, seed=self.seed)
        grid = self.output_grid((ox, oy))
        recorder = DispersionRecorder(solver, grid, {"crs": self.scene.crs, "title": self.scene.name,
                                                     "start_time": self.scene.start_time,
                                                     "notes": " ".join(self.notes), "release_x_m": float(self.source[0]),
                                                     "release_y_m": float(self.source[1]),
                                                     "release_z_m": float(self.source[2])},
                                      background=self.background)
        src = (self.source[0] - ox, self.source[1] - oy, self.source[2])
        state = model.state(Release(src, self.mass, self.particles, duration=self.release_duration))
        settings = RunSettings(self.duration, self.output_interval, probe_interval=self.output_interval)
        meta = {"grid": {"wind_nodes": list(model.shape), "output_cells": list(grid.shape), "crs": self.scene.crs},
                "solver": {"dt_s": self.dt, "particles": self.particles, "diffusivity_m2_s": list(self.diffusivity),
                           "deposition_velocity_m_s": self.deposition_velocity, "seed": self.seed},
                "notes": self.notes}
        return Problem(solver, recorder, state, control, settings, meta)

    def sweep_metrics(self, result, summary: dict) -> dict[str, float]:
        """Wall time [s], steps, mass budget error (relative), the peak concentration anywhere
        [kg m-3] and the mass deposited and airborne at the end [kg]."""
        return {**super().sweep_metrics(result, summary),
                "mass_relative_error": float(summary["volume_balance"]["relative_error"]),
                "peak_concentration_kg_m3": float(result["concentration"].max()),
                "deposited_kg": float(result["deposited_kg"][-1]), "airborne_kg": float(result["airborne_kg"][-1])}
