#!/usr/bin/env bash
# Rebuild the bundled model from this checkout alone, its teachers included, and compare it with
# robofuse/data/default_model.pt tensor by tensor (docs/train_default_model.yaml says why each step).
# From the repository root, after `bash .ci/setup`; about 35 min on two CPU cores:
#   bash docs/rebuild_default_model.sh
# ROUND9=retrain trains round 9's model (the teacher of 14 subsets) instead of taking its shipped
# weights from git history (16 min more; bit for bit the same on torch 2.13 CPU).
set -euo pipefail
PY=${PYTHON:-.venv/bin/python}
rf() { "$PY" -m robofuse.cli.main "$@"; }
start=$(date +%s)
elapsed() { echo "$(( $(date +%s) - start )) s"; }
mkdir -p runs/r13

echo "== 1/4 round 9's model, the teacher of 14 subsets ($(elapsed))"
if [ "${ROUND9:-git}" = retrain ]; then
  rf train --config docs/evaluation/candidates/gated9_cam09.yaml --seed 2 --out runs/r13/gated9_cam09 --threads 1
  cp runs/r13/gated9_cam09/best.pt runs/r13/gated9_cam09_s2.pt
elif ! git show 13c4469:robofuse/data/default_model.pt >runs/r13/gated9_cam09_s2.pt; then
  echo "this checkout lacks commit 13c4469 (a shallow clone?): run again with ROUND9=retrain" >&2
  exit 1
fi

echo "== 2/4 the three IMU+audio specialists, the teachers of IMU+audio ($(elapsed))"
rf sweep --config docs/train_baselines.yaml --out runs/r12/teachers --only 'specialists/imu+audio/*' --jobs 3 --threads 1

echo "== 3/4 the model ($(elapsed))"
rf train --config docs/train_default_model.yaml --out runs/default --threads 1

echo "== 4/4 the rebuild against the shipped weights ($(elapsed))"
"$PY" bench/same_weights.py runs/default/best.pt robofuse/data/default_model.pt
