#!/usr/bin/env bash
# One call on a lent GPU machine: train the fused-model candidates of docs/evaluation/candidates
# and two more seeds of the late and LMF baselines (15 models at once), then pack them to carry back.
# Run from the repository root with OUT set to a folder that comes back; BUDGET_S is the seconds
# this whole script may take (each sweep stops at its deadline; finished models are packed).
#   OUT=/tmp/out BUDGET_S=540 bash bench/gpu_candidates.sh
# ROUND=seeds instead trains 14 seeds of the chosen recipe (sl2_cam06) and packs their last epochs too.
# ROUND=heading_free trains round 7 (docs/evaluation/candidates/README.md) in two calls of about 17
# models each, the load a 540 s call finished before: PART=1 the 3 heading-free default candidates,
# late fusion and LMF (3 seeds each) and the 8 IMU specialists' seed 0; PART=2 their seeds 1 and 2.
# The folders are the CPU sweeps' (RUNS/r7/{default,baselines,lmf}): unpack into runs/ and any run
# the CPU already finished is simply there twice, from two devices.
# ROUND=r8 trains round 8 in one call: the heading-free LMF with the shipped model's subset loss and
# training noise (lmf8, lmf8_sl3, lmf8_wide) and the gated model with subset loss 3 (gated8_sl3),
# seeds 0-2 each, 12 runs, into RUNS/r8/<recipe>.
# BENCH=1 runs bench/bench_gpu.py on the shipped model first (about a minute; JSON and log to OUT).
# Every round but heading_free (whose two calls had no time to spare) first runs the CUDA training test.
# DEVICE=cpu EPOCHS=1 ONLY_SMOKE=1 try the plumbing on a machine without a GPU (one candidate, one epoch).
set -uo pipefail
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
DEVICE=${DEVICE:-cuda}
RUNS=${RUNS:-/tmp/runs}
CACHE=${CACHE:-/tmp/windows}
extra=(); [ -n "${EPOCHS:-}" ] && extra=(--epochs "$EPOCHS")
rf() { python3 -m robofuse.cli.main "$@"; }

if [ "$DEVICE" = cuda ]; then
  nvidia-smi -L; python3 -c 'import torch, numpy; print("torch", torch.__version__, "numpy", numpy.__version__)'
  if [ -n "${BENCH:-}" ]; then
    echo "== bench_gpu ($(elapsed) s)"
    ROBOFUSE_BENCH_RESULTS=$OUT timeout 170 python3 bench/bench_gpu.py 2>&1 | tee "$OUT/bench_gpu.log"
  fi
  echo "== CUDA training test ($(elapsed) s)"
  [ "${ROUND:-}" != heading_free ] && timeout 60 python3 -m pytest -q -p no:cacheprovider tests/train/test_train.py -k cuda 2>&1 | tail -3
  # MPS: the training processes share the GPU concurrently instead of time-slicing it
  if command -v nvidia-cuda-mps-control >/dev/null && timeout 10 nvidia-cuda-mps-control -d; then
    if ! timeout 40 python3 -c 'import torch; torch.zeros(1, device="cuda").sum().item()'; then
      echo quit | timeout 10 nvidia-cuda-mps-control; echo "MPS: not usable, running without"
    else echo "MPS: on"; fi
  fi
fi

echo "== window cache ($(elapsed) s)"
python3 bench/fill_window_cache.py docs/train_baselines.yaml "$CACHE"  # every candidate trains on these worlds

deadline=$(( ${BUDGET_S:-540} - $(elapsed) - 45 ))
echo "== models, deadline ${deadline} s ($(elapsed) s)"
common=(--device "$DEVICE" --threads 1 --deadline "$deadline" --cache "$CACHE" --quiet --only 'fusion/*' "${extra[@]}")
sweep() {  # NAME RECIPE FUSIONS SEEDS
  rf sweep --config "$2" --out "$RUNS/$1" --fusions "$3" --fusion-seeds "$4" --jobs "$(( ($(tr -cd , <<<"$3" | wc -c) + 1) * ($(tr -cd , <<<"$4" | wc -c) + 1) ))" \
    "${common[@]}" >"$RUNS/$1.log" 2>&1
}
mkdir -p "$RUNS"
if [ -n "${ONLY_SMOKE:-}" ]; then
  sweep sl2 docs/evaluation/candidates/sl2.yaml gated 0
elif [ "${ROUND:-}" = heading_free ]; then
  c=docs/evaluation/candidates
  mkdir -p "$RUNS/r7"
  specialists() {  # GLOB JOBS: the IMU specialists of the heading-free baseline recipe
    rf sweep --config "$c/baselines_heading_free.yaml" --out "$RUNS/r7/baselines" --only "$1" --jobs "$2" \
      --device "$DEVICE" --threads 1 --deadline "$deadline" --cache "$CACHE" --quiet "${extra[@]}" \
      >"$RUNS/r7/specialists_part${PART:-1}.log" 2>&1
  }
  if [ "${PART:-1}" = 1 ]; then
    sweep r7/default "$c/default_heading_free.yaml" gated 0,1,2 &
    sweep r7/baselines "$c/baselines_heading_free.yaml" late 0,1,2 &
    sweep r7/lmf "$c/lmf_heading_free.yaml" lmf 0,1,2 &
    specialists 'specialists/*imu*/seed0' 8 &
  else
    specialists 'specialists/*imu*/seed[12]' 16 &
  fi
  wait
elif [ "${ROUND:-}" = r8 ]; then
  c=docs/evaluation/candidates
  mkdir -p "$RUNS/r8"
  for r in lmf8 lmf8_sl3 lmf8_wide; do sweep "r8/$r" "$c/$r.yaml" lmf 0,1,2 & done
  sweep r8/gated8_sl3 "$c/gated8_sl3.yaml" gated 0,1,2 &
  wait
elif [ "${ROUND:-}" = seeds ]; then
  sweep sl2_cam06 docs/evaluation/candidates/sl2_cam06.yaml gated 0,1,2,3,4,5,6,7,8,9,10,11,12,13
else
  sweep baselines docs/train_baselines.yaml late,lmf 1,2 &
  sweep sl1_cam06 docs/evaluation/candidates/sl1_cam06.yaml gated 0,1,2,3 &
  sweep sl1_cam09 docs/evaluation/candidates/sl1_cam09.yaml gated 0,1,2 &
  sweep sl2_cam06 docs/evaluation/candidates/sl2_cam06.yaml gated 0,1,2 &
  sweep sl2 docs/evaluation/candidates/sl2.yaml gated 0 &
  wait
fi
logs=$(find "$RUNS" -maxdepth 2 -name '*.log' ! -name sweep.log | sort)
tail -n 6 $logs
cat $logs > "$RUNS/sweep.log.tmp" && mv "$RUNS/sweep.log.tmp" "$RUNS/sweep.log"  # never reads its own output
[ "$DEVICE" = cuda ] && nvidia-smi --query-gpu=name,memory.used --format=csv
echo "== pack ($(elapsed) s)"
python3 bench/pack_runs.py "$RUNS" "$OUT" $([ "${ROUND:-}" = seeds ] && echo --last)
echo "== done ($(elapsed) s)"
