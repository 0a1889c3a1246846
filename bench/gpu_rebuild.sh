#!/usr/bin/env bash
# One call on a lent GPU machine: rebuild the shipped model with its documented command on the
# GPU and compare the result with robofuse/data/default_model.pt, tensor by tensor, bit for bit.
# For a shipped model that was trained on a GPU (a CPU trains the same recipe to other weights).
# The model shipped since round 14 was trained on the CPU (docs/rebuild_default_model.sh rebuilds it)
# and distils teachers: its recipe needs them under runs/ (carry runs/r12/teachers and runs/r13).
# Run from the repository root with OUT set to a folder that comes back; BUDGET_S is the seconds
# this whole script may take (the training is stopped before it, and says so).
#   OUT=/tmp/out BUDGET_S=330 bash bench/gpu_rebuild.sh
# DEVICE=cpu EPOCHS=1 try the plumbing on a machine without a GPU (the weights will differ).
set -uo pipefail
: "${OUT:?set OUT to the folder that comes back}"
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
DEVICE=${DEVICE:-cuda}
CACHE=${CACHE:-/tmp/windows}
RECIPE=docs/train_default_model.yaml
extra=(); [ -n "${EPOCHS:-}" ] && extra=(--epochs "$EPOCHS")
[ "$DEVICE" = cuda ] && nvidia-smi -L

echo "== window cache ($(elapsed) s)"
python3 bench/fill_window_cache.py "$RECIPE" "$CACHE"

left=$(( ${BUDGET_S:-330} - $(elapsed) - 15 ))
[ "$left" -gt 0 ] || { echo "no time left to train (BUDGET_S=${BUDGET_S:-330})"; exit 2; }
echo "== train, at most ${left} s ($(elapsed) s)"
rm -rf /tmp/rebuild
timeout "$left" python3 -m robofuse.cli.main train --config "$RECIPE" --out /tmp/rebuild --device "$DEVICE" \
  --threads 1 --cache "$CACHE" --quiet "${extra[@]}" 2>&1 | tee "$OUT/rebuild_train.log" | grep -v Warning | tail -n 3
trained=${PIPESTATUS[0]}
# with keep: last, best.pt is rewritten after every epoch: only a finished run is the rebuild
[ "$trained" -eq 0 ] || { echo "training did not finish (exit $trained; 124: stopped after ${left} s)"; exit 2; }

echo "== compare ($(elapsed) s)"
python3 bench/same_weights.py /tmp/rebuild/best.pt robofuse/data/default_model.pt --json "$OUT/rebuild.json"
status=$?
echo "== done ($(elapsed) s)"
exit $status
