"""twin batch: sweep files, local and remote Dask runs, the store, resume, failures, killed workers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from shared_data import DATA, need

from twin.app.batch import load_record, prepare_out, run_sweep
from twin.app.cli import main
from twin.app.sweep import latin_hypercube, load_sweep

pytestmark = pytest.mark.data  # needs ../shared/data

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "scenes" / "merewether.py"
DASK = Path(sys.executable).parent / "dask"
TINY = """
scene = "{scene}"
[fixed]
resolution = {resolution}
duration = {duration}
output_interval = 20.0
probe_interval = 5.0
[vary]
{vary}
[keep]
peak_fields = ["max_depth", "max_speed"]
probes = ["probe_depth"]
fields = ["depth"]
field_resolution = 40.0
"""


def _sweep_file(tmp_path: Path, vary: str, *, resolution: float = 20.0, duration: float = 40.0, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(TINY.format(scene=SCENE, vary=vary, resolution=resolution, duration=duration))
    return path


@pytest.fixture
def merewether():
    need(DATA / "flood" / "merewether")


@pytest.mark.parametrize("vary, key", [
    ('design = "grid"\n[vary.parameters]\ninflw = [1.0]', "key vary.parameters.inflw"),
    ('design = "grid"\n[vary.parameters]\nmanning = [0.03, -0.1]', "key vary.parameters.manning"),
    ('design = "grid"\n[vary.parameters]\norder = [3]', "key vary.parameters.order"),
    ('design = "grid"\n[vary.parameters]\ninflow = ["ten"]', "key vary.parameters.inflow"),
    ('design = "latin_hypercube"\nsamples = 4\nseed = 1\n[vary.parameters]\ninflow = [30.0, 10.0]', "key vary.parameters.inflow"),
    ('design = "latin_hypercube"\nsamples = 4\n[vary.parameters]\ninflow = [10.0, 30.0]', "key vary.seed"),
    ('design = "list"\nseed = 3\n[vary.parameters]\ninflow = [10.0]', "key vary.seed"),
    ('design = "list"\n[vary.parameters]\ninflow = [10.0, 20.0]\nmanning = [0.03]', "key vary.parameters"),
    ('design = "sobol"\n[vary.parameters]\ninflow = [10.0]', "key vary.design"),
    ('design = "grid"\nrepeat = 2\n[vary.parameters]\ninflow = [10.0]', "key vary.repeat"),
    ('design = "grid"\n[vary.parameters]\nresolution = [5.0]', "key vary.parameters.resolution"),  # also fixed
])
def test_bad_sweeps_are_one_line_naming_the_key_and_nothing_runs(tmp_path, capsys, merewether, vary, key):
    path = _sweep_file(tmp_path, vary)
    out = tmp_path / "out"
    assert main(["batch", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and key in err and str(path) in err, err
    assert not out.exists()


def test_unknown_keys_outside_vary_are_rejected(tmp_path, capsys, merewether):
    path = _sweep_file(tmp_path, 'design = "grid"\n[vary.parameters]\ninflow = [10.0]')
    path.write_text(path.read_text().replace("[keep]", "[keep]\nsnapshots = true").replace("[fixed]", "[fixed]\nspeed = 2.0"))
    assert main(["batch", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "key fixed.speed" in capsys.readouterr().err
    path.write_text(path.read_text().replace("speed = 2.0\n", ""))
    assert main(["batch", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "key keep.snapshots" in capsys.readouterr().err


def test_designs(tmp_path, merewether):
    grid = load_sweep(_sweep_file(tmp_path, 'design = "grid"\n[vary.parameters]\ninflow = [10.0, 20.0, 30.0]\nmanning = [0.03, 0.05]'))
    assert len(grid.runs) == 6 and {(r["inflow"], r["manning"]) for r in grid.runs} == {(a, b) for a in (10.0, 20.0, 30.0) for b in (0.03, 0.05)}
    listed = load_sweep(_sweep_file(tmp_path, 'design = "list"\n[vary.parameters]\ninflow = [10, 20]\nmanning = [0.03, 0.05]'))
    assert listed.runs == [{"inflow": 10.0, "manning": 0.03}, {"inflow": 20.0, "manning": 0.05}]
    assert listed.run_parameters(1)["inflow"] == 20.0 and listed.run_parameters(1)["resolution"] == 20.0
    # a Latin hypercube: exactly one point in each of the n strata of every dimension; same seed, same points
    points = latin_hypercube(50, [(10.0, 30.0), (0.02, 0.08)], seed=4)
    for d, (low, high) in enumerate([(10.0, 30.0), (0.02, 0.08)]):
        strata = np.floor((points[:, d] - low) / (high - low) * 50).astype(int)
        assert sorted(strata) == list(range(50))
    assert np.array_equal(points, latin_hypercube(50, [(10.0, 30.0), (0.02, 0.08)], seed=4))
    assert not np.array_equal(points, latin_hypercube(50, [(10.0, 30.0), (0.02, 0.08)], seed=5))


def test_local_sweep_store_failure_and_resume(tmp_path, merewether):
    """Three runs on a LocalCluster of two processes; run 1 points at missing data and
    fails with its error while the others finish; the rerun skips the finished ones."""
    path = _sweep_file(tmp_path, f'design = "list"\n[vary.parameters]\ninflow = [10.0, 20.0, 30.0]\n'
                                 f'data = ["{DATA / "flood" / "merewether"}", "{tmp_path / "nowhere"}", "{DATA / "flood" / "merewether"}"]')
    out = tmp_path / "out"
    assert main(["batch", str(path), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    ds = xr.open_zarr(out / "results.zarr", decode_times=False)
    assert list(ds["status"].values) == ["done", "failed", "done"]
    assert "nowhere" in str(ds["error"].values[1]) and ds["error"].values[0] == ""
    assert ds["max_depth"].dims == ("run", "y", "x") and ds["probe_depth"].dims == ("run", "probe", "probe_time")
    assert ds["coarse_depth"].dims == ("run", "time", "yc", "xc") and ds.sizes["xc"] < ds.sizes["x"]
    assert np.isnan(ds["max_depth"].values[1]).all() and np.nanmax(ds["max_depth"].values[2]) > np.nanmax(ds["max_depth"].values[0])
    assert ds["peak_depth_m"].values[2] == pytest.approx(float(ds["max_depth"].values[2].max()))
    table = (out / "runs.csv").read_text().splitlines()
    assert table[0].startswith("run,status,inflow,data,") and table[2].startswith("1,failed,20.0,")
    provenance = [json.loads(line) for line in (out / "provenance.jsonl").read_text().splitlines()]
    assert [p["run"] for p in provenance] == [0, 1, 2] and provenance[0]["summary"]["versions"]["warp"]
    done_before = {k: load_record(out, k)["finished"] for k in (0, 2)}
    failed_before = load_record(out, 1)["finished"]
    counts = run_sweep(load_sweep(path), out, workers=1, progress=False)
    assert counts == {"done": 2, "failed": 1, "pending": 0}
    assert {k: load_record(out, k)["finished"] for k in (0, 2)} == done_before  # skipped
    assert load_record(out, 1)["finished"] > failed_before  # failed runs are tried again


def test_another_sweep_in_the_same_folder_is_refused(tmp_path, capsys, merewether):
    out = tmp_path / "out"
    a = _sweep_file(tmp_path, 'design = "list"\n[vary.parameters]\ninflow = [10.0]', duration=10.0, name="a.toml")
    b = _sweep_file(tmp_path, 'design = "list"\n[vary.parameters]\ninflow = [20.0]', duration=10.0, name="b.toml")
    prepare_out(load_sweep(a), out)
    assert main(["batch", str(b), "--out", str(out), "--workers", "1", "--quiet"]) == 2
    assert "another sweep" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster(tmp_path):
    """A real `dask scheduler` and two `dask worker` processes (no nanny: a killed worker
    stays dead) on 127.0.0.1; all three are killed afterwards."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "TWIN_CPU_THREADS": "1"}
    logs = [open(tmp_path / f"dask_{n}.log", "w") for n in ("scheduler", "worker0", "worker1")]
    procs = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              stdout=logs[0], stderr=subprocess.STDOUT, cwd=ROOT, env=env)]
    for log in logs[1:]:
        procs.append(subprocess.Popen([str(DASK), "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                       "--host", "127.0.0.1", "--death-timeout", "60"],
                                      stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env))
    from distributed import Client

    try:
        client = Client(address, timeout="30s")
        client.wait_for_workers(2, timeout=60)
        yield address, client, procs[1:]
        client.close()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)
        for log in logs:
            log.close()


