import numpy as np, time
from twin.runner import load_script, parameters_of, run_flood
sc = load_script("scenes/james_creek_river.py")
p = parameters_of(sc, "j", [])
run = sc.setup(p)
t = run.scene.terrain; e = t.elevation
print(e.shape, t.extent, [(pr.name, pr.x, pr.y) for pr in run.scene.probes])
j = int(np.argmin(e[:, 0])); print("west", j, e[j, :6].round(1), "east", int(np.argmin(e[:, -1])))
t0 = time.time()
s = run_flood(run, "/tmp/jc_full", parameters=p, progress=False)
print(time.time() - t0, s["steps"], s["volume_balance"])
import xarray as xr
ds = xr.open_zarr("/tmp/jc_full/result.zarr")
for name in ds.probe.values:
    d = ds.probe_depth.sel(probe=name).values
    print(name, d[::20].round(2))
