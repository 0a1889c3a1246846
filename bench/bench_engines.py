"""Engine latency on this machine, one thread: the LMF layer alone in ONNX Runtime, and the whole model.

1. The low-rank fusion layer at MultiBench's setting (3 modalities x 128, rank 4, out 128,
   batch 1) exported to ONNX and run by ONNX Runtime, through ``session.run()`` and through
   I/O binding (inputs and outputs bound once to OrtValues, as a runtime loop would), next to
   a no-op graph (an Identity per input) timed the same way in the same run: the no-op is the
   floor of what one ONNX Runtime call from Python costs. Target: at most 12 µs median,
   a third of MultiBench's LowRankTensorFusion in torch eager (~36 µs).
2. The shipped default model, from a Window of the simulated rig to outputs, through
   ``Engine.infer(window)`` (the Window to float32 batch conversion included; the log-mel and
   the other preprocessing run inside the graph). Target: under 5 ms median.

Run: ``.venv/bin/python bench/bench_engines.py [--calls 20000]``; writes
``bench/results/engines.json`` (headline: the LMF layer through I/O binding).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one thread, as the targets say

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))

import report  # noqa: E402

import robofuse  # noqa: E402
from robofuse.engine.base import EngineConfig, make_engine  # noqa: E402
from robofuse.fusion.factory import FusionConfig, make_fusion  # noqa: E402
from robofuse.messages import MODALITIES, Window  # noqa: E402


class FusedOnly(nn.Module):
    """A fusion layer with only its fused features as output (what the benchmark times)."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """(B, M, D), (B, M) -> (B, out_dim)."""
        fused: Tensor = self.layer(x, mask)[0]
        return fused


class NoOp(nn.Module):
    """Identity on both inputs: an ONNX Runtime call that does no work."""

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Return the inputs."""
        return x.clone(), mask.clone()


def export(module: nn.Module, x: Tensor, mask: Tensor, path: Path, outputs: list[str]) -> None:
    """Export ``module`` with inputs ``x`` and ``mask``, batch dynamic, one self-contained file."""
    batch = torch.export.Dim("batch", min=1, max=64)
    with torch.no_grad():  # an inference graph, as robofuse export writes it
        _export(module, x, mask, path, outputs, batch)


def _export(module: nn.Module, x: Tensor, mask: Tensor, path: Path, outputs: list[str], batch: Any) -> None:
    torch.onnx.export(
        module,
        (x, mask),
        str(path),
        dynamo=True,
        input_names=["x", "mask"],
        output_names=outputs,
        dynamic_shapes={"x": {0: batch}, "mask": {0: batch}},
        external_data=False,
        verbose=False,
    )


def session(path: Path) -> Any:
    """A latency-minded one-thread CPU session, as robofuse's OrtEngine builds it."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def timed(call: Callable[[], object], calls: int, warmup: int) -> list[float]:
    """Microseconds per call, one sample per call, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - t0) / 1e3)
    return samples


def run_call(sess: Any, feeds: dict[str, np.ndarray]) -> Callable[[], object]:
    """``session.run`` with numpy feeds, every output fetched."""
    names = [o.name for o in sess.get_outputs()]
    return lambda: sess.run(names, feeds)


def binding_call(sess: Any, feeds: dict[str, np.ndarray]) -> Callable[[], object]:
    """``run_with_iobinding`` with inputs and outputs bound once to CPU OrtValues."""
    binding = sess.io_binding()
    for name, value in feeds.items():
        binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(value))
    for out in sess.get_outputs():
        binding.bind_output(out.name, "cpu")
    sess.run_with_iobinding(binding)  # allocates the outputs once
    for out, value in zip(sess.get_outputs(), binding.get_outputs(), strict=True):
        binding.bind_ortvalue_output(out.name, value)
    return lambda: sess.run_with_iobinding(binding)


