"""The learned t2m forecast's held-out RMSE against the four baselines, its training time and its speed.

    python benchmarks/forecast_skill.py                    # trains (minutes), predicts, prints the tables
    python benchmarks/forecast_skill.py --model M.npz --report R.json   # tables of an existing training

Trains with ``twin forecast train`` on the shared ERA5 file (the last 96 h held
out), writes ``benchmarks/results/forecast_skill.json``, then times ``twin
forecast predict`` for every start time of the file at leads 1, 6, 24 and 48 h
(one forecast = one lead from one start time, the whole 33 x 49 grid).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "weather" / "era5_t2m_uk_2019-03-01_to_24.nc"
NAMES = ("model", "persistence", "same_hour_yesterday", "climatology", "ridge")


def rmse_table(reports: dict[str, dict]) -> str:
    """A Markdown table of the held-out RMSE [K] per lead of training reports, keyed by a
    label for a first column ("" for none); the best per row in bold."""
    labelled = any(reports)
    lines = [("| held out " if labelled else "") + "| lead [h] | held-out starts | " + " | ".join(NAMES) + " | model beats all |",
             ("| --- " if labelled else "") + "| ---: | ---: | " + " | ".join("---:" for _ in NAMES) + " | :---: |"]
    for label, report in reports.items():
        for lead, e in report["leads"].items():
            r = e["rmse_K"]
            cells = [f"**{r[n]:.4f}**" if r[n] == min(r.values()) else f"{r[n]:.4f}" for n in NAMES]
            wins = all(r["model"] < r[n] for n in NAMES[1:])
            lines.append((f"| {label} " if labelled else "") + f"| {lead} | {e['test_starts']} | " + " | ".join(cells)
                         + f" | {'yes' if wins else 'no'} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    from twin.app.cli import main as twin

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--model", type=Path, help="use this trained model (with --report) instead of training")
    p.add_argument("--report", type=Path, default=ROOT / "benchmarks" / "results" / "forecast_skill.json")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or Path(tmp) / "t2m_model.npz"
        if args.model is None and twin(["forecast", "train", "--data", str(args.data), "--out", str(model), "--report", str(args.report)]):
            return 1
        report = json.loads(args.report.read_text())
        pred = Path(tmp) / "pred.nc"
        t0 = time.perf_counter()
        if twin(["forecast", "predict", "--model", str(model), "--data", str(args.data), "--leads", "1,6,24,48", "--out", str(pred)]):
            return 1
        wall = time.perf_counter() - t0
        import xarray as xr

        with xr.open_dataset(pred) as ds:
            forecasts = ds.sizes["lead"] * ds.sizes["time"]
    print(f"\nheld-out RMSE [K], last {report['holdout_hours']} h (4 decimals: the ranking hangs on them); best in bold:\n")
    print(rmse_table({"": report}))
    print(f"\ntraining: {report['train_time_s']:.0f} s for {len(report['leads'])} leads; "
          + ", ".join(f"lead {k} h: {e['train_time_s']:.0f} s ({e['iterations_chosen']} iterations chosen, penalties {e['start_penalty']:g} / {e['ridge_penalty']:g})"
                      for k, e in report["leads"].items()))
    print(f"twin forecast predict: {forecasts} forecasts (4 leads x {forecasts // 4} starts) in {wall:.1f} s wall "
          f"including start-up and reading the file: {forecasts / wall:.0f} forecasts/s; network alone on the held-out starts: "
          + ", ".join(f"{e['forecasts_per_s']:.0f}/s (lead {k} h)" for k, e in report["leads"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
