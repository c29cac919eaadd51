"""The run protocol and the Simulation loop every twin shares.

A scene script's ``setup(p)`` returns a :class:`Run`: it names its ``kind`` and
``title`` and builds, on a device, a :class:`Problem` (solver, recorder, state,
control, settings). :class:`Simulation` runs any Problem: time stepping
(CFL-adaptive or fixed), guards, probes, snapshots, checkpoints, resume,
progress, Ctrl-C and a callback after every step (the live viewer).

The parts a Problem brings (the flood, dispersion, robot and machine twins all do):

- solver: ``stable_dt(state, t)`` [s] (inf when any step is stable),
  ``step(state_in, state_out, control, dt, t)``, ``volume(state)`` (the conserved
  amount: water [m3], particle mass [kg]; 0 when none), ``volume_balance(state,
  initial)`` (dict for summary.json), ``accounting()`` / ``restore_accounting(d)``
  (JSON-able counters and anything else a bitwise resume needs);
- recorder: ``kind`` (the Result's ``twin_kind``), ``cells``, ``update(state, t)``,
  ``sample_probes(state, t)``, ``snapshot(state)`` -> name -> array,
  ``state_dict()`` / ``load_state_dict(d)``, ``dataset(times, snapshots, recorded)``,
  ``summary(result)`` (the kind's own entries of summary.json);
- state: ``clone()``, ``numpy()`` (name -> array) and ``load(arrays)``.

Files under ``out_dir``::

    run/snapshot_00003.npz   one per output time, written atomically: the recorder's
                             snapshot, and with ``snapshot_states`` the full State
                             (``state_h``, ...) that a hot start reads
    run/checkpoint.npz       state + recorder + counters after the last output
    result.zarr              the Result (xarray Dataset), written at the end,
                             at Ctrl-C, or after a guard stops the run
    summary.json             wall time, steps, device, versions, parameters, volume balance

A checkpoint is written right after every snapshot, so a run killed at any
moment resumes from its last output, and the resumed run is bitwise equal to an
uninterrupted one (the step sequence depends only on the state and the time).
"""

from __future__ import annotations

import abc
import contextlib
import json
import math
import os
import shutil
import signal
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from twin.errors import InputError, SimulationError


def _fsync_dir(folder: Path) -> None:
    """Make a rename or a new entry in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # Windows: folders cannot be opened
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """fsync every file and folder under ``root`` (a Zarr store), folders last."""
    for folder, _, files in os.walk(root, topdown=False):
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(Path(folder))


def _replace(tmp: Path, target: Path) -> None:
    """Put ``tmp`` (a file or a folder) at ``target``: an old ``target`` is renamed aside first,
    the new one moved into place, and only then the old one deleted; a crash at any point
    leaves the old or the new one in place (or, between the two renames, the old one at
    ``target.old``)."""
    old = target.with_name(target.name + ".old")
    if old.exists():
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    had = target.exists()
    if had:
        target.rename(old)
    tmp.rename(target)
    _fsync_dir(target.parent)
    if had:
        shutil.rmtree(old) if old.is_dir() else old.unlink()


def save_npz(path: Path, **arrays) -> None:
    """Write ``arrays`` to the .npz ``path`` atomically (temporary file, fsync, rename, fsync of the folder)."""
    tmp = path.with_name(path.name + ".partial.npz")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    _fsync_dir(path.parent)


def write_zarr(ds, target: Path) -> None:
    """Write the xarray Dataset ``ds`` to the Zarr store ``target`` safely: a ``.partial`` store,
    fsynced, replaces the old one by :func:`_replace` (old aside, new in, old deleted)."""
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    ds.to_zarr(tmp, mode="w", zarr_format=2, consolidated=True)
    _fsync_tree(tmp)
    _replace(tmp, target)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a ``.partial`` file, fsynced, then a rename, fsync of the folder)."""
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    _fsync_dir(path.parent)


