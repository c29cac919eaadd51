"""The machine thermal twin's run: the filter over a sensor log, recorded like every other twin.

A machine scene script's ``setup(p)`` returns a :class:`MachineRun`: the fitted
model, the readings of one channel, and the alarm rule. ``twin run`` replays the
log through the Kalman filter (:class:`twin.physics.thermal.ThermalTwin`) in
:class:`twin.physics.simulation.Simulation`: each step goes to the next reading, so
the progress bar, checkpoints, ``--resume`` and Ctrl-C work as for every twin;
``twin sync`` runs the same twin on a live feed. The Result::

    result.zarr    reading, predicted, sigma, z, heat and alarm over time (seconds since the first reading)
    summary.json   the shared entries, the fitted model, the number of alarms and their times
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np
from twin.physics.simulation import Problem, Run, RunSettings
from twin.physics.thermal.model import Innovation, ThermalModel, ThermalTwin

from twin.errors import InputError

__all__ = ["MachineRun", "MachineState", "MachineSolver", "MachineRecorder", "alarm_mask"]


def alarm_mask(t: np.ndarray, z: np.ndarray, threshold: float, holdoff: float) -> np.ndarray:
    """Readings that raise an alarm: |z| over ``threshold`` [standard deviations] and no alarm
    in the ``holdoff`` seconds before (times ``t`` [s], (n,)); bool (n,). The rule of ``twin sync``."""
    out = np.zeros(len(z), bool)
    last = -math.inf
    for k in np.flatnonzero(np.abs(z) > threshold):
        if t[k] > last + holdoff:
            out[k], last = True, t[k]
    return out


class MachineState:
    """The filter's estimate ``x = (T, u)`` (2,), its covariance ``P`` (2, 2), its time ``t`` [s]
    and ``index``, the next reading to assimilate; NumPy on the host (the algebra is 2 x 2)."""

    NAMES = ("x", "P", "t", "index")

    def __init__(self, x: np.ndarray, P: np.ndarray, t: float, index: int):
        self.x, self.P = np.array(x, np.float64), np.array(P, np.float64)
        self.t, self.index = np.array([t], np.float64), np.array([index], np.int64)

    def clone(self) -> "MachineState":
        return MachineState(self.x, self.P, float(self.t[0]), int(self.index[0]))

    def numpy(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name).copy() for name in self.NAMES}

    def load(self, arrays: dict[str, np.ndarray]) -> None:
        for name, values in arrays.items():
            getattr(self, name)[...] = values


class MachineSolver:
    """Steps the filter from reading to reading: a step of ``dt`` assimilates every reading up to
    ``t + dt`` (:meth:`stable_dt` is the time to the next one, so a step is one reading)."""

    def __init__(self, model: ThermalModel, times: np.ndarray, readings: np.ndarray):
        self.model, self.times, self.readings = model, times, readings
        self.last: list[Innovation] = []  # the innovations of the last step

    def stable_dt(self, state: MachineState, t: float | None = None) -> float:
        k = int(state.index[0])
        return max(float(self.times[k]) - (t if t is not None else float(state.t[0])), 0.0) if k < len(self.times) else math.inf

    def step(self, state_in: MachineState, state_out: MachineState, control, dt: float, t: float) -> None:
        twin = ThermalTwin(self.model, 0.0)
        twin.state.x, twin.state.P, twin.state.t = state_in.x.copy(), state_in.P.copy(), float(state_in.t[0])
        k, self.last = int(state_in.index[0]), []
        while k < len(self.times) and self.times[k] <= t + dt:
            self.last.append(twin.assimilate(float(self.times[k]), float(self.readings[k])))
            k += 1
        state_out.load({"x": twin.state.x, "P": twin.state.P, "t": [twin.state.t], "index": [k]})

    def volume(self, state: MachineState) -> float:
        """The filter conserves nothing that the run balances."""
        return 0.0

    def volume_balance(self, state: MachineState, initial: float) -> dict:
        return {}

    def accounting(self) -> dict:
        return {}

    def restore_accounting(self, acc: dict) -> None:
        """Nothing beyond the State."""


class MachineRecorder:
    """Records every innovation (reading, prediction, its sigma, z, heat input)."""

    kind = "machine"
    FIELDS = ("time", "reading", "predicted", "sigma", "z", "heat")

    def __init__(self, run: "MachineRun", solver: MachineSolver, attrs: dict):
        self.run, self.solver, self.attrs = run, solver, attrs
        self.cells = 1
        self._rows: list[tuple[float, ...]] = []

    def update(self, state: MachineState, t: float) -> None:
        self._rows.extend((i.t, i.reading, i.predicted, i.sigma, i.z, i.heat) for i in self.solver.last)
        self.solver.last = []

    def sample_probes(self, state: MachineState, t: float) -> None:
        """Every reading is recorded in :meth:`update`."""

    def snapshot(self, state: MachineState) -> dict[str, np.ndarray]:
        return {"temperature": state.x[:1].copy(), "equilibrium": state.x[1:].copy()}

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"rows": np.array(self._rows, np.float64).reshape(-1, len(self.FIELDS))}

    def load_state_dict(self, d: dict[str, np.ndarray]) -> None:
        self._rows = [tuple(r) for r in d["rows"]]

    def dataset(self, times: list[float], snapshots: list[dict[str, np.ndarray]], recorded: dict):
        import xarray as xr

        rows = recorded["rows"]
        first = self.run.readings[0]
        cols = {name: np.concatenate([[v], rows[:, k]]) for k, (name, v) in
                enumerate(zip(self.FIELDS, (0.0, first, first, math.sqrt(self.run.model.r), 0.0,
                                            first - self.run.model.ambient)))}
        alarm = alarm_mask(cols["time"], cols["z"], self.run.threshold, self.run.holdoff)
        unit = self.run.unit
        reading = ("time",)
        return xr.Dataset(
            {
                "reading": (reading, cols["reading"], {"units": unit, "long_name": f"reading of {self.run.channel}"}),
                "predicted": (reading, cols["predicted"], {"units": unit, "long_name": "the twin's prediction before the reading"}),
                "sigma": (reading, cols["sigma"], {"units": unit, "long_name": "standard deviation of the prediction"}),
                "z": (reading, cols["z"], {"units": "1", "long_name": "standardised innovation"}),
                "heat": (reading, cols["heat"], {"units": unit, "long_name": "heat input per conductance P/G"}),
                "alarm": (reading, alarm.astype(np.int8), {"units": "1", "long_name": "1 where an alarm was raised"}),
            },
            coords={"time": ("time", cols["time"], {"units": f"seconds since {self.run.start}", "standard_name": "time"})},
            attrs={"Conventions": "CF-1.10", "threshold_sigma": self.run.threshold, "holdoff_s": self.run.holdoff,
                   **{f"model_{k}": v for k, v in asdict(self.run.model).items()}, **self.attrs},
        )

    def summary(self, ds) -> dict:
        """The number of alarms and their times [s]."""
        alarm = ds["alarm"].values.astype(bool)
        return {"alarms": int(alarm.sum()), "alarm_times_s": ds["time"].values[alarm].tolist()}


@dataclass
class MachineRun(Run):
    """What to run for a machine thermal twin: the filter over one channel of a sensor log.

    Attributes:
        name: the machine's name; model: the fitted thermal model.
        times: reading times [s since ``start``], ascending (n,); readings: (n,) [``unit``].
        start: ISO 8601 time of the first reading; unit: the readings' unit.
        channel: the channel's name (a key of live messages); topic: MQTT topic for ``twin sync``.
        threshold: alarm threshold on |z| [standard deviations]; holdoff: quiet time after an alarm [s].
        output_interval: time between snapshots and checkpoints [s].
    """

    kind: ClassVar[str] = "machine"

    name: str
    model: ThermalModel
    times: np.ndarray
    readings: np.ndarray
    start: str = "1970-01-01T00:00:00"
    unit: str = ""
    channel: str = "value"
    topic: str = "factory/machine"
    threshold: float = 4.0
    holdoff: float = 86400.0
    output_interval: float = 86400.0

    def __post_init__(self):
        self.times = np.asarray(self.times, np.float64)
        self.readings = np.asarray(self.readings, np.float64)
        if self.times.shape != self.readings.shape or len(self.times) < 2:
            raise InputError(self.name, "readings", "needs at least two readings, one time each")
        if not (np.all(np.isfinite(self.times)) and np.all(np.isfinite(self.readings))):
            raise InputError(self.name, "readings", "times and readings must be finite")
        if np.any(np.diff(self.times) <= 0):
            raise InputError(self.name, "readings", "times must increase (drop clock steps first: SensorLog.monotonic)")

    @property
    def title(self) -> str:
        return self.name

    def fitted(self) -> dict[str, float]:
        """The model's parameters (see :class:`twin.physics.thermal.ThermalModel`)."""
        return asdict(self.model)

    def build(self, device: str) -> Problem:
        """The filter on the host (``device`` is recorded only: 2 x 2 algebra gains nothing from a GPU)."""
        t = self.times - self.times[0]
        solver = MachineSolver(self.model, t, self.readings)
        var = max(self.model.r, 1e-12)
        state = MachineState([self.readings[0]] * 2, np.diag([var, 100.0 * var]), 0.0, 1)
        recorder = MachineRecorder(self, solver, {"title": self.name, "channel": self.channel})
        duration = float(t[-1])
        settings = RunSettings(duration, min(self.output_interval, duration), probe_interval=duration)
        meta = {"model": self.fitted(), "readings": len(t), "channel": self.channel, "threshold_sigma": self.threshold,
                "holdoff_s": self.holdoff}
        return Problem(solver, recorder, state, None, settings, meta)

    def sweep_metrics(self, result, summary: dict) -> dict[str, float]:
        """Wall time [s], steps, the number of alarms and the RMS of z."""
        return {**super().sweep_metrics(result, summary), "alarms": float(summary["alarms"]),
                "z_rms": float(np.sqrt(np.mean(result["z"].values ** 2)))}
