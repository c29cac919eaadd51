"""The viewer protocol: a sink that the frames of a running simulation are handed to.

A frame is a kind's own snapshot: ``update(kind, t, fields)`` with ``kind``
the run's kind (``"flood"``, ``"dispersion"``, ``"robot"``, ...), ``t`` the
simulated time [s] and ``fields`` a dict of arrays named as in that kind's
Result (flood: ``depth``, ``speed`` (ny, nx); dispersion: ``concentration``
(nz, ny, nx), ``particles`` (k, 3); robot: ``link_pose`` (links, 7), ``q``,
``q_ref``, ``torque`` (joints,)). The sink draws at ``update``.
:class:`NullSink` draws nothing and keeps what it was given (tests, headless
runs); each kind's view (:class:`twin.viewer.view3d.View3D`,
:class:`twin.viewer.robot.RobotView`, :class:`twin.viewer.plume3d.PlumeView`) draws
with PyVista.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["NullSink", "Sink"]


@runtime_checkable
class Sink(Protocol):
    """What a frame producer needs from a viewer."""

    def update(self, kind: str, t: float, fields: dict[str, np.ndarray]) -> None:
        """Draw the frame of a ``kind`` run at simulated time ``t`` [s]."""

    def close(self) -> None:
        """Release the window (if any)."""


class NullSink:
    """A sink that draws nothing: it keeps what it was given.

    Attributes:
        kinds, times: the kind and ``t`` [s] of every frame.
        last: the fields of the last frame, or None.
        closed: whether :meth:`close` was called.
    """

    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.times: list[float] = []
        self.last: dict[str, np.ndarray] | None = None
        self.closed = False

    @property
    def frames(self) -> int:
        """Number of frames received."""
        return len(self.times)

    def update(self, kind: str, t: float, fields: dict[str, np.ndarray]) -> None:
        if self.closed:
            raise RuntimeError("update after close")
        self.kinds.append(kind)
        self.times.append(float(t))
        self.last = {k: np.array(v, copy=True) for k, v in fields.items()}

    def close(self) -> None:
        self.closed = True
