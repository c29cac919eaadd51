"""The shallow-water Solver: launches the kernels of :mod:`twin.physics.swe.kernels`."""

from __future__ import annotations

import numpy as np
import warp as wp
from twin.physics.device import cpu_launch_pool, run_parts
from twin.physics.swe.kernels import BOUNDARY_CODES, SPANS, TILE_SIZE, kernels_for
from twin.physics.swe.model import (
    Control,
    Model,
    State,
    _cell_name,
    edge_cells,
    edge_value,
    edge_wave_rate,
    lowest_edge_bed,
)

from twin.errors import InputError, SimulationError
from twin.scene import EDGES

MIN_TILES_TO_SKIP = 16
"""Grids of fewer tiles compute every tile (choosing would cost more than it saves)."""
MIN_TILES_PER_THREAD = 32
"""A launch is split over CPU threads only when each gets at least this many tiles."""


class LaunchCache:
    """Reusable Warp launches (``wp.launch(record_cmd=True)``), one per kernel and set of
    arrays (ping-pong states give a few; so do the per-thread tile lists): a launch re-packs only the scalars that
    changed since its last use, which saves most of Warp's per-launch cost in Python."""

    def __init__(self, device: str):
        self.device = device
        self._launches: dict = {}

    def __call__(self, kernel, dim: int, args: list) -> None:
        """Launch ``kernel`` over ``dim`` threads with ``args`` (inputs then outputs)."""
        if dim <= 0:
            return
        key = (kernel, *(id(a) for a in args if isinstance(a, wp.array)))
        entry = self._launches.get(key)
        if entry is None:
            cmd = wp.launch(kernel, dim=dim, inputs=args, device=self.device, record_cmd=True)
            self._launches[key] = (cmd, [dim], list(args))
        else:
            cmd, last_dim, last = entry
            if dim != last_dim[0]:
                cmd.set_dim(dim)
                last_dim[0] = dim
            for i, value in enumerate(args):
                if not isinstance(value, wp.array) and (type(value) is not type(last[i]) or value != last[i]):
                    cmd.set_param_at_index(i, value)
                    last[i] = value
        cmd.launch()


