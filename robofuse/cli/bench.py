"""``robofuse bench``: every available engine backend on the default model, as a table and JSON."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import robofuse
from robofuse.errors import ConfigError, EngineError

BACKENDS = ("onnxruntime", "onnxruntime-cuda", "torch", "tensorrt-fp32", "tensorrt-fp16")


def add_parser(subparsers: Any) -> None:
    """Register ``bench`` and its options."""
    p = subparsers.add_parser(
        "bench",
        help="time every available engine backend on the default model",
        description="Run the fusion model through each engine backend that this machine has (ONNX Runtime on "
        "CPU, ONNX Runtime with CUDA, torch, TensorRT FP32/FP16) on real windows of the simulated rig, print "
        "median and p99 latency and throughput per backend and batch size, and write them as JSON. Batch 1 is "
        "timed from Window to outputs; a backend that is missing is listed as 'not run' with the reason.",
    )
    p.add_argument("--model", type=Path, help="ONNX model (default: the shipped model)")
    p.add_argument(
        "--checkpoint",
        type=Path,
        help="training checkpoint of the same model, for the torch backend (default: the shipped model's)",
    )
    p.add_argument("--backends", default=",".join(BACKENDS), help=f"comma-separated subset of {','.join(BACKENDS)}")
    p.add_argument("--batches", default="1,8", help="batch sizes to time (default 1,8)")
    p.add_argument("--calls", type=int, default=300, help="timed calls per backend and batch size (default 300)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads per engine (default 1)")
    p.add_argument("--seed", type=int, default=7100, help="simulated world the windows come from (default 7100)")
    p.add_argument("--json", type=Path, default=Path("robofuse_bench.json"), help="where to write the results")
    p.set_defaults(run=run)


@dataclass
class BackendResult:
    """One backend's timings, or why it did not run."""

    name: str
    timings: list[dict[str, float | int]] = field(default_factory=list)
    not_run: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def parse_list(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    """Comma-separated names, each checked against ``allowed``."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise ConfigError(f"--{what}: unknown {unknown or 'empty list'}; choose from {list(allowed)}")
    return names


def parse_batches(text: str) -> list[int]:
    """``1,8`` -> [1, 8]; each at least 1."""
    try:
        batches = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"--batches: expected comma-separated integers such as 1,8, got {text!r}") from None
    if not batches or min(batches) < 1:
        raise ConfigError(f"--batches: every batch size must be at least 1, got {text!r}")
    return batches


def engine_config(name: str, model: Path, checkpoint: Path | None, threads: int) -> Any:
    """The EngineConfig for a bench backend name; EngineError says why it cannot run here."""
    from robofuse.engine.base import EngineConfig

    if name == "onnxruntime":
        return EngineConfig(backend="onnxruntime", model=model, threads=threads, cuda=False)
    if name == "onnxruntime-cuda":
        import onnxruntime as ort

        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise EngineError(f"this onnxruntime ({ort.__version__}) has no CUDAExecutionProvider")
        return EngineConfig(backend="onnxruntime", model=model, threads=threads, cuda=True)
    if name == "torch":
        if checkpoint is None:
            raise EngineError("needs the model's training checkpoint: pass --checkpoint best.pt")
        return EngineConfig(backend="torch", model=checkpoint, threads=threads)
    if name.endswith("fp16"):
        return EngineConfig(backend="tensorrt", model=model, threads=threads, precision="fp16")
    return EngineConfig(backend="tensorrt", model=model, threads=threads, precision="fp32")


def bench_backend(name: str, args: argparse.Namespace, model: Path, windows: list[Any]) -> BackendResult:
    """Build one backend and time it at every batch size; a backend that cannot run says why."""
    from robofuse.engine.base import make_engine
    from robofuse.engine.timing import time_engine

    result = BackendResult(name)
    try:
        engine = make_engine(engine_config(name, model, args.checkpoint, args.threads))
        if name == "onnxruntime-cuda" and "CUDAExecutionProvider" not in getattr(engine, "providers", ()):
            raise EngineError("onnxruntime did not place the model on CUDA")
        for batch in args.batches:
            result.timings.append(time_engine(engine, windows, batch, args.calls).as_dict())
    except EngineError as err:
        result.not_run = str(err)
    for attr in ("providers", "build_seconds", "plan_path"):
        if "engine" in locals() and hasattr(engine, attr):
            result.details[attr] = str(getattr(engine, attr))
    return result


def table(results: list[BackendResult]) -> str:
    """A fixed-width table: backend, batch, median, p99, throughput; 'not run: reason' rows."""
    lines = [f"{'backend':18s} {'batch':>5s} {'median ms':>10s} {'p99 ms':>10s} {'windows/s':>10s}"]
    for r in results:
        if r.not_run:
            lines.append(f"{r.name:18s} not run: {r.not_run}")
        for t in r.timings:
            lines.append(
                f"{r.name:18s} {t['batch']:5d} {t['median_ms']:10.3f} {t['p99_ms']:10.3f} {t['windows_per_s']:10.0f}"
            )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Time the backends, print the table, write the JSON; returns the exit status."""
    from robofuse.dataset.generate import generate
    from robofuse.machine import commit, machine

    args.backends = parse_list(args.backends, BACKENDS, "backends")
    args.batches = parse_batches(args.batches)
    if args.calls < 1 or args.threads < 1:
        raise ConfigError(f"--calls and --threads must be at least 1, got {args.calls} and {args.threads}")
    model = args.model or robofuse.default_model_path()
    if args.checkpoint is None and args.model is None:
        args.checkpoint = robofuse.default_checkpoint_path()
    if not Path(model).is_file():
        raise ConfigError(f"--model {model} does not exist; pass an ONNX file from robofuse export")
    print(f"generating 64 windows of simulated world {args.seed} ...", file=sys.stderr)
    data = generate(args.seed, 64)
    windows = [data.window(i) for i in range(len(data))]
    results = []
    for name in args.backends:
        print(f"timing {name} ...", file=sys.stderr)
        results.append(bench_backend(name, args, Path(model), windows))
    print(table(results))
    payload = {
        "benchmark": "robofuse bench",
        "model": str(model),
        "machine": machine(),
        "commit": commit(),
        "robofuse_version": robofuse.__version__,
        "threads": args.threads,
        "results": [
            {"backend": r.name, "timings": r.timings, "not_run": r.not_run or None, **r.details} for r in results
        ],
    }
    args.json.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.json}")
    ran = [r for r in results if r.timings]
    return 0 if ran else 1