@contextlib.contextmanager
def _sigint_deferred():
    """Ignore Ctrl-C while the result is written (a second Ctrl-C must not leave half of it);
    only in the main thread, where Python handles signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def check_finite(arrays: dict[str, np.ndarray]) -> None:
    """The guard every kind gets at every output: raise :class:`SimulationError` naming the first
    State array with a NaN or an infinity, and the index of its first such value."""
    for name, values in arrays.items():
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            index = np.unravel_index(int(np.flatnonzero(~np.isfinite(values))[0]), values.shape)
            raise SimulationError(f"the state's {name} is not finite at index {tuple(map(int, index))}")


@dataclass
class RunSettings:
    """How to run.

    Attributes:
        duration: simulated time [s].
        output_interval: time between snapshots (and checkpoints) [s].
        probe_interval: time between probe samples [s].
        fixed_dt: a fixed step [s] instead of the CFL-adaptive one (checked against the CFL limit).
        max_dt: upper bound of the adaptive step [s].
    """

    duration: float
    output_interval: float
    probe_interval: float = 1.0
    fixed_dt: float | None = None
    max_dt: float = math.inf

    def __post_init__(self):
        for name in ("duration", "output_interval", "probe_interval"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise InputError(name, "", f"must be a positive number of seconds, got {v}")
        if self.fixed_dt is not None and not (self.fixed_dt > 0):
            raise InputError("fixed_dt", "", f"must be positive, got {self.fixed_dt}")


@dataclass
class Problem:
    """What a :class:`Run` builds on a device: everything :class:`Simulation` needs.

    Attributes:
        solver, recorder, state, control: see the module docstring.
        settings: duration, output and probe intervals, fixed step.
        meta: the run's own entries of summary.json (grid, solver options, notes).
    """

    solver: object
    recorder: object
    state: object
    control: object
    settings: RunSettings
    meta: dict = field(default_factory=dict)
    t0: float = 0.0
    """Time [s] the state is at (a hot start goes on from there)."""
    snapshot_states: bool = False
    """Store the whole State in every snapshot (what a later hot start reads)."""


class Run(abc.ABC):
    """What a scene script's ``setup(p)`` returns: one twin to simulate.

    Subclasses set ``kind`` (the Result's ``twin_kind``: "flood", "dispersion",
    "robot", "machine") and implement :meth:`build` and :attr:`title`; the
    ``twin`` commands (run, render, view, batch) then work on them alike.
    ``sweep_metrics`` and ``static_fields`` say what a sweep keeps of each run.
    """

    kind: ClassVar[str]
    static_fields: ClassVar[tuple[str, ...]] = ()
    """Result variables that are the same in every run of a sweep (stored once)."""
    sweep_keep: ClassVar[dict[str, list[str]]] = {}
    """What a sweep keeps of each run when its ``[keep]`` table does not say: ``peak_fields``, ``probes``."""

    @property
    @abc.abstractmethod
    def title(self) -> str:
        """The scene's name, for summaries, titles and pictures."""

    @abc.abstractmethod
    def build(self, device: str) -> Problem:
        """Build the Model, State, Control, solver and recorder on ``device``."""

    def sweep_metrics(self, result, summary: dict) -> dict[str, float]:
        """Scalar metrics a sweep keeps of one run (its Result and summary.json);
        every kind has its wall time and steps."""
        return {"wall_time_s": float(summary["wall_time_s"]), "steps": float(summary["steps"])}

    def report(self, summary: dict) -> str:
        """One line for the terminal after a run."""
        return (f"{summary['steps']} steps, {summary['simulated_time_s']:.4g} s simulated in {summary['wall_time_s']:.1f} s "
                f"wall on {summary['device']}")