class FloodSolver:
    """2-D shallow-water equations, finite volumes, HLL + hydrostatic reconstruction.

    ``step(state_in, state_out, control, dt, t)`` advances by ``dt`` [s] from time
    ``t`` [s]; it launches kernels and touches nothing but ``state_out`` and the
    solver's own scratch and volume counters.

    The flux and update kernels run over square tiles of TILE_SIZE^2 cells, and
    skip the tiles with no water in them or in their 8 neighbours (water moves
    less than a cell a stage, so it cannot reach a skipped tile within a step).
    Skipped cells are dry, and stay dry in every buffer: a tile is still computed
    in the step after it was last active, and the first step of a new pair of
    buffers (anything but ping-pong) computes every tile. The results are bitwise
    those of computing every cell (``skip_dry_tiles=False``).

    On the CPU (``walk_lines``, the default there), a flux or update thread walks a
    whole line of a tile, so that each cell's reconstruction serves both of its faces
    and the index arithmetic is done once a line; on a GPU each thread takes one face
    or cell, for parallelism and coalesced access. Both compute every face and cell
    with the same arithmetic, so the results are bitwise the same.

    On the CPU, Warp runs a launch as one serial loop; the solver splits the
    active tiles of its atomic-free kernels (velocities, fluxes, update) into
    ``cpu_threads`` contiguous parts launched from as many Python threads (the
    native loop runs without the GIL). Every cell and face is computed by the same
    arithmetic whatever the split, so results do not depend on the thread count.

    Attributes:
        volume_from_sources: water added by rain and inflows so far [m^3] (host float64).
        boundary_inflow: water that entered through each edge so far [m^3], edge -> value.
    """

    def __init__(self, model: Model, control: Control | None = None, *, skip_dry_tiles: bool = True,
                 cpu_threads: int | None = None, walk_lines: bool | None = None):
        self.model = model
        self.skip_dry_tiles = skip_dry_tiles
        self.k = kernels_for(model.real)
        self.threads, self._pool = cpu_launch_pool(model.device, cpu_threads, vars(self.k).values(), "twin-swe")
        walk_lines = wp.get_device(model.device).is_cpu if walk_lines is None else walk_lines
        self._run = TILE_SIZE + 1 if walk_lines else 1  # faces a flux thread walks
        self._cell_run = TILE_SIZE if walk_lines else 1  # cells an update thread walks
        self._launch = LaunchCache(model.device)
        dev, real, n = model.device, model.real, model.nx * model.ny
        self._stage = State(*(wp.zeros(n, dtype=real, device=dev) for _ in range(4)))
        nfx = (model.nx + 1) * model.ny
        nfy = model.nx * (model.ny + 1)
        self._u = wp.zeros(n, dtype=real, device=dev)
        self._v = wp.zeros(n, dtype=real, device=dev)
        self._fx = [wp.zeros(nfx, dtype=real, device=dev) for _ in range(4)]
        self._fy = [wp.zeros(nfy, dtype=real, device=dev) for _ in range(4)]
        self._max_rate = wp.zeros(self.threads, dtype=real, device=dev)
        self._first_bad = wp.zeros(self.threads, dtype=wp.int32, device=dev)
        self._inflow = wp.zeros(4, dtype=wp.float64, device=dev)
        self._empty_real = wp.zeros(0, dtype=real, device=dev)
        self._empty_int = wp.zeros(0, dtype=wp.int32, device=dev)
        self._empty_f64 = wp.zeros(0, dtype=wp.float64, device=dev)
        self.clock = wp.zeros(0, dtype=wp.float64, device=dev)  # a DeviceClock's when it drives the solver
        self.member_rows = model.ny + 1  # grid rows per ensemble member (see physics/swe/clock.py)
        self._ntx = -(-model.nx // TILE_SIZE)
        self._nty = -(-model.ny // TILE_SIZE)
        ntiles = self._ntx * self._nty
        self._all_tiles = np.ones((self._nty, self._ntx), bool)
        self._tiles = wp.zeros(ntiles, dtype=wp.int32, device=dev)
        self._parts = [wp.zeros(ntiles, dtype=wp.int32, device=dev) for _ in range(self.threads)]
        self._tile_active = wp.zeros(ntiles, dtype=wp.uint8, device=dev)
        self._wet_tiles = wp.zeros(ntiles, dtype=wp.uint8, device=dev)
        self._set_tiles(self._all_tiles)
        self._previous_active = self._all_tiles
        self._last_pair = None
        self._lowest_bed = lowest_edge_bed(model)
        self._set_spans()
        self._t_end = 0.0
        self.volume_from_sources = 0.0
        self._control = None
        self.set_control(control or Control())

    # -- control ---------------------------------------------------------------------
    def set_control(self, control: Control) -> None:
        """Validate ``control`` and upload its static fields."""
        m = self.model
        control.validate(m)
        self._control = control
        dev, real = m.device, m.real
        self._rain = self._empty_real
        self._rain_next = self._empty_real
        self._rain_volume_rate = 0.0
        if control.rain_rate is not None:
            rain = np.asarray(control.rain_rate, dtype=np.float64) * ~self._solid_mask()
            self._rain = wp.array(rain.ravel(), dtype=real, device=dev)
            self._rain_volume_rate = float(self._rain.numpy().astype(np.float64).sum() * m.cell_area)
        if control.rain_field is not None:
            self._rain = wp.zeros(m.nx * m.ny, dtype=real, device=dev)
            self._rain_next = wp.zeros(m.nx * m.ny, dtype=real, device=dev)
            self._frames = (-1, -1)  # the field's frames in _rain and _rain_next
            self._frame_volume_rate = [0.0, 0.0]  # their volume rates [m^3/s]
        self._infiltration = None
        if control.infiltration_rate is not None or control.initial_loss is not None:
            rate = 0.0 if control.infiltration_rate is None else control.infiltration_rate
            self._infiltration = wp.array(np.broadcast_to(np.asarray(rate, np.float64), m.shape).ravel(), dtype=real, device=dev)
        self._initial_loss = self._continuing_loss = self._empty_real
        if control.initial_loss is not None:
            self._initial_loss = wp.array(np.asarray(control.initial_loss, np.float64).ravel(), dtype=real, device=dev)
            self._continuing_loss = wp.array(np.asarray(control.continuing_loss, np.float64).ravel(), dtype=real, device=dev)
        self._source_of_cell = self._empty_int
        self._source_cells = np.zeros(0)
        if control.source_of_cell is not None and len(control.source_discharge):
            soc = np.where(self._solid_mask(), -1, np.asarray(control.source_of_cell)).astype(np.int32)
            self._source_cells = np.bincount(soc[soc >= 0], minlength=len(control.source_discharge)).astype(np.float64)
            empty = np.flatnonzero(self._source_cells == 0)
            if empty.size:
                raise InputError("control.source_of_cell", f"inflow {int(empty[0])}", "feeds no open cell")
            self._source_of_cell = wp.array(soc.ravel(), dtype=wp.int32, device=dev)
        self._source_rate = wp.zeros(max(len(self._source_cells), 1), dtype=real, device=dev)
        feeds = np.zeros(m.shape, bool)
        if control.rain_field is not None:
            feeds |= True if control.rain_field.mask is None else np.asarray(control.rain_field.mask, bool)
        elif self._rain.shape[0]:
            feeds |= self._rain.numpy().reshape(m.shape) > 0
        if self._source_of_cell.shape[0]:
            feeds |= self._source_of_cell.numpy().reshape(m.shape) >= 0
        open_edges = {e for e, kind in m.boundary_kinds.items() if kind in ("stage", "discharge")}
        feeds[:, 0] |= "west" in open_edges
        feeds[:, -1] |= "east" in open_edges
        feeds[0, :] |= "south" in open_edges
        feeds[-1, :] |= "north" in open_edges
        for edge, spans in m.boundary_spans.items():
            first, stride = edge_cells(m, edge)
            for kind, c0, c1 in spans:
                if kind in ("stage", "discharge"):
                    feeds.ravel()[first + np.arange(c0, c1) * stride] = True
        self._fed_tiles = self._tile_reduce(feeds)
        self._span_drivers = [
            (edge, kind, c0, c1, series)
            for edge, spans in m.boundary_spans.items()
            for (kind, c0, c1), series in zip(spans, control.span_series.get(edge, [None] * len(spans)))
            if kind in ("stage", "discharge")
        ]

    # -- boundaries on spans of edges ------------------------------------------------
    def _span_offset(self, edge: str) -> int:
        """Where an edge's faces start in the per-face span arrays (west, east: ny faces;
        south, north: nx faces)."""
        m = self.model
        return {"west": 0, "east": m.ny, "south": 2 * m.ny, "north": 2 * m.ny + m.nx}[edge]

    def _set_spans(self) -> None:
        """Upload the per-face kinds of the edges with spans (walls between spans); a
        discharge span's cell count (for the CFL estimate) starts at 1, its worst case."""
        m = self.model
        dev = m.device
        n_faces = 2 * (m.nx + m.ny) if m.boundary_spans else 0
        kinds = np.full(n_faces, BOUNDARY_CODES["wall"], np.int32)
        solid = self._solid_mask().ravel()
        bed = m.bed.numpy().astype(np.float64)
        self._span_slot, self._span_lowest_bed = {}, {}
        for edge, spans in m.boundary_spans.items():
            first, stride = edge_cells(m, edge)
            for kind, c0, c1 in spans:
                kinds[self._span_offset(edge) + c0:self._span_offset(edge) + c1] = BOUNDARY_CODES[kind]
                cells = first + np.arange(c0, c1) * stride
                if kind in ("stage", "discharge") and solid[cells].all():
                    raise InputError("boundaries", edge, f"the {kind} span of cells {c0} .. {c1 - 1} has only solid cells")
                self._span_slot[(edge, c0)] = len(self._span_slot)
                self._span_lowest_bed[(edge, c0)] = float(bed[cells][~solid[cells]].min()) if (~solid[cells]).any() else 0.0
        self._span_kind = wp.array(kinds, dtype=wp.int32, device=dev)
        self._span_value = wp.zeros(n_faces, dtype=m.real, device=dev)
        self._span_cells = wp.array(np.ones(max(len(self._span_slot), 1), np.int32), dtype=wp.int32, device=dev)

    def _set_span_values(self, s: State, t: float) -> None:
        """Write the stage and discharge spans' face values at time t [s] from state s."""
        m = self.model
        for edge, kind, c0, c1, series in self._span_drivers:
            offset = self._span_offset(edge) + c0
            if kind == "stage":
                self._launch(self.k.fill_span, c1 - c0, [series(t) - m.z_ref, offset, self._span_value])
            else:
                first, stride = edge_cells(m, edge)
                width = m.dy if edge in ("west", "east") else m.dx
                self._launch(self.k.spread_span_discharge, 1,
                             [s.h, m.solid, m.bed, first + c0 * stride, stride, c1 - c0, series(t), width, m.h_dry, offset,
                              self._span_slot[(edge, c0)], self._span_value, self._span_cells])

    def _span_wave_rate(self, t: float) -> float:
        """As :func:`edge_wave_rate` for the stage and discharge spans at time t [s]; a
        discharge span's water is taken over as many cells as at its last spreading."""
        m = self.model
        if not self._span_drivers:
            return 0.0
        cells = self._span_cells.numpy()
        rate = 0.0
        for edge, kind, c0, _c1, series in self._span_drivers:
            dn, width = (m.dx, m.dy) if edge in ("west", "east") else (m.dy, m.dx)
            if kind == "stage":
                h = max(series(t) - m.z_ref - self._span_lowest_bed[(edge, c0)], 0.0)
            else:
                q = series(t) / (cells[self._span_slot[(edge, c0)]] * width)
                h = (q * q / m.g) ** (1.0 / 3.0)
            rate = max(rate, 2.0 * (m.g * h) ** 0.5 / dn)
        return rate

    def _tile_reduce(self, mask: np.ndarray) -> np.ndarray:
        """(ny, nx) bool -> (nty, ntx) bool: tiles holding any True cell."""
        t = TILE_SIZE
        padded = np.zeros((self._nty * t, self._ntx * t), bool)
        padded[: mask.shape[0], : mask.shape[1]] = mask
        return padded.reshape(self._nty, t, self._ntx, t).any(axis=(1, 3))

    def _select_tiles(self, state_in: State, state_out: State) -> None:
        """Choose the tiles to compute this step (see the class docstring)."""
        m = self.model
        pair = (id(state_out), id(state_in))
        ping_pong = self._last_pair is not None and pair == self._last_pair[::-1]
        self._last_pair = pair
        if not self.skip_dry_tiles or self._all_tiles.size < MIN_TILES_TO_SKIP:
            return
        if ping_pong:
            self._wet_tiles.zero_()  # water can only be in the tiles computed last step
            self._launch_tiled(self.k.mark_wet_tiles, TILE_SIZE * TILE_SIZE,
                               lambda tiles, part: [state_in.h, tiles, self._ntx, m.nx, m.ny], [self._wet_tiles])
            wet = self._wet_tiles.numpy().reshape(self._nty, self._ntx).astype(bool) | self._fed_tiles
            grown = np.pad(wet, 1)
            active = np.zeros_like(wet)
            for dj in range(3):
                for di in range(3):
                    active |= grown[dj:dj + self._nty, di:di + self._ntx]
        else:
            active = self._all_tiles
        compute = active | self._previous_active
        self._previous_active = active
        if not np.array_equal(compute, self._computed):
            self._set_tiles(compute)

    def _set_tiles(self, compute: np.ndarray) -> None:
        """Upload the tiles to compute, (nty, ntx) bool, as a list and per-thread parts."""
        self._computed = compute
        ids = np.flatnonzero(compute.ravel()).astype(np.int32)
        self._n_active = len(ids)
        buf = np.zeros(self._ntx * self._nty, np.int32)
        buf[: len(ids)] = ids
        self._tiles.assign(buf)
        self._tile_active.assign(compute.ravel().astype(np.uint8))
        chunks = np.array_split(ids, self.threads)
        self._part_sizes = [len(c) for c in chunks]
        if self._pool is not None:
            for part, chunk in zip(self._parts, chunks):
                buf[: len(chunk)] = chunk
                part.assign(buf)

    def _launch_tiled(self, kernel, per_tile: int, inputs, outputs) -> None:
        """Launch ``kernel`` over the tiles to compute, ``per_tile`` threads each;
        ``inputs(tiles, part)`` gives the kernel's inputs for a tile list and the index
        of the concurrent launch (for per-launch reduction slots). Split across CPU threads."""
        if self._pool is None or self._n_active < MIN_TILES_PER_THREAD * self.threads:
            self._launch(kernel, self._n_active * per_tile, [*inputs(self._tiles, 0), *outputs])
            return
        run_parts(self._pool, self._launch, [(kernel, n * per_tile, [*inputs(tiles, part), *outputs])
                                             for part, (tiles, n) in enumerate(zip(self._parts, self._part_sizes)) if n])

    def _solid_mask(self) -> np.ndarray:
        return self.model.solid.numpy().reshape(self.model.shape).astype(bool)

    def _edge_value(self, edge: str, t: float | None) -> float:
        return 0.0 if t is None else edge_value(self.model, self._control, edge, t)

    def _load_rain_frames(self, i: int, j: int) -> None:
        """Have frames i and j of the rain field in ``_rain`` and ``_rain_next``; when the
        field moves on by one interval, the later frame is copied on the device, not
        regridded again."""
        if (i, j) == self._frames:
            return
        if i == self._frames[1]:
            wp.copy(self._rain, self._rain_next)
            self._frame_volume_rate[0] = self._frame_volume_rate[1]
        else:
            self._frame_volume_rate[0] = self._upload_frame(self._rain, i)
        self._frame_volume_rate[1] = self._upload_frame(self._rain_next, j)
        self._frames = (i, j)

    def _upload_frame(self, target: wp.array, k: int) -> float:
        """Upload frame k of the rain field (zero in solid cells); return its volume rate [m^3/s]."""
        frame = np.asarray(self._control.rain_field.frame(k), np.float64) * ~self._solid_mask()
        target.assign(frame.ravel())
        return float(target.numpy().astype(np.float64).sum() * self.model.cell_area)

    def _set_sources(self, t: float, end_of_step: bool = False) -> tuple[float, float, float]:
        """Upload inflow rates (and rain frames) at time t; return (rain scale, weight of
        the next rain frame, source volume rate [m^3/s]). At the ``end_of_step`` (Heun's
        second stage), a rain field's step in time is taken from before t."""
        c = self._control
        weight = 0.0
        if c.rain_field is not None:
            bracket = c.rain_field.bracket(t, left=end_of_step)
            scale = rate = 0.0
            if bracket is not None:
                i, j, weight = bracket
                self._load_rain_frames(i, j)
                scale = 1.0 - weight
                rate = scale * self._frame_volume_rate[0] + weight * self._frame_volume_rate[1]
        else:
            rate = self._rain_volume_rate * c.rain_scale(t) if self._rain.shape[0] else 0.0
            scale = c.rain_scale(t)
        if len(self._source_cells):
            q = np.array([s(t) for s in c.source_discharge])
            self._source_rate.assign(q / (self._source_cells * self.model.cell_area))
            rate += float(q.sum())
        return scale, weight, rate

    # -- time step -------------------------------------------------------------------
    def track_maxima(self, state: State, t: float, max_depth: wp.array, max_speed: wp.array, time_of_max: wp.array,
                     max_depth_velocity: wp.array | None = None, arrival_time: wp.array | None = None,
                     arrival_depth: float = 0.0) -> None:
        """Fold ``state`` at time t [s] into running maxima arrays (ny*nx,), over the
        tiles computed last step (the others are dry and unchanged); with
        ``max_depth_velocity`` and ``arrival_time``, also the running maximum of h |u|
        and the first time the depth exceeded ``arrival_depth`` [m] (NaN until then)."""
        m = self.model
        dv = self._empty_real if max_depth_velocity is None else max_depth_velocity
        arrival = self._empty_f64 if arrival_time is None else arrival_time
        self._launch_tiled(self.k.track_maxima, TILE_SIZE * TILE_SIZE,
                           lambda tiles, part: [state.h, state.hu, state.hv, t, m.h_dry, arrival_depth, tiles, self._ntx, m.nx, m.ny,
                                                self.clock, self.member_rows],
                           [max_depth, max_speed, time_of_max, dv, arrival])

    def stable_dt(self, state: State, t: float | None = None) -> float:
        """Largest dt [s] the CFL condition allows from time t [s] (default: the end of
        the last step), counting what stage and discharge edges can send in (inf when
        all is dry and nothing comes in); checks the state.

        Raises:
            SimulationError: a non-finite or negative value, naming the cell.
        """
        m = self.model
        self.wave_speeds(state)
        bad = int(self._first_bad.numpy().min())
        if bad != np.iinfo(np.int32).max:
            h, hu, hv = (a.numpy()[bad] for a in (state.h, state.hu, state.hv))
            j, i = divmod(bad, m.nx)
            x, y = m.x0 + (i + 0.5) * m.dx, m.y0 + (j + 0.5) * m.dy
            raise SimulationError(f"{_cell_name(bad, m.nx)} at x={x:.2f} m, y={y:.2f} m: depth {h}, hu {hu}, hv {hv} (not finite or negative)")
        t = self._t_end if t is None else t
        rate = max(float(self._max_rate.numpy().max()), edge_wave_rate(m, self._control, t, self._lowest_bed),
                   self._span_wave_rate(t))
        return m.cfl / rate if rate > 0 else float("inf")

    def wave_speeds(self, state: State) -> None:
        """Launch the largest wave rate [1/s] and the first bad cell of ``state`` into
        ``_max_rate`` and ``_first_bad`` (one slot per CPU part and member); no host copy."""
        m = self.model
        self._max_rate.zero_()
        self._first_bad.fill_(np.iinfo(np.int32).max)
        self._launch_tiled(self.k.compute_wave_speed, TILE_SIZE * TILE_SIZE,
                           lambda tiles, part: [state.h, state.hu, state.hv, m.solid, tiles, self._ntx, m.nx, m.ny,
                                                m.dx, m.dy, m.h_dry, m.g, part, self.member_rows], [self._max_rate, self._first_bad])

    def _fluxes(self, s: State, t: float) -> None:
        m = self.model
        bk = m.boundary_kinds
        code = {**BOUNDARY_CODES, "spans": SPANS}
        if self.clock.shape[0]:  # the kernels read the edge values of each member's time
            t = None
        cells, runs = TILE_SIZE * TILE_SIZE, TILE_SIZE * (TILE_SIZE + 1) // self._run
        self._set_span_values(s, t)
        sk, sv, off = self._span_kind, self._span_value, self._span_offset
        self._launch_tiled(self.k.compute_velocities, cells,
                           lambda tiles, part: [s.h, s.hu, s.hv, m.h_dry, tiles, self._ntx, m.nx, m.ny], [self._u, self._v])
        west, east = self._edge_value("west", t), self._edge_value("east", t)
        self._launch_tiled(self.k.compute_x_fluxes, runs,
                           lambda tiles, part: [s.h, self._u, self._v, m.bed, m.solid, tiles, self._ntx, m.nx, m.ny, self._run, m.order, m.g,
                                          code[bk["west"]], west, code[bk["east"]], east, sk, sv, off("west"), off("east"),
                                          self.clock, self.member_rows], self._fx)
        south, north = self._edge_value("south", t), self._edge_value("north", t)
        self._launch_tiled(self.k.compute_y_fluxes, runs,
                           lambda tiles, part: [s.h, self._u, self._v, m.bed, m.solid, tiles, self._ntx, m.nx, m.ny, self._run, m.order, m.g,
                                          code[bk["south"]], south, code[bk["north"]], north, sk, sv, off("south"), off("north"),
                                          self.clock, self.member_rows], self._fy)

    def _stage_update(self, s: State, base: State, out: State, t: float, dt: float, base_weight: float, step_weight: float) -> None:
        """One stage; ``step_weight`` is this stage's share of the step's fluxes and
        sources (1 for Euler, 1/2 for each of Heun's stages), for the volume counters."""
        m = self.model
        weight_dt = dt * step_weight
        scale = weight = 0.0
        if not self.clock.shape[0]:  # else the clock's kernels set the sources and count their volume
            scale, weight, volume_rate = self._set_sources(t, end_of_step=base_weight > 0)
            self.volume_from_sources += volume_rate * weight_dt
        self._launch_tiled(self.k.update_cells, TILE_SIZE * TILE_SIZE // self._cell_run,
                           lambda tiles, part: [s.h, s.hu, s.hv, base.h, base.hu, base.hv, *self._fx, *self._fy,
                                          m.solid, m.manning_n, self._rain, scale, self._rain_next, weight, self._source_of_cell, self._source_rate,
                                          tiles, self._ntx, m.nx, m.ny, self._cell_run, m.dx, m.dy, dt, base_weight, m.h_dry, m.g,
                                          self.clock, self.member_rows],
                           [out.h, out.hu, out.hv])
        self._launch(self.k.accumulate_boundary_inflow, m.nx + m.ny,
                     [self._fx[0], self._fy[0], self._tile_active, self._ntx, m.nx, m.ny, m.dx, m.dy, weight_dt,
                      self.clock, self.member_rows, self._inflow])

    def step(self, state_in: State, state_out: State, control: Control, dt: float, t: float) -> None:
        """Advance ``state_in`` by ``dt`` [s] from time ``t`` [s] into ``state_out``."""
        if control is not self._control:
            self.set_control(control)
        self._select_tiles(state_in, state_out)
        self.stages(state_in, state_out, dt, t)
        self._t_end = t + dt

    def stages(self, state_in: State, state_out: State, dt: float, t: float, before_stage=None) -> None:
        """The Euler stage or Heun's two, then infiltration; ``before_stage(i, step_weight)``,
        when given, runs before stage i (the device clock's control kernels)."""
        if self.model.order == 1:
            stages = [(state_in, state_in, state_out, t, 0.0, 1.0)]
        else:
            stages = [(state_in, state_in, self._stage, t, 0.0, 0.5), (self._stage, state_in, state_out, t + dt, 0.5, 0.5)]
        for i, (s, base, out, t_stage, base_weight, step_weight) in enumerate(stages):
            if before_stage is not None:
                before_stage(i, step_weight)
            self._fluxes(s, t_stage)
            self._stage_update(s, base, out, t_stage, dt, base_weight, step_weight)
        if self._infiltration is not None:
            wp.copy(state_out.infiltrated, state_in.infiltrated)
            wp.launch(self.k.apply_infiltration, dim=self.model.nx * self.model.ny,
                      inputs=[state_out.h, self._infiltration, self._initial_loss, self._continuing_loss, dt, self.clock,
                              self.model.nx, self.member_rows],
                      outputs=[state_out.infiltrated],
                      device=self.model.device)

    def device_clock(self, **options):
        """A :class:`twin.physics.swe.clock.DeviceClock` that steps this solver on the device
        (``options``: fixed_dt, max_dt, capture_graphs).

        Raises:
            InputError: the run has boundary spans or a gridded rain field, which the device
                clock does not drive yet (they run on the host-stepped path).
        """
        from twin.physics.swe.clock import DeviceClock

        if self._span_drivers or "spans" in self.model.boundary_kinds.values() or self._control.rain_field is not None:
            raise InputError("flood solver", "device clock", "boundary spans and gridded rain run on the host-stepped "
                             "path only (not yet on the device-resident one)")
        return DeviceClock(self, **options)

    # -- accounting ------------------------------------------------------------------
    @property
    def boundary_inflow(self) -> dict[str, float]:
        return dict(zip(EDGES, (float(v) for v in self._inflow.numpy())))

    def accounting(self) -> dict:
        """Counters to checkpoint: sources and per-edge inflow [m^3] (and, with discharge
        spans, the cell counts their CFL estimate uses, so that a resumed run steps alike)."""
        acc = {"volume_from_sources": self.volume_from_sources, "boundary_inflow": self._inflow.numpy().tolist()}
        if self._span_drivers:
            acc["span_cells"] = self._span_cells.numpy().tolist()
        return acc

    def restore_accounting(self, acc: dict) -> None:
        self.volume_from_sources = float(acc["volume_from_sources"])
        self._inflow.assign(np.asarray(acc["boundary_inflow"], dtype=np.float64))
        if "span_cells" in acc:
            self._span_cells.assign(np.asarray(acc["span_cells"], dtype=np.int32))

    def volume(self, state: State) -> float:
        """Water stored in the domain [m^3] (float64 sum)."""
        return float(state.h.numpy().astype(np.float64).sum() * self.model.cell_area)

    def volume_balance(self, state: State, initial_volume: float) -> dict:
        """Stored, added, lost and the balance error [m^3]: stored - initial - net in."""
        stored = self.volume(state)
        infiltrated = float(state.infiltrated.numpy().astype(np.float64).sum() * self.model.cell_area)
        edges = self.boundary_inflow
        net_in = self.volume_from_sources + sum(edges.values()) - infiltrated
        return {
            "initial_m3": initial_volume,
            "stored_m3": stored,
            "sources_m3": self.volume_from_sources,
            "boundary_inflow_m3": edges,
            "infiltrated_m3": infiltrated,
            "error_m3": stored - initial_volume - net_in,
            "relative_error": (stored - initial_volume - net_in) / max(abs(initial_volume) + self.volume_from_sources + sum(abs(v) for v in edges.values()), 1e-300),
        }
