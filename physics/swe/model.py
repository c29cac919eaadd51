"""Model / State / Control of the shallow-water solver (Newton's split by lifetime).

* :class:`Model` — what never changes during a run: the grid, the bed, Manning's
  n, solid cells, boundary kinds, the numerical options. Built on the host by
  :meth:`Model.from_arrays` (or :meth:`Model.from_scene`), uploaded once.
* :class:`State` — what changes each step: depth and discharges, plus the
  infiltrated depth. Double-buffered by the caller.
* :class:`Control` — what is driven from outside: rain, inflows, boundary stage
  or discharge, each a function of time evaluated on the host every stage.

All cell arrays are flattened row-major, ``k = j * nx + i`` (shape (ny * nx,) on
the device); NumPy views of shape (ny, nx) have row 0 in the south.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import warp as wp
from twin.physics.device import init_warp
from twin.physics.swe.kernels import BOUNDARY_CODES

from twin.errors import InputError
from twin.scene import EDGES, TimeSeries

GRAVITY = 9.80665
"""Standard gravity [m/s^2]."""

DTYPES = {"float32": wp.float32, "float64": wp.float64}


def _cell_name(k: int, nx: int) -> str:
    j, i = divmod(int(k), nx)
    return f"cell (i={i}, j={j})"


def check_field(name: str, values: np.ndarray, shape: tuple[int, int], *, minimum: float | None = None) -> np.ndarray:
    """Return ``values`` as a float64 (ny, nx) array or raise an InputError naming
    ``name`` and the first offending cell (wrong shape, NaN/Inf, below ``minimum``)."""
    a = np.asarray(values, dtype=np.float64)
    if a.ndim == 0:
        a = np.full(shape, float(a))
    if a.shape != shape:
        raise InputError(name, "", f"shape {a.shape} does not match the grid {shape}")
    bad = ~np.isfinite(a)
    if bad.any():
        k = int(np.flatnonzero(bad.ravel())[0])
        raise InputError(name, _cell_name(k, shape[1]), f"value {a.ravel()[k]} is not finite")
    if minimum is not None and (a < minimum).any():
        k = int(np.flatnonzero((a < minimum).ravel())[0])
        raise InputError(name, _cell_name(k, shape[1]), f"value {a.ravel()[k]} is below {minimum}")
    return a


@dataclass
class Model:
    """Static description of a shallow-water problem on a structured grid.

    Attributes:
        nx, ny: number of cells along x (east) and y (north).
        dx, dy: cell size [m].
        x0, y0: lower-left corner of the grid [m, scene CRS].
        z_ref: elevation subtracted from the bed on the device [m] (keeps float32 precise).
        bed: bed elevation on the device, relative to ``z_ref`` [m], (ny*nx,).
        manning_n: Manning's n [s m^-1/3], (ny*nx,).
        solid: 1 where a cell is a wall (a building cut out), (ny*nx,) uint8.
        boundary_kinds: edge -> "wall" | "transmissive" | "stage" | "discharge" for a
            whole edge, or "spans" for an edge with boundaries on stretches of it.
        boundary_spans: edge -> [(kind, c0, c1), ...] for the "spans" edges: the kind
            of the faces of the edge's cells c0 .. c1-1 (counted south to north on
            west/east edges, west to east on south/north); walls elsewhere.
        order: 1 (first order in space and time) or 2 (MUSCL-minmod + Heun).
        cfl: Courant number of the adaptive step, dt * ((|u|+c)/dx + (|v|+c)/dy) <= cfl;
            0.5 is the positivity limit of the second-order scheme.
        h_dry: depth [m] below which a cell's velocity is zero and its momentum is dropped.
        dtype: "float32" or "float64", the precision of the state and the kernels.
        device: the Warp device the arrays live on.
    """

    nx: int
    ny: int
    dx: float
    dy: float
    x0: float
    y0: float
    z_ref: float
    bed: wp.array
    manning_n: wp.array
    solid: wp.array
    boundary_kinds: dict[str, str]
    boundary_spans: dict[str, list[tuple[str, int, int]]] = field(default_factory=dict)
    order: int = 2
    cfl: float = 0.5
    h_dry: float = 1e-4
    g: float = GRAVITY
    dtype: str = "float32"
    device: str = "cpu"

    @property
    def real(self):
        return DTYPES[self.dtype]

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ny, self.nx)

    @property
    def cell_area(self) -> float:
        return self.dx * self.dy

    def x_centres(self) -> np.ndarray:
        """Cell-centre x [m, scene CRS], (nx,)."""
        return self.x0 + (np.arange(self.nx) + 0.5) * self.dx

    def y_centres(self) -> np.ndarray:
        """Cell-centre y [m, scene CRS], (ny,)."""
        return self.y0 + (np.arange(self.ny) + 0.5) * self.dy

    def bed_elevation(self) -> np.ndarray:
        """Bed elevation [m] in the scene's datum, (ny, nx) float64."""
        return self.bed.numpy().astype(np.float64).reshape(self.shape) + self.z_ref

    @classmethod
    def from_arrays(
        cls,
        bed: np.ndarray,
        *,
        dx: float,
        dy: float | None = None,
        x0: float = 0.0,
        y0: float = 0.0,
        manning_n: float | np.ndarray = 0.0,
        solid: np.ndarray | None = None,
        boundaries: dict[str, str] | None = None,
        order: int = 2,
        cfl: float = 0.5,
        h_dry: float = 1e-4,
        g: float = GRAVITY,
        dtype: str = "float32",
        device: str | None = None,
    ) -> "Model":
        """Build and upload a Model from host arrays of shape (ny, nx) (row 0 south).

        ``boundaries`` maps edges to a kind, or to a list of (kind, c0, c1) spans of the
        edge's cells c0 .. c1-1 (non-overlapping, walls elsewhere); missing edges are walls.
        """
        bed = np.asarray(bed, dtype=np.float64)
        if bed.ndim != 2 or min(bed.shape) < 1:
            raise InputError("bed", "", f"expected a 2-D array of shape (ny, nx), got {bed.shape}")
        shape = bed.shape
        bed = check_field("bed", bed, shape)
        n = check_field("manning_n", manning_n, shape, minimum=0.0)
        dy = dx if dy is None else dy
        for name, v in (("dx", dx), ("dy", dy)):
            if not (np.isfinite(v) and v > 0):
                raise InputError(name, "", f"cell size must be a positive number of metres, got {v}")
        if dtype not in DTYPES:
            raise InputError("dtype", "", f"unknown precision {dtype!r}; expected float32 or float64")
        if order not in (1, 2):
            raise InputError("order", "", f"order must be 1 or 2, got {order}")
        if not (0 < cfl <= 1.0):
            raise InputError("cfl", "", f"Courant number must lie in (0, 1], got {cfl}")
        kinds = {e: "wall" for e in EDGES}
        spans = {}
        for edge, kind in (boundaries or {}).items():
            if edge not in kinds:
                raise InputError("boundaries", edge, f"unknown edge; expected one of {', '.join(EDGES)}")
            if not isinstance(kind, str):
                spans[edge] = _check_spans(edge, kind, shape[0] if edge in ("west", "east") else shape[1])
                kind = "spans"
            elif kind not in BOUNDARY_CODES:
                raise InputError("boundaries", edge, f"unknown boundary kind {kind!r}; expected one of {', '.join(BOUNDARY_CODES)}")
            kinds[edge] = kind
        solid_u8 = np.zeros(shape, np.uint8) if solid is None else np.asarray(solid).astype(bool).astype(np.uint8)
        if solid_u8.shape != shape:
            raise InputError("solid", "", f"shape {solid_u8.shape} does not match the grid {shape}")
        init_warp()
        device = wp.get_device(device)
        real = DTYPES[dtype]
        z_ref = float(np.min(bed))
        return cls(
            nx=shape[1], ny=shape[0], dx=float(dx), dy=float(dy), x0=float(x0), y0=float(y0), z_ref=z_ref,
            bed=wp.array((bed - z_ref).ravel(), dtype=real, device=device),
            manning_n=wp.array(n.ravel(), dtype=real, device=device),
            solid=wp.array(solid_u8.ravel(), dtype=wp.uint8, device=device),
            boundary_kinds=kinds, boundary_spans=spans, order=order, cfl=float(cfl), h_dry=float(h_dry), g=float(g),
            dtype=dtype, device=str(device),
        )

    def state(self, depth: float | np.ndarray = 0.0, u: float | np.ndarray = 0.0, v: float | np.ndarray = 0.0) -> "State":
        """A State from depth [m] and velocities [m/s] (scalars or (ny, nx) arrays).

        Depth must be finite and non-negative; solid cells are emptied.
        """
        h = check_field("depth", depth, self.shape, minimum=0.0)
        uu = check_field("u", u, self.shape)
        vv = check_field("v", v, self.shape)
        solid = self.solid.numpy().reshape(self.shape).astype(bool)
        h = np.where(solid, 0.0, h)
        return State.from_numpy(self, h, h * uu, h * vv)

    def state_from_stage(self, stage: float | np.ndarray) -> "State":
        """A State at rest with water surface ``stage`` [m] (depth = max(stage - bed, 0));
        NaN in ``stage`` means no water there."""
        bed = self.bed_elevation()
        stage = np.asarray(stage, dtype=np.float64)
        stage = check_field("stage", np.where(np.isnan(stage), bed, stage) if stage.ndim else stage, self.shape)
        return self.state(np.maximum(stage - bed, 0.0))