@dataclass
class Simulation:
    """One run of ``solver`` from ``state`` under ``control``, recorded into ``out_dir``.

    ``state`` and a second buffer made from it are swapped every step.
    ``meta`` (parameters, scene, device) goes into summary.json and is checked on resume.
    ``t0`` [s] is the time ``state`` holds (a hot start's, else 0); the run goes on to
    ``settings.duration``, with outputs and probe samples at the same multiples of their
    intervals as a run from 0, so that a hot start continues an earlier run bitwise.
    """

    solver: object
    recorder: object
    state: object
    control: object
    settings: RunSettings
    out_dir: Path
    meta: dict = field(default_factory=dict)
    progress: bool = True
    on_step: object = None  # callback(sim) after every step (every output or probe time when resident), e.g. a live viewer
    resident: bool = False  # step with the time and dt on the device (solver.device_clock; see physics/swe/clock.py)
    capture_graphs: bool = False  # resident on CUDA: replay the steps as CUDA graphs (off: not yet measured)
    t0: float = 0.0
    snapshot_states: bool = False  # store the full State in every snapshot (for hot starts)

    def __post_init__(self):
        self.out_dir = Path(self.out_dir)
        self.run_dir = self.out_dir / "run"
        self._other = self.state.clone()
        if not (math.isfinite(self.t0) and 0.0 <= self.t0 < self.settings.duration):
            raise InputError("start time", "", f"{self.t0} s must lie in [0, duration = {self.settings.duration} s)")
        self.t = self.t0
        self.steps = 0
        self.n_outputs = 0
        self.n_probes = 0
        self.wall = 0.0
        self.initial_volume = self.solver.volume(self.state)

    # -- files -----------------------------------------------------------------------

    def _snapshot_path(self, k: int) -> Path:
        return self.run_dir / f"snapshot_{k:05d}.npz"

    def _counters(self) -> dict:
        return {"t0": self.t0, "t": self.t, "steps": self.steps, "n_outputs": self.n_outputs, "n_probes": self.n_probes,
                "wall": self.wall, "initial_volume": self.initial_volume, "accounting": self.solver.accounting(),
                "volume_balance": self.solver.volume_balance(self.state, self.initial_volume), "meta": self.meta}

    def _write_output(self, *, check: bool = True) -> None:
        """Snapshot and checkpoint; ``check``: the shared guard first (the starting state is the solvers' to check
        at their first step, where the error names the step)."""
        arrays = self.state.numpy()
        if check:
            check_finite(arrays)
        snap = self.recorder.snapshot(self.state)
        state = {f"state_{k}": v for k, v in arrays.items()}
        save_npz(self._snapshot_path(self.n_outputs), time=np.float64(self.t), **snap,
                 **(state if self.snapshot_states else {}))
        self.n_outputs += 1
        rec = {f"rec_{k}": v for k, v in self.recorder.state_dict().items()}
        save_npz(self.run_dir / "checkpoint.npz", counters=np.array(json.dumps(self._counters())), **state, **rec)

    def _load_checkpoint(self) -> dict:
        path = self.run_dir / "checkpoint.npz"
        try:
            with np.load(path) as z:
                data = {k: z[k] for k in z.files}
        except FileNotFoundError:
            raise InputError(self.out_dir, "run/checkpoint.npz", "no checkpoint to resume from") from None
        except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as e:
            raise InputError(path, "", f"unreadable checkpoint ({type(e).__name__}: {e})") from None
        try:
            json.loads(str(data["counters"]))["meta"]
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(path, "counters", f"not a twin checkpoint ({type(e).__name__}: {e})") from None
        return data

    def _restore(self) -> None:
        data = self._load_checkpoint()
        c = json.loads(str(data["counters"]))
        if c["meta"].get("parameters") != self.meta.get("parameters"):
            raise InputError(self.out_dir, "run/checkpoint.npz",
                             f"was made with other parameters {c['meta'].get('parameters')}; resume with the same ones")
        self.state.load({key[6:]: value for key, value in data.items() if key.startswith("state_")})
        self.recorder.load_state_dict({k[4:]: v for k, v in data.items() if k.startswith("rec_")})
        self.solver.restore_accounting(c["accounting"])
        self.t, self.steps, self.n_outputs, self.n_probes = c["t"], c["steps"], c["n_outputs"], c["n_probes"]
        self.t0 = c.get("t0", 0.0)  # a hot-started run resumes on its own schedule
        if self.meta.get("hot_start") is None and c["meta"].get("hot_start") is not None:
            self.meta["hot_start"] = c["meta"]["hot_start"]
        self.wall, self.initial_volume = c["wall"], c["initial_volume"]

    # -- the loop --------------------------------------------------------------------
    def run(self, *, resume: bool = False) -> dict:
        """Run to ``settings.duration`` (or resume); return the summary.

        Raises:
            KeyboardInterrupt: after writing the result up to the last output.
            SimulationError: likewise, when a guard stops the run.
        """
        st = self.settings
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            self._restore()
        else:
            for old in self.run_dir.glob("*.npz"):
                old.unlink()
            self.recorder.update(self.state, self.t)
            self.recorder.sample_probes(self.state, self.t)
            self.n_probes = 1
            self._write_output(check=False)
        n_out_total = int(math.floor(st.duration / st.output_interval + 1e-9))
        # outputs and probes before t0 (a hot start's) count as done: events stay at k * interval
        out_before = int(math.floor(self.t0 / st.output_interval + 1e-9))
        probes_before = int(math.floor(self.t0 / st.probe_interval + 1e-9))
        status = "complete"
        bar = self._progress_bar()
        start = time.perf_counter() - self.wall
        clock = self.device_clock = None
        if self.resident:
            clock = self.solver.device_clock(fixed_dt=st.fixed_dt, max_dt=st.max_dt, capture_graphs=self.capture_graphs)
            clock.set(self.t, self.steps, self.solver.volume_from_sources)
            self.device_clock = clock
        try:
            while self.t < st.duration:
                k_out = self.n_outputs + out_before
                next_out = min(k_out * st.output_interval, st.duration) if k_out <= n_out_total else st.duration
                next_probe = (self.n_probes + probes_before) * st.probe_interval
                event = min(next_out, next_probe, st.duration)
                if clock is None:
                    self._host_step(event)
                else:
                    self.state, self._other, c = clock.advance_to(self.state, self._other, event, self.recorder)
                    self.t, self.steps = float(c[0, clock.T]), int(c[0, clock.STEPS])  # member 0's
                if self.t >= next_probe:
                    self.recorder.sample_probes(self.state, self.t)
                    self.n_probes += 1
                self.wall = time.perf_counter() - start
                if self.t >= next_out:
                    self._write_output()
                if self.on_step is not None:
                    self.on_step(self)
                if bar is not None:
                    bar.update(self.t - bar.n)
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        except SimulationError as e:
            status = "failed"
            raise SimulationError(f"at t={getattr(e, 't', self.t):.3f} s, step {getattr(e, 'step', self.steps)}: {e}") from None
        finally:
            if bar is not None:
                bar.close()
            with _sigint_deferred():
                self.summary = self.finalize(status)
        return self.summary

    def _host_step(self, event: float) -> None:
        """One step towards ``event`` [s], its dt chosen on the host."""
        st = self.settings
        limit = self.solver.stable_dt(self.state, self.t)
        if st.fixed_dt is not None:
            if st.fixed_dt > limit * (1 + 1e-12):
                raise SimulationError(f"fixed dt {st.fixed_dt} s exceeds the CFL limit {limit:.4g} s")
            dt = st.fixed_dt
        else:
            dt = min(limit, st.max_dt)
        if not math.isfinite(dt):
            dt = event - self.t
        t_new = self.t + dt
        if t_new >= event * (1 - 1e-12) or event - t_new < 1e-9:
            dt, t_new = event - self.t, event
        self.solver.step(self.state, self._other, self.control, dt, self.t)
        self.state, self._other = self._other, self.state
        self.t = t_new
        self.steps += 1
        self.recorder.update(self.state, self.t)

    def _progress_bar(self):
        if not self.progress:
            return None
        from tqdm import tqdm

        return tqdm(total=self.settings.duration, initial=self.t, unit="s", unit_scale=False, file=sys.stderr,
                    mininterval=0.5 if sys.stderr.isatty() else 5.0,
                    bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s simulated [{elapsed} wall, ETA {remaining}]")

    # -- results ---------------------------------------------------------------------
    def finalize(self, status: str) -> dict:
        """Write result.zarr and summary.json from the last checkpoint and snapshots."""
        data = self._load_checkpoint()
        c = json.loads(str(data["counters"]))
        times, snaps = [], []
        for k in range(c["n_outputs"]):
            with np.load(self._snapshot_path(k)) as z:
                times.append(float(z["time"]))
                snaps.append({n: z[n] for n in z.files if n != "time"})
        recorded = {k[4:]: v for k, v in data.items() if k.startswith("rec_")}
        ds = self.recorder.dataset(times, snaps, recorded)
        ds.attrs.update(status=status, twin_kind=self.recorder.kind, Conventions=ds.attrs.get("Conventions", "CF-1.10"))
        write_zarr(ds, self.out_dir / "result.zarr")
        summary = {
            "status": status,
            "twin_kind": self.recorder.kind,
            "simulated_time_s": c["t"],
            "wall_time_s": c["wall"],
            "steps": c["steps"],
            "cells": self.recorder.cells,
            "snapshots": len(times),
            "volume_balance": c["volume_balance"],
            **c["meta"],
            **self.recorder.summary(ds),
        }
        write_text(self.out_dir / "summary.json", json.dumps(summary, indent=2, default=float))
        return summary
