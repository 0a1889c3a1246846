"""GPU benchmark of the shipped model: torch eager, torch + CUDA graphs, ONNX Runtime CUDA, TensorRT.

One short run (about a minute on a data-centre GPU, well under five) on the shipped model
(``robofuse/data/default_model.onnx`` and its checkpoint ``default_model.pt``) at batch 1 and
8. Every backend is timed from host float32 arrays to host outputs (copies in and out
included, as a robot pays them), and checked on the GPU against ONNX Runtime on the CPU on
random inputs with random masks: FP32 within 1e-4 (TF32 off), FP16 within the FP16 export's
tolerance. A backend this machine lacks is printed as ``not run: <reason>``.

Needs only torch (CUDA build), numpy and onnxruntime (CPU is enough) beside the checkout; no
package registry. Run from the repository root::

    PYTHONPATH=. python bench/bench_gpu.py            # writes bench/results/gpu.json

``--allow-cpu`` runs the torch eager path on the CPU, to check the script itself on a machine
without a GPU.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

import report

import robofuse

Arrays = dict[str, np.ndarray]
FP32_TOL = 1e-4


@dataclass
class Row:
    """One backend: its timings per batch size, its parity, or why it did not run."""

    backend: str
    timings: dict[int, dict[str, float]] = field(default_factory=dict)
    parity: dict[str, float] = field(default_factory=dict)
    tolerance: float = FP32_TOL
    not_run: str = ""
    samples_b1: list[float] = field(default_factory=list)


def random_inputs(n: int, seed: int) -> Arrays:
    """Inputs of the shipped model's shapes with realistic ranges and random masks (row 0 all present)."""
    rng = np.random.default_rng(seed)
    out = {
        "camera": rng.integers(0, 256, (n, 48, 64, 3)).astype(np.float32),
        "lidar": (rng.random((n, 16, 360)) * 60).astype(np.float32),
        "imu": rng.standard_normal((n, 200, 10)).astype(np.float32),
        "audio": (rng.standard_normal((n, 8000)) * 0.1).astype(np.float32),
        "mask": (rng.random((n, 4)) < 0.6).astype(np.float32),
    }
    out["mask"][0] = 1.0
    return out


def take(inputs: Arrays, start: int, batch: int) -> Arrays:
    """Rows ``start .. start + batch`` of every input."""
    return {k: np.ascontiguousarray(v[start : start + batch]) for k, v in inputs.items()}


def timed(call: Callable[[Arrays], object], inputs: Arrays, batch: int, calls: int, warmup: int) -> list[float]:
    """Milliseconds per call over ``calls`` batches cycled from ``inputs`` after ``warmup`` calls."""
    n = len(inputs["mask"]) - batch
    batches = [take(inputs, (i * batch) % max(n, 1), batch) for i in range(8)]
    for i in range(warmup):
        call(batches[i % 8])
    samples = []
    for i in range(calls):
        t0 = time.perf_counter()
        call(batches[i % 8])  # returns host arrays, so the GPU work is finished
        samples.append((time.perf_counter() - t0) * 1e3)
    return samples


class TorchRunner:
    """The checkpoint in torch on ``device``; ``graphs=True`` replays a captured CUDA graph per batch size."""

    def __init__(self, device: str, graphs: bool) -> None:
        import torch

        from robofuse.train.checkpoint import load_checkpoint

        self.torch, self.device, self.graphs = torch, torch.device(device), graphs
        model, _, _ = load_checkpoint(robofuse.default_checkpoint_path())
        self.model = model.to(self.device).eval()
        self.names = list(model.config.output_names)
        self.captured: dict[int, tuple[Any, dict[str, Any], dict[str, Any]]] = {}

    def __call__(self, inputs: Arrays) -> Arrays:
        torch = self.torch
        if not self.graphs:
            with torch.inference_mode():
                out = self.model(**{k: torch.from_numpy(v).to(self.device) for k, v in inputs.items()})
                return {k: out[k].float().cpu().numpy() for k in self.names}
        batch = len(inputs["mask"])
        if batch not in self.captured:
            self.captured[batch] = self._capture(inputs)
        graph, static_in, static_out = self.captured[batch]
        with torch.inference_mode():
            for k, v in inputs.items():
                static_in[k].copy_(torch.from_numpy(v), non_blocking=False)
            graph.replay()
            return {k: static_out[k].float().cpu().numpy() for k in self.names}

    def _capture(self, inputs: Arrays) -> tuple[Any, dict[str, Any], dict[str, Any]]:
        """Capture the forward pass for this batch size on static device buffers (after side-stream warmup)."""
        torch = self.torch
        with torch.inference_mode():
            static_in = {k: torch.from_numpy(v).to(self.device) for k, v in inputs.items()}
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):
                    self.model(**static_in)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = self.model(**static_in)
        return graph, static_in, static_out