def _check_spans(edge: str, spans, n: int) -> list[tuple[str, int, int]]:
    """Validated (kind, c0, c1) spans of an edge of n cells, sorted by c0."""
    out = []
    for kind, c0, c1 in spans:
        if kind not in BOUNDARY_CODES:
            raise InputError("boundaries", edge, f"unknown boundary kind {kind!r}; expected one of {', '.join(BOUNDARY_CODES)}")
        if not (0 <= c0 < c1 <= n):
            raise InputError("boundaries", edge, f"span of cells {c0} .. {c1 - 1} lies outside the edge's cells 0 .. {n - 1}")
        out.append((kind, int(c0), int(c1)))
    order = sorted(range(len(out)), key=lambda k: out[k][1])
    for a, b in zip(order, order[1:]):
        if out[b][1] < out[a][2]:
            raise InputError("boundaries", edge, f"span of cells {out[b][1]} .. {out[b][2] - 1} overlaps {out[a][1]} .. {out[a][2] - 1}")
    return out


def edge_cells(model: "Model", edge: str) -> tuple[int, int]:
    """(first cell, stride) of an edge's cells: cell c along it is first + c * stride."""
    nx, ny = model.nx, model.ny
    return {"west": (0, nx), "east": (nx - 1, nx), "south": (0, 1), "north": ((ny - 1) * nx, 1)}[edge]


