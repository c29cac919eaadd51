"""3D views (viewer.fields, geometry, actors, view3d, render, live, cli): the arrays first, then pictures.

The image regression compares a draft render from an off-axis camera with a
reference thumbnail kept in this file (:data:`REFERENCE`): both pooled to
40 x 30 blocks, so that rasterisation noise stays under the tolerance. After a
deliberate change of the look, regenerate it with
``python tests/test_viewer_3d.py --update-reference``.
"""

from __future__ import annotations

import base64
import json
import math
import re
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from test_viewer_flood import make_result
from twin.viewer.fields import (
    FIELDS,
    Frame,
    G,
    History,
    arrival_times,
    colour_table,
    field_values,
    fill_shore,
    format_time,
    water_rgba,
    water_surface,
)
from twin.viewer.geometry import LAND_CLASSES, Site, ground_colours, sun_shadow

from twin.errors import InputError

REFERENCE_SIZE = (320, 240)
POOL = 8
REFERENCE = """
eNqtlflTU1kWx/+BGcBqR7unRtvuUrEBgQQQBQFxHdFCMYQAHTALkJCQPQQ0CwFRSNgSCBAggAEi0IBA2AUVUJpmFQOy7xI2QW2Xap3+ZS6JvI
7gwlRN1adOnXfuPd9vnfvuq+eX2OGX0OGnj5tJXF9KNMg31z+3OfHjRoNHqXo0XlEuL74rVdYIEnLTCu9ESvOlyuqK1qH0wkZQFCYpE3MqVbVd
YCdW0gnASTuxUl2UfEhwBkVDoMpfXestsuqx3PIHGcVNObdbFaXN2WUtklx1Vsl99YPhvKp2WUFdSn6tvKhRUdYMdgbJuv5f0LN6Obl9ekJ1cD
ahKz4GO0npPVuj+4tLa6tJFSNZ6p4sdS+IhfdGMyt7cus0aWW/lT2cKWgaBpXs6kfK+n6wqqwfkJd35TcOghZqZi9tHaoO2scVw7phAkV57Xhx
U3/JvSeq+kdV7ZOq+t6C2p7brSPV7VN1XbPVv01VPBirfDhe1KhRt63tvN0yAlpY2Y844rzgyBymogfkW4Em72BkdjMVvfSMTvAYdrPvf4KT3R
MSU0SMuBKRKIoXXeOIlVtszKrolGTeSlPezlJVSipHePkabr6G9ym4m2AmlHn7BSA8vdA4zJmoNEtcjAM6Ehdbw/24a4OmvrdlYLnubluOqmxh
9U167ZjwVv8WCU8vj7rOY9ApOByOSQ8xQ7CNYV5GFu5/M7uwyynoPD0rPKfrC+01HdOT2ucrr94BshrGo4sHvgorrpAYLsDSTtOvokXJiYywMP
jlqG0OuL+buwOAtTOC7OYfdg7DZcaqJEVtOXUD6eXdsuLWiOxWSATByrqaVDSlXXn0ZDyncTK2dBBCtClGF3QS2NeQXt4AHMEfLZe7im6aEiU7
z7KMYUjgaGRxAUAIvcGKSCCFRpE51yjhN2hcEVckLylWRcdJIWXk1XyurGL19XtA3t3JhPKhzxFXphEmSikUMsrbl0gIpNBpewPE310I/8Y50B
gOTvjCduuLO2AeemuA8cE1dtkj/o3EO/hfcU8oEBfdFKtK9GooYQkvo+756/cAVfOUVD28GX5KGU+WH8BG0eLCuYmSSEE4EkP+pzPeGI4ysvxg
9C+7S15oLAYXcNrDf7c9wtjSY5sNyvw0FhtADCIQqdwrXHVBbA7ZF4/Ra/reqOLn3h8Yne7WDBe1TqfWjKTVjEIxvvBXAoPniUR5ennhWIHuMq
UpSfqjG83Y2hOay0g3VwiNERxMwgUEEYlEZw/cjpPkPb5RIUKR6EZkGJsqTg2NycA5ORygRqQA2dSaUb+EOxGqthdv3gNK22Yy68cg0tV9BGIw
AolConzweByDRTNnpu50YxtZeUKvEvL90cEHHUjnc8PPILA7nAMs/ASHhdnkvKK4DLFYRuGLfezhe7FkDiSOTW2OKumeX3757OXb8vanOY3jep
JLm0N4l0WxfE4ok0Imslm08/Tru7yjth3B6OzcDU11XDSx9PgHDGFihbC/SAgikgghVMEvkvhcvCDB+7DN3ktIH0XDCKQfqGiPVmumtcuDYzNV
nXN59yYA+fcmAikYLN0tVBLBS5aRQsPtqNLdvtHbj5OMrBEbJv2A5UWAieVF1wuX10yJwRw2RXqLEZWCPmK779TJ49l1AzrlSb0+SdUb2zD8+9
v/AGq7tYUtU3rYvOgzZ51O8MQWdNn3P9/Y6cba5ogzskLoJ/UlhFH4SZcpfAxV4B/Cw9KFZqfwwHebrbcgUhgdyQsLZyYVxEXL/F0cf3K0t1ZU
9UDKeljl/UmtEzPzy9PapTu98yUPp/VIlOpjhw44HTIzPXbJ2NZn/d66630xzBg/2rVLeM7PlEhUMA9Ni7Y+H/yta9BuL/4RjjxMJheV5YgUBB
dHs0PWB5JVDZAsBLdhJK1rdmnld+3S6t3HCxXtM+U6Sh+Mn3GxdbYzdbIxhcGstx88+9fx6k5Yf8gmMOQ3jhjT8yQ0jognkD35YmxxqbgqNSYz
4PRJS9hP38emqSBNCFCJbp3MHlh8/cefgOb+xerOpxBlLUM0JtvlkJmTzX5HuOleK0djMKzBOzWxQe08FQL3CcMGkQIJwdQQkjAlKr6IE5uBcX
UyB6ZhETGGgoZIu57+Mr4yMjE7ODr18MlSfc/cBpSVLb4oxFGb/Ufh++1g5rutXKGLtN0lEHykoVw+g8GgUsg8Li05lx6VjHZ1Noeb7QkgBG9W
g8gbmG+Ye/Hm3Z+A9uHlpj7t3T4tFJvW8yS50u2EoyN8H8AWdnCX1XETOPK782wzSgozIVUSf13Ap6fmsa6l+DnZm9qY70F4uN/pnYXaDdFX1O
PL7c9evXj1FtA1+qylf+FzNHZPXhUIXezNweBgfDtba7NzmMMRWUGllbLbsrRbDFEG1unwAVuLH86cOFr769DH7fMb1B4vvNS+fTcztzg2Nds7
sdI2uPhl1Pd78Bg0sAYvHVw5l6MwNAN/PQ0bp8CdPGYBTJ3sD5Y3dXxVZwOdI0t6OtZjx3reaVDJK1F7nDsOfJ1tTcGd131xB+wsfjhktTevpL
rzU10bkg30ji9vkY6hOXFC0smj1nrfI7B9wDdZrvha47NP1jVTK5rplbW4NVp7BtlMKvB1gO/nCfhbb9zAzPKr9p5+8E+839YNfo6a4cnhybm2
Lk1H3+DjoQn90vj8i6HZVcDgeqy+c18o5A9ML0N1Q4Y25UMGrD0+XZ1dfjWzuDo8NTc1/2x26fnY7CKIgOmF1YmnSzMLq6A+ufhybP75mPZj5t
fRforPra4X/wuJS3sJ
"""
"""Draft render of :func:`make_result` at its last snapshot from :data:`OFF_AXIS`, 40 x 30 RGB, zlib + base64."""

