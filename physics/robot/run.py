"""Running a robot scene: drive the joints along a trajectory, record a Result.

A robot scene script's ``setup(p)`` returns a :class:`RobotRun`; ``twin run``
calls :meth:`RobotRun.run`, which writes into ``out_dir``::

    result.zarr     xarray Dataset: joint positions q, set points q_ref, velocities qd,
                    drive torques (time, joint); tool position (time, xyz);
                    link poses (time, link, 7) for the viewer; attrs cycle_time_s, urdf
    summary.json    cycle time, steps, wall time, solver, device, peak torques, tracking error

Both are written atomically (a ``.partial`` name, then a rename); Ctrl-C writes
the Result up to the last recorded frame (status "interrupted") and re-raises.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from physics.robot.system import build_robot, make_solver
from physics.robot.trajectory import JointTrajectory
from physics.simulation import write_text, write_zarr
from twin.errors import InputError
from twin.io.urdf import Robot

__all__ = ["RobotRun", "RobotStep"]


@dataclass
class RobotStep:
    """What a robot run hands to ``on_step`` at a recorded frame: time ``t`` [s], the system, its state now,
    the solver (drive torques), the set points ``q_ref`` [rad] (joints,) and the visual ``links``."""

    t: float
    system: object
    state: object
    solver: object
    q_ref: np.ndarray
    links: list[str]


@dataclass
class RobotRun:
    """What to simulate for a robot scene.

    Attributes:
        robot: the checked URDF robot; name: the scene's name.
        trajectory: joint set points over time.
        kp, kd: drive gains per joint [N m/rad], [N m s/rad].
        dt: time step [s]; frame_interval: time between recorded frames [s].
        tool: link whose origin is the tool point.
        solver: one of :data:`physics.robot.SOLVERS`.
        floor: a ground plane at z = 0.
    """

    kind: ClassVar[str] = "robot"
    robot: Robot
    name: str
    trajectory: JointTrajectory
    kp: np.ndarray
    kd: np.ndarray
    dt: float = 1.0 / 240.0
    frame_interval: float = 1.0 / 30.0
    tool: str = "tool0"
    solver: str = "mujoco"
    floor: bool = True

    def run(self, out_dir: str | Path, *, parameters: dict | None = None, script: str = "", device: str | None = None,
            resume: bool = False, progress: bool = True, on_step=None) -> dict:
        """Simulate one cycle into ``out_dir``; return the summary (see the module docstring).
        ``on_step(step)`` (e.g. a live viewer) gets a :class:`RobotStep` at every recorded frame.

        Raises:
            InputError: ``resume``: a cycle is short and keeps no checkpoints.
        """
        from physics.device import pick_device
        from twin.runner import versions

        if resume:
            raise InputError(out_dir, "--resume", "a robot cell keeps no checkpoints; run the cycle again with --out")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        system = build_robot(self.robot, device=pick_device(device), floor=self.floor, kp=self.kp, kd=self.kd)
        solver = make_solver(system, self.solver)
        q0, _, _ = self.trajectory(0.0)
        s0, s1 = system.state(q0), system.state(q0)
        control = system.model.control()
        links = sorted({m.link for m in self.robot.meshes if m.role == "visual"}, key=list(system.bodies).index)
        steps = int(math.ceil(self.trajectory.duration / self.dt - 1e-9))
        every = max(1, int(round(self.frame_interval / self.dt)))
        rec: dict[str, list] = {k: [] for k in ("time", "q", "q_ref", "qd", "torque", "tool", "poses")}
        status, start = "complete", time.perf_counter()
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=steps, unit="step", file=sys.stderr, mininterval=0.5, desc=self.name)
        try:
            for k in range(steps + 1):
                t = k * self.dt
                q_ref, qd_ref, _ = self.trajectory(t)
                if k % every == 0 or k == steps:
                    rec["time"].append(t)
                    rec["q"].append(system.q(s0))
                    rec["q_ref"].append(q_ref)
                    rec["qd"].append(system.qd(s0))
                    rec["torque"].append(solver.torque)
                    poses = system.link_poses(s0, [self.tool, *links])
                    rec["tool"].append(poses[0, :3])
                    rec["poses"].append(poses[1:])
                    if on_step is not None:
                        on_step(RobotStep(t, system, s0, solver, q_ref, links))
                if k == steps:
                    break
                system.set_targets(control, q_ref, qd_ref)
                solver.step(s0, s1, control, self.dt)
                s0, s1 = s1, s0
                if bar is not None:
                    bar.update()
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            if bar is not None:
                bar.close()
            wall = time.perf_counter() - start
            summary = self._write(out, rec, links, system, status, wall, parameters or {}, script, versions())
        return summary

    def pictures(self, out_dir: str | Path, *, progress: bool = True) -> dict[str, Path]:
        """The robot kind's pictures of the Result in ``out_dir`` (see :func:`viewer.robot.pictures`)."""
        from viewer.robot import pictures

        return pictures(out_dir, out_dir, progress=progress)

    def _write(self, out: Path, rec: dict, links: list[str], system, status: str, wall: float, parameters: dict,
               script: str, versions: dict) -> dict:
        import xarray as xr

        n = min(len(v) for v in rec.values())
        arr = {k: np.asarray(v[:n], dtype=np.float64) for k, v in rec.items()}
        joint = ("time", "joint")
        ds = xr.Dataset(
            {
                "q": (joint, arr["q"], {"long_name": "joint position", "units": "rad"}),
                "q_ref": (joint, arr["q_ref"], {"long_name": "joint position set point", "units": "rad"}),
                "qd": (joint, arr["qd"], {"long_name": "joint velocity", "units": "rad s-1"}),
                "torque": (joint, arr["torque"], {"long_name": "drive torque", "units": "N m"}),
                "tool_position": (("time", "xyz"), arr["tool"].reshape(n, 3), {"units": "m"}),
                "link_pose": (("time", "link", "pose"), arr["poses"].reshape(n, len(links), 7),
                              {"long_name": "link frame: position [m] and quaternion (x, y, z, w)"}),
            },
            coords={"time": ("time", arr["time"], {"units": "s"}), "joint": system.joints, "link": links,
                    "xyz": ["x", "y", "z"], "pose": ["x", "y", "z", "qx", "qy", "qz", "qw"]},
            attrs={"twin_kind": "robot", "title": self.name, "urdf": self.robot.source,
                   "cycle_time_s": self.trajectory.duration, "status": status, "solver": self.solver, "dt_s": self.dt},
        )
        write_zarr(ds, out / "result.zarr")
        error = np.abs(arr["q"] - arr["q_ref"]).max(axis=0) if n else np.zeros(len(system.joints))
        peak = np.abs(arr["torque"]).max(axis=0) if n else np.zeros(len(system.joints))
        summary = {
            "status": status, "scene": self.name, "script": str(script), "parameters": parameters,
            "robot": self.robot.name, "urdf": self.robot.source, "device": system.device, "solver": self.solver,
            "dt_s": self.dt, "cycle_time_s": self.trajectory.duration, "simulated_time_s": float(arr["time"][-1]) if n else 0.0,
            "frames": n, "wall_time_s": wall,
            "peak_torque_Nm": dict(zip(system.joints, map(float, peak))),
            "max_tracking_error_rad": dict(zip(system.joints, map(float, error))),
            "versions": versions,
        }
        write_text(out / "summary.json", json.dumps(summary, indent=2))
        return summary
