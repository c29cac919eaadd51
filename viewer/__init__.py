"""Pictures of twin scenes and results: maps, 3D stills and videos, a desktop window, a live view.

Importing :mod:`twin.viewer` is light: matplotlib and pyvista load only when one of
the names below is first used.

- :func:`write_flood_pictures` -- all flood pictures of a Result into a folder.
- :func:`plot_peak_depth`, :func:`plot_froude`, :func:`plot_hydrographs` -- maps
  and probe series (matplotlib); :func:`hillshade`, :func:`froude_number`.
- :func:`open_source` -- a Result folder, scene script or scene file to look at.
- :func:`render_still`, :func:`render_video`, :func:`render_oblique` -- off-screen
  3D pictures and videos (pyvista) at a quality preset of :data:`QUALITIES`,
  from a :class:`Camera`.
- :class:`View3D` -- the flood's 3D view, a sink for frames; :class:`NullSink` draws nothing.
- :class:`RobotView`, :class:`PlumeView` -- the robot cell's and the plume's 3D views.
- :class:`FloodWindow`, :class:`RobotWindow`, :class:`PlumeWindow` -- the desktop windows of ``twin view``.
- :data:`KINDS`, :func:`open_any` -- the registry of kinds: what render, view, pictures and live do with each.
- :class:`LiveViewer` -- an ``on_step`` callback showing a running simulation of any kind.
- :class:`Site`, :class:`History`, :class:`Frame`, :func:`field_values`,
  :func:`water_surface`, :func:`sun_shadow` -- the numbers behind the pictures.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twin.viewer.cameras import Camera
    from twin.viewer.fields import FIELDS, Frame, History, field_values, water_surface
    from twin.viewer.flood_maps import froude_number, hillshade, plot_froude, plot_hydrographs, plot_peak_depth
    from twin.viewer.flood_report import write_flood_pictures
    from twin.viewer.geometry import Site, sun_shadow
    from twin.viewer.kinds import KINDS, open_any
    from twin.viewer.live import LiveViewer
    from twin.viewer.oblique import render_oblique
    from twin.viewer.plume3d import PlumeView, PlumeWindow
    from twin.viewer.quality import QUALITIES, Quality
    from twin.viewer.render import render_still, render_video
    from twin.viewer.robot import RobotView, RobotWindow
    from twin.viewer.sink import NullSink, Sink
    from twin.viewer.sources import Source, open_source
    from twin.viewer.view3d import View3D
    from twin.viewer.window import FloodWindow

_HOMES = {
    "Camera": "twin.viewer.cameras",
    "FIELDS": "twin.viewer.fields",
    "FloodWindow": "twin.viewer.window",
    "Frame": "twin.viewer.fields",
    "History": "twin.viewer.fields",
    "KINDS": "twin.viewer.kinds",
    "LiveViewer": "twin.viewer.live",
    "NullSink": "twin.viewer.sink",
    "PlumeView": "twin.viewer.plume3d",
    "PlumeWindow": "twin.viewer.plume3d",
    "QUALITIES": "twin.viewer.quality",
    "Quality": "twin.viewer.quality",
    "RobotView": "twin.viewer.robot",
    "RobotWindow": "twin.viewer.robot",
    "Site": "twin.viewer.geometry",
    "Sink": "twin.viewer.sink",
    "Source": "twin.viewer.sources",
    "View3D": "twin.viewer.view3d",
    "field_values": "twin.viewer.fields",
    "froude_number": "twin.viewer.flood_maps",
    "hillshade": "twin.viewer.flood_maps",
    "open_any": "twin.viewer.kinds",
    "open_source": "twin.viewer.sources",
    "plot_froude": "twin.viewer.flood_maps",
    "plot_hydrographs": "twin.viewer.flood_maps",
    "plot_peak_depth": "twin.viewer.flood_maps",
    "render_oblique": "twin.viewer.oblique",
    "render_still": "twin.viewer.render",
    "render_video": "twin.viewer.render",
    "sun_shadow": "twin.viewer.geometry",
    "water_surface": "twin.viewer.fields",
    "write_flood_pictures": "twin.viewer.flood_report",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'viewer' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