@dataclass
class RainFrames:
    """A rain field on the solver's grid, linear in time between consecutive frames.

    Attributes:
        times: frame times [s, run time], shape (n,), non-decreasing; two equal
            times make a step (rates constant over intervals: amounts differenced).
        frame: i -> rain rate [m/s] of frame i, (ny, nx) (may regrid on demand).
        mask: where it may rain, (ny, nx) bool, or None: everywhere (the solver
            keeps the tiles there computed).
    No rain before ``times[0]`` or after ``times[-1]``.
    """

    times: np.ndarray
    frame: Callable[[int], np.ndarray]
    mask: np.ndarray | None = None

    def bracket(self, t: float, left: bool = False) -> tuple[int, int, float] | None:
        """(i, i + 1, w): the frames whose times bracket t [s] and the weight of the later
        one (rain = (1 - w) frame_i + w frame_i+1); None outside the frames' times. At a
        step (a repeated time), the rain just after t, or just before it with ``left``
        (the end of a time step)."""
        ts = self.times
        inside = ts[0] < t <= ts[-1] if left else ts[0] <= t < ts[-1]
        if len(ts) < 2 or not inside:
            return None
        i = int(np.searchsorted(ts, t, side="left" if left else "right")) - 1
        return i, i + 1, (t - ts[i]) / (ts[i + 1] - ts[i])


