"""`twin run` and `twin batch` on hostile input: one line, exit 2, nothing half-written (tiny scenes, no shared data)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xarray as xr

from tests.conftest import KINDS
from twin.app.cli import main

pytestmark = pytest.mark.data  # needs ../shared/data

ROOT = Path(__file__).resolve().parents[1]


def _one_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("twin: warning:")]
    assert len(err) == 1, err
    return err[0]


def test_a_corrupt_checkpoint_is_one_line(tmp_path, capsys):
    assert main(["run", str(KINDS["flood"]), "--out", str(tmp_path), "--quiet"]) == 0
    capsys.readouterr()
    for garbage in (b"", b"not a zip at all", b"PK\x03\x04" + bytes(100)):
        (tmp_path / "run" / "checkpoint.npz").write_bytes(garbage)
        assert main(["run", str(KINDS["flood"]), "--resume", str(tmp_path), "--quiet"]) == 2
        assert "checkpoint" in _one_line(capsys)


def test_a_read_only_parent_is_one_line(tmp_path, capsys, monkeypatch):
    """A folder the user cannot write in (``os.access`` as the OS answers it: root may write anywhere, so the
    answer is forced here) is refused before anything runs."""
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked)
    assert main(["run", str(KINDS["flood"]), "--out", str(locked / "out"), "--quiet"]) == 2
    assert "permission denied" in _one_line(capsys)
    assert not (locked / "out").exists()


def test_a_second_ctrl_c_still_leaves_the_result(tmp_path):
    """Ctrl-C twice in quick succession: the second is ignored until result.zarr and summary.json are in place."""
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "twin.app.cli", "run", str(KINDS["flood"]), "--set", "duration=100000",
                             "--quiet", "--out", str(out)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "run" / "snapshot_00002.npz").exists():
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    ds = xr.open_zarr(out / "result.zarr", decode_times=False)
    assert ds.attrs["status"] == "interrupted" and (out / "summary.json").is_file()
    assert not list(out.glob("*.partial*"))


@pytest.mark.parametrize("body, where", [
    (b"\x00\x01\xff\xfe binary", "not a UTF-8 text file"),
    ('scene = "{s}"\n[vary]\ndesign = "latin_hypercube"\nsamples = 4\nseed = -1\n[vary.parameters]\ninflow = [1.0, 2.0]\n',
     "seed >= 0"),
    ('scene = "{s}"\n[vary]\ndesign = "latin_hypercube"\nsamples = 1e11\nseed = 1\n[vary.parameters]\ninflow = [1.0, 2.0]\n',
     "positive whole number of samples"),
    ('scene = "{s}"\n[vary]\ndesign = "latin_hypercube"\nsamples = 100000000000\nseed = 1\n'
     '[vary.parameters]\ninflow = [1.0, 2.0]\n', "at most 100000"),
    ('scene = "{s}"\n[vary]\ndesign = "grid"\n[vary.parameters]\ninflow = [' + ", ".join(["1.0"] * 10_000) + "]\n"
     "duration = [" + ", ".join(["10.0"] * 10_000) + "]\n", "defines 100000000 runs"),
])
def test_hostile_sweep_files_are_refused_before_anything_runs(tmp_path, capsys, body, where):
    sweep = tmp_path / "sweep.toml"
    if isinstance(body, bytes):
        sweep.write_bytes(body)
    else:
        sweep.write_text(body.format(s=KINDS["flood"]))
    start = time.perf_counter()
    assert main(["batch", str(sweep), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert time.perf_counter() - start < 20  # nothing of that size is ever made
    line = _one_line(capsys)
    assert str(sweep) in line and where in line
    assert not (tmp_path / "out").exists()


def test_a_sweep_names_its_scene_relative_to_itself(tmp_path):
    from twin.app.sweep import load_sweep

    folder = tmp_path / "sweeps"
    folder.mkdir()
    (folder / "s.toml").write_text('scene = "../../scenes/tiny_flood.py"\n[vary]\ndesign = "list"\n'
                                   "[vary.parameters]\ninflow = [1.0]\n")
    (tmp_path.parent / "scenes").mkdir(exist_ok=True)
    (tmp_path.parent / "scenes" / "tiny_flood.py").write_text(KINDS["flood"].read_text())
    assert load_sweep(folder / "s.toml").scene == (tmp_path.parent / "scenes" / "tiny_flood.py").resolve()


def test_a_city_terrain_too_large_is_refused_at_once():
    from shared_data import DATA, need

    from twin.errors import InputError
    from twin.io.cityjson import ground_terrain, read_cityjson

    city = read_cityjson(need(DATA / "city" / "delft.city.json"))
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"ground terrain on a grid of .* needs about .* GiB of host memory"):
        ground_terrain(city, (0.0, 0.0, 1e6, 1e6), 1.0)
    assert time.perf_counter() - start < 1.0


def test_a_large_city_terrain_shows_its_progress(capsys):
    """Rasterising 4 million cell tests or more shows a progress bar on stderr (a small one stays quiet)."""
    import numpy as np

    from twin.io.cityjson import rasterise_triangles

    tri = np.array([[[0.0, 0.0, 1.0], [2000.0, 0.0, 1.0], [0.0, 2100.0, 1.0]],
                    [[2000.0, 0.0, 2.0], [2000.0, 2100.0, 2.0], [0.0, 2100.0, 2.0]]])
    z = rasterise_triangles(tri, 0.0, 0.0, 1.0, 1.0, (2100, 2000))
    assert np.isfinite(z).all() and np.all((np.abs(z - 1.0) < 1e-9) | (np.abs(z - 2.0) < 1e-9))
    assert "ground terrain" in capsys.readouterr().err
    rasterise_triangles(tri, 0.0, 0.0, 100.0, 100.0, (21, 20))
    assert capsys.readouterr().err == ""
