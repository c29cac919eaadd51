"""Time to read the NAB machine-temperature log (22,695 rows) with twin.io.sensor_log.read_sensor_log.

    python benchmarks/sensor_log_read.py [--repeat 5]

Prints the best of ``--repeat`` reads after one warm-up (pandas imported, the file cached).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from twin.io.sensor_log import read_sensor_log  # noqa: E402

LOG = Path(__file__).resolve().parents[2] / "shared/data/factory/machine_temperature_system_failure.csv"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    log = read_sensor_log(LOG)
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        read_sensor_log(LOG)
        times.append(time.perf_counter() - t)
    best = min(times)
    print(f"{log.rows} rows: best of {args.repeat} {best * 1e3:.0f} ms ({log.rows / best / 1e3:.0f} k rows/s)")


if __name__ == "__main__":
    main()
