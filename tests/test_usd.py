"""OpenUSD export (twin.usd, `twin export`): city scenes and a flood result, reopened with pxr and validated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from twin.app.cli import main
from twin.app.runs import execute
from twin.scene import SurfaceMesh, load_scene, save_scene
from twin.script import load_script, parameters_of

pxr = pytest.importorskip("pxr")
from pxr import Usd, UsdGeom, UsdShade  # noqa: E402

from twin.usd import check_usd, export_usd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
needs_data = pytest.mark.skipif(not (DATA / "city").is_dir(), reason="the city samples need ../shared/data beside the repository")


def _scene(script: str, assignments: list[str]):
    path = ROOT / "scenes" / script
    module = load_script(path)
    params = parameters_of(module, path, assignments)
    return module, params, module.setup(params)


@pytest.fixture(scope="module")
def moscow():
    return _scene("osm_city.py", [])[2].scene


def _subsets(prim) -> dict[str, str]:
    """Subset name -> bound material name."""
    out = {}
    for s in UsdGeom.Subset.GetAllGeomSubsets(UsdGeom.Imageable(prim)):
        material = UsdShade.MaterialBindingAPI(s.GetPrim()).ComputeBoundMaterial()[0]
        out[s.GetPrim().GetName()] = material.GetPrim().GetName()
    return out


@needs_data
def test_osm_scene_to_usda(tmp_path, moscow):
    f = tmp_path / "moscow.usda"
    counts = export_usd(moscow, f)
    assert counts["buildings"] == len(moscow.buildings) and counts["building_parts"] == 42 and counts["roads"] == 588
    stage = Usd.Stage.Open(str(f))
    assert UsdGeom.GetStageMetersPerUnit(stage) == 1.0 and UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.z
    assert stage.GetDefaultPrim().GetPath() == "/World"
    data = stage.GetRootLayer().customLayerData
    assert data["twin:crs"] == "EPSG:32637" and tuple(data["twin:origin"]) == pytest.approx(moscow.origin)
    buildings = stage.GetPrimAtPath("/World/Buildings").GetChildren()
    assert len(buildings) == len(moscow.buildings)
    for prim in buildings[:50]:
        assert _subsets(prim) == {"ground": "Ground", "wall": "Wall", "roof": "Roof"}
    tower = UsdGeom.Mesh(stage.GetPrimAtPath("/World/BuildingParts/w89305864"))
    z = np.array(tower.GetPointsAttr().Get())[:, 2]
    assert (z.min(), z.max()) == pytest.approx((505.0, 540.0))  # flat ground at 0 m: min_height and height
    x0, y0, x1, y1 = np.array(moscow.extent) - np.array([*moscow.origin, *moscow.origin])
    pts = np.array(UsdGeom.Mesh(buildings[0]).GetPointsAttr().Get())
    assert (pts[:, 0] > x0 - 500).all() and (pts[:, 0] < x1 + 500).all() and (pts[:, 1] > y0 - 500).all()
    roads = {p.GetName() for p in stage.GetPrimAtPath("/World/Roads").GetChildren()}
    assert {"secondary", "residential", "footway"} <= roads
    terrain = UsdGeom.Mesh(stage.GetPrimAtPath("/World/Terrain"))
    t = np.array(terrain.GetPointsAttr().Get())
    assert t[:, 0].min() == pytest.approx(x0) and t[:, 1].max() == pytest.approx(y1, abs=1e-2)
    errors, _ = check_usd(f)
    assert errors == []


@needs_data
def test_delft_with_flood_result_via_cli(tmp_path, capsys):
    settings = ["resolution=16", "duration=20", "output_interval=10", "terrain_resolution=4", "rain=500", "canal_depth=0"]  # dry at t = 0
    module, params, run = _scene("delft_cloudburst.py", settings)
    out = tmp_path / "run"
    execute(run, out, parameters=params, script="delft_cloudburst.py", progress=False)
    f = tmp_path / "delft.usdc"
    args = ["export", str(ROOT / "scenes" / "delft_cloudburst.py"), "--usd", str(f), "--result", str(out), "--check"]
    for s in settings:
        args += ["--set", s]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "160 buildings" in printed and "3 water frames" in printed and "usd check passed" in printed
    stage = Usd.Stage.Open(str(f))
    assert stage.GetRootLayer().customLayerData["twin:crs"] == "EPSG:28992"
    water = UsdGeom.Mesh(stage.GetPrimAtPath("/World/Water"))
    ds = xr.open_zarr(out / "result.zarr", decode_times=False)
    times = ds["time"].values
    assert water.GetPointsAttr().GetTimeSamples() == pytest.approx(list(times))
    wet = ds["depth"].isel(time=-1).values > 0.01
    z = np.array(water.GetPointsAttr().Get(float(times[-1])))[:, 2].reshape(wet.shape)
    np.testing.assert_allclose(z[wet], ds["stage"].isel(time=-1).values[wet], atol=1e-4)
    holes = water.GetHoleIndicesAttr().Get(float(times[0]))
    assert len(holes) == (wet.shape[0] - 1) * (wet.shape[1] - 1)  # all dry at t = 0
    b = run.scene.buildings[0]
    mesh = UsdGeom.Mesh(stage.GetPrimAtPath(f"/World/Buildings/{pxr.Tf.MakeValidIdentifier(b.name)}"))
    assert len(mesh.GetFaceVertexCountsAttr().Get()) == len(b.mesh.triangles)
    assert set(_subsets(mesh.GetPrim())) == {SurfaceMesh.NAMES[k] for k in np.unique(b.mesh.surface)}
    assert {p.GetName() for p in stage.GetPrimAtPath("/World/LandCover").GetChildren()} == {"LandUse", "PlantCover", "Road", "WaterBody"}


@needs_data
def test_twin_file_to_usd_and_back(tmp_path, moscow):
    path = save_scene(moscow, tmp_path / "moscow.twin")
    back = load_scene(path)
    assert len(back.roads) == len(moscow.roads) and len(back.building_parts) == 42
    r, s = back.roads[5], moscow.roads[5]
    assert np.array_equal(r.points, s.points) and np.array_equal(r.nodes, s.nodes) and (r.kind, r.width, r.name) == (s.kind, s.width, s.name)
    for a, b in zip(back.buildings, moscow.buildings):
        assert a.base == b.base and a.min_height == b.min_height and a.kind == b.kind and len(a.holes) == len(b.holes)
    f = tmp_path / "moscow.usd"
    assert main(["export", str(path), "--usd", str(f)]) == 0
    assert Usd.Stage.Open(str(f)).GetPrimAtPath("/World/Buildings").IsValid()


def test_bad_export_arguments_are_one_line_exit_2(tmp_path, capsys):
    script = str(ROOT / "scenes" / "osm_city.py")
    for args, expected in (
        (["--usd", str(tmp_path / "x.obj")], "a USD file must end in .usd, .usda, .usdc"),
        (["--usd", str(tmp_path / "x.usda"), "--result", str(tmp_path / "nothing")], "nothing: no such result folder"),
        (["--usd", str(tmp_path / "x.usda"), "--set", "resolution=-1"], "parameter resolution: must be > 0"),
    ):
        assert main(["export", script, *args]) == 2
        err = capsys.readouterr().err
        assert expected in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x.usda").exists()
