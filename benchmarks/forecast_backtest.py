"""Backtests of the learned t2m forecast: the same training, held out at earlier 4-day windows.

    python benchmarks/forecast_backtest.py [--origins 8,12,16,20] [--jobs 2]

For each origin day D the series is cut after day D + 4 of the shared ERA5 file
and ``train_forecaster`` runs exactly as ``twin forecast train`` does (the last
96 h, days D + 1 .. D + 4, held out; training, cross-validation and the
climatology on days 1 .. D only). Origin 20 is the split the closing table uses.
One held-out window is 4 days of one weather regime; the table of several shows
how much of a model-against-baseline ranking is the model and how much the window.
Writes ``benchmarks/results/forecast_backtest.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

# the data and table of benchmarks/forecast_skill.py (this script's folder is on sys.path)
from forecast_skill import DATA, ROOT, rmse_table


def backtest(origin_day: int, data: Path = DATA) -> dict:
    """The training report of the series cut after day ``origin_day`` + 4, the last 96 h held out."""
    from twin.physics.device import init_warp
    from twin.physics.surrogates.forecast import Series, read_series, train_forecaster

    init_warp()
    s = read_series(data)
    end = (origin_day + 4) * 24
    cut = Series(s.t2m[:end], s.times[:end], s.latitude, s.longitude, f"{data} (days 1-{origin_day + 4})")
    _, report = train_forecaster(cut, holdout_hours=96, progress=False)
    return report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--origins", default="8,12,16,20", help="last training day of each backtest (default 8,12,16,20)")
    p.add_argument("--jobs", type=int, default=2, help="backtests run at once (each uses one core)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "forecast_backtest.json")
    args = p.parse_args(argv)
    origins = [int(v) for v in args.origins.split(",")]
    with ProcessPoolExecutor(args.jobs) as pool:
        reports = dict(zip(origins, pool.map(backtest, origins)))
    args.out.write_text(json.dumps({str(k): v for k, v in reports.items()}, indent=2))
    print("held-out RMSE [K] of each backtest (training on days 1..D, held out D+1..D+4); best per row in bold:\n")
    print(rmse_table({f"days {d + 1}-{d + 4}": report for d, report in reports.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
