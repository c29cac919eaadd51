"""Articulated robots on Newton: a URDF robot as a Newton Model, its solvers, trajectories and runs.

- :func:`build_robot` -- a checked :class:`twin.io.urdf.Robot` as a :class:`RobotSystem`
  (Newton Model, joint names, drive gains), optionally on a floor.
- :func:`make_solver` -- MuJoCo (C on the CPU, MuJoCo Warp on CUDA) by default; Featherstone, XPBD.
- :func:`joint_trajectory` -- a time-optimal-ish trapezoid through waypoints under velocity and
  acceleration limits.
- :func:`mechanical_energy` -- kinetic + potential energy of the bodies [J].
- :class:`RobotRun` -- what a robot scene script's ``setup`` returns; ``twin run`` runs it.
"""

from twin.physics.robot.run import RobotRun
from twin.physics.robot.system import SOLVERS, RobotSystem, build_robot, make_solver, mechanical_energy
from twin.physics.robot.trajectory import JointTrajectory, joint_trajectory

__all__ = ["SOLVERS", "JointTrajectory", "RobotRun", "RobotSystem", "build_robot", "joint_trajectory", "make_solver",
           "mechanical_energy"]
