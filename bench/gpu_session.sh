#!/usr/bin/env bash
# One call on a lent GPU machine: the GPU benchmark, then the evaluation's training sweep on the
# GPU (specialists for all 15 sensor subsets x 3 seeds, late and LMF fusion), packed to carry back.
# Run from the repository root with OUT set to a folder that comes back; BUDGET_S is the seconds
# this whole script may take (the sweep stops at its deadline and packs what finished).
#   OUT=/tmp/out BUDGET_S=560 bash bench/gpu_session.sh
set -uo pipefail
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export ROBOFUSE_BENCH_RESULTS=$OUT
nvidia-smi -L; python3 -c 'import torch, numpy, onnxruntime; print("torch", torch.__version__, "numpy", numpy.__version__, "ort", onnxruntime.__version__)'

echo "== bench_gpu ($(elapsed) s)"
timeout 170 python3 bench/bench_gpu.py 2>&1 | tee "$OUT/bench_gpu.log"

echo "== CUDA training test ($(elapsed) s)"
timeout 60 python3 -m pytest -q -p no:cacheprovider tests/train/test_train.py -k cuda 2>&1 | tail -3

# MPS lets the training processes share the GPU concurrently instead of time-slicing it;
# keep it only if a CUDA client works under it
if command -v nvidia-cuda-mps-control >/dev/null && timeout 10 nvidia-cuda-mps-control -d; then
  if ! timeout 40 python3 -c 'import torch; torch.zeros(1, device="cuda").sum().item()'; then
    echo quit | timeout 10 nvidia-cuda-mps-control; echo "MPS: not usable, running without"
  else echo "MPS: on"; fi
else echo "MPS: not available"; fi

deadline=$(( BUDGET_S - $(elapsed) - 75 ))
echo "== sweep, deadline ${deadline} s ($(elapsed) s)"
python3 -m robofuse.cli.main sweep --config docs/train_baselines.yaml --out /tmp/runs \
  --jobs 15 --device cuda --threads 1 --deadline "$deadline" --cache /tmp/windows --quiet 2>&1 | tee /tmp/runs.log
cp /tmp/runs.log /tmp/runs/sweep.log 2>/dev/null
echo == gpu during the sweep; nvidia-smi --query-gpu=name,memory.used --format=csv
echo "== pack ($(elapsed) s)"
python3 bench/pack_runs.py /tmp/runs "$OUT"
echo "== done ($(elapsed) s)"
