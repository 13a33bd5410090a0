#!/usr/bin/env bash
# The pipeline on the `smoke` profile in a clean clone (CI, after the tests): `dvc repro`
# from an empty cache with no commit of its own, the leaderboard and the Markdown tables
# exist, and a second `dvc repro` runs nothing but the always-run `track` stage.
#   scripts/smoke_repro.sh [WORKDIR]     (the venv of this checkout is used)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d /tmp/poseboard-smoke-XXXXXX)}"
bin="$here/.venv/bin"
export DVC_NO_ANALYTICS=1 POSEBOARD_THREADS="${POSEBOARD_THREADS:-2}" PATH="$bin:$PATH"
export MLFLOW_TRACKING_URI="sqlite:///$work/repo/mlflow.db"

rm -rf "$work/repo"
git clone -q "$here" "$work/repo"
cd "$work/repo"
sed -i 's/^profile: .*/profile: smoke/' params.yaml
start=$(date +%s)
dvc repro -q
echo "smoke dvc repro: $(( $(date +%s) - start )) s"

test -s report/index.html || { echo "report/index.html missing"; exit 1; }
ls report/tables/*.md >/dev/null 2>&1 || { echo "report/tables/*.md missing"; exit 1; }
echo "report: $(ls report/tables/*.md | wc -l) Markdown tables, index.html $(stat -c %s report/index.html) bytes"

start=$(date +%s)
second="$(dvc repro 2>&1)"
ran="$(grep -E "^Running stage" <<<"$second" | grep -v "'track'" || true)"
if [ -n "$ran" ]; then
  echo "a second dvc repro re-ran stages:"; echo "$ran"; exit 1
fi
echo "second dvc repro: nothing to re-run ($(( $(date +%s) - start )) s, track only)"

# Determinism: a learned method's training and scoring run again from scratch (forced) give
# byte-identical weights and metrics (the `.run.json` sidecars hold timings and may differ).
keep="$(mktemp -d)"
cp checkpoints/algebraic/weights.pt results/algebraic/synth-h36m-relative@3.json "$keep/"
start=$(date +%s)
dvc repro -q -f -s train@algebraic predict@algebraic-synth-h36m-relative
cmp checkpoints/algebraic/weights.pt "$keep/weights.pt" || { echo "forced re-training changed the weights"; exit 1; }
cmp results/algebraic/synth-h36m-relative@3.json "$keep/synth-h36m-relative@3.json" \
  || { echo "forced re-run changed results/algebraic/synth-h36m-relative@3.json"; exit 1; }
echo "forced re-run of train@algebraic + predict@algebraic-synth-h36m-relative: byte-identical ($(( $(date +%s) - start )) s)"