@dataclass
class State:
    """What changes every step: depth h [m], discharges hu, hv [m^2/s] and the
    cumulative infiltrated depth [m], each (ny*nx,) on the device."""

    h: wp.array
    hu: wp.array
    hv: wp.array
    infiltrated: wp.array

    @classmethod
    def from_numpy(cls, model: Model, h: np.ndarray, hu: np.ndarray, hv: np.ndarray, infiltrated: np.ndarray | None = None) -> "State":
        """Upload (ny, nx) host arrays; values are checked (NaN/Inf, negative depth)."""
        shape = model.shape
        arrays = {
            "h": check_field("state.h", h, shape, minimum=0.0),
            "hu": check_field("state.hu", hu, shape),
            "hv": check_field("state.hv", hv, shape),
            "infiltrated": check_field("state.infiltrated", 0.0 if infiltrated is None else infiltrated, shape, minimum=0.0),
        }
        return cls(**{k: wp.array(a.ravel(), dtype=model.real, device=model.device) for k, a in arrays.items()})

    def numpy(self) -> dict[str, np.ndarray]:
        """Host copies, flattened (ny*nx,) in the state's precision."""
        return {name: getattr(self, name).numpy() for name in ("h", "hu", "hv", "infiltrated")}

    def load(self, arrays: dict[str, np.ndarray]) -> None:
        """Upload host arrays of :meth:`numpy` (a checkpoint) into this state's buffers."""
        for name, values in arrays.items():
            getattr(self, name).assign(values)

    def assign(self, other: "State") -> None:
        """Copy ``other`` into this state's buffers."""
        for name in ("h", "hu", "hv", "infiltrated"):
            wp.copy(getattr(self, name), getattr(other, name))

    def clone(self) -> "State":
        return State(*(wp.clone(getattr(self, n)) for n in ("h", "hu", "hv", "infiltrated")))


