"""Running a scene script's run: what ``twin run`` does, callable from Python.

:func:`execute` takes any :class:`twin.physics.simulation.Run` (flood, dispersion,
robot cell, machine thermal twin, or a user's own), builds it on a device and
drives it through :class:`twin.physics.simulation.Simulation`: the same progress bar,
guards, checkpoints, ``--resume``, Ctrl-C and ``on_step`` callback for every kind.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

from twin.physics.device import pick_device
from twin.physics.simulation import Run, Simulation
from twin.script import load_script, parameters_of, setup_run

__all__ = ["execute", "load_run", "versions"]


def versions() -> dict[str, str]:
    """Versions of Python and the packages a result depends on."""
    import numpy
    import warp
    import xarray
    import zarr

    import twin

    return {"python": platform.python_version(), "twin": twin.__version__, "warp": warp.__version__,
            "numpy": numpy.__version__, "xarray": xarray.__version__, "zarr": zarr.__version__}


def load_run(path: str | Path, assignments: list[str]) -> tuple[Run, dict]:
    """The run of the scene script ``path`` with parameters ``name=value`` ``assignments``, and the parameters."""
    script = load_script(path)
    params = parameters_of(script, path, assignments)
    return setup_run(script, params, (Run,)), params


def execute(run: Run, out_dir: str | Path, *, parameters: dict, script: str = "", device: str | None = None,
            resume: bool = False, progress: bool = True, on_step=None) -> dict:
    """Build ``run`` on ``device`` (default: the best there is), simulate and record it into
    ``out_dir`` (or go on from its last checkpoint: ``resume``); return the summary.

    Raises:
        KeyboardInterrupt: after writing the result up to the last output.
        SimulationError: likewise, when a guard stops the run.
    """
    device = pick_device(device)
    problem = run.build(device)
    meta = {"scene": run.title, "script": str(script), "parameters": parameters, "device": device, **problem.meta,
            "versions": versions(), "command": " ".join(sys.argv)}
    problem.recorder.attrs.setdefault("scene_script", str(script))
    sim = Simulation(problem.solver, problem.recorder, problem.state, problem.control, problem.settings, Path(out_dir),
                     meta, progress=progress, on_step=on_step, t0=problem.t0, snapshot_states=problem.snapshot_states)
    return sim.run(resume=resume)
