"""Building the flood solver's Model and Control from a Scene."""

from __future__ import annotations


from physics.swe.model import Control, Model
from twin.raster import MM_PER_H, FloodGrid, rasterise
from twin.scene import Scene


def flood_problem(
    scene: Scene,
    *,
    resolution: float,
    buildings: str = "raise",
    order: int = 2,
    cfl: float = 0.5,
    h_dry: float = 1e-4,
    dtype: str = "float32",
    device: str | None = None,
) -> tuple[Model, Control, FloodGrid]:
    """Rasterise ``scene`` at ``resolution`` [m] and build the solver's Model and Control."""
    fg = rasterise(scene, resolution, buildings=buildings)
    g = fg.grid
    model = Model.from_arrays(
        fg.bed, dx=g.dx, dy=g.dy, x0=g.x0, y0=g.y0, manning_n=fg.manning_n, solid=fg.solid,
        boundaries={e: b.kind for e, b in scene.boundaries.items()},
        order=order, cfl=cfl, h_dry=h_dry, dtype=dtype, device=device,
    )
    control = Control(
        source_of_cell=fg.source_of_cell if scene.inflows else None,
        source_discharge=[s.discharge for s in scene.inflows],
        boundary_series={e: b.series for e, b in scene.boundaries.items() if b.series is not None},
    )
    if scene.rain is not None:
        control.rain_rate = fg.rain_mask * MM_PER_H
        control.rain_scale = scene.rain.intensity
        if scene.rain.infiltration > 0:
            control.infiltration_rate = fg.rain_mask * scene.rain.infiltration * MM_PER_H
    return model, control, fg


__all__ = ["flood_problem"]