OFF_AXIS = {"azimuth": 235.0, "elevation": 42.0}


def pooled(image: np.ndarray, pool: int = POOL) -> np.ndarray:
    """Mean of each pool x pool block of an (h, w, 3) image, float (h/pool, w/pool, 3)."""
    h, w = image.shape[0] // pool * pool, image.shape[1] // pool * pool
    blocks = image[:h, :w, :3].astype(np.float64).reshape(h // pool, pool, w // pool, pool, 3)
    return blocks.mean(axis=(1, 3))


def encode(thumbnail: np.ndarray) -> str:
    text = base64.b64encode(zlib.compress(np.rint(thumbnail).astype(np.uint8).tobytes(), 9)).decode()
    return "\n".join(text[k : k + 110] for k in range(0, len(text), 110))


def decode(text: str) -> np.ndarray:
    raw = zlib.decompress(base64.b64decode("".join(text.split())))
    w, h = REFERENCE_SIZE[0] // POOL, REFERENCE_SIZE[1] // POOL
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3).astype(np.float64)


@pytest.fixture(scope="module")
def ds():
    return make_result(nx=40, ny=30, nt=4)


@pytest.fixture(scope="module")
def site(ds):
    return Site.from_result(ds)


@pytest.fixture(scope="module")
def history(ds):
    return History.from_result(ds)


