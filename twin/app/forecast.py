"""``twin forecast``: train the learned 2 m temperature forecast and run it.

    twin forecast train --data FILE.nc --out MODEL [--leads 1,6,24,48] [--holdout-hours 96] [--iterations 600] [--report R.json]
    twin forecast predict --model MODEL --data FILE.nc --leads 1,6,24,48 --out PRED.nc

PRED.nc holds ``t2m`` (lead, time, latitude, longitude) [K], ``time`` being the
forecast start, for every start time in FILE whose inputs (the 24 hours before)
FILE holds, and ``lead`` in hours. See :mod:`twin.physics.surrogates.forecast`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from twin.errors import InputError
from twin.physics.simulation import write_text

__all__ = ["cmd_predict", "cmd_train", "write_prediction"]


def _leads(text: str) -> list[int]:
    try:
        leads = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError("--leads", text, "expected hours separated by commas, e.g. 1,6,24,48") from None
    if not leads or any(v < 1 for v in leads) or len(set(leads)) != len(leads):
        raise InputError("--leads", text, "expected distinct whole hours >= 1")
    return leads


def cmd_train(args) -> int:
    """``twin forecast train --data FILE --out MODEL ...``."""
    from twin.physics.device import pick_device
    from twin.physics.surrogates.forecast import read_series, train_forecaster

    if args.out is None:
        raise InputError("twin forecast train", "", "--out MODEL is required")
    if args.iterations < 1 or args.batch < 1 or args.hidden < 1 or args.holdout_hours < 1:
        raise InputError("twin forecast train", "", "--iterations, --batch, --hidden and --holdout-hours must be >= 1")
    series = read_series(args.data)
    forecaster, report = train_forecaster(series, leads=_leads(args.leads), holdout_hours=args.holdout_hours, hidden=args.hidden,
                                          iterations=args.iterations, batch=args.batch, seed=args.seed,
                                          device=pick_device(args.device), progress=not args.quiet)
    forecaster.save(args.out)
    if report.get("interrupted"):
        print(f"twin: interrupted; the leads finished ({', '.join(map(str, forecaster.leads))} h) are in {args.out}", file=sys.stderr)
    if args.report:
        write_text(args.report, json.dumps(report, indent=2))
    print(f"twin: model {args.out}; trained in {report['train_time_s']:.1f} s; held-out RMSE [K] (last {args.holdout_hours} h):")
    names = ("model", "persistence", "same_hour_yesterday", "climatology", "ridge")
    print("  lead  " + "  ".join(f"{n:>19}" for n in names))
    for lead, entry in report["leads"].items():
        if "rmse_K" in entry:
            print(f"  {lead:>4}  " + "  ".join(f"{entry['rmse_K'][n]:19.3f}" for n in names))
    return 130 if report.get("interrupted") else 0


def cmd_predict(args) -> int:
    """``twin forecast predict --model MODEL --data FILE --leads L --out PRED.nc``."""
    from twin.physics.device import pick_device
    from twin.physics.surrogates.forecast import Forecaster, read_series, starts_with_inputs

    if args.out is None:
        raise InputError("twin forecast predict", "", "--out PRED.nc is required")
    leads = _leads(args.leads)
    forecaster = Forecaster.load(args.model, device=pick_device(args.device))
    missing = [v for v in leads if v not in forecaster.nets]
    if missing:
        raise InputError(args.model, "--leads", f"the model was trained for leads {forecaster.leads} h, not {missing}")
    series = read_series(args.data)
    forecaster.check_grid(series)
    starts = starts_with_inputs(series)
    if len(starts) == 0:
        raise InputError(args.data, "time", "no start time has the 24 hours of inputs before it")
    pred = np.stack([forecaster.predict(series, starts, lead) for lead in leads]).astype(np.float32)
    write_prediction(args.out, pred, leads, series.times[starts], series.latitude, series.longitude, source=str(args.data))
    print(f"twin: {len(leads)} leads x {len(starts)} start times written to {args.out}")
    return 0


def write_prediction(path: Path, t2m: np.ndarray, leads: list[int], starts: np.ndarray, latitude: np.ndarray, longitude: np.ndarray,
                     *, source: str) -> Path:
    """PRED.nc: t2m (lead, time, latitude, longitude) [K] (CF-1.10, NetCDF-4), written to a temporary file and renamed."""
    import xarray as xr

    ds = xr.Dataset(
        {"t2m": (("lead", "time", "latitude", "longitude"), t2m,
                 {"units": "K", "standard_name": "air_temperature", "long_name": "2 m temperature forecast (twin learned forecast)"})},
        coords={
            "lead": ("lead", np.asarray(leads, np.int32), {"units": "hours", "long_name": "forecast lead time"}),
            "time": ("time", starts.astype(np.int64), {"units": "seconds since 1970-01-01 00:00:00", "calendar": "standard",
                                                         "standard_name": "forecast_reference_time", "long_name": "forecast start"}),
            "latitude": ("latitude", latitude, {"units": "degrees_north", "standard_name": "latitude"}),
            "longitude": ("longitude", longitude, {"units": "degrees_east", "standard_name": "longitude"}),
        },
        attrs={"Conventions": "CF-1.10", "twin_kind": "forecast", "source": f"twin forecast predict on {source}"},
    )
    tmp = path.with_name(path.name + ".partial")
    ds.to_netcdf(tmp, engine="netcdf4", encoding={"t2m": {"zlib": True, "complevel": 4}})
    tmp.replace(path)
    return path
