"""``twin surrogate``: train a surrogate on a sweep, measure it on held-out runs.

    twin surrogate train SWEEP_DIR --out MODEL [--energy E] [--regression rbf|mlp]
    twin surrogate evaluate MODEL HOLDOUT_DIR [--out FILE.json] [--json]
"""

from __future__ import annotations

import json

from twin.errors import InputError
from twin.physics.simulation import write_text


def cmd_train(args) -> int:
    """``twin surrogate train SWEEP_DIR --out MODEL [--energy E] [--regression rbf|mlp]``."""
    from twin.physics.surrogates.pod import REGRESSIONS, train

    if args.out is None:
        raise InputError("twin surrogate train", "", "--out MODEL is required")
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


def cmd_evaluate(args) -> int:
    """``twin surrogate evaluate MODEL HOLDOUT_DIR [--out FILE.json] [--json]``: every figure to FILE
    with ``--out``, as one JSON object on stdout with ``--json``, else a sentence."""
    from twin.physics.surrogates.flood import evaluate
    from twin.physics.surrogates.pod import FloodSurrogate

    model = FloodSurrogate.load(args.model)
    figures = evaluate(model, args.holdout_dir)
    if args.out:
        write_text(args.out, json.dumps(figures, indent=2))
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"twin: {model.meta['regression']} surrogate on {figures['runs']} held-out runs: peak depth RMSE "
          f"{figures['rmse_m'] * 100:.2f} cm over wet cells, max error {figures['max_error_m'] * 100:.1f} cm; "
          f"hydrograph peaks: height within {figures['peak_height_error_m'] * 100:.1f} cm, time within "
          f"{figures['peak_time_error_s']:.0f} s; prediction {figures['prediction_time_s'] * 1e3:.3f} ms vs "
          f"solver {figures['solver_wall_time_s']:.2f} s: speed-up {figures['speed_up']:.0f}x")
    return 0
