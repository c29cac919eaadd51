"""UR5 step time on Newton's solvers, CPU (CUDA too when present): the pick-and-place drives, the floor, 1/240 s.

Each solver steps the UR5 cell (PD drives tracking the cycle's first move) for
``--steps`` steps after ``--warmup`` (kernel compilation and caches excluded).
Reported: milliseconds per step, the real-time factor (simulated / wall time), and
each solver's time as a ratio to SolverMuJoCo's in the same process.

    python benchmarks/robot_step.py [--steps 2000] [--json benchmarks/results/robot_step.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twin.physics.device import available_devices  # noqa: E402
from twin.physics.robot import build_robot, make_solver  # noqa: E402

from twin.io.urdf import UrdfWarning  # noqa: E402
from twin.params import resolve  # noqa: E402
from twin.script import load_script  # noqa: E402


def measure(robot, device: str, kind: str, steps: int, warmup: int, kp, kd, trajectory) -> dict:
    system = build_robot(robot, device=device, floor=True, kp=kp, kd=kd)
    solver = make_solver(system, kind)
    s0, s1 = system.state(trajectory(0.0)[0]), system.state(trajectory(0.0)[0])
    control = system.model.control()
    dt = 1.0 / 240.0
    wall = 0.0
    for k in range(warmup + steps):
        q, qd, _ = trajectory(k * dt)
        start = time.perf_counter()
        system.set_targets(control, q, qd)
        solver.step(s0, s1, control, dt)
        s0, s1 = s1, s0
        if k >= warmup:
            wall += time.perf_counter() - start
    final = system.q(s0)
    return {"device": device, "solver": kind, "ms_per_step": 1e3 * wall / steps, "real_time_factor": steps * dt / wall,
            "finite": bool(np.all(np.isfinite(final))),
            "tracking_error_rad": float(np.abs(final - trajectory((warmup + steps) * dt)[0]).max())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    script = load_script(ROOT / "scenes" / "ur5_cell.py")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UrdfWarning)
        run = script.setup(resolve(script.PARAMETERS, [], "ur5_cell"))
    rows = []
    for device in available_devices():
        for kind in ("mujoco", "featherstone", "xpbd"):
            try:
                rows.append(measure(run.robot, device, kind, args.steps, args.warmup, run.kp, run.kd, run.trajectory))
            except Exception as e:  # a solver that cannot run this model is reported, not fatal to the benchmark
                rows.append({"device": device, "solver": kind, "error": f"{type(e).__name__}: {e}"})
    for r in rows:
        ref = next(x for x in rows if x["device"] == r["device"] and x["solver"] == "mujoco")
        if "ms_per_step" in r and "ms_per_step" in ref:
            r["time_vs_mujoco"] = r["ms_per_step"] / ref["ms_per_step"]
    print(json.dumps(rows, indent=2))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
