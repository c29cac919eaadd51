"""Scene scripts and running them: what `twin run` does, callable from Python.

A scene script is a Python file with

* ``PARAMETERS``: a list of :class:`twin.params.Param`;
* ``setup(p) -> FloodRun``: builds the Scene from the parameter values ``p``
  (a dict) and says what to simulate.
"""

from __future__ import annotations

import importlib.util
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twin.errors import InputError
from twin.params import Param, resolve
from twin.scene import Scene


@dataclass
class FloodRun:
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
    """

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


def load_script(path: str | Path):
    """Import a scene script from its path; it must define PARAMETERS and setup()."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "", "no such scene script")
    spec = importlib.util.spec_from_file_location(f"twin_scene_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise InputError(path, f"line {e.lineno}", f"syntax error: {e.msg}") from None
    for name in ("PARAMETERS", "setup"):
        if not hasattr(module, name):
            raise InputError(path, "", f"a scene script must define {name}")
    if not all(isinstance(p, Param) for p in module.PARAMETERS):
        raise InputError(path, "PARAMETERS", "must be a list of twin.params.Param")
    return module


def parameters_of(script, path: str | Path, assignments: list[str]) -> dict[str, Any]:
    return resolve(script.PARAMETERS, assignments, str(path))


def versions() -> dict[str, str]:
    """Versions of Python and the packages a result depends on."""
    import numpy
    import warp
    import xarray
    import zarr

    import twin

    return {"python": platform.python_version(), "twin": twin.__version__, "warp": warp.__version__,
            "numpy": numpy.__version__, "xarray": xarray.__version__, "zarr": zarr.__version__}


def run_flood(run: FloodRun, out_dir: str | Path, *, parameters: dict, script: str = "", device: str | None = None,
              resume: bool = False, progress: bool = True, on_step=None) -> dict:
    """Rasterise, simulate and record ``run`` into ``out_dir``; return the summary."""
    from physics.device import pick_device
    from physics.simulation import RunSettings, Simulation
    from physics.swe.from_scene import flood_problem
    from physics.swe.recorder import FloodRecorder
    from physics.swe.solver import FloodSolver

    device = pick_device(device)
    model, control, fg = flood_problem(run.scene, resolution=run.resolution, buildings=run.buildings, order=run.order,
                                       cfl=run.cfl, h_dry=run.h_dry, dtype=run.dtype, device=device)
    solver = FloodSolver(model, control)
    recorder = FloodRecorder(solver, fg.probe_cells, {"ground_elevation": fg.ground, "building": fg.building},
                             {"crs": run.scene.crs, "title": run.scene.name, "scene_script": str(script),
                              "start_time": run.scene.start_time})
    settings = RunSettings(run.duration, run.output_interval, run.probe_interval, fixed_dt=run.fixed_dt)
    meta = {
        "scene": run.scene.name, "script": str(script), "parameters": parameters, "device": model.device,
        "grid": {"nx": model.nx, "ny": model.ny, "dx": model.dx, "dy": model.dy, "crs": run.scene.crs},
        "solver": {"order": run.order, "dtype": run.dtype, "cfl": run.cfl, "h_dry_m": run.h_dry, "buildings": run.buildings},
        "terrain_cells_filled": fg.filled_nodata, "versions": versions(), "command": " ".join(sys.argv),
    }
    sim = Simulation(solver, recorder, model.state(0.0), control, settings, Path(out_dir), meta, progress=progress, on_step=on_step)
    return sim.run(resume=resume)
