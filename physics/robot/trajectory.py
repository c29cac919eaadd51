"""Joint-space trajectories through waypoints under velocity and acceleration limits.

Each segment moves every joint along the same normalised trapezoid ``s(t)`` from 0
to 1 (all joints start and stop together: a straight line in joint space). Its
peak rate ``V = min_j v_j / |dq_j|`` [1/s] and acceleration ``A = min_j a_j / |dq_j|``
[1/s^2] make joint ``j``'s speed ``|dq_j| s'`` at most ``v_j`` and its acceleration
at most ``a_j``, with the limiting joint reaching its bound: the fastest such
straight-line motion. A segment short enough never reaches ``V`` (a triangle).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from twin.errors import InputError

__all__ = ["JointTrajectory", "joint_trajectory"]


@dataclass(frozen=True)
class _Segment:
    t0: float  # start [s]
    q0: np.ndarray  # start [rad], (n,)
    dq: np.ndarray  # change [rad], (n,)
    ta: float  # acceleration phase [s]
    tc: float  # cruise phase [s]
    rate: float  # peak ds/dt [1/s]
    accel: float  # d2s/dt2 [1/s^2]
    dwell: float  # rest at the end [s]

    @property
    def moving(self) -> float:
        return 2 * self.ta + self.tc

    @property
    def duration(self) -> float:
        return self.moving + self.dwell

    def s(self, t: float) -> tuple[float, float, float]:
        """Progress s, ds/dt [1/s], d2s/dt2 [1/s^2] at ``t`` [s] from the segment's start."""
        ta, tc, a, v = self.ta, self.tc, self.accel, self.rate
        if self.moving == 0.0 or t >= self.moving:
            return 1.0, 0.0, 0.0
        if t < ta:
            return 0.5 * a * t * t, a * t, a
        if t < ta + tc:
            return 0.5 * a * ta * ta + v * (t - ta), v, 0.0
        r = self.moving - t
        return 1.0 - 0.5 * a * r * r, a * r, -a


@dataclass(frozen=True)
class JointTrajectory:
    """Joint positions, velocities and accelerations over time.

    Attributes:
        segments: one per pair of consecutive waypoints.
        duration: total [s] (moves and dwells).
    """

    segments: tuple[_Segment, ...]
    duration: float

    def __call__(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """q [rad], qd [rad/s], qdd [rad/s^2] at time ``t`` [s] (held at the ends), each (n,)."""
        seg = self.segments[-1]
        for s in self.segments:
            if t < s.t0 + s.duration:
                seg = s
                break
        p, v, a = seg.s(max(t - seg.t0, 0.0))
        return seg.q0 + p * seg.dq, v * seg.dq, a * seg.dq


def joint_trajectory(waypoints: np.ndarray, vmax: np.ndarray, amax: np.ndarray, *, dwell: float = 0.0) -> JointTrajectory:
    """The trapezoidal joint trajectory through ``waypoints`` (k, n) [rad].

    Args:
        waypoints: k >= 2 joint configurations.
        vmax: velocity limit per joint [rad/s], (n,); amax: acceleration limit [rad/s^2], (n,).
        dwell: rest at each waypoint after the first [s].
    """
    w = np.asarray(waypoints, np.float64)
    vmax, amax = np.asarray(vmax, np.float64), np.asarray(amax, np.float64)
    if w.ndim != 2 or len(w) < 2 or not (np.all(vmax > 0) and np.all(amax > 0)):
        raise InputError("trajectory", "", "needs >= 2 waypoints (k, n) and positive velocity and acceleration limits")
    segments, t = [], 0.0
    for q0, q1 in zip(w[:-1], w[1:]):
        dq = q1 - q0
        span = np.abs(dq)
        moving = span > 0
        if not moving.any():
            segments.append(_Segment(t, q0, dq, 0.0, 0.0, 0.0, 0.0, dwell))
        else:
            rate = float(np.min(vmax[moving] / span[moving]))
            accel = float(np.min(amax[moving] / span[moving]))
            ta = rate / accel
            if accel * ta * ta >= 1.0:  # triangle: s = 1/2 reached at the peak
                ta, tc, rate = math.sqrt(1.0 / accel), 0.0, math.sqrt(accel)
            else:
                tc = (1.0 - accel * ta * ta) / rate
            segments.append(_Segment(t, q0, dq, ta, tc, rate, accel, dwell))
        t += segments[-1].duration
    return JointTrajectory(tuple(segments), t)
