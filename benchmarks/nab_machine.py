"""The machine twin against the rolling z-score on NAB's machine_temperature_system_failure, standard profile.

Writes the scores, detections and lead times (``--json``) and the figure
``docs/images/factory_nab.png`` (readings, the twin's 4-sigma band, its alarms at
4 sigma, the labelled windows).

    python benchmarks/nab_machine.py [--threshold 4] [--json benchmarks/results/nab_machine.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twin.physics.thermal import ThermalModel  # noqa: E402
from twin.physics.thermal.study import evaluate_log, run_twin  # noqa: E402
from twin.viewer.machine import plot_twin  # noqa: E402

from twin.io.sensor_log import read_nab_labels, read_sensor_log  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "factory"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threshold", type=float, default=4.0)
    p.add_argument("--json", type=Path)
    p.add_argument("--figure", type=Path, default=ROOT / "docs" / "images" / "factory_nab.png")
    args = p.parse_args()
    log = read_sensor_log(DATA / "machine_temperature_system_failure.csv", units={"value": "degF"})
    labels, windows = read_nab_labels(DATA / "machine_temperature_system_failure.labels.json")
    r = evaluate_log(log, "value", windows, labels, threshold=args.threshold)
    out = {"model": r["model"], "rows": r["rows"], "probationary_rows": r["probationary_rows"],
           "fixed": {k: v.as_dict() for k, v in r["fixed"].items()}, "tuned": {k: v.as_dict() for k, v in r["tuned"].items()}}
    for kind in ("fixed", "tuned"):
        for name, d in r[kind].items():
            s = d.score
            lead = ", ".join("missed" if h is None else f"{h:+.1f} h" for h in d.lead_h)
            print(f"{kind:5s} {name:6s} threshold {d.threshold:5.2f}: NAB {s.normalised:5.1f} (raw {s.raw:+.3f}; "
                  f"TP {s.tp}, FP {s.fp}, FN {s.fn}); lead before the labels: {lead}")
    keep = log.monotonic()
    time, t, y = log.time[keep], log.seconds()[keep], log.channels["value"][keep]
    twin = run_twin(ThermalModel(**r["model"]), t, y)
    alarm = np.isin(time.astype(str), r["fixed"]["twin"].alarms)
    fixed = r["fixed"]["twin"].score
    args.figure.parent.mkdir(parents=True, exist_ok=True)
    plot_twin(time, y, twin["predicted"], twin["sigma"], alarm, args.figure, threshold=args.threshold, windows=windows,
              title=f"NAB machine temperature: thermal twin, alarms at {args.threshold:g} sigma (red), labelled windows "
                    f"(orange): NAB score {fixed.normalised:.1f}", ylabel="value (NAB: unit not stated, probably degF)")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
