"""``twin batch --ensemble N``: runs of one flood scene script as ensembles of N members, each member
written as its own run (:func:`twin.physics.swe.ensemble.run_ensemble` steps them in the same launches)."""

from __future__ import annotations

import json
from pathlib import Path

from twin.app.runs import versions
from twin.errors import InputError
from twin.physics.device import pick_device
from twin.physics.simulation import RunSettings, write_text, write_zarr
from twin.physics.swe.ensemble import Member, run_ensemble
from twin.physics.swe.from_scene import flood_problem
from twin.physics.swe.run import FloodRun
from twin.script import load_script, setup_run

__all__ = ["run_scene_ensemble"]


def run_scene_ensemble(scene: str | Path, parameter_sets: list[dict], out_dir, *, device: str | None = None) -> list[Path]:
    """Run one scene script's ``parameter_sets`` (resolved parameters, as ``twin batch``
    makes them) as one ensemble: what ``twin batch --ensemble N`` runs for each group of N
    runs. Parameters may change what the grid does not depend on (Manning's n, inflows,
    rain); the runs must share resolution, terrain, buildings, duration and intervals.

    Writes ``out_dir/member_00000/{result.zarr,summary.json}`` and so on, each as
    ``twin run`` writes one run (``wall_time_s`` is the ensemble's); returns
    those folders in order."""
    device = pick_device(device)
    script = load_script(scene)
    runs = [setup_run(script, p, (FloodRun,)) for p in parameter_sets]
    timing = {(r.duration, r.output_interval, r.probe_interval, r.fixed_dt, r.resolution, r.buildings, r.order, r.dtype) for r in runs}
    if len(timing) != 1:
        raise InputError(scene, "ensemble", "the runs of an ensemble must share duration, intervals, fixed_dt, resolution, buildings, order and precision")
    members, grids = [], []
    for r in runs:
        model, control, fg = flood_problem(r.scene, resolution=r.resolution, buildings=r.buildings, order=r.order,
                                           cfl=r.cfl, h_dry=r.h_dry, dtype=r.dtype, device=device)
        members.append(Member(model, control, model.state_from_stage(fg.initial_stage)))
        grids.append(fg)
    r0, fg0 = runs[0], grids[0]
    out_dir = Path(out_dir)
    settings = RunSettings(r0.duration, r0.output_interval, r0.probe_interval, fixed_dt=r0.fixed_dt)
    ds = run_ensemble(members, settings, out_dir / "ensemble", probes=fg0.probe_cells,
                      static={"ground_elevation": fg0.ground, "building": fg0.building},
                      attrs={"crs": r0.scene.crs, "title": r0.scene.name, "scene_script": str(scene),
                             "start_time": r0.scene.start_time})
    summary = json.loads((out_dir / "ensemble" / "summary.json").read_text())
    m = members[0].model
    folders = []
    for k, (r, params) in enumerate(zip(runs, parameter_sets)):
        folder = out_dir / f"member_{k:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        member = ds.isel(member=k, drop=True)
        member.attrs = {key: v for key, v in ds.attrs.items() if key not in ("members", "member_steps")}
        write_zarr(member, folder / "result.zarr")
        write_text(folder / "summary.json", json.dumps({
            "status": summary["status"], "simulated_time_s": summary["simulated_time_s"], "wall_time_s": summary["wall_time_s"],
            "steps": summary["member_steps"][k], "cells": m.nx * m.ny, "snapshots": summary["snapshots"],
            "volume_balance": summary["member_volume_balance"][k], "scene": r.scene.name, "script": str(scene),
            "parameters": params, "device": m.device, "ensemble": {"members": len(runs), "member": k},
            "grid": {"nx": m.nx, "ny": m.ny, "dx": m.dx, "dy": m.dy, "crs": r.scene.crs},
            "solver": {"order": r.order, "dtype": r.dtype, "cfl": r.cfl, "h_dry_m": r.h_dry, "buildings": r.buildings},
            "versions": versions()}, indent=2, default=float))
        folders.append(folder)
    return folders
