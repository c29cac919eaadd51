"""Pictures of twin results.

Importing :mod:`viewer` is light: matplotlib and pyvista load only when one of
the functions below is first used.

- :func:`write_flood_pictures` -- all flood pictures of a Result into a folder.
- :func:`plot_peak_depth`, :func:`plot_froude`, :func:`plot_hydrographs` -- maps
  and probe series (matplotlib).
- :func:`render_oblique` -- a 3D oblique view of the peak flood (pyvista).
- :func:`hillshade`, :func:`froude_number` -- the numbers behind the pictures.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from viewer.flood_maps import froude_number, hillshade, plot_froude, plot_hydrographs, plot_peak_depth
    from viewer.flood_report import write_flood_pictures
    from viewer.oblique import render_oblique

_HOMES = {
    "froude_number": "viewer.flood_maps",
    "hillshade": "viewer.flood_maps",
    "plot_froude": "viewer.flood_maps",
    "plot_hydrographs": "viewer.flood_maps",
    "plot_peak_depth": "viewer.flood_maps",
    "render_oblique": "viewer.oblique",
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
