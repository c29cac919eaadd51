"""Sweeps of a scene script over many parameter sets, on dask.distributed.

    twin batch SWEEP.toml --out DIR [--workers N] [--scheduler tcp://HOST:PORT]

Each run is one Dask task (:func:`execute_run`): the scene is set up and run
into a temporary folder on the worker, and what the sweep keeps (summary
metrics, peak fields, probe series, coarsened fields, provenance) comes back to
the client, which writes it at once, atomically, to ``DIR/runs/run_NNNNN.npz``.
The store is assembled from those records at the end, after Ctrl-C, or when
the sweep stops for any reason::

    DIR/sweep.toml        the sweep file as given; DIR/sweep.fingerprint: what defines its runs
    DIR/runs/             one record per finished run (done or failed)
    DIR/results.zarr      xarray Dataset over (run, ...): parameters, metrics, status,
                          peak fields (run, y, x), probe series (run, probe, probe_time),
                          coarsened fields (run, time, yc, xc), static fields
    DIR/runs.csv          one row per run: parameters, status, metrics, error, worker
    DIR/provenance.jsonl  one JSON object per finished run: its summary.json and the worker

Running the same command again resumes: runs with a record "done" are skipped,
failed and missing ones run. A run whose task raises is recorded as failed with
its error while the others go on; a worker that dies has its run rescheduled by
the Dask scheduler on another worker (up to ``distributed.scheduler.allowed-failures``
deaths, after which the run is recorded as failed).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from twin.app.sweep import Sweep, load_sweep
from twin.errors import InputError
from twin.physics.simulation import save_npz, write_text, write_zarr


def _coarsen(da, cell: float):
    """Block means of a (time, y, x) field over about ``cell`` [m] squares (NaN-skipping)."""
    dx = float(abs(da["x"].values[1] - da["x"].values[0]))
    factor = max(1, int(round(cell / dx)))
    return da.coarsen(x=factor, y=factor, boundary="trim").mean()


def _kept(run, result_dir: Path, summary: dict, keep: dict, scene: str) -> dict:
    """What the sweep keeps of a finished run in ``result_dir``: metrics, arrays, coords."""
    import xarray as xr

    peak = keep["peak_fields"] if keep["peak_fields"] is not None else run.sweep_keep.get("peak_fields", [])
    probes = keep["probes"] if keep["probes"] is not None else run.sweep_keep.get("probes", [])
    result = xr.open_zarr(result_dir / "result.zarr", decode_times=False)
    wanted = [*peak, *probes, *run.static_fields, *keep["fields"]]
    missing = [n for n in wanted if n not in result.variables]
    if missing:
        raise InputError(scene, "[keep]", f"a {run.kind} Result has no {', '.join(missing)}")
    coords = {n: result[n].values for n in result.coords if n in result[wanted].coords or n == "time"}
    ds = result[sorted(set(wanted))].load() if wanted else result
    metrics = run.sweep_metrics(result, summary)  # reads only the variables the kind needs
    arrays = {n: ds[n].values for n in [*peak, *probes, *run.static_fields]}
    for name in keep["fields"]:
        coarse = _coarsen(ds[name], keep["field_resolution"] or 0.0)
        arrays[f"coarse_{name}"] = coarse.values
        coords.update(xc=coarse["x"].values, yc=coarse["y"].values)
    return {"status": "done", "error": "", "kind": run.kind, "static": list(run.static_fields), "summary": summary,
            "metrics": metrics, "arrays": arrays, "coords": coords}


def _failed(error: Exception) -> dict:
    return {"status": "failed", "error": " ".join(f"{type(error).__name__}: {error}".split())}


def _on_this_worker(cpu_threads: int | None):
    """Keep a run's work on its worker: ``cpu_threads`` solver threads, and any dask array
    it reads (xarray's lazy Result) computed in-process, not sent back to the cluster
    through a worker client (which outlives the loop when the cluster closes)."""
    import dask

    if cpu_threads:
        os.environ["TWIN_CPU_THREADS"] = str(cpu_threads)
    return dask.config.set(scheduler="synchronous")


def execute_run(scene: str, parameters: dict[str, Any], keep: dict, cpu_threads: int | None = None) -> dict:
    """Run one parameter set on this worker and return what the sweep keeps.

    Never raises for a failing run: the record then has ``status`` "failed" and the
    ``error`` as one line.

    Returns:
        dict with ``status``, ``error``, ``worker`` ("host:pid"), ``started``/``finished``
        (UNIX time [s]), and for a done run ``summary`` (its summary.json), ``metrics``,
        ``arrays`` (name -> ndarray) and ``coords`` (name -> ndarray).
    """
    from twin.app.runs import execute, load_run

    record: dict[str, Any] = {"worker": f"{socket.gethostname()}:{os.getpid()}", "started": time.time()}
    try:
        run, params = load_run(scene, [f"{k}={v}" for k, v in parameters.items()])
        with _on_this_worker(cpu_threads), tempfile.TemporaryDirectory(prefix="twin-run-") as tmp:
            summary = execute(run, tmp, parameters=params, script=scene, progress=False)
            record.update(_kept(run, Path(tmp), summary, keep, scene))
    except Exception as e:  # a failing run is recorded and the sweep goes on
        record.update(_failed(e))
    record["finished"] = time.time()
    return record


def execute_ensemble(scene: str, parameter_sets: list[dict[str, Any]], keep: dict, cpu_threads: int | None = None) -> list[dict]:
    """Run flood parameter sets as one ensemble (:func:`twin.app.ensemble.run_scene_ensemble`: one batched
    State in the same launches) and return a record per run, as :func:`execute_run` would; a failing
    ensemble fails each of its runs with the same error."""
    from twin.app.ensemble import run_scene_ensemble
    from twin.physics.swe.run import FloodRun
    from twin.script import load_script, parameters_of, setup_run

    start, worker = time.time(), f"{socket.gethostname()}:{os.getpid()}"
    try:
        script = load_script(scene)
        resolved = [parameters_of(script, scene, [f"{k}={v}" for k, v in p.items()]) for p in parameter_sets]
        with _on_this_worker(cpu_threads), tempfile.TemporaryDirectory(prefix="twin-ensemble-") as tmp:
            folders = run_scene_ensemble(scene, resolved, tmp)
            records = []
            for params, folder in zip(resolved, folders):
                summary = json.loads((folder / "summary.json").read_text())
                records.append(_kept(setup_run(script, params, (FloodRun,)), folder, summary, keep, scene))
    except Exception as e:  # the ensemble's runs are recorded failed and the sweep goes on
        records = [_failed(e) for _ in parameter_sets]
    return [{**r, "worker": worker, "started": start, "finished": time.time()} for r in records]


# -- records -------------------------------------------------------------------------
def _record_path(out: Path, k: int) -> Path:
    return out / "runs" / f"run_{k:05d}.npz"


def save_record(out: Path, k: int, record: dict) -> None:
    """Write run ``k``'s record atomically (temporary file, fsync, rename)."""
    meta = {key: v for key, v in record.items() if key not in ("arrays", "coords")}
    arrays = {f"a_{n}": v for n, v in record.get("arrays", {}).items()}
    arrays.update({f"c_{n}": v for n, v in record.get("coords", {}).items()})
    save_npz(_record_path(out, k), meta=np.array(json.dumps(meta, default=float)), **arrays)


def record_status(out: Path, k: int) -> str | None:
    """Run ``k``'s status ("done", "failed"), reading only its metadata; None without a record."""
    try:
        with np.load(_record_path(out, k)) as z:
            return json.loads(str(z["meta"]))["status"]
    except (FileNotFoundError, ValueError, OSError, KeyError):
        return None


def load_record(out: Path, k: int) -> dict | None:
    """Run ``k``'s record, or None when it has none (or an unreadable one, to be rerun)."""
    try:
        with np.load(_record_path(out, k)) as z:
            record = json.loads(str(z["meta"]))
            record["arrays"] = {n[2:]: z[n] for n in z.files if n.startswith("a_")}
            record["coords"] = {n[2:]: z[n] for n in z.files if n.startswith("c_")}
    except (FileNotFoundError, ValueError, OSError, KeyError):
        return None
    return record


# -- the store -----------------------------------------------------------------------
def write_store(sweep: Sweep, out: Path) -> dict[str, int]:
    """Assemble DIR/results.zarr, runs.csv and provenance.jsonl from the run records;
    return the count of runs per status ("done", "failed", "pending")."""
    import xarray as xr

    n = len(sweep.runs)
    records = [load_record(out, k) for k in range(n)]
    status = np.array([r["status"] if r else "pending" for r in records])
    template = next((r for r in records if r and r["status"] == "done"), None)
    data: dict[str, Any] = {"status": (("run",), status), "error": (("run",), np.array([r["error"] if r else "" for r in records]))}
    data["worker"] = (("run",), np.array([r["worker"] if r else "" for r in records]))
    for name in sweep.varied:
        data[name] = (("run",), np.array([sweep.runs[k][name] for k in range(n)]))
    metrics = list(template["metrics"]) if template is not None else []
    static = set(template["static"]) if template is not None else set()
    for name in metrics:
        data[name] = (("run",), np.array([r["metrics"].get(name, np.nan) if r and r["status"] == "done" else np.nan
                                         for r in records]))
    coords: dict[str, Any] = {"run": np.arange(n)}
    if template is not None:
        coords.update({c: v for c, v in template["coords"].items() if c != "time"})
        if sweep.keep.fields:
            coords["time"] = template["coords"]["time"]
        for name, value in template["arrays"].items():
            dims = _dims(name, value.ndim)
            if name in static:
                data[name] = (dims, value)
                continue
            stacked = np.full((n, *value.shape), np.nan, dtype=np.float64)
            for k, r in enumerate(records):
                if r and r["status"] == "done" and r["arrays"][name].shape == value.shape:
                    stacked[k] = r["arrays"][name]
            data[name] = (("run", *dims), stacked)
    ds = xr.Dataset(data, coords=coords, attrs={
        "title": f"twin sweep of {sweep.scene.name}", "twin_kind": template["kind"] if template else "",
        "Conventions": "CF-1.10", "scene_script": str(sweep.scene), "sweep_fingerprint": sweep.fingerprint,
        "design": json.dumps(sweep.design), "fixed": json.dumps(sweep.fixed), "varied": json.dumps(sweep.varied)})
    write_zarr(ds, out / "results.zarr")

    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["run", "status", *sweep.varied, *metrics, "worker", "error"])
    for k, r in enumerate(records):
        values = [r["metrics"].get(m, "") for m in metrics] if r and r["status"] == "done" else [""] * len(metrics)
        writer.writerow([k, status[k], *(sweep.runs[k][v] for v in sweep.varied), *values,
                         r["worker"] if r else "", r["error"] if r else ""])
    write_text(out / "runs.csv", table.getvalue())
    lines = [json.dumps({"run": k, "status": r["status"], "worker": r["worker"], "started": r["started"], "finished": r["finished"],
                         "error": r["error"], "summary": r.get("summary")}, default=float) for k, r in enumerate(records) if r]
    write_text(out / "provenance.jsonl", "".join(line + "\n" for line in lines))
    return {s: int((status == s).sum()) for s in ("done", "failed", "pending")}


