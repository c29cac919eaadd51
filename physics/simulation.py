"""The Simulation loop every solver shares.

Time stepping (CFL-adaptive or fixed), guards, probes, snapshots, checkpoints,
resume, progress and Ctrl-C, around any solver with ``stable_dt(state, t)`` and
``step(state_in, state_out, control, dt, t)`` and a recorder (see
:class:`physics.swe.recorder.FloodRecorder` and
:class:`physics.dispersion.recorder.DispersionRecorder`). A State has ``clone()``,
``numpy()`` (name -> array) and an attribute of each of those names with ``assign``.

Files under ``out_dir``::

    run/snapshot_00003.npz   one per output time, written atomically
    run/checkpoint.npz       state + recorder + counters after the last output
    result.zarr              the Result (xarray Dataset), written at the end,
                             at Ctrl-C, or after a guard stops the run
    summary.json             wall time, steps, device, versions, parameters, volume balance

A checkpoint is written right after every snapshot, so a run killed at any
moment resumes from its last output, and the resumed run is bitwise equal to an
uninterrupted one (the step sequence depends only on the state and the time).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from twin.errors import InputError, SimulationError


def save_npz(path: Path, **arrays) -> None:
    """Write ``arrays`` to the .npz ``path`` atomically (temporary file, fsync, rename)."""
    tmp = path.with_name(path.name + ".partial.npz")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def write_zarr(ds, target: Path) -> None:
    """Write the xarray Dataset ``ds`` to the Zarr store ``target`` atomically (a
    ``.partial`` store, then a rename): a reader never sees half a store."""
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    ds.to_zarr(tmp, mode="w", zarr_format=2, consolidated=True)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a ``.partial`` file, then a rename)."""
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text)
    tmp.replace(path)


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
class Simulation:
    """One run of ``solver`` from ``state`` under ``control``, recorded into ``out_dir``.

    ``state`` and a second buffer made from it are swapped every step.
    ``meta`` (parameters, scene, device) goes into summary.json and is checked on resume.
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

    def __post_init__(self):
        self.out_dir = Path(self.out_dir)
        self.run_dir = self.out_dir / "run"
        self._other = self.state.clone()
        self.t = 0.0
        self.steps = 0
        self.n_outputs = 0
        self.n_probes = 0
        self.wall = 0.0
        self.initial_volume = self.solver.volume(self.state)

    # -- files -----------------------------------------------------------------------

    def _snapshot_path(self, k: int) -> Path:
        return self.run_dir / f"snapshot_{k:05d}.npz"

    def _counters(self) -> dict:
        return {"t": self.t, "steps": self.steps, "n_outputs": self.n_outputs, "n_probes": self.n_probes,
                "wall": self.wall, "initial_volume": self.initial_volume, "accounting": self.solver.accounting(),
                "volume_balance": self.solver.volume_balance(self.state, self.initial_volume), "meta": self.meta}

    def _write_output(self) -> None:
        snap = self.recorder.snapshot(self.state)
        save_npz(self._snapshot_path(self.n_outputs), time=np.float64(self.t), **snap)
        self.n_outputs += 1
        state = {f"state_{k}": v for k, v in self.state.numpy().items()}
        rec = {f"rec_{k}": v for k, v in self.recorder.state_dict().items()}
        save_npz(self.run_dir / "checkpoint.npz", counters=np.array(json.dumps(self._counters())), **state, **rec)

    def _load_checkpoint(self) -> dict:
        path = self.run_dir / "checkpoint.npz"
        try:
            with np.load(path) as z:
                data = {k: z[k] for k in z.files}
        except FileNotFoundError:
            raise InputError(self.out_dir, "run/checkpoint.npz", "no checkpoint to resume from") from None
        except (ValueError, OSError) as e:
            raise InputError(path, "", f"unreadable checkpoint ({e})") from None
        return data

    def _restore(self) -> None:
        data = self._load_checkpoint()
        c = json.loads(str(data["counters"]))
        if c["meta"].get("parameters") != self.meta.get("parameters"):
            raise InputError(self.out_dir, "run/checkpoint.npz",
                             f"was made with other parameters {c['meta'].get('parameters')}; resume with the same ones")
        for key, value in data.items():
            if key.startswith("state_"):
                getattr(self.state, key[6:]).assign(value)
        self.recorder.load_state_dict({k[4:]: v for k, v in data.items() if k.startswith("rec_")})
        self.solver.restore_accounting(c["accounting"])
        self.t, self.steps, self.n_outputs, self.n_probes = c["t"], c["steps"], c["n_outputs"], c["n_probes"]
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
            self.recorder.update(self.state, 0.0)
            self.recorder.sample_probes(self.state, 0.0)
            self.n_probes = 1
            self._write_output()
        n_out_total = int(math.floor(st.duration / st.output_interval + 1e-9))
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
                next_out = min(self.n_outputs * st.output_interval, st.duration) if self.n_outputs <= n_out_total else st.duration
                next_probe = self.n_probes * st.probe_interval
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
        ds.attrs["status"] = status
        write_zarr(ds, self.out_dir / "result.zarr")
        summary = {
            "status": status,
            "simulated_time_s": c["t"],
            "wall_time_s": c["wall"],
            "steps": c["steps"],
            "cells": self.recorder.cells,
            "snapshots": len(times),
            "volume_balance": c["volume_balance"],
            **c["meta"],
        }
        write_text(self.out_dir / "summary.json", json.dumps(summary, indent=2, default=float))
        return summary