@dataclass
class Control:
    """What drives the flow from outside, as functions of time.

    Attributes:
        rain_rate: rain pattern [m/s] per cell, (ny, nx) host array, or None.
        rain_scale: multiplier of the pattern over time (1 = the pattern itself).
        infiltration_rate: loss rate [m/s] per cell, (ny, nx), or None.
        source_of_cell: index of the inflow feeding each cell, -1 for none, (ny, nx) int, or None.
        source_discharge: one TimeSeries per inflow [m^3/s].
        boundary_series: edge -> stage [m] or discharge over the whole edge [m^3/s]
            for "stage" and "discharge" boundaries.
        span_series: edge -> one entry per span of ``model.boundary_spans[edge]``: the
            stage [m] or the span's discharge [m^3/s] over time, None for the others.
        rain_field: rain [m/s] from gridded frames, instead of rain_rate * rain_scale.
        initial_loss: ARR initial loss [m] per cell, (ny, nx), or None.
        continuing_loss: ARR continuing loss rate [m/s] per cell, (ny, nx) (with initial_loss).
    """

    rain_rate: np.ndarray | None = None
    rain_scale: TimeSeries = field(default_factory=lambda: TimeSeries.constant(1.0))
    infiltration_rate: np.ndarray | None = None
    source_of_cell: np.ndarray | None = None
    source_discharge: list[TimeSeries] = field(default_factory=list)
    boundary_series: dict[str, TimeSeries] = field(default_factory=dict)
    span_series: dict[str, list[TimeSeries | None]] = field(default_factory=dict)
    rain_field: RainFrames | None = None
    initial_loss: np.ndarray | None = None
    continuing_loss: np.ndarray | None = None

    def validate(self, model: Model) -> None:
        """Raise an InputError naming the field and cell of the first bad value."""
        if self.rain_rate is not None:
            check_field("control.rain_rate", self.rain_rate, model.shape, minimum=0.0)
        if self.infiltration_rate is not None:
            check_field("control.infiltration_rate", self.infiltration_rate, model.shape, minimum=0.0)
        if (self.initial_loss is None) != (self.continuing_loss is None):
            raise InputError("control.initial_loss", "", "initial and continuing losses go together")
        if self.initial_loss is not None:
            check_field("control.initial_loss", self.initial_loss, model.shape, minimum=0.0)
            check_field("control.continuing_loss", self.continuing_loss, model.shape, minimum=0.0)
        if self.rain_field is not None and self.rain_rate is not None:
            raise InputError("control.rain_field", "", "give either rain_rate or rain_field, not both")
        for edge, spans in model.boundary_spans.items():
            series = self.span_series.get(edge, [None] * len(spans))
            if len(series) != len(spans):
                raise InputError("control.span_series", edge, f"{len(series)} series for {len(spans)} spans")
            for (kind, c0, c1), s in zip(spans, series):
                if kind in ("stage", "discharge") and s is None:
                    raise InputError("control.span_series", edge, f"the {kind} span of cells {c0} .. {c1 - 1} needs a time series")
        if self.source_of_cell is not None:
            s = np.asarray(self.source_of_cell)
            if s.shape != model.shape:
                raise InputError("control.source_of_cell", "", f"shape {s.shape} does not match the grid {model.shape}")
            if s.max(initial=-1) >= len(self.source_discharge):
                raise InputError("control.source_of_cell", "", f"names inflow {s.max()} but only {len(self.source_discharge)} are given")
        for edge, kind in model.boundary_kinds.items():
            if kind in ("stage", "discharge") and edge not in self.boundary_series:
                raise InputError("control.boundary_series", edge, f"a {kind} boundary needs a time series")


def edge_value(model: Model, control: Control, edge: str, t: float) -> float:
    """What the kernels get for an edge at time t [s]: the stage relative to
    ``model.z_ref`` [m] for "stage", the discharge per unit width [m^2/s] for
    "discharge" (the edge's discharge spread over its whole length), else 0."""
    kind = model.boundary_kinds[edge]
    if kind == "stage":
        return control.boundary_series[edge](t) - model.z_ref
    if kind == "discharge":
        length = model.ny * model.dy if edge in ("west", "east") else model.nx * model.dx
        return control.boundary_series[edge](t) / length
    return 0.0


def edge_wave_rate(model: Model, control: Control, t: float, lowest_bed: dict[str, float]) -> float:
    """Largest (|u| + c) / dn [1/s] of the water a stage or discharge edge can send in at
    time t: 2 sqrt(g h) / dn with h the deepest ghost depth (stage above the edge's
    lowest bed ``lowest_bed[edge]`` [m, relative to z_ref]) or the critical depth of the
    discharge; inflow through such edges is at most critical."""
    rate = 0.0
    for edge, kind in model.boundary_kinds.items():
        if kind == "stage":
            h = max(edge_value(model, control, edge, t) - lowest_bed[edge], 0.0)
        elif kind == "discharge":
            q = edge_value(model, control, edge, t)
            h = (q * q / model.g) ** (1.0 / 3.0)
        else:
            continue
        dn = model.dx if edge in ("west", "east") else model.dy
        rate = max(rate, 2.0 * (model.g * h) ** 0.5 / dn)
    return rate


def lowest_edge_bed(model: Model) -> dict[str, float]:
    """Lowest bed [m, relative to z_ref] along each edge, over its open cells."""
    bed = model.bed.numpy().astype(np.float64).reshape(model.shape)
    bed = np.where(model.solid.numpy().reshape(model.shape) == 0, bed, np.inf)
    return {"west": float(bed[:, 0].min()), "east": float(bed[:, -1].min()),
            "south": float(bed[0, :].min()), "north": float(bed[-1, :].min())}
