"""Issue 16's hostile-input run: per category, the cases tried, those twin handled cleanly, and those that failed.

    python benchmarks/hostile_inputs.py [--verbose]

A case is clean when its input is read (with the right values), read with one
twin warning, or refused with one line naming the file and the place; and
nothing hangs, prints a traceback or lets a library write on stderr. The cases
are tests/hostile_cases.py (also run by ``make test``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hostile_cases import CASES, categories, run_case  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--verbose", action="store_true", help="name every failed case")
    args = p.parse_args()
    t0 = time.perf_counter()
    results = [(c, run_case(c)) for c in CASES]
    print(f"{'category':<14}{'tried':>7}{'clean':>7}{'failed':>8}")
    for cat in categories():
        mine = [(c, r) for c, r in results if c.category == cat]
        failed = [(c, r) for c, r in mine if r is not None]
        print(f"{cat:<14}{len(mine):>7}{len(mine) - len(failed):>7}{len(failed):>8}")
        if args.verbose:
            for c, r in failed:
                print(f"    {c.name}: {r}")
    bad = sum(r is not None for _, r in results)
    print(f"{'all':<14}{len(results):>7}{len(results) - bad:>7}{bad:>8}   ({time.perf_counter() - t0:.1f} s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
