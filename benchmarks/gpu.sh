#!/usr/bin/env bash
# LightGBM on CPU vs GPU (same configuration, synthetic 200,000 x 50 table, held-out AUC).
# A few minutes at most on a GPU machine; run from anywhere:
#
#     benchmarks/gpu.sh                 # PYTHON=... picks the interpreter (default: python3)
#     benchmarks/gpu.sh --rounds 500    # options of benchmarks/gpu.py
#
# Prints both times and AUCs; writes benchmarks/results/gpu.md only when the GPU run happened
# (on a machine without a working LightGBM GPU backend it prints "gpu unavailable: <reason>").
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
echo "== nvidia-smi"
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,utilization.gpu --format=csv || true
else
    echo "nvidia-smi not found"
fi
echo "== benchmarks/gpu.py"
export AUTOMETA_GPU_BENCH_COMMAND="benchmarks/gpu.sh${*:+ $*}"
# 280 s: the whole script stays under 5 minutes even if a GPU fit hangs
exec timeout 280 "$python" "$here/gpu.py" "$@"
