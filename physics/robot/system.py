"""A checked URDF robot as a Newton Model, and the solvers that step it.

Newton's split holds: the Model (static, built once by ``ModelBuilder.finalize``),
State (``joint_q``/``joint_qd`` and the bodies' poses and twists, double-buffered),
Control (``joint_target_q``/``joint_target_qd``: the drives' set points). Drives are
joint-space PD (``kp`` [N m/rad], ``kd`` [N m s/rad]) limited by each joint's URDF
effort; MuJoCo integrates them implicitly, so stiff gains are stable at 1/240 s.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from twin.errors import InputError, SimulationError
from twin.io.urdf import Robot, resolved_urdf

__all__ = ["SOLVERS", "RobotSolver", "RobotSystem", "build_robot", "make_solver", "mechanical_energy"]

SOLVERS = ("mujoco", "featherstone", "xpbd")
"""Solver names :func:`make_solver` knows; ``mujoco`` is the default (C MuJoCo on the CPU, MuJoCo Warp on CUDA)."""


def _newton():
    """Newton, imported on first use, without its start-up chatter."""
    import warp as wp

    wp.config.quiet = True
    import newton

    return newton


@dataclass
class RobotSystem:
    """A robot ready to simulate.

    Attributes:
        robot: the checked URDF robot.
        model: the Newton Model (finalized on ``device``).
        joints: names of the movable joints, in degree-of-freedom order.
        dof: index of each movable joint's coordinate in ``joint_q``, int (n_joints,).
        bodies: Newton body index of each URDF link name.
        shapes: number of the robot's shapes (visual and collision; the floor not counted).
        device: "cpu" or "cuda:N".
    """

    robot: Robot
    model: object
    joints: list[str]
    dof: np.ndarray
    bodies: dict[str, int]
    shapes: int
    device: str
    _targets: tuple | None = field(default=None, repr=False)  # (control, host targets q, qd) of set_targets

    def state(self, q: np.ndarray | None = None):
        """A Newton State at joint positions ``q`` [rad] (n_joints,), at rest, bodies placed by forward kinematics."""
        newton = _newton()
        s = self.model.state()
        if q is not None:
            full = self.model.joint_q.numpy().copy()
            full[self.dof] = q
            s.joint_q.assign(full)
        s.joint_qd.zero_()
        newton.eval_fk(self.model, s.joint_q, s.joint_qd, s)
        return s

    def q(self, state) -> np.ndarray:
        """Joint positions [rad] of ``state``, float64 (n_joints,)."""
        return state.joint_q.numpy()[self.dof].astype(np.float64)

    def qd(self, state) -> np.ndarray:
        """Joint velocities [rad/s] of ``state``, float64 (n_joints,)."""
        return state.joint_qd.numpy()[self.dof].astype(np.float64)

    def link_pose(self, state, link: str) -> np.ndarray:
        """World pose of ``link``: position [m] and quaternion (x, y, z, w), float64 (7,)."""
        return self.link_poses(state, [link])[0]

    def link_poses(self, state, links: list[str]) -> np.ndarray:
        """World poses of ``links``: position [m] and quaternion (x, y, z, w), float64 (n_links, 7),
        from one copy of the body transforms."""
        return state.body_q.numpy()[[self.bodies[link] for link in links]].astype(np.float64)

    def set_targets(self, control, q: np.ndarray, qd: np.ndarray) -> None:
        """Drive set points: positions [rad] and velocities [rad/s], (n_joints,) each. The
        targets of the other dofs are read from ``control`` once and kept on the host."""
        if self._targets is None or self._targets[0] is not control:
            self._targets = (control, control.joint_target_q.numpy().copy(), control.joint_target_qd.numpy().copy())
        _, tq, tqd = self._targets
        tq[self.dof], tqd[self.dof] = q, qd
        control.joint_target_q.assign(tq)
        control.joint_target_qd.assign(tqd)


def build_robot(robot: Robot, *, device: str = "cpu", floor: bool = False, base: tuple[float, float, float] = (0.0, 0.0, 0.0),
                kp: float | np.ndarray | None = None, kd: float | np.ndarray | None = None, gravity: float = -9.81,
                self_collisions: bool = False) -> RobotSystem:
    """Build ``robot`` with Newton's ``ModelBuilder.add_urdf`` (fixed base at ``base`` [m], z up).

    Args:
        robot: from :func:`twin.io.urdf.read_urdf` (meshes resolved, defaults filled).
        device: Warp device of the Model.
        floor: add a ground plane at z = 0.
        base: where the robot's root link stands [m].
        kp, kd: drive gains per movable joint [N m/rad], [N m s/rad] (scalars or (n_joints,));
            None leaves the joints passive (no actuators).
        gravity: along z [m/s^2].
        self_collisions: let the robot's links collide with each other.
    """
    if robot.missing:
        raise InputError(robot.source, "", f"meshes not found: {'; '.join(robot.missing)}")
    newton = _newton()
    builder = newton.ModelBuilder(gravity=(0.0, 0.0, gravity))
    xform = newton.math.Transform(tuple(float(v) for v in base), (0.0, 0.0, 0.0, 1.0)) if any(base) else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        builder.add_urdf(resolved_urdf(robot), xform=xform, floating=False, enable_self_collisions=self_collisions)
    dropped = [str(w.message) for w in caught if "does not exist" in str(w.message) or "Cannot resolve" in str(w.message)]
    if dropped:  # twin resolved every mesh already; Newton not finding one is a bug, never a silent drop
        raise InputError(robot.source, "", f"Newton could not load a mesh: {dropped[0]}")
    shapes = builder.shape_count
    labels = [label.split("/", 1)[-1] for label in builder.joint_label]
    joints = [j.name for j in robot.movable]
    qd_start = builder.joint_qd_start
    dof = np.array([qd_start[labels.index(name)] for name in joints], dtype=np.int64)
    bodies = {label.split("/", 1)[-1]: k for k, label in enumerate(builder.body_label)}
    if kp is not None:
        kps = np.broadcast_to(np.asarray(kp, np.float64), (len(joints),))
        kds = np.broadcast_to(np.asarray(0.0 if kd is None else kd, np.float64), (len(joints),))
        for d, p, v in zip(dof, kps, kds):
            builder.joint_target_mode[d] = int(newton.JointTargetMode.POSITION_VELOCITY)
            builder.joint_target_ke[d] = float(p)
            builder.joint_target_kd[d] = float(v)
    if floor:
        builder.add_ground_plane()
    model = builder.finalize(device=device)
    return RobotSystem(robot, model, joints, dof, bodies, shapes, str(model.device))


class RobotSolver:
    """A Newton solver with what twin needs around it: contacts for the non-MuJoCo solvers
    and the joint torques of the last step.

    Attributes:
        kind: one of :data:`SOLVERS`.
        torque: drive torques [N m] of the last step, (n_joints,) (MuJoCo only; zeros for the other solvers).
    """

    def __init__(self, system: RobotSystem, kind: str = "mujoco", **options):
        newton = _newton()
        if kind not in SOLVERS:
            raise InputError("solver", "", f"{kind!r} is not one of {', '.join(SOLVERS)}")
        self.system, self.kind = system, kind
        model = system.model
        self.contacts = None
        self.observables = None
        if kind == "mujoco":
            cpu = str(model.device) == "cpu"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # version notes; the pins in pyproject are Newton's
                self.solver = newton.solvers.SolverMuJoCo(model, use_mujoco_cpu=cpu, **options)
            self.observables = self.solver.observables(["qfrc_actuator"])
        else:
            cls = {"featherstone": newton.solvers.SolverFeatherstone, "xpbd": newton.solvers.SolverXPBD}[kind]
            self.solver = cls(model, **options)
            self.contacts = model.contacts()
        self._stepped = False

    @property
    def torque(self) -> np.ndarray:
        """Actuator torques [N m] of the last step, float64 (n_joints,): zeros before the
        first step and for solvers that do not report them (read when asked, not every step)."""
        if self.observables is None or not self._stepped:
            return np.zeros(len(self.system.joints))
        return self.observables.qfrc_actuator.numpy()[self.system.dof].astype(np.float64)

    def _mujoco_data(self):
        return self.solver.mj_data if self.solver.use_mujoco_cpu else self.solver.mjw_data

    def warmstart(self) -> list[float]:
        """MuJoCo's acceleration warm start, the solver state besides the Newton State that the
        next step depends on (what a bitwise resume restores); [] for the other solvers."""
        if self.kind != "mujoco":
            return []
        w = self._mujoco_data().qacc_warmstart
        return np.asarray(w if self.solver.use_mujoco_cpu else w.numpy(), np.float64).ravel().tolist()

    def set_warmstart(self, values: list[float]) -> None:
        """Restore what :meth:`warmstart` returned."""
        if self.kind != "mujoco":
            return
        w = self._mujoco_data().qacc_warmstart
        if self.solver.use_mujoco_cpu:
            w[:] = np.asarray(values, np.float64).reshape(w.shape)
        else:
            w.assign(np.asarray(values, np.float64).reshape(w.shape))
        self._stepped = True

    def step(self, state_in, state_out, control, dt: float) -> None:
        """Advance ``dt`` [s] from ``state_in`` into ``state_out``."""
        state_in.clear_forces()
        if self.contacts is not None:
            self.system.model.collide(state_in, self.contacts)
        self.solver.step(state_in, state_out, control, self.contacts, dt, **({"observables": self.observables} if self.observables else {}))
        self._stepped = True
        if self.kind == "mujoco" and self.solver.use_mujoco_cpu:
            self._check_mujoco()

    def _check_mujoco(self) -> None:
        """MuJoCo resets a model whose positions, velocities or accelerations turn NaN or huge, and
        only counts a warning: make that a stop (a reset robot is not the simulated one)."""
        import mujoco

        warnings_ = self.solver.mj_data.warning
        for name in ("BADQPOS", "BADQVEL", "BADQACC"):
            if warnings_[getattr(mujoco.mjtWarning, f"mjWARN_{name}")].number:
                raise SimulationError(f"MuJoCo found non-finite or huge joint {name[3:].lower()} and reset the robot")


def make_solver(system: RobotSystem, kind: str = "mujoco", **options) -> RobotSolver:
    """The solver ``kind`` for ``system`` (see :class:`RobotSolver`); ``options`` go to Newton's solver."""
    return RobotSolver(system, kind, **options)


