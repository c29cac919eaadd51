"""Pictures of twin scenes and results: maps, 3D stills and videos, a desktop window, a live view.

Importing :mod:`viewer` is light: matplotlib and pyvista load only when one of
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
    from viewer.cameras import Camera
    from viewer.fields import FIELDS, Frame, History, field_values, water_surface
    from viewer.flood_maps import froude_number, hillshade, plot_froude, plot_hydrographs, plot_peak_depth
    from viewer.flood_report import write_flood_pictures
    from viewer.geometry import Site, sun_shadow
    from viewer.kinds import KINDS, open_any
    from viewer.live import LiveViewer
    from viewer.oblique import render_oblique
    from viewer.plume3d import PlumeView, PlumeWindow
    from viewer.quality import QUALITIES, Quality
    from viewer.render import render_still, render_video
    from viewer.robot import RobotView, RobotWindow
    from viewer.sink import NullSink, Sink
    from viewer.sources import Source, open_source
    from viewer.view3d import View3D
    from viewer.window import FloodWindow

_HOMES = {
    "Camera": "viewer.cameras",
    "FIELDS": "viewer.fields",
    "FloodWindow": "viewer.window",
    "Frame": "viewer.fields",
    "History": "viewer.fields",
    "KINDS": "viewer.kinds",
    "LiveViewer": "viewer.live",
    "NullSink": "viewer.sink",
    "PlumeView": "viewer.plume3d",
    "PlumeWindow": "viewer.plume3d",
    "QUALITIES": "viewer.quality",
    "Quality": "viewer.quality",
    "RobotView": "viewer.robot",
    "RobotWindow": "viewer.robot",
    "Site": "viewer.geometry",
    "Sink": "viewer.sink",
    "Source": "viewer.sources",
    "View3D": "viewer.view3d",
    "field_values": "viewer.fields",
    "froude_number": "viewer.flood_maps",
    "hillshade": "viewer.flood_maps",
    "open_any": "viewer.kinds",
    "open_source": "viewer.sources",
    "plot_froude": "viewer.flood_maps",
    "plot_hydrographs": "viewer.flood_maps",
    "plot_peak_depth": "viewer.flood_maps",
    "render_oblique": "viewer.oblique",
    "render_still": "viewer.render",
    "render_video": "viewer.render",
    "sun_shadow": "viewer.geometry",
    "water_surface": "viewer.fields",
    "write_flood_pictures": "viewer.flood_report",
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