# -- numbers -------------------------------------------------------------------------
def test_water_surface_by_hand():
    bed = np.array([[0.0, 0.0, 1.0, 5.0, 5.0],
                    [0.0, 0.0, 1.0, 5.0, 5.0]])
    depth = np.array([[0.5, 0.001, 0.0, 0.0, 0.0],
                      [0.7, 0.0, 0.0, 0.0, 0.0]])
    z = water_surface(bed, depth, 0.001, film=0.03, hide=1.0)
    np.testing.assert_allclose(z[:, 0], [0.5, 0.7])  # wet: bed + depth
    # dry beside wet: mean level of wet neighbours, no higher than film under its own bed
    np.testing.assert_allclose(z[:, 1], [min(0.6, -0.03)] * 2)
    np.testing.assert_allclose(z[:, 2:], bed[:, 2:] - 1.0)  # far from water: hidden under the ground
    thin = water_surface(np.zeros((1, 3)), np.array([[0.005, 0.005, 0.005]]), 0.001, film=0.03)
    np.testing.assert_allclose(thin, 0.03)  # a film keeps thin water above the ground
    rising = water_surface(np.array([[0.0, 2.0]]), np.array([[0.5, 0.0]]), 0.001)
    assert rising[0, 1] == pytest.approx(0.5)  # runs on flat into rising ground
    # a building raised 3 m in the bed: the flat surface reaches 3 points into it, then hides under the ground
    ground = np.zeros((1, 6))
    raised = ground + 3.0 * (np.arange(6) > 0)
    inside = raised > ground
    z = water_surface(raised, np.array([[0.4, 0, 0, 0, 0, 0]]), 0.001, ground=ground, buildings=inside)
    np.testing.assert_allclose(z, [[0.4, 0.4, 0.4, 0.4, -1.0, -1.0]])
    values = fill_shore(np.array([[2.0, np.nan, np.nan, np.nan, np.nan, np.nan]]), ~inside, buildings=inside)
    np.testing.assert_allclose(values[0, :4], 2.0)
    assert np.isnan(values[0, 4:]).all()


def test_arrival_times_cross_the_threshold_linearly():
    times = np.array([0.0, 10.0, 20.0])
    depth = np.array([[[0.0, 0.0, 0.3]], [[0.0, 0.0, 0.3]], [[0.0, 0.002, 0.3]]], np.float32)
    depth[1, 0, 1] = 0.0005
    arrival = arrival_times(times, depth, 0.001)
    assert np.isnan(arrival[0, 0])
    # from 0.0005 at t=10 to 0.002 at t=20: crosses 0.001 one third of the way
    assert arrival[0, 1] == pytest.approx(10.0 + 10.0 / 3.0, rel=1e-5)
    assert arrival[0, 2] == 0.0


def test_history_frames(history, ds):
    t = ds["time"].values
    assert history.depth.shape == (4, 30, 40) and history.span == (t[0], t[-1])
    middle = history.frame((t[1] + t[2]) / 2)
    np.testing.assert_allclose(middle.depth, (history.depth[1] + history.depth[2]) / 2, rtol=1e-6)
    np.testing.assert_allclose(history.frame(-50.0).depth, history.depth[0])
    np.testing.assert_allclose(history.frame(1e9).depth, history.depth[-1])
    assert middle.label == f"t = {format_time(middle.t)}" and format_time(500.0) == "8 min 20 s"
    # arrival in a frame: only cells already wet at its time
    assert np.all(np.isnan(middle.arrival) | (middle.arrival <= middle.t))
    peak = history.peak()
    np.testing.assert_array_equal(peak.depth, ds["max_depth"].values)
    assert peak.label.startswith("peak")
    series = history.cell_series(15, 5)
    np.testing.assert_allclose(series["depth"], ds["depth"].values[:, 15, 5])


def test_field_values_in_physical_units():
    depth = np.array([[1.0, 0.25, 0.0]])
    speed = np.array([[2.0, 1.0, 0.0]])
    arrival = np.array([[120.0, 300.0, np.nan]])
    frame = Frame.at(600.0, depth, speed, arrival, np.array([[5, 1, 0]], np.int8))
    np.testing.assert_allclose(field_values("depth", frame, 1e-3)[0, :2], [1.0, 0.25])
    np.testing.assert_allclose(field_values("hazard", frame, 1e-3)[0, :2], [5.0, 1.0])  # ARR 2019 class
    np.testing.assert_allclose(field_values("speed", frame, 1e-3)[0, :2], [2.0, 1.0])
    np.testing.assert_allclose(field_values("froude", frame, 1e-3)[0, :2], [2 / math.sqrt(G), 1 / math.sqrt(G * 0.25)])
    np.testing.assert_allclose(field_values("arrival", frame, 1e-3)[0, :2], [2.0, 5.0])  # minutes
    for name in FIELDS:
        assert np.isnan(field_values(name, frame, 1e-3)[0, 2])
    with pytest.raises(KeyError):
        field_values("vorticity", frame, 1e-3)


