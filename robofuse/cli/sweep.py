"""``robofuse sweep``: train every model an evaluation needs (specialists x seeds, other fusions) in parallel."""

from __future__ import annotations

import argparse
import fnmatch
import os
from pathlib import Path
from typing import Any

from robofuse.cli.train import FUSIONS
from robofuse.errors import ConfigError


def add_parser(subparsers: Any) -> None:
    """Register ``sweep`` and its options."""
    p = subparsers.add_parser(
        "sweep",
        help="train the specialists and fusion baselines that robofuse evaluate compares",
        description="Train a specialist for each of the 15 sensor subsets and each seed, and one model per "
        "fusion kind, all on the same recipe (--config), as parallel 'robofuse train' processes. Writes "
        "DIR/specialists/<subset>/seed<k> and DIR/fusion/<kind>/seed<k>, each with its log, and DIR/sweep.json. "
        "Finished models are skipped, so a stopped sweep resumes.",
    )
    p.add_argument("--config", type=Path, metavar="FILE.yaml", help="the recipe every model shares (TrainConfig keys)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the models go")
    p.add_argument("--seeds", default="0,1,2", metavar="LIST", help="specialist seeds (default 0,1,2)")
    p.add_argument("--fusions", default="late,lmf", metavar="LIST", help="fusion baselines (default late,lmf)")
    p.add_argument("--fusion-seeds", default="0", metavar="LIST", help="seeds of each fusion baseline (default 0)")
    p.add_argument("--only", metavar="GLOB", help="keep only jobs whose name matches, e.g. 'specialists/imu*'")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="models trained at once (default: CPUs)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N for every model")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per model (default 1)")
    p.add_argument("--epochs", type=int, help="override the recipe's epochs (smoke runs)")
    p.add_argument("--deadline", type=float, metavar="SECONDS", help="stop whatever still runs after this long")
    p.add_argument("--cache", type=Path, metavar="DIR", help="window cache (default ~/.cache/robofuse/windows)")
    p.add_argument("--dry-run", action="store_true", help="list the jobs and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=run)


def _ints(text: str, flag: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"{flag} takes comma-separated integers, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    """Plan, fill the window cache, train, summarise; exit status 1 if a model failed."""
    from robofuse.dataset.generate import window_cache
    from robofuse.train.sweep import evaluation_plan, fill_cache, recipe_worlds, run_sweep

    if args.jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {args.jobs}")
    fusions = [f.strip() for f in args.fusions.split(",") if f.strip()]
    unknown = [f for f in fusions if f not in FUSIONS]
    if unknown:
        raise ConfigError(f"--fusions: unknown {unknown}; use some of {list(FUSIONS)}")
    jobs = evaluation_plan(_ints(args.seeds, "--seeds"), fusions, _ints(args.fusion_seeds, "--fusion-seeds"))
    if args.only:
        jobs = [j for j in jobs if fnmatch.fnmatch(j.name, args.only)]
    if not jobs:
        raise ConfigError(f"no job matches --only {args.only!r}")
    if args.dry_run:
        for job in jobs:
            print(job.name, " ".join(job.flags))
        return 0
    config = _recipe(args)
    cache = window_cache(config.cache_dir)
    fill_cache(recipe_worlds(config), cache, args.jobs, progress=not args.quiet)
    flags = ["--device", args.device, "--threads", str(args.threads), "--cache", str(cache)]
    if args.config is not None:
        flags += ["--config", str(args.config)]
    if args.epochs is not None:
        flags += ["--epochs", str(args.epochs)]
    results = run_sweep(jobs, args.out, flags, parallel=args.jobs, deadline_s=args.deadline, progress=not args.quiet)
    for r in results:
        acc = r.metrics.get("terrain_acc")
        shown = f"val terrain acc {acc:.3f}" if acc is not None else f"see {args.out / r.name / 'train.log'}"
        print(f"{r.name:40s} {r.status:8s} {r.seconds:7.0f} s  {shown}")
    print(f"wrote {args.out / 'sweep.json'}")
    return 1 if any(r.status == "failed" for r in results) else 0


def _recipe(args: argparse.Namespace) -> Any:
    from robofuse.cli.train import load_recipe

    return load_recipe(args.config, epochs=args.epochs, cache=args.cache, device=args.device, threads=args.threads)
