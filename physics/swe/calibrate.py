"""Calibrating a flood scene's Manning's n (and its inflow) against gauge stages.

The unknowns are Manning's n of each friction zone of the Scene ("default" for the
cells outside every zone) and, optionally, a multiplier of every inflow. The loss is
the mean squared misfit of the water depth at the gauges (the stage minus the bed
of the gauge's cell), sampled every ``sample_interval`` seconds of a fixed-step run;
its gradient comes from :func:`twin.physics.swe.adjoint.probe_loss_gradient`, and SciPy's
L-BFGS-B minimises it over log n within bounds.

    cal = Calibration(scene_run, dt=0.1, sample_interval=10.0, gauges=["P01", "P05"])
    fit = cal.fit(observed_stage, {"road": 0.03, "default": 0.03})
    fit.manning  # {"road": ..., "default": ...}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from twin.physics.swe.adjoint import Gradient, ProbeLoss, probe_depths, probe_loss_gradient
from twin.physics.swe.from_scene import flood_problem
from twin.physics.swe.recorder import WET_THRESHOLD

from twin.errors import InputError

DEFAULT_ZONE = "default"


@dataclass
class Fit:
    """What :meth:`Calibration.fit` found.

    Attributes:
        manning: zone -> Manning's n [s m^-1/3]; inflow_scale: the inflow multiplier.
        loss: final loss [m^2]; history: (manning, inflow_scale, loss) of every evaluation.
        evaluations: loss-and-gradient evaluations; converged: SciPy's success flag.
    """

    manning: dict[str, float]
    inflow_scale: float
    loss: float
    evaluations: int
    converged: bool
    history: list[tuple[dict[str, float], float, float]] = field(default_factory=list)


class Calibration:
    """The friction zones, gauges and fixed-step settings of one calibration.

    Args:
        run: the scene and grid (a scene script's ``setup(p)``); run.duration [s] is
            the calibrated period. The solver runs in float64.
        dt: the fixed time step [s]; it must stay within the CFL limit for every
            parameter set tried (the run stops with a clear message otherwise).
        sample_interval: time between gauge samples [s], a multiple of dt.
        gauges: names of the scene's probes that are gauges (default: all).
        segment: steps per checkpointed segment (memory ~ segment steps of scratch).
    """

    def __init__(self, run, *, dt: float, sample_interval: float, gauges: list[str] | None = None, segment: int = 200):
        self.model, self.control, fg = flood_problem(run.scene, resolution=run.resolution, buildings=run.buildings,
                                                     order=run.order, cfl=run.cfl, h_dry=run.h_dry, dtype="float64")
        self.dt = float(dt)
        self.steps = int(round(run.duration / dt))
        self.every = int(round(sample_interval / dt))
        if self.every < 1 or not math.isclose(self.every * dt, sample_interval, rel_tol=1e-9):
            raise InputError("sample_interval", "", f"must be a whole multiple of dt = {dt} s, got {sample_interval}")
        names = list(fg.probe_cells) if gauges is None else gauges
        for name in names:
            if name not in fg.probe_cells:
                raise InputError("gauges", name, f"not a probe of the scene; probes: {', '.join(fg.probe_cells)}")
        self.gauges = names
        nx = self.model.nx
        self.cells = np.array([fg.probe_cells[n][0] * nx + fg.probe_cells[n][1] for n in names], dtype=np.int64)
        self.gauge_bed = self.model.bed_elevation().ravel()[self.cells]
        self.sample_times = (np.arange(self.steps // self.every) + 1) * self.every * self.dt
        self.zones = {DEFAULT_ZONE: np.ones(self.model.shape, bool)}
        for zone in run.scene.friction_zones:  # a later zone wins where zones overlap, as in rasterising
            mask = fg.grid.polygon_mask(zone.polygon)
            for other in self.zones.values():
                other &= ~mask
            self.zones[zone.name] = mask
        self.segment = segment

    def _manning_field(self, manning: dict[str, float]) -> np.ndarray:
        missing = set(self.zones) - set(manning)
        if missing:
            raise InputError("manning", ", ".join(sorted(missing)), f"needs a value for every zone: {', '.join(self.zones)}")
        n = np.zeros(self.model.shape)
        for name, mask in self.zones.items():
            n[mask] = manning[name]
        return n

    def depth_from_stage(self, stage: np.ndarray) -> np.ndarray:
        """Observed depth [m] at the gauges from stages [m] (nsamples, ngauges); NaN (dry) -> 0."""
        stage = np.asarray(stage, dtype=np.float64)
        if stage.shape != (len(self.sample_times), len(self.gauges)):
            raise InputError("observed stage", "", f"shape {stage.shape}; expected (samples, gauges) = "
                             f"{(len(self.sample_times), len(self.gauges))} at times {self.sample_times[0]:g}, "
                             f"{self.sample_times[1] if len(self.sample_times) > 1 else ''}... s")
        return np.where(np.isnan(stage), 0.0, np.maximum(stage - self.gauge_bed, 0.0))

    def loss_and_gradient(self, manning: dict[str, float], observed_stage: np.ndarray, inflow_scale: float = 1.0) -> tuple[Gradient, dict[str, float]]:
        """The loss at ``manning`` (zone -> n) and ``inflow_scale``, and d loss / d n per zone."""
        self.model.manning_n.assign(self._manning_field(manning).ravel())
        loss = ProbeLoss(self.cells, self.depth_from_stage(observed_stage), self.every)
        g = probe_loss_gradient(self.model, self.control, self.model.state(0.0), dt=self.dt, steps=self.steps, loss=loss,
                                source_scale=inflow_scale, segment=self.segment)
        return g, {name: float(g.manning_n[mask].sum()) for name, mask in self.zones.items()}

    def simulate(self, manning: dict[str, float], inflow_scale: float = 1.0) -> np.ndarray:
        """Gauge stages [m] (nsamples, ngauges) at ``manning`` (NaN where dry): synthetic observations."""
        depth = self.depths(manning, inflow_scale)
        return np.where(depth > WET_THRESHOLD, depth + self.gauge_bed, np.nan)

    def depths(self, manning: dict[str, float], inflow_scale: float = 1.0) -> np.ndarray:
        """Gauge depths [m] (nsamples, ngauges) at ``manning`` (the forward pass only)."""
        self.model.manning_n.assign(self._manning_field(manning).ravel())
        return probe_depths(self.model, self.control, self.model.state(0.0), dt=self.dt, steps=self.steps,
                            cells=self.cells, every=self.every, source_scale=inflow_scale)

    def loss(self, manning: dict[str, float], observed_stage: np.ndarray, inflow_scale: float = 1.0) -> float:
        """The loss [m^2] alone (the forward pass only)."""
        loss = ProbeLoss(self.cells, self.depth_from_stage(observed_stage), self.every)
        return loss.value_and_seed(self.depths(manning, inflow_scale))[0]

    def fit(self, observed_stage: np.ndarray, initial: dict[str, float], *, fit_inflow: bool = False,
            bounds: tuple[float, float] = (0.005, 0.2), tolerance: float = 1e-10, max_evaluations: int = 40) -> Fit:
        """Minimise the loss over log n of every zone (and log of the inflow multiplier
        when ``fit_inflow``) with L-BFGS-B, n within ``bounds``."""
        from scipy.optimize import minimize

        names = list(self.zones)
        history = []

        def objective(x):
            manning = {n: float(v) for n, v in zip(names, np.exp(x[: len(names)]))}
            scale = float(np.exp(x[-1])) if fit_inflow else 1.0
            g, per_zone = self.loss_and_gradient(manning, observed_stage, scale)
            history.append((manning, scale, g.loss))
            grad = [per_zone[n] * manning[n] for n in names] + ([g.source_scale * scale] if fit_inflow else [])
            return g.loss, np.array(grad)

        x0 = [math.log(initial[n]) for n in names] + ([0.0] if fit_inflow else [])
        box = [(math.log(bounds[0]), math.log(bounds[1]))] * len(names) + ([(math.log(0.2), math.log(5.0))] if fit_inflow else [])
        res = minimize(objective, np.array(x0), jac=True, method="L-BFGS-B", bounds=box,
                       options={"ftol": tolerance, "gtol": 1e-12, "maxfun": max_evaluations})
        manning = {n: float(v) for n, v in zip(names, np.exp(res.x[: len(names)]))}
        return Fit(manning, float(np.exp(res.x[-1])) if fit_inflow else 1.0, float(res.fun), len(history), bool(res.success), history)