def engine_runner(backend: str, precision: str = "fp32") -> Callable[[Arrays], Arrays]:
    """A robofuse engine (onnxruntime with CUDA, or tensorrt) as a batch callable; EngineError says why not."""
    from robofuse.engine.base import EngineConfig, make_engine
    from robofuse.errors import EngineError

    model = robofuse.default_model_path()
    if backend == "onnxruntime-cuda":
        import onnxruntime as ort

        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise EngineError(f"onnxruntime {ort.__version__} here is CPU-only (no CUDAExecutionProvider)")
        engine = make_engine(EngineConfig(backend="onnxruntime", model=model, cuda=True))
        if "CUDAExecutionProvider" not in getattr(engine, "providers", ()):
            raise EngineError("onnxruntime did not place the model on CUDA")
    else:
        fp = "fp16" if precision == "fp16" else "fp32"
        engine = make_engine(
            EngineConfig(backend="tensorrt", model=model, precision="fp16" if fp == "fp16" else "fp32", max_batch=8)
        )
    return engine.infer_batch


def reference() -> Callable[[Arrays], Arrays]:
    """ONNX Runtime on the CPU: what every GPU backend must agree with."""
    from robofuse.engine.base import EngineConfig, make_engine

    engine = make_engine(
        EngineConfig(backend="onnxruntime", model=robofuse.default_model_path(), cuda=False, threads=4)
    )
    return engine.infer_batch


def parity(call: Callable[[Arrays], Arrays], ref: Arrays, inputs: Arrays, batch: int) -> dict[str, float]:
    """Largest |backend - reference| per output over every parity window, run ``batch`` at a time."""
    worst: dict[str, float] = {}
    for start in range(0, len(inputs["mask"]), batch):
        got = call(take(inputs, start, batch))
        for name, value in got.items():
            diff = float(np.max(np.abs(value.astype(np.float64) - ref[name][start : start + batch])))
            worst[name] = max(worst.get(name, 0.0), diff)
    return worst


def measure(row: Row, make: Callable[[], Callable[[Arrays], Arrays]], args: argparse.Namespace, data: Any) -> None:
    """Build a backend and fill ``row``; any failure becomes ``not_run`` with its reason."""
    inputs, check, ref = data
    try:
        call = make()
        for batch in args.batches:
            samples = timed(call, inputs, batch, args.calls, warmup=10)
            row.timings[batch] = {
                "median_ms": round(float(np.median(samples)), 4),
                "p99_ms": round(float(np.percentile(samples, 99)), 4),
                "windows_per_s": round(batch * 1e3 / float(np.mean(samples)), 1),
            }
            if batch == 1:
                row.samples_b1 = samples
        row.parity = parity(call, ref, check, max(args.batches))
    except Exception as err:  # a missing library, driver or GPU: report it and go on
        row.not_run = f"{type(err).__name__}: {err}".splitlines()[0][:300]


