"""The robot cell's run: drive the joints along a trajectory, recorded like every other twin.

A robot scene script's ``setup(p)`` returns a :class:`RobotRun`. Its :meth:`RobotRun.build`
gives :class:`twin.physics.simulation.Simulation` a fixed step (``dt``), a solver that sets
the drives' targets from the trajectory before each step (:class:`RobotStepper`) and a
recorder that keeps a frame at every output (``frame_interval``). The Result::

    result.zarr     joint positions q, set points q_ref, velocities qd, drive torques (time, joint);
                    tool position (time, xyz); link poses (time, link, 7) for the viewer;
                    attrs title, urdf, cycle_time_s, solver, dt_s
    summary.json    the shared entries, and peak torques and the largest tracking error per joint
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from twin.physics.robot.system import RobotSolver, RobotSystem, build_robot, make_solver
from twin.physics.robot.trajectory import JointTrajectory
from twin.physics.simulation import Problem, Run, RunSettings

from twin.io.urdf import Robot

__all__ = ["RobotRecorder", "RobotRun", "RobotState", "RobotStepper"]

STATE_ARRAYS = ("joint_q", "joint_qd", "body_q", "body_qd")
"""The Newton State arrays that carry a robot from one step to the next."""


class RobotState:
    """A Newton State with the State protocol of :mod:`twin.physics.simulation` (``clone``, ``numpy``, ``load``)."""

    def __init__(self, system: RobotSystem, state):
        self.system, self.newton = system, state

    def clone(self) -> "RobotState":
        other = self.system.model.state()
        for name in STATE_ARRAYS:
            getattr(other, name).assign(getattr(self.newton, name))
        return RobotState(self.system, other)

    def numpy(self) -> dict[str, np.ndarray]:
        return {name: getattr(self.newton, name).numpy() for name in STATE_ARRAYS}

    def load(self, arrays: dict[str, np.ndarray]) -> None:
        for name, values in arrays.items():
            getattr(self.newton, name).assign(values)


class RobotStepper:
    """The robot's solver for :class:`twin.physics.simulation.Simulation`: each step first sets
    the drives' targets from ``trajectory`` at the step's start time."""

    def __init__(self, system: RobotSystem, solver: RobotSolver, trajectory: JointTrajectory):
        self.system, self.solver, self.trajectory = system, solver, trajectory

    def stable_dt(self, state: RobotState, t: float | None = None) -> float:
        """Any step is stable for the implicit drives: the run's fixed ``dt`` decides."""
        return math.inf

    def step(self, state_in: RobotState, state_out: RobotState, control, dt: float, t: float) -> None:
        q_ref, qd_ref, _ = self.trajectory(t)
        self.system.set_targets(control, q_ref, qd_ref)
        self.solver.step(state_in.newton, state_out.newton, control, dt)

    def volume(self, state: RobotState) -> float:
        """A robot conserves nothing that the run balances."""
        return 0.0

    def volume_balance(self, state: RobotState, initial: float) -> dict:
        return {}

    def accounting(self) -> dict:
        """What a bitwise resume needs besides the State: MuJoCo's warm start."""
        return {"warmstart": self.solver.warmstart()}

    def restore_accounting(self, acc: dict) -> None:
        self.solver.set_warmstart(acc["warmstart"])


