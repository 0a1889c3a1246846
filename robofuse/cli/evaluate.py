"""``robofuse evaluate``: accuracy per sensor subset, specialists, noise robustness, EMAP and gates, as a report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from robofuse.errors import ConfigError


def add_parser(subparsers: Any) -> None:
    """Register ``evaluate`` and its options."""
    p = subparsers.add_parser(
        "evaluate",
        help="evaluate models on unseen simulated windows and write a report",
        description="Evaluate fusion models on simulated windows from seeds never used in training: terrain "
        "accuracy and collision/slip balanced accuracy for all 15 sensor subsets, comparison with specialists "
        "trained on each subset, noise-robustness curves per sensor with MultiBench's relative and effective "
        "robustness against late fusion, EMAP (Hessel & Lee 2020) and per-sensor gate statistics. Writes "
        "DIR/report.md, DIR/report.json and PNG plots.",
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="a model to evaluate (repeatable): model.onnx, a best.pt, or a directory of seed*/best.pt "
        "(summarised over seeds); default: default=<the shipped model's checkpoint, or its ONNX without torch>",
    )
    p.add_argument(
        "--fusion",
        type=Path,
        metavar="DIR",
        help="add every DIR/<kind>/seed*/best.pt as model <kind> (late, gated, lmf, tfn, concat)",
    )
    p.add_argument("--specialists", type=Path, metavar="DIR", help="DIR/<subset>/seed*/best.pt, e.g. DIR/camera+imu")
    p.add_argument(
        "--reference",
        type=Path,
        metavar="REPORT.json",
        help="an earlier report on the same worlds: its models and specialists that this run does not evaluate "
        "are taken from it as recorded (inference is deterministic), e.g. to score a new model without the "
        "specialists' checkpoints",
    )
    p.add_argument("--default", default="default", metavar="NAME", help="the model compared with the specialists")
    p.add_argument("--baseline", default="late", metavar="NAME", help="the late-fusion model for effective robustness")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="where report.md, report.json and PNGs go")
    p.add_argument("--seeds", default="5000-5049", metavar="A-B|LIST", help="evaluation seeds (default 5000-5049)")
    p.add_argument("--windows-per-seed", type=int, default=200, metavar="N", help="windows per seed (default 200)")
    p.add_argument("--cache", type=Path, metavar="DIR", help="window cache (default ~/.cache/robofuse/windows)")
    p.add_argument("--batch-size", type=int, default=256, metavar="N", help="windows per inference batch")
    p.add_argument("--emap-samples", type=int, default=64, metavar="K", help="EMAP partners per window (0: no EMAP)")
    p.add_argument("--no-noise", action="store_true", help="skip the noise-robustness curves (the slow part)")
    p.add_argument("--threads", type=int, default=1, metavar="N", help="CPU threads for inference")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=run)


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"5000-5049"`` or ``"1,2,7-9"`` as a tuple of seeds."""
    seeds: list[int] = []
    try:
        for part in (x.strip() for x in text.split(",") if x.strip()):
            if "-" in part[1:]:
                a, b = part.split("-", 1) if not part.startswith("-") else part[1:].split("-", 1)
                lo, hi = int(a), int(b)
                if hi < lo:
                    raise ValueError(part)
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: expected a range A-B or a comma-separated list of integers") from None
    if not seeds:
        raise ConfigError("--seeds names no seed")
    return tuple(dict.fromkeys(seeds))


def default_model() -> Path:
    """The shipped model: its checkpoint where torch is installed (features cached, EMAP), else its ONNX file."""
    import importlib.util

    import robofuse

    checkpoint = robofuse.default_checkpoint_path()
    if importlib.util.find_spec("torch") is not None and checkpoint.is_file():
        return checkpoint
    return robofuse.default_model_path()


def model_specs(args: argparse.Namespace) -> tuple[list[Any], list[str]]:
    """ModelSpecs from --model and --fusion, and what could not be found (for the report)."""
    from robofuse.evaluate.models import ModelSpec
    from robofuse.evaluate.specialists import discover_fusion, seed_checkpoints

    specs: list[ModelSpec] = []
    missing: list[str] = []
    for item in args.model or ([] if args.fusion or args.reference else [f"default={default_model()}"]):
        name, sep, path_text = item.partition("=")
        if not sep or not name or not path_text:
            raise ConfigError(f"--model {item!r}: expected NAME=PATH")
        path = Path(path_text)
        paths = seed_checkpoints(path) if path.is_dir() else (path,)
        if not paths:
            raise ConfigError(f"--model {item!r}: {path} holds no seed*/best.pt or best.pt")
        specs.append(ModelSpec(name=name, paths=paths))
    if args.fusion is not None:
        found = discover_fusion(args.fusion)
        names = {s.name for s in specs}
        specs += [s for s in found if s.name not in names]
        kinds = {s.name for s in found}
        missing += [
            f"fusion {k}: no {args.fusion}/{k}/seed*/best.pt" for k in ("late", "gated", "lmf") if k not in kinds
        ]
    if len({s.name for s in specs}) != len(specs):
        raise ConfigError("two --model entries share a name; give each model its own NAME")
    return specs, missing


def run(args: argparse.Namespace) -> int:
    """Evaluate and write the report; returns the exit status."""
    from robofuse.evaluate.pipeline import Options, evaluate
    from robofuse.evaluate.report import write_report

    if args.windows_per_seed < 1 or args.batch_size < 1 or args.threads < 1 or args.emap_samples < 0:
        raise ConfigError("--windows-per-seed, --batch-size and --threads must be >= 1, --emap-samples >= 0")
    specs, missing = model_specs(args)
    options = Options(
        models=specs,
        specialists=args.specialists,
        reference=args.reference,
        default=args.default,
        baseline=args.baseline,
        seeds=parse_seeds(args.seeds),
        windows=args.windows_per_seed,
        cache_dir=str(args.cache) if args.cache else "",
        batch_size=args.batch_size,
        emap_samples=args.emap_samples,
        noise=not args.no_noise,
        threads=args.threads,
        progress=not args.quiet and sys.stderr.isatty(),
        missing=missing,
    )
    result = evaluate(options)
    files = write_report(result, args.out)
    for check in result["checks"]:
        status = "n/a " if check["ok"] is None else ("pass" if check["ok"] else "FAIL")
        print(f"{status}  {check['name']}: {check['detail']}")
    for item in result["missing"]:
        print(f"not evaluated: {item}")
    print(
        f"evaluated {result['data']['windows']} windows in {result['seconds']:.0f} s; wrote "
        + ", ".join(map(str, files))
    )
    return 0
