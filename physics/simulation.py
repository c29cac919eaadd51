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
    on_step: object = None  # callback(sim) after every step, e.g. a live viewer

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
        try:
            while self.t < st.duration:
                next_out = min(self.n_outputs * st.output_interval, st.duration) if self.n_outputs <= n_out_total else st.duration
                next_probe = self.n_probes * st.probe_interval
                event = min(next_out, next_probe, st.duration)
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
            raise SimulationError(f"at t={self.t:.3f} s, step {self.steps}: {e}") from None
        finally:
            if bar is not None:
                bar.close()
            self.summary = self.finalize(status)
        return self.summary

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
