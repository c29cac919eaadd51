"""The viewer protocol: a sink that frames of a run or a Result are handed to.

A producer (the live simulation, a video writer, the desktop window) calls, for
every frame, ``begin_frame(t)``, then ``log_state(frame)``, then
``end_frame()``; the viewer draws at ``end_frame``. :class:`NullViewer` draws
nothing and records what it was given, for tests and headless runs;
:class:`viewer.view3d.View3D` draws with PyVista.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from viewer.fields import Frame

__all__ = ["NullViewer", "Viewer"]


@runtime_checkable
class Viewer(Protocol):
    """What a frame producer needs from a viewer."""

    def begin_frame(self, t: float) -> None:
        """Start the frame at simulated time ``t`` [s]."""

    def log_state(self, frame: Frame) -> None:
        """The water of the frame."""

    def end_frame(self) -> None:
        """Finish (draw) the frame."""


class NullViewer:
    """A viewer that draws nothing: it checks the call order and keeps what it was given.

    Attributes:
        times: the ``t`` [s] of every finished frame.
        last: the last frame logged, or None.
    """

    def __init__(self) -> None:
        self.times: list[float] = []
        self.last: Frame | None = None
        self._open: float | None = None

    @property
    def frames(self) -> int:
        """Number of frames finished."""
        return len(self.times)

    def begin_frame(self, t: float) -> None:
        if self._open is not None:
            raise RuntimeError("begin_frame called twice without end_frame")
        self._open = float(t)

    def log_state(self, frame: Frame) -> None:
        if self._open is None:
            raise RuntimeError("log_state called outside begin_frame/end_frame")
        self.last = frame

    def end_frame(self) -> None:
        if self._open is None:
            raise RuntimeError("end_frame called without begin_frame")
        self.times.append(self._open)
        self._open = None