def _dims(name: str, ndim: int) -> tuple[str, ...]:
    if name.startswith("coarse_"):
        return ("time", "yc", "xc")
    if name.startswith("probe_") and ndim == 2:
        return ("probe", "probe_time")
    if ndim == 1:
        return ("probe",)
    return ("y", "x")


# -- running ---------------------------------------------------------------------------
def _client(workers: int | None, scheduler: str | None):
    """A dask.distributed Client: to ``scheduler``, or to a new LocalCluster of
    ``workers`` single-threaded processes."""
    import logging

    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as e:
            raise InputError("--scheduler", scheduler, f"cannot reach the scheduler ({e})") from None
    _quiet_resource_tracker()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.ERROR)
    return Client(cluster)


def _quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (one per process, shared by the workers) with its stderr on
    the null device. It cleans up what a worker stopped at Ctrl-C left behind (a semaphore of a worker
    still starting), and then warns about it: its business, not the user's."""
    from multiprocessing import resource_tracker

    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            resource_tracker.ensure_running()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def prepare_out(sweep: Sweep, out: Path) -> None:
    """Make DIR for ``sweep``; refuse a DIR that holds another sweep."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "runs").mkdir(exist_ok=True)
    mark = out / "sweep.fingerprint"
    if mark.exists() and mark.read_text().strip() != sweep.fingerprint:
        raise InputError(out, "sweep.fingerprint", "holds the results of another sweep; give a new --out")
    write_text(mark, sweep.fingerprint + "\n")
    shutil.copyfile(sweep.path, out / "sweep.toml")


def run_sweep(sweep: Sweep, out: str | Path, *, workers: int | None = None, scheduler: str | None = None,
              progress: bool = True, ensemble: int | None = None) -> dict[str, int]:
    """Run every run of ``sweep`` without a "done" record in ``out``; return the counts
    per status. The store is written whatever happens; Ctrl-C (in the main thread) stops
    the sweep, writes the store and then raises KeyboardInterrupt.

    ``workers`` (local only, default: the CPU count) single-threaded worker processes;
    each run's solver then uses cpu_count / workers threads. ``ensemble`` N: a flood sweep's
    runs go N at a time as one ensemble (one batched State, the same launches) per task.
    """
    from distributed import as_completed
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    out = Path(out)
    prepare_out(sweep, out)
    todo = [k for k in range(len(sweep.runs)) if record_status(out, k) != "done"]
    n_workers = workers or os.cpu_count() or 1
    threads = None if scheduler else max(1, (os.cpu_count() or 1) // n_workers)
    keep = vars(sweep.keep)
    bar = None
    client = None
    with _ctrl_c_flag() as interrupted:
        try:
            if todo and not interrupted.is_set():
                client = _client(n_workers, scheduler)
                size = ensemble or 1
                groups = [todo[i:i + size] for i in range(0, len(todo), size)] if not interrupted.is_set() else []
                futures = {}  # none when Ctrl-C came while the cluster started
                for group in groups:
                    key = f"twin-run-{sweep.fingerprint[:12]}-{group[0]:05d}" + (f"-{len(group)}" if ensemble else "")
                    if ensemble:
                        future = client.submit(execute_ensemble, str(sweep.scene),
                                               [sweep.run_parameters(k) for k in group], keep, threads, key=key,
                                               pure=False)
                    else:
                        future = client.submit(execute_run, str(sweep.scene), sweep.run_parameters(group[0]), keep,
                                               threads, key=key, pure=False)
                    futures[future] = group
                bar = _progress_bar(len(sweep.runs), len(sweep.runs) - len(todo)) if progress else None
                failed = 0
                finished = as_completed(futures)
                while not finished.is_empty() and not interrupted.is_set():
                    if not finished.has_ready():
                        interrupted.wait(0.1)
                        continue
                    for future in finished.next_batch(block=False):
                        group = futures[future]
                        try:
                            result = future.result()
                            records = result if ensemble else [result]
                        except (KilledWorker, FutureCancelledError) as e:
                            now = time.time()
                            records = [{"status": "failed", "error": f"{type(e).__name__}: {e}", "worker": "",
                                        "started": now, "finished": now} for _ in group]
                        for k, record in zip(group, records):
                            save_record(out, k, record)
                            failed += record["status"] == "failed"
                        if bar is not None:
                            bar.set_postfix_str(f"failed {failed}", refresh=False)
                            bar.update(len(group))
        finally:
            if bar is not None:
                bar.close()
            if client is not None:
                cluster = client.cluster
                client.close()
                if cluster is not None:
                    cluster.close()
            counts = write_store(sweep, out)
    if interrupted.is_set():
        raise KeyboardInterrupt
    return counts


@contextlib.contextmanager
def _ctrl_c_flag():
    """An Event that Ctrl-C sets instead of raising KeyboardInterrupt, so that no Ctrl-C
    lands inside dask's client calls (where it raises from its event-loop thread) and a
    second one cannot cut the store's writing short; in the main thread only."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: flag.set())
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _progress_bar(total: int, initial: int):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="run", file=sys.stderr, mininterval=0.5 if sys.stderr.isatty() else 5.0,
                bar_format="{l_bar}{bar}| {n}/{total} runs done{postfix} [{elapsed}, ETA {remaining}]")