def lmf_cases(calls: int, warmup: int, workdir: Path) -> dict[str, list[float]]:
    """The LMF layer and the no-op graph, each through run() and I/O binding."""
    torch.manual_seed(0)
    x, mask = torch.randn(1, 3, 128), torch.ones(1, 3)
    layer = FusedOnly(make_fusion(FusionConfig("lmf", modalities=3, dim=128, out_dim=128, rank=4))).eval()
    lmf_path, noop_path = workdir / "lmf.onnx", workdir / "noop.onnx"
    export(layer, x, mask, lmf_path, ["fused"])
    export(NoOp(), x, mask, noop_path, ["x_out", "mask_out"])
    feeds = {"x": x.numpy(), "mask": mask.numpy()}
    lmf, noop = session(lmf_path), session(noop_path)
    with torch.inference_mode():
        expected = layer(x, mask).numpy()
    diff = float(np.max(np.abs(lmf.run(["fused"], feeds)[0] - expected)))
    if diff > 1e-4:
        raise SystemExit(f"the exported LMF layer disagrees with torch by {diff:.3g}: not timing a wrong graph")
    nodes = len(__import__("onnx").load(str(lmf_path)).graph.node)
    print(f"LMF graph: {nodes} ONNX nodes, max |ORT - torch| = {diff:.2g}")
    return {
        "lmf 3x128 rank 4, I/O binding": timed(binding_call(lmf, feeds), calls, warmup),
        "lmf 3x128 rank 4, run()": timed(run_call(lmf, feeds), calls, warmup),
        "no-op graph, I/O binding": timed(binding_call(noop, feeds), calls, warmup),
        "no-op graph, run()": timed(run_call(noop, feeds), calls, warmup),
    }


def sim_windows(count: int, seed: int) -> list[Window]:
    """``count`` real Windows of the training rig (the shipped model's input shapes), rebuilt from a WindowSet."""
    from robofuse.dataset.generate import generate

    data = generate(seed, count)
    windows = []
    for i in range(len(data)):
        inputs = {m: np.asarray(getattr(data, m.value)[i]) for m in MODALITIES}
        inputs = {m: (a.astype(np.float32) if a.dtype == np.float16 else a) for m, a in inputs.items()}
        windows.append(
            Window(seq=i, tick_ns=int(data.tick_ns[i]), emitted_ns=0, inputs=inputs, mask=data.mask[i], quality={})
        )
    return windows


def model_case(calls: int, warmup: int) -> tuple[list[float], int]:
    """Window -> outputs through the onnxruntime engine on the shipped model; also returns the window count."""
    engine = make_engine(EngineConfig(backend="onnxruntime", model=robofuse.default_model_path(), threads=1))
    windows = sim_windows(100, seed=7100)
    it = iter(range(10**9))
    return timed(lambda: engine.infer(windows[next(it) % len(windows)]), calls, warmup), len(windows)


def main() -> None:
    """Run both parts, print a table and write bench/results/engines.json."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20000, help="timed calls per LMF/no-op case (default 20000)")
    parser.add_argument("--model-calls", type=int, default=2000, help="timed windows for the whole model")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        cases = lmf_cases(args.calls, args.calls // 10, Path(tmp))
    model_samples, n_windows = model_case(args.model_calls, 200)
    rows: dict[str, Any] = {}
    print(f"{'case (batch 1, one thread)':42s} {'median':>10s} {'p99':>10s}")
    for name, samples in cases.items():
        rows[name] = {
            "median_us": round(float(np.median(samples)), 2),
            "p99_us": round(float(np.percentile(samples, 99)), 2),
        }
        print(f"{name:42s} {rows[name]['median_us']:8.1f} µs {rows[name]['p99_us']:8.1f} µs")
    model_ms = np.asarray(model_samples) / 1e3
    rows["default model, Window -> outputs"] = {
        "median_ms": round(float(np.median(model_ms)), 3),
        "p99_ms": round(float(np.percentile(model_ms, 99)), 3),
        "windows": n_windows,
    }
    print(
        f"{'default model, Window -> outputs':42s} {np.median(model_ms):8.3f} ms {np.percentile(model_ms, 99):8.3f} ms"
    )
    headline = cases["lmf 3x128 rank 4, I/O binding"]
    extra = {
        "headline": "LMF layer 3x128 rank 4 batch 1 in ONNX Runtime through I/O binding; every case is in 'cases'",
        "cases": rows,
        "targets": {"lmf_median_us": 12.0, "model_median_ms": 5.0},
        "onnxruntime": ort.__version__,
        "torch": torch.__version__,
        "threads": 1,
    }
    out = report.write("engines", "µs per batch-1 call", headline, extra)
    print(f"headline (LMF in ORT, I/O binding): median {out['median']:.1f} µs, p99 {out['p99']:.1f} µs")
    print("-> bench/results/engines.json")


if __name__ == "__main__":
    main()