def test_colours_of_the_water():
    table = colour_table("depth")
    assert table.shape == (256, 4) and table.min() >= 0 and table.max() <= 1
    assert np.all(np.diff(table[:, 3]) > 0)  # deeper is more opaque
    assert table[-1, :3].sum() < table[0, :3].sum()  # and darker
    rgba = water_rgba("depth", np.array([-1.0, 0.0, 0.5, 1.0, 7.0, np.nan]), (0.0, 1.0), table)
    assert rgba.dtype == np.uint8 and rgba.shape == (6, 4)
    np.testing.assert_array_equal(rgba[0], rgba[1])  # clipped below
    np.testing.assert_array_equal(rgba[4], rgba[3])  # and above
    np.testing.assert_array_equal(rgba[5], rgba[1])  # dry takes the low end
    np.testing.assert_array_equal(rgba[3], np.rint(table[-1] * 255))


def test_sun_shadow_of_a_wall():
    z = np.zeros((5, 40))
    z[:, 10] = 10.0  # a wall 10 m high along x = 10 m, 1 m cells
    lit = sun_shadow(z, 1.0, 1.0, azimuth=270.0, elevation=45.0, softness=0.0)  # sun in the west
    assert lit.shape == z.shape and set(np.unique(lit)) <= {0.0, 1.0}
    assert np.all(lit[:, :10] == 1.0)  # the sunny side
    assert np.all(lit[:, 11:20] == 0.0) and np.all(lit[:, 21:] == 1.0)  # a 10 m shadow east of it
    flat = sun_shadow(np.full((6, 6), 3.0), 2.0, 2.0, azimuth=30.0, elevation=20.0)
    np.testing.assert_array_equal(flat, 1.0)
    soft = sun_shadow(z, 1.0, 1.0, azimuth=270.0, elevation=45.0, softness=2.0)
    assert 0.0 < soft[2, 20] < 1.0 or 0.0 < soft[2, 21] < 1.0  # a penumbra at the shadow's tip


def test_site_of_a_result(site, ds):
    assert site.shape == (30, 40) and site.title == "Synthetic valley" and site.crs == "EPSG:32756"
    np.testing.assert_allclose(site.bed, ds["bed_elevation"].values, rtol=1e-6)
    assert site.building.sum() == ds["building"].values.sum() and not site.footprints
    assert site.probe_names == ["P1 upstream", "P2 downstream"] and site.probe_xy.shape == (2, 2)
    assert site.cell_of(*site.probe_xy[1]) == (15, 33)
    coarse = site.every(2)
    assert coarse.shape == (15, 20) and coarse.spacing == pytest.approx((4.0, 4.0))
    colours = ground_colours(site)
    assert colours.shape == (30, 40, 3) and 0 <= colours.min() and colours.max() <= 1
    grey = ground_colours(site, "hillshade")
    np.testing.assert_allclose(grey[..., 0], grey[..., 2])


def small_scene():
    from twin.scene import Boundary, Building, FrictionZone, Heightfield, Inflow, Probe, Scene, TimeSeries

    ny, nx = 24, 32
    x0, y0 = 500_000.0, 6_000_000.0
    yy, xx = np.mgrid[0:ny, 0:nx]
    elevation = 10.0 - 0.08 * xx + 0.02 * (yy - ny / 2) ** 2
    terrain = Heightfield(elevation, x0, y0, 2.0, 2.0)
    house = np.array([[x0 + 30, y0 + 10], [x0 + 40, y0 + 10], [x0 + 40, y0 + 18], [x0 + 35, y0 + 18],
                      [x0 + 35, y0 + 14], [x0 + 30, y0 + 14]])  # an L, concave
    road = np.array([[x0, y0 + 22], [x0 + 64, y0 + 22], [x0 + 64, y0 + 26], [x0, y0 + 26]])
    return Scene(
        name="Small valley", crs="EPSG:32755", origin=(x0, y0), extent=terrain.extent, terrain=terrain,
        buildings=[Building(house, 4.0, "house")], friction_zones=[FrictionZone(road, 0.02, "Road")],
        inflows=[Inflow("pipe", (x0 + 6, y0 + 24), 3.0, TimeSeries([0.0, 20.0, 60.0], [0.0, 2.0, 0.5]))],
        probes=[Probe("gauge", x0 + 50, y0 + 24)],
        boundaries={"east": Boundary("transmissive")},
    )