def table(rows: list[Row]) -> str:
    """Backend, batch, median, p99, throughput and parity per row; 'not run: reason' otherwise."""
    lines = [
        f"{'backend':22s} {'batch':>5s} {'median ms':>10s} {'p99 ms':>9s} {'windows/s':>10s}  parity (max abs diff)"
    ]
    for r in rows:
        if r.not_run:
            lines.append(f"{r.backend:22s} not run: {r.not_run}")
            continue
        worst = max(r.parity.values()) if r.parity else float("nan")
        verdict = "ok" if worst <= r.tolerance else "FAIL"
        for batch, t in r.timings.items():
            lines.append(
                f"{r.backend:22s} {batch:5d} {t['median_ms']:10.3f} {t['p99_ms']:9.3f} {t['windows_per_s']:10.0f}"
                f"  {worst:.2e} (tol {r.tolerance:g}) {verdict}"
            )
    return "\n".join(lines)


def main() -> int:
    """Run every backend, print the table, write bench/results/gpu.json; 1 if any parity check fails."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200, help="timed calls per backend and batch (default 200)")
    parser.add_argument("--batches", type=lambda s: [int(b) for b in s.split(",")], default=[1, 8])
    parser.add_argument("--parity-windows", type=int, default=1000, help="random windows for parity (default 1000)")
    parser.add_argument("--allow-cpu", action="store_true", help="run the torch eager path on the CPU (self-check)")
    args = parser.parse_args()
    import torch

    from robofuse.train.export import FP16_TOLERANCE

    cuda = torch.cuda.is_available()
    gpu = torch.cuda.get_device_name(0) if cuda else "none"
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, GPU: {gpu}", flush=True)
    torch.backends.cuda.matmul.allow_tf32 = False  # FP32 means FP32: TF32 would cost the 1e-4 parity
    torch.backends.cudnn.allow_tf32 = False
    inputs, check = random_inputs(64, seed=0), random_inputs(args.parity_windows, seed=1)
    ref_call = reference()
    ref = {
        k: np.concatenate([ref_call(take(check, s, 50))[k] for s in range(0, len(check["mask"]), 50)])
        for k in ("terrain", "collision", "slip", "gates", "usable")
    }
    data = (inputs, check, ref)
    no_gpu = "no CUDA device (torch.cuda.is_available() is False)"
    device = "cuda" if cuda else "cpu"
    rows = [Row("torch eager"), Row("torch CUDA graphs"), Row("onnxruntime CUDA"), Row("tensorrt fp32")]
    rows.append(Row("tensorrt fp16", tolerance=FP16_TOLERANCE))
    makers: dict[str, Callable[[], Callable[[Arrays], Arrays]]] = {
        "torch eager": lambda: TorchRunner(device, graphs=False),
        "torch CUDA graphs": lambda: TorchRunner("cuda", graphs=True),
        "onnxruntime CUDA": lambda: engine_runner("onnxruntime-cuda"),
        "tensorrt fp32": lambda: engine_runner("tensorrt", "fp32"),
        "tensorrt fp16": lambda: engine_runner("tensorrt", "fp16"),
    }
    for row in rows:
        if not cuda and not (args.allow_cpu and row.backend == "torch eager"):
            row.not_run = no_gpu
            continue
        print(f"timing {row.backend} ...", flush=True)
        start = time.perf_counter()
        measure(row, makers[row.backend], args, data)
        print(f"  {time.perf_counter() - start:.1f} s", flush=True)
    print(table(rows))
    extra = {
        "gpu": gpu,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "parity_windows": args.parity_windows,
        # which weights were timed: a copied tree's git commit need not say (its model files can be dirty)
        "model_sha256": hashlib.sha256(robofuse.default_model_path().read_bytes()).hexdigest(),
        "headline": "torch eager, batch 1, host arrays to host outputs",
        "rows": [
            {
                "backend": r.backend,
                "timings": r.timings,
                "parity_max_abs_diff": r.parity,
                "tolerance": r.tolerance,
                "not_run": r.not_run or None,
            }
            for r in rows
        ],
    }
    headline = rows[0].samples_b1 or [float("nan")]
    report.write("gpu" if cuda else "gpu_cpu_selfcheck", "ms per call", headline, extra)
    print(f"-> bench/results/{'gpu' if cuda else 'gpu_cpu_selfcheck'}.json")
    failed = [r.backend for r in rows if not r.not_run and r.parity and max(r.parity.values()) > r.tolerance]
    if failed:
        print(f"parity FAILED for {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
