"""Fusion layer latency: batch-1 forward, torch eager, one thread, inside ``torch.inference_mode()``.

Times every fusion layer at the default config (4 modalities x 128, out 128, proj 4, rank 4)
with all modalities present and with one masked, the MultiBench-comparable setting (LMF, 3
modalities x 128, rank 4, batch 1; MultiBench's LowRankTensorFusion takes about 36 µs and
concatenation + linear about 7 µs on this kind of machine), and a no-op module's call overhead
and an unmasked concatenation + linear
for reference. Run: ``.venv/bin/python bench/bench_fusion_layers.py [--calls 5000]``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one thread, as the target says

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402, N812
from torch import Tensor, nn  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))

import report  # noqa: E402

from robofuse.fusion.factory import FusionConfig, FusionKind, make_fusion  # noqa: E402


class PlainConcat(nn.Module):
    """Concatenation + linear with no masking at all: what MultiBench's ~7 µs figure measures."""

    def __init__(self, modalities: int, dim: int, out_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, modalities * dim) / (modalities * dim) ** 0.5)
        self.bias = nn.Parameter(torch.zeros(out_dim))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """Ignore the mask; concatenate and project."""
        return F.linear(x.flatten(1), self.weight, self.bias)  # (B, out_dim)


class NoOp(nn.Module):
    """Returns its input: what calling any nn.Module costs before it does any work."""

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Do nothing."""
        return x, mask


def time_calls(layer: nn.Module, x: Tensor, mask: Tensor, calls: int, warmup: int) -> list[float]:
    """Microseconds per forward call, one sample per call, after ``warmup`` untimed calls."""
    samples: list[float] = []
    with torch.inference_mode():
        for _ in range(warmup):
            layer(x, mask)
        for _ in range(calls):
            t0 = time.perf_counter_ns()
            layer(x, mask)
            samples.append((time.perf_counter_ns() - t0) / 1e3)
    return samples


def cases() -> list[tuple[str, nn.Module, Tensor, Tensor]]:
    """(name, layer, x, mask) for every measured setting."""
    torch.manual_seed(0)
    out: list[tuple[str, nn.Module, Tensor, Tensor]] = []
    x4, all4 = torch.randn(1, 4, 128), torch.ones(1, 4)
    one_missing = torch.tensor([[1.0, 1.0, 0.0, 1.0]])
    kinds: tuple[FusionKind, ...] = ("concat", "late", "tfn", "lmf", "gated")
    for kind in kinds:
        layer = make_fusion(FusionConfig(kind)).eval()
        out.append((f"{kind} 4x128", layer, x4, all4))
        out.append((f"{kind} 4x128, one masked", layer, x4, one_missing))
    presence = make_fusion(FusionConfig("lmf", presence_gate=True)).eval()  # the round-5 LMF recipe's layer
    out.append(("lmf 4x128, presence gates", presence, x4, all4))
    x3, all3 = torch.randn(1, 3, 128), torch.ones(1, 3)
    multibench_kinds: tuple[FusionKind, ...] = ("lmf", "concat")
    for kind in multibench_kinds:
        layer = make_fusion(FusionConfig(kind, modalities=3)).eval()
        out.append((f"{kind} 3x128 (MultiBench setting)", layer, x3, all3))
    out.append(("plain concat + linear 3x128, no mask", PlainConcat(3, 128, 128).eval(), x3, all3))
    out.append(("no-op module call", NoOp(), x4, all4))
    return out


def whole_model(calls: int) -> list[float]:
    """Microseconds per batch-1 forward of the shipped model (its checkpoint), all four sensors present."""
    import robofuse
    from robofuse.train.checkpoint import load_checkpoint

    model, _, _ = load_checkpoint(robofuse.default_checkpoint_path())
    camera, lidar, imu, audio, mask = model.example_inputs(1)
    samples: list[float] = []
    with torch.inference_mode():
        for i in range(calls + 50):
            t0 = time.perf_counter_ns()
            model(camera, lidar, imu, audio, mask)
            if i >= 50:
                samples.append((time.perf_counter_ns() - t0) / 1e3)
    return samples


def main() -> None:
    """Run the benchmark, print a table and write bench/results/fusion_layers.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=5000, help="timed calls per layer (default 5000)")
    parser.add_argument("--warmup", type=int, default=500, help="untimed calls first (default 500)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    layers: dict[str, Any] = {}
    headline: list[float] = []
    print(f"{'layer (batch 1)':42s} {'median µs':>10s} {'p99 µs':>10s}")
    for name, layer, x, mask in cases():
        samples = time_calls(layer, x, mask, args.calls, args.warmup)
        median, p99 = float(np.median(samples)), float(np.percentile(samples, 99))
        layers[name] = {"median_us": round(median, 2), "p99_us": round(p99, 2)}
        print(f"{name:42s} {median:10.1f} {p99:10.1f}")
        if name == "lmf 3x128 (MultiBench setting)":
            headline = samples
    model = whole_model(max(200, args.calls // 10))
    layers["whole default model (shipped checkpoint)"] = {
        "median_us": round(float(np.median(model)), 1),
        "p99_us": round(float(np.percentile(model, 99)), 1),
    }
    print(f"{'whole default model':42s} {np.median(model):10.1f} {np.percentile(model, 99):10.1f}")
    extra = {
        "headline": "lmf 3x128 rank 4, batch 1; every layer's figures are in 'layers'",
        "layers": layers,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "reference": "MultiBench LowRankTensorFusion ~36 µs, concatenation + linear ~7 µs (batch 1, 3x128, rank 4)",
    }
    out = report.write("fusion_layers", "µs per batch-1 forward", headline, extra)
    print(f"headline (lmf 3x128 rank 4): median {out['median']:.1f} µs, p99 {out['p99']:.1f} µs")
    print("-> bench/results/fusion_layers.json")


if __name__ == "__main__":
    main()