def test_site_of_a_scene():
    scene = small_scene()
    site = Site.from_scene(scene, key="small")
    assert site.shape == (24, 32) and site.key == "small"
    (house,) = site.footprints
    assert house.xy.shape == (6, 2)
    ground = scene.terrain.sample(house.xy[:, 0], house.xy[:, 1])
    assert house.roof == pytest.approx(ground.mean() + 4.0) and house.base < ground.min() and not house.floats
    j, i = site.cell_of(scene.origin[0] + 32, scene.origin[1] + 12)
    assert site.building[j, i] and site.bed[j, i] == pytest.approx(site.ground[j, i] + 4.0)  # as the solver raises it
    assert site.land[site.cell_of(scene.origin[0] + 20, scene.origin[1] + 24)] == LAND_CLASSES.index("road")
    assert (site.land == LAND_CLASSES.index("road")).sum() == 2 * 32  # the two rows of points inside the road
    assert site.probe_names == ["gauge"]


def test_buildings_of_every_kind_and_land_use():
    import dataclasses

    from twin.viewer.view3d import View3D

    from twin.scene import Building, FrictionZone, Road, SurfaceMesh

    scene = small_scene()
    x0, y0 = scene.origin

    def square(x, y, w, h):
        return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], float) + [x0, y0]

    cube = SurfaceMesh(  # a 4 m box as CityJSON would give it: 2 roof, 8 wall, 2 ground triangles
        vertices=np.array([[x, y, z] for z in (10.0, 14.0) for x, y in square(44, 2, 6, 6)]),
        triangles=np.array([[4, 5, 6], [4, 6, 7], [0, 2, 1], [0, 3, 2]]
                           + [[a, b, b + 4] for a, b in zip(range(4), (1, 2, 3, 0))]
                           + [[a, b + 4, a + 4] for a, b in zip(range(4), (1, 2, 3, 0))], np.int32),
        surface=np.array([2, 2, 0, 0] + [1] * 8, np.int8))
    scene = dataclasses.replace(
        scene,
        buildings=[Building(square(2, 2, 12, 10), 5.0, "court", base=9.0, holes=[square(6, 5, 4, 4)[::-1]]),
                   Building(square(44, 2, 6, 6), 4.0, "box", mesh=cube)],
        building_parts=[Building(square(20, 2, 8, 6), 9.0, "bridge", base=9.0, min_height=5.0)],
        friction_zones=[FrictionZone(square(0, 30, 64, 18), 0.03, "WaterBody")],
        roads=[Road(np.array([[x0, y0 + 24], [x0 + 64, y0 + 24]]), np.array([1, 2]), "residential", 4.0)],
    )
    site = Site.from_scene(scene)
    court, bridge = site.footprints
    assert court.roof == 14.0 and len(court.holes) == 1 and not court.floats
    assert bridge.floats and bridge.base == 14.0 and bridge.roof == 18.0
    assert len(site.meshes) == 1
    j, i = site.cell_of(x0 + 8, y0 + 7)  # in the courtyard: open ground
    assert not site.building[j, i] and site.building[site.cell_of(x0 + 3, y0 + 3)]
    assert not site.building[site.cell_of(x0 + 24, y0 + 4)]  # water passes under the bridge
    land = site.land
    assert land[site.cell_of(x0 + 30, y0 + 40)] == LAND_CLASSES.index("water")
    assert land[site.cell_of(x0 + 30, y0 + 24)] == LAND_CLASSES.index("road")
    assert land[site.cell_of(x0 + 30, y0 + 12)] == LAND_CLASSES.index("grass")
    view = View3D(site, quality="draft", size=(160, 120), water=False)
    try:
        roofs, walls = view.actors.buildings
        # roofs: the courtyard ring (8 triangles), the bridge's top and underside (2 + 2), the box's 2
        assert roofs.n_cells == 8 + 4 + 2
        # walls: 4 outside and 4 around the courtyard, 4 of the bridge, 8 triangles of the box
        assert walls.n_cells == 8 + 4 + 8
    finally:
        view.close()