def _rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v`` (n, 3) by unit quaternions ``q`` (n, 4) in (x, y, z, w) order."""
    u, w = q[:, :3], q[:, 3:4]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def mechanical_energy(system: RobotSystem, state) -> tuple[float, float]:
    """Kinetic and potential energy [J] of the robot's bodies in ``state`` (float64 sums).

    Kinetic: ``1/2 m |v_com|^2 + 1/2 w . (R I R^T) w`` with ``body_qd`` = (v_com, w) in
    the world frame; potential: ``-m g . x_com``.
    """
    m = system.model
    mass = m.body_mass.numpy().astype(np.float64)
    inertia = m.body_inertia.numpy().astype(np.float64)
    com = m.body_com.numpy().astype(np.float64)
    bq = state.body_q.numpy().astype(np.float64)
    bqd = state.body_qd.numpy().astype(np.float64)
    g = np.asarray(m.gravity.numpy(), np.float64).reshape(-1, 3)[0]
    quat = bq[:, 3:7] / np.linalg.norm(bq[:, 3:7], axis=1, keepdims=True)
    x_com = bq[:, :3] + _rotate(quat, com)
    v, w = bqd[:, :3], bqd[:, 3:]
    w_body = _rotate(quat * np.array([-1, -1, -1, 1.0]), w)
    kinetic = 0.5 * np.sum(mass * np.sum(v * v, axis=1)) + 0.5 * np.einsum("bi,bij,bj->", w_body, inertia, w_body)
    potential = -np.sum(mass * (x_com @ g))
    return float(kinetic), float(potential)
