"""``twin surrogate``: train a surrogate on a sweep, measure it on held-out runs.

    twin surrogate train SWEEP_DIR --out MODEL [--energy E] [--regression rbf|mlp]
    twin surrogate evaluate MODEL HOLDOUT_DIR [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from physics.simulation import write_text
from twin.errors import InputError


def cmd_surrogate(argv: list[str]) -> int:
    from physics.surrogates.flood import evaluate
    from physics.surrogates.pod import REGRESSIONS, FloodSurrogate, train

    p = argparse.ArgumentParser(prog="twin surrogate", description="Surrogates of flood sweeps.")
    sub = p.add_subparsers(dest="action", required=True)
    t = sub.add_parser("train", help="learn a sweep's peak-depth field and probe hydrographs")
    t.add_argument("sweep_dir", type=Path, help="the --out folder of twin batch")
    t.add_argument("--out", type=Path, required=True, help="the model file to write (.npz)")
    t.add_argument("--energy", type=float, default=1 - 1e-4, help="share of the variance the reduced bases keep")
    t.add_argument("--regression", default="rbf", help="of the mode coefficients: rbf (cubic RBF interpolant, the default) "
                   "or mlp (a small network trained with Warp)")
    e = sub.add_parser("evaluate", help="errors and speed-up on held-out runs")
    e.add_argument("model", type=Path)
    e.add_argument("holdout_dir", type=Path, help="the --out folder of twin batch of runs not used in training")
    e.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = p.parse_args(argv)
    if args.action == "train":
        if not 0 < args.energy <= 1:
            raise InputError("--energy", "", f"must lie in (0, 1], got {args.energy}")
        if args.regression not in REGRESSIONS:
            raise InputError("--regression", "", f"must be one of {', '.join(REGRESSIONS)}, got {args.regression!r}")
        model = train(args.sweep_dir, energy=args.energy, regression=args.regression)
        model.save(args.out)
        print(f"twin: {args.regression} surrogate of {model.meta['training_runs']} runs over {', '.join(model.names)}; "
              f"{model.meta['modes']['max_depth']} peak-depth modes, {model.meta['modes']['probe_depth']} hydrograph modes; "
              f"trained in {model.meta['training_time_s']:.1f} s; model {args.out}")
        return 0
    model = FloodSurrogate.load(args.model)
    figures = evaluate(model, args.holdout_dir)
    if args.json:
        write_text(args.json, json.dumps(figures, indent=2))
    print(f"twin: {model.meta['regression']} surrogate on {figures['runs']} held-out runs: peak depth RMSE {figures['rmse_m'] * 100:.2f} cm over wet cells, "
          f"max error {figures['max_error_m'] * 100:.1f} cm; hydrograph peaks: height within {figures['peak_height_error_m'] * 100:.1f} cm, "
          f"time within {figures['peak_time_error_s']:.0f} s; prediction {figures['prediction_time_s'] * 1e3:.3f} ms vs "
          f"solver {figures['solver_wall_time_s']:.2f} s: speed-up {figures['speed_up']:.0f}x", file=sys.stdout)
    return 0