def test_cameras(tmp_path):
    from twin.viewer.cameras import GENERIC, Camera, camera_presets, resolve_camera

    assert resolve_camera(None) == GENERIC["oblique"]
    np.testing.assert_allclose(Camera(90.0, 0.001).direction(), [1.0, 0.0, 0.0], atol=1e-4)  # camera east of the focus
    assert resolve_camera("top").elevation == 90.0
    merewether = camera_presets("merewether")
    assert set(GENERIC) <= set(merewether) and "hero" in merewether
    path = tmp_path / "cam.json"
    path.write_text(json.dumps({"focus": [1.0, 2.0], "azimuth": 200, "elevation": 30, "distance": 50}))
    camera = resolve_camera(str(path))
    assert camera.focus == (1.0, 2.0) and camera.distance == 50.0
    assert Camera.from_dict(camera.to_dict(), "again") == camera
    path.write_text(json.dumps({"azimut": 200}))
    with pytest.raises(InputError, match="unknown camera key"):
        resolve_camera(str(path))
    path.write_text(json.dumps({"elevation": 120}))
    with pytest.raises(InputError, match="elevation"):
        resolve_camera(str(path))
    with pytest.raises(InputError, match="no such camera preset"):
        resolve_camera("nowhere")


def test_quality_presets_and_sky():
    from twin.viewer.quality import QUALITIES, sky_image

    assert list(QUALITIES) == ["draft", "high", "cinematic"]
    draft, high, cinematic = QUALITIES.values()
    assert not draft.pbr and not draft.ssao and draft.anti_aliasing == "none" and draft.max_points
    assert high.pbr and high.shadows and high.anti_aliasing == "fxaa"
    assert cinematic.pbr and cinematic.ssao and cinematic.anti_aliasing == "ssaa" and cinematic.tone_mapping
    sky = sky_image(64, sun_azimuth=90.0, sun_elevation=30.0)
    assert sky.shape == (64, 128, 3) and sky.dtype == np.float32
    j, i = np.unravel_index(np.argmax(sky.sum(axis=2)), sky.shape[:2])
    assert abs(i / 128 * 360 - 90.0) < 6 and abs(-90 + j / 63 * 180 - 30.0) < 6  # the sun where it was put
    assert sky[-1].mean() < sky[40].mean() * 2 and sky[:30].mean() < sky[40:].mean()  # ground darker than sky


def test_null_sink_keeps_frames_of_any_kind():
    from twin.viewer.sink import NullSink, Sink

    sink = NullSink()
    assert isinstance(sink, Sink)
    depth = np.zeros((2, 2))
    sink.update("flood", 1.0, {"depth": depth, "speed": depth})
    depth[0, 0] = 5.0  # the sink keeps a copy
    sink.update("robot", 2.0, {"link_pose": np.zeros((3, 7))})
    assert sink.frames == 2 and sink.times == [1.0, 2.0] and sink.kinds == ["flood", "robot"]
    assert set(sink.last) == {"link_pose"}
    sink.close()
    with pytest.raises(RuntimeError):
        sink.update("flood", 3.0, {})


# -- actors: the arrays that are drawn ---------------------------------------------------
def test_actors_arrays_and_in_place_updates(site, history, ds):
    from twin.viewer.view3d import View3D

    view = View3D(site, quality="draft", size=(160, 120), clims={"depth": (0.0, 1.0)})
    try:
        actors = view.actors
        water = actors.water
        assert actors.step == 1 and water.n_points == 30 * 40 and water.n_cells == 29 * 39
        assert actors.ground.n_points == 30 * 40 and actors.ground["colours"].shape == (1200, 3)
        roofs, walls = actors.buildings
        assert roofs.n_cells == int(ds["building"].values.sum()) and walls.n_cells > 0
        points, colours = water.points, water["colours"]
        frame = history.frame(float(ds["time"][-1]))
        view.show(frame)
        assert water.points is not None and view.actors.water is water  # no rebuild
        # drawn: water deeper than 1 cm (min_depth), none on roofs
        depth = np.where(site.building, 0.0, frame.depth)
        expected = actors.lift(water_surface(site.bed, depth, 0.01, ground=site.ground, buildings=site.building))
        np.testing.assert_allclose(water.points[:, 2], expected.ravel(), rtol=1e-5, atol=1e-4)
        wet = depth > 0.01
        shown = Frame(frame.t, depth, frame.speed, frame.arrival, frame.label)
        values = fill_shore(field_values("depth", shown, 0.01), wet, buildings=site.building)
        rgba = water_rgba("depth", values, (0.0, 1.0))
        np.testing.assert_array_equal(water["colours"], rgba.reshape(-1, 4))
        assert water["colours"][wet.ravel(), 3].min() >= round(0.45 * 255)
        # the same VTK arrays, rewritten
        assert np.shares_memory(points, water.points) and np.shares_memory(colours, water["colours"])
        view.set_field("speed")
        view.show(history.frame(0.0))
        assert view.subtitle.GetInput().strip().startswith("Flow speed,  t = 0.0 s")
        assert view.bar.GetTitle() == "Speed\n[m/s]"
    finally:
        view.close()


