"""The GPU benchmark script, checked on this machine: its torch path on the CPU, every GPU backend 'not run'."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import robofuse

pytest.importorskip("torch", reason="the GPU benchmark runs the checkpoint in torch")
pytest.importorskip("onnxruntime", reason="the GPU benchmark's parity reference is ONNX Runtime on the CPU")

ROOT = Path(__file__).resolve().parents[2]


def test_the_gpu_benchmark_runs_its_torch_path_on_the_cpu_and_names_what_it_could_not_run(tmp_path: Path) -> None:
    env = {**os.environ, "ROBOFUSE_BENCH_RESULTS": str(tmp_path), "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "bench/bench_gpu.py", "--allow-cpu", "--calls", "3", "--parity-windows", "24"]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    import torch

    name = "gpu.json" if torch.cuda.is_available() else "gpu_cpu_selfcheck.json"
    report = json.loads((tmp_path / name).read_text())
    assert {"machine", "commit", "median", "p99"} <= set(report)
    assert report["model_sha256"] == hashlib.sha256(robofuse.default_model_path().read_bytes()).hexdigest()
    rows = {r["backend"]: r for r in report["rows"]}
    eager = rows["torch eager"]
    assert set(eager["timings"]) == {"1", "8"}
    assert max(eager["parity_max_abs_diff"].values()) <= 1e-4  # the checkpoint is the shipped ONNX's weights
    if not torch.cuda.is_available():
        for backend in ("torch CUDA graphs", "onnxruntime CUDA", "tensorrt fp32", "tensorrt fp16"):
            assert rows[backend]["not_run"].startswith("no CUDA device"), backend
        assert "not run: no CUDA device" in done.stdout
