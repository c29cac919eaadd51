"""A 3D oblique picture of the peak flood (``oblique.png`` of ``twin run --pictures``).

The peak water over the ground and buildings, seen from the south-west with
the whole site in the picture, rendered off screen with the ``high`` preset
of :mod:`twin.viewer.quality` (see :mod:`twin.viewer.view3d`).
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import xarray as xr

from twin.scene import Scene

__all__ = ["render_oblique"]


def render_oblique(
    ds: xr.Dataset,
    path: str | PathLike,
    *,
    window_size: tuple[int, int] = (1600, 1000),
    z_exaggeration: float = 2.0,
    quality: str = "high",
    scene: Scene | None = None,
    key: str = "",
) -> Path:
    """Render the peak flood of a Result in 3D, seen from the south-west, to a PNG.

    Args:
        ds: a flood Result (layout in :mod:`twin.viewer.flood_report`).
        path: the PNG to write.
        window_size: picture size (width, height) [px].
        z_exaggeration: factor on heights.
        quality: ``draft``, ``high`` or ``cinematic``.
        scene: the Scene the Result was run on (building footprints, roads), if known.
        key: the scene script's stem (camera presets).

    Returns:
        The path of the PNG written.
    """
    from twin.viewer.fields import History
    from twin.viewer.geometry import Site
    from twin.viewer.render import render_still
    from twin.viewer.sources import Source

    source = Source(Path(path), Site.from_result(ds, scene, key=key), History.from_result(ds), ds, scene)
    return render_still(source, path, time=None, quality=quality, size=window_size, camera="oblique",
                        z_scale=z_exaggeration)