def test_draft_thins_big_grids(site):
    import dataclasses

    from twin.viewer.quality import QUALITIES
    from twin.viewer.view3d import View3D

    quality = dataclasses.replace(QUALITIES["draft"], max_points=300)
    view = View3D(site, quality=quality, size=(120, 90))
    try:
        assert view.actors.step == 2 and view.actors.water.n_points == 15 * 20
        view.show(History.from_result(make_result(nx=40, ny=30, nt=2)).peak())
    finally:
        view.close()


# -- pictures ----------------------------------------------------------------------------
def draft_picture(site, history) -> np.ndarray:
    from twin.viewer.cameras import Camera
    from twin.viewer.view3d import View3D

    view = View3D(site, quality="draft", size=REFERENCE_SIZE, camera=Camera(**OFF_AXIS),
                  clims={"depth": (0.0, 1.0)})
    try:
        view.show(history.frame(history.span[1]))
        return view.image()
    finally:
        view.close()


def test_image_regression_off_axis(site, history):
    image = draft_picture(site, history)
    assert image.shape == (240, 320, 3)
    got = pooled(image)
    reference = decode(REFERENCE)
    difference = np.abs(got - reference)
    assert difference.mean() < 6.0 and np.percentile(difference, 99) < 60.0, (
        f"mean {difference.mean():.2f}, 99th percentile {np.percentile(difference, 99):.1f}")


@pytest.mark.parametrize("quality", ["high", "cinematic"])
def test_pbr_still_shows_water_sky_and_ground(ds, tmp_path, quality):
    from PIL import Image
    from twin.viewer.render import render_still
    from twin.viewer.sources import Source

    source = Source(tmp_path, Site.from_result(ds), History.from_result(ds), ds)
    path = render_still(source, tmp_path / "still.png", quality=quality, size=(320, 240))

    image = np.asarray(Image.open(path)).astype(np.float64)
    assert image.shape == (240, 320, 3) and image.std() > 20
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    assert np.mean((b - r > 40) & (b > 120)) > 0.02  # water and sky
    assert b[0].mean() > r[0].mean() + 30  # a blue sky at the top
    assert np.mean((g > r) & (g > b)) > 0.02  # green ground


def test_render_video(ds, tmp_path):
    import imageio_ffmpeg
    from twin.viewer.render import render_video
    from twin.viewer.sources import Source

    source = Source(tmp_path, Site.from_result(ds), History.from_result(ds), ds)
    path = render_video(source, tmp_path / "flood.mp4", frames=5, fps=5, quality="draft", size=(161, 120),
                        progress=False)
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    frames = list(reader)
    assert meta["size"] == (160, 120) and len(frames) == 5


def test_scene_still_and_turntable(tmp_path):
    from PIL import Image
    from twin.viewer.render import render_still, render_video
    from twin.viewer.sources import Source
    from twin.viewer.view3d import View3D

    scene = small_scene()
    source = Source(tmp_path, Site.from_scene(scene), scene=scene)
    view = View3D(source.site, quality="draft", size=(160, 120), water=False)
    assert view.bar is None and view.actors.water is None
    view.close()
    path = render_still(source, tmp_path / "scene.png", quality="draft", size=(200, 150))
    assert np.asarray(Image.open(path)).std() > 10
    assert render_video(source, tmp_path / "turn.mp4", frames=3, size=(160, 120), quality="draft",
                        progress=False).stat().st_size > 0


# -- command line and live view -----------------------------------------------------------
@pytest.fixture(scope="module")
def result_dir(ds, tmp_path_factory):
    folder = tmp_path_factory.mktemp("result")
    ds.to_zarr(folder / "result.zarr", zarr_format=2, consolidated=True)
    (folder / "summary.json").write_text(json.dumps({"script": "", "parameters": {}}))
    return folder