def test_sweep_through_a_scheduler_with_two_workers_survives_a_killed_worker(tmp_path, merewether, dask_cluster):
    address, client, workers = dask_cluster
    pids = {p.pid for p in workers}
    # 1. four runs through the scheduler: both workers take part
    path = _sweep_file(tmp_path, 'design = "grid"\n[vary.parameters]\ninflow = [10.0, 15.0, 20.0, 25.0]', name="a.toml")
    out = tmp_path / "a"
    assert main(["batch", str(path), "--out", str(out), "--scheduler", address, "--quiet"]) == 0
    records = [load_record(out, k) for k in range(4)]
    assert all(r["status"] == "done" for r in records)
    assert {int(r["worker"].rsplit(":", 1)[1]) for r in records} == pids
    # 2. kill the worker that is running a run: the scheduler gives the run to the other one
    path = _sweep_file(tmp_path, 'design = "grid"\n[vary.parameters]\ninflow = [12.0, 18.0, 24.0]', name="b.toml",
                       resolution=5.0, duration=300.0)
    out = tmp_path / "b"
    result = {}
    runner = threading.Thread(target=lambda: result.update(run_sweep(load_sweep(path), out, scheduler=address, progress=False)))
    runner.start()
    pid_of = client.run(os.getpid)  # worker address -> process id
    deadline = time.monotonic() + 60
    victim = None
    while victim is None and time.monotonic() < deadline:
        busy = [addr for addr, keys in client.processing().items() if keys]
        victim = next((pid_of[addr] for addr in busy if addr in pid_of), None)
        time.sleep(0.02)
    assert victim in pids, "no worker took a run within 60 s"
    os.kill(victim, signal.SIGKILL)
    runner.join(timeout=120)
    assert not runner.is_alive(), "the sweep did not finish within 120 s after the kill"
    assert result == {"done": 3, "failed": 0, "pending": 0}
    survivors = {int(load_record(out, k)["worker"].rsplit(":", 1)[1]) for k in range(3)}
    assert survivors == pids - {victim}


@pytest.mark.parametrize("moment", ["sweep.fingerprint", "runs/run_00000.npz"])
def test_ctrl_c_keeps_the_finished_runs(tmp_path, merewether, moment):
    """SIGINT to `twin batch`'s process group, as a terminal's Ctrl-C sends it (the worker
    processes get it too), while its cluster starts (DIR/sweep.fingerprint written) or after
    its first record: exit 130, one line (no dask traceback from its event loop or its
    workers), and a store holding the finished runs, the others pending (resuming is tested
    above)."""
    path = _sweep_file(tmp_path, 'design = "grid"\n[vary.parameters]\ninflow = [10.0, 14.0, 18.0, 22.0, 26.0, 30.0]',
                       resolution=20.0, duration=300.0)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "twin.app.cli", "batch", str(path), "--out", str(out), "--workers", "1", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / moment).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert len(err.strip().splitlines()) == 1 and "interrupted" in err, err
    status = list(xr.open_zarr(out / "results.zarr", decode_times=False)["status"].values)
    assert "pending" in status and (moment.startswith("sweep") or status[0] == "done")
    assert status.count("done") == len(list((out / "runs").glob("run_*.npz")))