class RobotRecorder:
    """Records a robot run: a frame (joints, torques, link poses) at every output."""

    kind = "robot"

    def __init__(self, system: RobotSystem, stepper: RobotStepper, tool: str, links: list[str], attrs: dict):
        self.system, self.stepper, self.tool, self.links, self.attrs = system, stepper, tool, links, attrs
        self.cells = len(system.joints)  # degrees of freedom, for summary.json

    def update(self, state: RobotState, t: float) -> None:
        """Nothing is folded in between frames."""

    def sample_probes(self, state: RobotState, t: float) -> None:
        """A robot has no probes: every frame is a sample."""

    def snapshot(self, state: RobotState) -> dict[str, np.ndarray]:
        poses = self.system.link_poses(state.newton, [self.tool, *self.links])
        return {"q": self.system.q(state.newton), "qd": self.system.qd(state.newton), "torque": self.stepper.solver.torque,
                "tool": poses[0, :3], "poses": poses[1:]}

    def state_dict(self) -> dict[str, np.ndarray]:
        return {}

    def load_state_dict(self, d: dict[str, np.ndarray]) -> None:
        """Nothing to restore: frames are snapshots."""

    def dataset(self, times: list[float], snapshots: list[dict[str, np.ndarray]], recorded: dict):
        import xarray as xr

        n, joints = len(times), self.system.joints
        stack = {k: np.array([s[k] for s in snapshots], np.float64).reshape(n, *shape)
                 for k, shape in (("q", (len(joints),)), ("qd", (len(joints),)), ("torque", (len(joints),)),
                                  ("tool", (3,)), ("poses", (len(self.links), 7)))}
        q_ref = np.array([self.stepper.trajectory(t)[0] for t in times], np.float64).reshape(n, len(joints))
        joint = ("time", "joint")
        return xr.Dataset(
            {
                "q": (joint, stack["q"], {"long_name": "joint position", "units": "rad"}),
                "q_ref": (joint, q_ref, {"long_name": "joint position set point", "units": "rad"}),
                "qd": (joint, stack["qd"], {"long_name": "joint velocity", "units": "rad s-1"}),
                "torque": (joint, stack["torque"], {"long_name": "drive torque", "units": "N m"}),
                "tool_position": (("time", "xyz"), stack["tool"], {"units": "m", "long_name": f"origin of {self.tool}"}),
                "link_pose": (("time", "link", "pose"), stack["poses"],
                              {"long_name": "link frame: position [m] and quaternion (x, y, z, w)"}),
            },
            coords={"time": ("time", np.asarray(times, np.float64), {"units": "s", "standard_name": "time"}),
                    "joint": joints, "link": self.links, "xyz": ["x", "y", "z"],
                    "pose": ["x", "y", "z", "qx", "qy", "qz", "qw"]},
            attrs={"Conventions": "CF-1.10", **self.attrs},
        )

    def summary(self, ds) -> dict:
        """Peak drive torque [N m] and largest tracking error [rad] per joint."""
        joints = [str(j) for j in ds["joint"].values]
        peak = np.abs(ds["torque"].values).max(axis=0) if ds.sizes["time"] else np.zeros(len(joints))
        error = np.abs(ds["q"].values - ds["q_ref"].values).max(axis=0) if ds.sizes["time"] else np.zeros(len(joints))
        return {"peak_torque_Nm": dict(zip(joints, map(float, peak))),
                "max_tracking_error_rad": dict(zip(joints, map(float, error)))}


@dataclass
class RobotRun(Run):
    """What to simulate for a robot scene.

    Attributes:
        robot: the checked URDF robot; name: the scene's name (the pictures' title).
        trajectory: joint set points over time; one cycle is the run.
        kp, kd: drive gains per joint [N m/rad], [N m s/rad].
        dt: time step [s]; frame_interval: time between recorded frames [s].
        tool: link whose origin is the tool point.
        solver: one of :data:`twin.physics.robot.SOLVERS`.
        floor: a ground plane at z = 0.
    """

    kind: ClassVar[str] = "robot"
    static_fields: ClassVar[tuple[str, ...]] = ()

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

    @property
    def title(self) -> str:
        return self.name

    def build(self, device: str) -> Problem:
        """Build the Newton model, the solver and the recorder on ``device``."""
        system = build_robot(self.robot, device=device, floor=self.floor, kp=self.kp, kd=self.kd)
        stepper = RobotStepper(system, make_solver(system, self.solver), self.trajectory)
        q0, _, _ = self.trajectory(0.0)
        links = sorted({m.link for m in self.robot.meshes if m.role == "visual"}, key=list(system.bodies).index)
        recorder = RobotRecorder(system, stepper, self.tool, links,
                                 {"title": self.name, "urdf": self.robot.source, "cycle_time_s": self.trajectory.duration,
                                  "solver": self.solver, "dt_s": self.dt})
        settings = RunSettings(self.trajectory.duration, self.frame_interval, self.frame_interval, fixed_dt=self.dt)
        meta = {"robot": self.robot.name, "urdf": self.robot.source, "solver": self.solver, "dt_s": self.dt,
                "cycle_time_s": self.trajectory.duration, "joints": system.joints}
        return Problem(stepper, recorder, RobotState(system, system.state(q0)), system.model.control(), settings, meta)

    def sweep_metrics(self, result, summary: dict) -> dict[str, float]:
        """Wall time [s], steps, the largest drive torque [N m] and tracking error [rad] of any joint."""
        return {**super().sweep_metrics(result, summary),
                "peak_torque_Nm": max(summary["peak_torque_Nm"].values()),
                "max_tracking_error_rad": max(summary["max_tracking_error_rad"].values())}