@pytest.mark.filterwarnings("ignore:.*Zarr")
def test_cli_render(result_dir, tmp_path, capsys):
    from twin.app.cli import main

    out = tmp_path / "t.png"
    assert main(["render", str(result_dir), "--out", str(out), "--quality", "draft", "--size", "200x150",
                 "--time", "300", "--field", "froude", "--camera", "low"]) == 0
    assert out.is_file() and "wrote" in capsys.readouterr().out
    for argv, message in [
        (["--size", "big"], "--size"),
        (["--time", "5000"], "outside the result's time"),
        (["--quality", "ultra"], "--quality"),
        (["--field", "vorticity"], "--field"),
        (["--camera", "nowhere"], "no such camera"),
    ]:
        assert main(["render", str(result_dir), "--out", str(tmp_path / "x.png"), *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    assert main(["render", str(result_dir), "--out", str(tmp_path / "x.gif")]) == 2
    assert main(["render", str(tmp_path / "missing"), "--out", str(tmp_path / "x.png")]) == 2
    assert "no such scene or result folder" in capsys.readouterr().err
    from twin.scene import save_scene

    scene = save_scene(small_scene(), tmp_path / "small.twin")
    assert main(["render", str(scene), "--out", str(tmp_path / "scene.png"), "--quality", "draft",
                 "--size", "200x150"]) == 0
    assert main(["render", str(scene), "--out", str(tmp_path / "scene.png"), "--time", "10"]) == 2
    assert "a scene has no time" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:.*Zarr")
def test_open_source(result_dir, tmp_path):
    from twin.viewer.sources import open_source

    source = open_source(result_dir)
    assert source.history.depth.shape == (4, 30, 40) and source.scene is None and not source.notes
    assert source.site.title == "Synthetic valley"
    (tmp_path / "result.zarr").symlink_to(result_dir / "result.zarr")
    (tmp_path / "summary.json").write_text(json.dumps({"script": "scenes/nowhere.py", "parameters": {}}))
    moved = open_source(tmp_path)
    assert moved.site.key == "nowhere" and "not found" in moved.notes[0]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="not a result folder"):
        open_source(empty)
    with pytest.raises(InputError, match="expected a result folder"):
        open_source(tmp_path / "summary.json")


def test_live_viewer_throttles(tmp_path):
    from twin.physics.swe.run import FloodRun
    from twin.viewer.live import LiveViewer
    from twin.viewer.sink import NullSink

    from twin.app.runs import execute

    sink = NullSink()
    clock = iter(np.arange(0.0, 1e4, 0.03))  # 30 ms of wall time per step
    seen = []
    run = FloodRun(small_scene(), duration=30.0, output_interval=10.0, resolution=4.0)
    live = LiveViewer(run, viewer=sink, fps=10.0, clock=lambda: float(next(clock)))

    def on_step(sim):
        seen.append(sim.t)
        live(sim)

    execute(run, tmp_path, parameters={}, progress=False, on_step=on_step)
    assert len(seen) > 20
    assert sink.frames == pytest.approx(len(seen) * 0.03 * 10.0, abs=1.5)  # 10 per (fake) wall second
    assert live.rate == pytest.approx(10.0, rel=0.15)
    assert set(sink.kinds) == {"flood"} and set(sink.last) == {"depth", "speed"}
    assert sink.last["depth"].shape == (12, 16) and sink.last["depth"].max() > 0.0
    live.close()
    assert sink.times[-1] == pytest.approx(30.0) and sink.closed


def test_view3d_tracks_arrival_of_live_frames(site):
    from twin.viewer.view3d import View3D

    view = View3D(site, quality="draft", size=(160, 120))
    try:
        depth = np.zeros(site.shape, np.float32)
        depth[:, :5] = 0.5
        view.update("flood", 10.0, {"depth": depth, "speed": np.zeros_like(depth)})
        depth[:, 5:8] = 0.5
        view.update("flood", 20.0, {"depth": depth, "speed": np.zeros_like(depth)})
        arrival = view.frame.arrival
        assert np.all(arrival[:, :5] == 10.0) and np.all(arrival[:, 5:8] == 20.0) and np.isnan(arrival[:, 8:]).all()
    finally:
        view.close()


def update_reference() -> None:
    """Render the off-axis draft picture and write its thumbnail into :data:`REFERENCE` of this file."""
    data = make_result(nx=40, ny=30, nt=4)
    thumbnail = pooled(draft_picture(Site.from_result(data), History.from_result(data)))
    source = Path(__file__).read_text()
    source = re.sub(r'REFERENCE = """\n.*?\n"""', lambda _: f'REFERENCE = """\n{encode(thumbnail)}\n"""', source,
                    count=1, flags=re.S)
    Path(__file__).write_text(source)
    print(f"updated the reference thumbnail in {__file__}")


if __name__ == "__main__":
    if "--update-reference" in sys.argv:
        update_reference()
