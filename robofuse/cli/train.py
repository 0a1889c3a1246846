"""``robofuse train``: train the fusion model on simulated windows and export it to ONNX with its sidecar."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import yaml

from robofuse.errors import ConfigError

FUSIONS = ("concat", "late", "gated", "tfn", "lmf")  # FusionKind's values, without importing torch


def add_parser(subparsers: Any) -> None:
    """Register ``train`` and its options."""
    p = subparsers.add_parser(
        "train",
        help="train the fusion model and export it to ONNX",
        description="Generate (or read from the cache) labelled windows of the simulated rig for many seeds, "
        "train a FusionModel with modality dropout, noise and fault augmentation, keep the best epoch by "
        "validation terrain accuracy, and export it as DIR/model.onnx with its sidecar DIR/model.json. "
        "The same config and seed give the same model.",
    )
    p.add_argument("--config", type=Path, metavar="FILE.yaml", help="TrainConfig overrides (keys of TrainConfig)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="checkpoints, model.onnx and model.json")
    p.add_argument("--epochs", type=int, help="override the number of epochs")
    p.add_argument("--windows-per-seed", type=int, help="override the training windows per seed")
    p.add_argument("--seed", type=int, help="override the seed (initialisation, data order, augmentation)")
    p.add_argument(
        "--modalities",
        metavar="LIST",
        help="train a specialist on these sensors only, comma-separated (e.g. camera,imu); the rest stay masked",
    )
    p.add_argument("--fusion", choices=FUSIONS, help="override the fusion layer (model.fusion)")
    p.add_argument("--device", help="train on cpu (default), cuda or cuda:N; the same seed sees the same data on each")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    p.add_argument("--cache", type=Path, metavar="DIR", help="window cache (default ~/.cache/robofuse/windows)")
    p.add_argument("--quick", action="store_true", help="a tiny smoke run: 2 seeds x 40 windows, 1 epoch, export")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def load_recipe(path: Path | None, **flags: Any) -> Any:
    """The TrainConfig that ``robofuse train --config path`` with these flags (``epochs=4``, ...) would train.

    Flags not given are left unset, as on the command line, so the recipe's own values stand.
    """
    names = ("epochs", "windows_per_seed", "seed", "modalities", "fusion", "cache", "device", "threads")
    unknown = sorted(set(flags) - set(names))
    if unknown:
        raise TypeError(f"load_recipe: unknown flags {unknown}; use some of {list(names)}")
    return load_config(argparse.Namespace(config=path, quick=False, **{n: flags.get(n) for n in names}))


def load_config(args: argparse.Namespace) -> Any:
    """The TrainConfig from ``--quick`` or the defaults, then the YAML file, then the flags."""
    from robofuse.schema import build
    from robofuse.train.config import TrainConfig

    config = TrainConfig.quick() if args.quick else TrainConfig()
    if args.config is not None:
        try:
            data = yaml.safe_load(args.config.read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"{args.config}: cannot read: {err}") from None
        base = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
        if not isinstance(data, dict):
            raise ConfigError(f"{args.config}: expected a mapping of TrainConfig keys")
        config = build(TrainConfig, {**_plain(base), **data}, str(args.config))
    flags: dict[str, Any] = {
        "epochs": args.epochs,
        "windows_per_seed": args.windows_per_seed,
        "seed": args.seed,
        "device": args.device,
        "threads": args.threads,
    }
    flags = {k: v for k, v in flags.items() if v is not None}
    if args.modalities is not None:
        flags["modalities"] = tuple(m.strip() for m in args.modalities.split(",") if m.strip())
    if args.cache is not None:
        flags["cache_dir"] = str(args.cache)
    if args.fusion is not None:
        flags["model"] = dataclasses.replace(config.model, fusion=args.fusion)
    try:
        return dataclasses.replace(config, **flags)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def _plain(base: dict[str, Any]) -> dict[str, Any]:
    """Defaults as YAML would give them (nested dataclasses as mappings), so build() accepts them."""
    return {
        k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) and not isinstance(v, type) else v
        for k, v in base.items()
    }


def run(args: argparse.Namespace) -> int:
    """Train, export, report; returns the exit status."""
    try:
        from robofuse.train.export import export_onnx
        from robofuse.train.loop import train
    except ImportError as err:
        raise ConfigError(f"training needs torch (pip install robofuse[train]): {err}") from None
    config = load_config(args)
    result = train(config, args.out, progress=not args.quiet)
    sidecar = export_onnx(result.model, config, args.out / "model.onnx", result.metrics)
    m = result.metrics
    print(
        f"best epoch {result.best_epoch}/{config.epochs}: terrain acc {m['terrain_acc']:.3f}, "
        f"collision bacc {m['collision_bacc']:.3f}, slip bacc {m['slip_bacc']:.3f} "
        f"({result.windows_per_s:.0f} windows/s)"
    )
    print(f"wrote {args.out / 'model.onnx'} and {sidecar}")
    return 0