def cmd_batch(args) -> int:
    """``twin batch SWEEP.toml --out DIR [--workers N] [--scheduler tcp://HOST:PORT] [--quiet]``."""
    if args.out is None:
        raise InputError("twin batch", "", "--out DIR is required (rerun the same command to resume)")
    if args.workers is not None and args.workers < 1:
        raise InputError("--workers", "", f"must be at least 1, got {args.workers}")
    if args.workers is not None and args.scheduler:
        raise InputError("--workers", "", "a running scheduler brings its own workers; leave out --workers")
    if args.ensemble is not None and args.ensemble < 1:
        raise InputError("--ensemble", "", f"must be at least 1, got {args.ensemble}")
    sweep = load_sweep(args.sweep)
    try:
        counts = run_sweep(sweep, args.out, workers=args.workers, scheduler=args.scheduler, progress=not args.quiet,
                           ensemble=args.ensemble)
    except KeyboardInterrupt:
        store = args.out / "results.zarr"
        kept = f"finished runs are in {store}" if store.exists() else "no run had finished"
        print(f"twin: interrupted; {kept} (rerun the same command to continue)", file=sys.stderr)
        return 130
    print(f"twin: {counts['done']} runs done, {counts['failed']} failed, {counts['pending']} pending; "
          f"store {args.out / 'results.zarr'}, table {args.out / 'runs.csv'}")
    return 0
