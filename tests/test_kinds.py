"""Every kind of twin (flood, dispersion, robot, machine) through the one run protocol and the
one command tree: run, resume, Ctrl-C, guards, the error boundary, sweeps. Tiny scenes, no shared data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from twin.physics.simulation import Run

from tests.conftest import KINDS
from twin.app.cli import main
from twin.app.runs import execute, load_run
from twin.errors import SimulationError


def _result(out) -> xr.Dataset:
    return xr.open_zarr(out / "result.zarr", decode_times=False).load()


def _assert_same(a: xr.Dataset, b: xr.Dataset) -> None:
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def test_every_kind_runs_through_the_command(kind_script, tmp_path, capsys):
    kind, script = kind_script
    assert main(["run", str(script), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    ds = _result(tmp_path / "out")
    assert ds.attrs["twin_kind"] == kind and ds.attrs["Conventions"].startswith("CF-")
    assert ds.attrs["status"] == "complete"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["twin_kind"] == kind and summary["status"] == "complete"
    assert "twin: result" in capsys.readouterr().out


def test_run_protocol(kind_script):
    kind, script = kind_script
    run, _ = load_run(script, [])
    assert isinstance(run, Run) and run.kind == kind and run.title


class _StopAfter:
    """on_step callback: Ctrl-C after ``steps`` steps."""

    def __init__(self, steps: int):
        self.steps = steps

    def __call__(self, sim) -> None:
        if sim.steps >= self.steps:
            raise KeyboardInterrupt


def test_ctrl_c_then_resume_is_bitwise_the_whole_run(kind_script, tmp_path):
    kind, script = kind_script
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run, params = load_run(script, [])
    full = execute(run, whole, parameters=params, progress=False)
    with pytest.raises(KeyboardInterrupt):
        execute(load_run(script, [])[0], cut, parameters=params, progress=False, on_step=_StopAfter(full["steps"] // 2))
    partial = _result(cut)
    assert partial.attrs["status"] == "interrupted" and partial.sizes["time"] >= 1  # a valid result of what was done
    resumed = execute(load_run(script, [])[0], cut, parameters=params, progress=False, resume=True)
    assert resumed["steps"] == full["steps"]
    _assert_same(_result(whole), _result(cut))


def test_guard_names_where_and_when(kind_script, tmp_path):
    """A non-finite value in the state stops every kind at its next output, naming the variable,
    the place, the time and the step."""
    kind, script = kind_script
    run, params = load_run(script, [])

    def poison(sim):
        if sim.steps == 3:
            arrays = sim.state.numpy()
            name = next(iter(arrays))
            arrays[name] = np.full_like(arrays[name], np.nan)
            sim.state.load({name: arrays[name]})

    with pytest.raises(SimulationError, match=r"at t=.* s, step \d+: .*(not finite|non-finite)"):
        execute(run, tmp_path, parameters=params, progress=False, on_step=poison)
    assert _result(tmp_path).attrs["status"] == "failed"


def test_ctrl_c_from_the_command_exits_130(tmp_path, monkeypatch, capsys):
    import twin.app.runs as runs

    real = runs.execute

    def interrupted(*args, **kwargs):
        return real(*args, **{**kwargs, "on_step": _StopAfter(5)})

    monkeypatch.setattr(runs, "execute", interrupted)
    assert main(["run", str(KINDS["flood"]), "--out", str(tmp_path), "--quiet"]) == 130
    assert "--resume" in capsys.readouterr().err
    assert _result(tmp_path).attrs["status"] == "interrupted"
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "interrupted"


def test_no_probes_runs(tmp_path):
    assert main(["run", str(KINDS["flood"]), "--set", "probes=false", "--out", str(tmp_path), "--quiet"]) == 0
    assert _result(tmp_path).sizes["probe"] == 0


# -- the command tree and its error boundary ------------------------------------------------
def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("twin ")
    for command in ("run", "inspect", "export", "batch", "surrogate", "forecast", "render", "view", "replay", "sync"):
        try:
            code = main([command, "--help"])
        except SystemExit as e:
            code = e.code
        assert code == 0, command
        assert "usage" in capsys.readouterr().out.lower(), command


@pytest.mark.parametrize("body, where, what", [
    ("import no_such_module_at_all\n", "line 1", "ModuleNotFoundError"),
    ("PARAMETERS = []\ndef setup(p):\n    return None\n", "setup()", "returned NoneType, not a run"),
    ("PARAMETERS = []\ndef setup(p):\n    x = 1\n    return 1 / 0\n", "line 4", "ZeroDivisionError"),
    ("PARAMETERS = []\nraise RuntimeError('broken')\n", "line 2", "RuntimeError: broken"),
    ("PARAMETERS = [\n", "line 1", "syntax error"),
])
def test_a_bad_script_is_one_line(tmp_path, capsys, body, where, what):
    script = tmp_path / "bad.py"
    script.write_text(body)
    out = tmp_path / "out"
    assert main(["run", str(script), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(script) in err and where in err and what in err
    assert not out.exists()  # nothing left behind


def test_bad_out(tmp_path, capsys):
    file = tmp_path / "file.txt"
    file.write_text("x")
    assert main(["run", str(KINDS["flood"]), "--out", str(file), "--quiet"]) == 2
    assert main(["run", str(KINDS["flood"]), "--out", str(file / "sub"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("file.txt" in line for line in err)


def test_a_bug_is_one_line_and_a_log(tmp_path, monkeypatch, capsys):
    import twin.app.runs as runs

    def broken(*args, **kwargs):
        raise RuntimeError("something internal")

    monkeypatch.setattr(runs, "execute", broken)
    monkeypatch.delenv("TWIN_DEBUG", raising=False)
    tmp_path.mkdir(exist_ok=True)
    assert main(["run", str(KINDS["flood"]), "--out", str(tmp_path), "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "twin run: internal error" in err[0] and "RuntimeError: something internal" in err[0]
    log = tmp_path / "twin-error.log"
    assert "Traceback" in log.read_text() and str(log) in err[0]


def test_a_missing_extra_is_named(monkeypatch, capsys, tmp_path):
    import twin.app.runs as runs

    def needs_pyvista(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'pyvista'", name="pyvista")

    monkeypatch.setattr(runs, "execute", needs_pyvista)
    assert main(["run", str(KINDS["flood"]), "--out", str(tmp_path), "--quiet"]) == 2
    assert "pip install 'twin[viewer]'" in capsys.readouterr().err


def test_unknown_command_and_option_are_one_line(capsys):
    assert main(["frobnicate"]) == 2
    assert main(["run", str(KINDS["flood"]), "--no-such-option"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2


# -- sweeps of every kind -------------------------------------------------------------------
SWEEPS = {"flood": ("inflow", [1.0, 3.0]), "dispersion": ("height", [100.0, 400.0]),
          "robot": ("payload", [0.2, 2.0]), "machine": ("threshold", [3.0, 6.0])}


def test_a_sweep_of_every_kind_lands_in_one_store(kind_script, tmp_path):
    from twin.app.batch import run_sweep
    from twin.app.sweep import load_sweep

    kind, script = kind_script
    name, values = SWEEPS[kind]
    sweep_file = tmp_path / "sweep.toml"
    sweep_file.write_text(f'scene = "{script}"\n[vary]\ndesign = "list"\n[vary.parameters]\n{name} = {values}\n')
    counts = run_sweep(load_sweep(sweep_file), tmp_path / "out", workers=1, progress=False)
    assert counts == {"done": 2, "failed": 0, "pending": 0}
    store = xr.open_zarr(tmp_path / "out" / "results.zarr", decode_times=False).load()
    assert store.attrs["twin_kind"] == kind
    assert list(store[name].values) == values
    assert np.all(store["wall_time_s"].values > 0) and np.all(np.isfinite(store["steps"].values))
    metrics = {"flood": "peak_depth_m", "dispersion": "peak_concentration_kg_m3", "robot": "peak_torque_Nm",
               "machine": "alarms"}[kind]
    assert np.all(np.isfinite(store[metrics].values)) and not math.isclose(*store[metrics].values)


def test_a_flood_sweep_as_ensembles_equals_the_sweep_of_single_runs(tmp_path):
    """``twin batch --ensemble 2``: each member's kept arrays and steps are bitwise its single run's."""
    sweep_file = tmp_path / "sweep.toml"
    sweep_file.write_text(f'scene = "{KINDS["flood"]}"\n[vary]\ndesign = "list"\n[vary.parameters]\ninflow = [1.0, 3.0, 2.0]\n')
    assert main(["batch", str(sweep_file), "--out", str(tmp_path / "single"), "--workers", "1", "--quiet"]) == 0
    assert main(["batch", str(sweep_file), "--out", str(tmp_path / "ensemble"), "--workers", "1", "--ensemble", "2",
                 "--quiet"]) == 0
    single, ensemble = (xr.open_zarr(tmp_path / d / "results.zarr", decode_times=False).load() for d in ("single", "ensemble"))
    assert list(ensemble["status"].values) == ["done"] * 3
    for name in ("max_depth", "probe_depth", "steps", "peak_depth_m", "volume_relative_error"):
        np.testing.assert_array_equal(single[name].values, ensemble[name].values, err_msg=name)


# -- the viewer on every kind ---------------------------------------------------------------
def test_live_frames_of_every_kind_reach_a_null_sink(kind_script, tmp_path):
    """``twin run --view`` with a null sink: the run's kind's frames, one per step (fps unbounded)."""
    from twin.viewer.live import LiveViewer
    from twin.viewer.sink import NullSink

    kind, script = kind_script
    run, params = load_run(script, [])
    sink = NullSink()
    summary = execute(run, tmp_path, parameters=params, progress=False, on_step=LiveViewer(run, viewer=sink, fps=1e6))
    assert set(sink.kinds) == {kind} and sink.frames == summary["steps"]
    assert sink.last and all(np.all(np.isfinite(np.asarray(v, float))) for v in sink.last.values())


def test_render_and_pictures_of_every_kind(kind_script, tmp_path, capsys):
    kind, script = kind_script
    out = tmp_path / "out"
    assert main(["run", str(script), "--out", str(out), "--quiet", "--pictures"]) == 0
    pictures = [line for line in capsys.readouterr().out.splitlines() if line.startswith("twin: picture")]
    assert pictures and all(Path(line.rsplit(": ", 1)[1]).is_file() for line in pictures)
    for target in (out, script):  # a Result, and the scene script itself
        png = tmp_path / f"{Path(target).stem}.png"
        assert main(["render", str(target), "--out", str(png), "--size", "160x90", "--quality", "draft"]) == 0, target
        assert png.stat().st_size > 1000
    assert main(["render", str(out), "--out", str(tmp_path / "v.mp4"), "--size", "160x90", "--quality", "draft",
                 "--frames", "3", "--quiet"]) == 0
