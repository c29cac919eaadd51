"""A UR5 cell: one pick-and-place cycle of a Universal Robots UR5 on Newton (MuJoCo solver).

The arm (``shared/data/factory/example-robot-data/robots/ur_description``, its
real COLLADA visual and STL collision meshes) stands on the floor at the origin.
It starts at home, moves above the pick point, down, up, over to the place
point, down, up and home, pausing ``dwell`` seconds at each stop for a gripper
(which is not modelled). Each move is a straight line in joint space with the
UR5's velocity limits (scaled by ``speed``) and ``accel`` as acceleration limit
(:func:`twin.physics.robot.joint_trajectory`); joint-space PD drives track it, limited
to the URDF's effort. The Result holds joint positions, set points and torques,
the tool path and the cycle time.

    twin run scenes/ur5_cell.py --out out/ur5_cell --pictures
"""

from __future__ import annotations

import os

import numpy as np
from twin.physics.robot import RobotRun, joint_trajectory

from twin.data import data_file
from twin.errors import InputError
from twin.io.urdf import read_urdf
from twin.params import Param

DEFAULT_URDF = data_file("factory", "example-robot-data", "robots", "ur_description", "urdf", "ur5_robot.urdf")

PARAMETERS = [
    Param("urdf", DEFAULT_URDF, "", "the robot's URDF"),
    Param("package_path", "", "", "extra folders for package:// URIs (os.pathsep-separated)"),
    Param("speed", 0.5, "", "fraction of the URDF velocity limits used", positive=True),
    Param("accel", 4.0, "rad/s2", "joint acceleration limit", positive=True),
    Param("dwell", 0.3, "s", "pause at each stop (gripper)", minimum=0.0),
    Param("kp", 3000.0, "N m/rad", "drive stiffness (the wrists get 1/10)", positive=True),
    Param("solver", "mujoco", "", "Newton solver", choices=("mujoco", "featherstone", "xpbd")),
    Param("title", "", "", "title of the pictures (default: the URDF's robot name and 'pick-and-place cell')"),
]

HOME = [0.0, -1.571, 1.571, -1.571, -1.571, 0.0]
"""Home: upper arm up, forearm level, tool pointing down [rad]."""
PICK_ABOVE = [-0.6, -1.3, 1.75, -2.021, -1.571, -0.6]
PICK = [-0.6, -1.1, 2.0, -2.471, -1.571, -0.6]
PLACE_ABOVE = [0.9, -1.3, 1.75, -2.021, -1.571, 0.9]
PLACE = [0.9, -1.1, 2.0, -2.471, -1.571, 0.9]
"""Pick at (0.50, -0.21) m, place at (0.25, 0.48) m, the tool 0.078 m over the floor (0.25 m above it
between), pointing down: wrist_1 = -pi/2 - (shoulder_lift + elbow)."""
CYCLE = np.array([HOME, PICK_ABOVE, PICK, PICK_ABOVE, PLACE_ABOVE, PLACE, PLACE_ABOVE, HOME])
"""The waypoints of one cycle [rad], (8, 6)."""


def setup(p):
    if p["speed"] > 1.0:
        raise InputError("speed", "", f"is a fraction of the URDF velocity limits: at most 1, got {p['speed']}")
    robot = read_urdf(p["urdf"], package_path=[d for d in p["package_path"].split(os.pathsep) if d])
    joints = robot.movable
    if len(joints) != CYCLE.shape[1]:
        raise InputError(p["urdf"], "joints",
                         f"the cycle's waypoints are for {CYCLE.shape[1]} joints; this robot has {len(joints)}")
    vmax = p["speed"] * np.array([j.velocity for j in joints])
    trajectory = joint_trajectory(CYCLE, vmax, np.full(len(joints), p["accel"]), dwell=p["dwell"])
    kp = p["kp"] * np.array([1.0, 1.0, 1.0, 0.1, 0.1, 0.1])
    kd = 2.0 * np.sqrt(kp * np.array([2.0, 2.0, 1.0, 0.05, 0.05, 0.02]))  # critical damping for a rough joint inertia [kg m^2]
    title = p["title"] or f"{robot.name} pick-and-place cell"
    return RobotRun(robot, title, trajectory, kp, kd, solver=p["solver"])
