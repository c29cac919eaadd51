#!/usr/bin/env bash
# The prepared device check (docs/gpu.md): run from the repository root on a machine with one
# H100 or H200; it stops itself after 8 minutes and writes benchmarks/results/device_check.json
# section by section (so what finished is kept). Merewether needs the case's data
# (../shared/data/flood/merewether or TWIN_MEREWETHER_DATA).
#   bash benchmarks/device_check.sh            # the GPU check
#   bash benchmarks/device_check.sh --cpu-smoke --out /tmp/smoke.json   # tiny sizes on the CPU
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
[ -x .venv/bin/python ] && PY=.venv/bin/python
nvidia-smi --query-gpu=name,memory.total,clocks.max.memory --format=csv 2>/dev/null || true
exec timeout --signal=INT --kill-after=20 480 "$PY" benchmarks/device_check.py --budget 450 "$@"
