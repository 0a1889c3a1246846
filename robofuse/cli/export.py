"""``robofuse export``: a training checkpoint to a checked ONNX model and its JSON sidecar."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    """Register ``export`` and its options."""
    p = subparsers.add_parser(
        "export",
        help="export a training checkpoint to ONNX with a JSON sidecar",
        description="Load a checkpoint written by `robofuse train`, export the model to ONNX (named float32 inputs "
        "and a mask, batch the only dynamic axis), check it against torch in ONNX Runtime, then write it and "
        "a JSON sidecar beside it.",
    )
    p.add_argument("checkpoint", help="best.pt or checkpoint.pt from robofuse train")
    p.add_argument("--out", required=True, help="the .onnx file to write (the sidecar gets the same name, .json)")
    p.add_argument(
        "--precision",
        choices=("fp32", "fp16"),
        default="fp32",
        help="fp16: also write <out stem>.fp16.onnx beside it, an FP16 graph with float32 inputs and outputs "
        "(for TensorRT 11's strongly typed networks), checked against the float32 one",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Export; returns the exit status."""
    from robofuse.train.checkpoint import load_checkpoint  # torch only when exporting
    from robofuse.train.export import FP16_TOLERANCE, export_fp16, export_onnx

    model, config, metrics = load_checkpoint(args.checkpoint)
    sidecar = export_onnx(model, config, args.out, metrics)
    print(f"wrote {args.out} and {sidecar}")
    if getattr(args, "precision", "fp32") == "fp16":
        half, diffs = export_fp16(args.out)
        worst = max(diffs.values(), default=0.0)
        print(f"wrote {half} (max abs difference from float32 {worst:.3g}, tolerance {FP16_TOLERANCE})")
    return 0
