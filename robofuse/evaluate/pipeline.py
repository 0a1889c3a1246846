"""The whole evaluation: load the windows, run every model and specialist, gather a JSON-ready result."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robofuse.evaluate.data import (
    DEFAULT_SEEDS,
    DEFAULT_WINDOWS,
    HEADS,
    SENSORS,
    Arrays,
    check_unseen,
    input_stds,
    load_eval_windows,
)
from robofuse.evaluate.emap import emap_report
from robofuse.evaluate.gates import gate_stats
from robofuse.evaluate.heading import MAX_HEADING_DROP_POINTS
from robofuse.evaluate.models import EvalModel, ModelSpec, TorchModel, load_model
from robofuse.evaluate.reference import check_same_data, load_reference, merge_models, merge_specialists
from robofuse.evaluate.robustness import LEVELS, TARGETS, effective_robustness, relative_robustness
from robofuse.evaluate.runner import ModelRun, run_model
from robofuse.evaluate.specialists import MAX_DROP_POINTS, compare, discover_specialists, summarize
from robofuse.evaluate.subsets import all_subsets, parse_subset, subset_name

FULL = subset_name(SENSORS)
METRICS = ("terrain_acc", "collision_bacc", "slip_bacc")


@dataclass
class Options:
    """What to evaluate and how; the CLI fills it from its flags."""

    models: list[ModelSpec]
    specialists: Path | None = None
    reference: Path | None = None  # an earlier report.json: its models and specialists this run does not evaluate
    default: str = "default"  # the model compared with the specialists and held to 95%
    baseline: str = "late"  # the late-fusion reference of effective robustness
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    windows: int = DEFAULT_WINDOWS
    cache_dir: str = ""
    batch_size: int = 256
    emap_samples: int = 64
    noise: bool = True
    threads: int = 1
    noise_seed: int = 0
    progress: bool = False
    missing: list[str] = field(default_factory=list)


def evaluate(options: Options, data: Arrays | None = None) -> dict[str, Any]:
    """Run everything ``options`` asks for; returns the result (plain JSON types plus ``_gates`` arrays for plots)."""
    start = time.perf_counter()
    missing = list(options.missing)
    reference = load_reference(options.reference) if options.reference is not None else None
    loaded = {spec.name: [load_model(spec.name, p, options.threads) for p in spec.paths] for spec in options.models}
    specialist_paths: dict[str, tuple[Path, ...]] = {}
    if options.specialists is not None:
        if options.specialists.is_dir():
            specialist_paths, absent = discover_specialists(options.specialists)
            missing += [f"specialist {s}: no {options.specialists}/{s}/seed*/best.pt" for s in absent]
        else:
            missing.append(f"specialists: {options.specialists} is not a directory")
    specialists = {
        s: [load_model(f"specialist {s}", p, options.threads) for p in ps] for s, ps in specialist_paths.items()
    }
    used = {f"{m.name} ({m.path})": m.seen_seeds for ms in (*loaded.values(), *specialists.values()) for m in ms}
    check_unseen(options.seeds, used)
    if data is None:
        data = load_eval_windows(options.seeds, options.windows, options.cache_dir, progress=options.progress)
    stds = input_stds(data)
    mask = data["mask"]
    result: dict[str, Any] = {
        "data": {
            "seeds": [min(options.seeds), max(options.seeds)] if options.seeds else [],
            "seed_count": len(options.seeds),
            "windows": len(mask),
            "windows_all_sensors": int(np.count_nonzero(mask.min(axis=1) > 0.5)),
        },
        "levels": list(LEVELS),
        "default": options.default,
        "baseline": options.baseline,
        "models": {},
        "specialists": {},
        "comparison": {},
    }
    if reference is not None:
        check_same_data(reference, result["data"])
    runs: dict[str, list[ModelRun]] = {}
    for name, models in loaded.items():
        runs[name] = [
            run_model(
                m,
                data,
                noise=options.noise,
                stds=stds,
                noise_seed=options.noise_seed,
                batch_size=options.batch_size,
                keep_features=m.has_features and options.emap_samples > 0,
                progress=options.progress,
            )
            for m in models
        ]
        result["models"][name] = _model_entry(models, runs[name], data, options, missing)
    if reference is not None:
        recorded = merge_models(result, reference, list(LEVELS), options.noise)
    _robustness(result, options, missing)
    for subset, models in specialists.items():
        result["specialists"][subset] = _specialist_entry(subset, models, data, options, missing)
    if reference is not None:
        filled = merge_specialists(result, reference)
        # a specialist the directory lacks but the reference holds is not missing
        missing = [m for m in missing if not any(m.startswith(f"specialist {s}:") for s in filled)]
        result["reference"] = {"path": reference["_path"], "models": recorded, "specialists": filled}
    if options.default in result["models"]:
        default_subsets = result["models"][options.default]["subsets"]
        for subset, entry in result["specialists"].items():
            result["comparison"][subset] = compare(default_subsets[subset]["terrain_acc"]["mean"], entry["terrain_acc"])
    elif options.specialists is not None:
        missing.append(f"comparison with specialists: no model named {options.default!r} (see --default)")
    result["checks"] = _checks(result, options)
    result["missing"] = missing
    result["seconds"] = time.perf_counter() - start
    return result


def _model_entry(
    models: list[EvalModel], runs: list[ModelRun], data: Arrays, options: Options, missing: list[str]
) -> dict[str, Any]:
    """Per-seed results and their summaries for one model group."""
    name = models[0].name
    entry: dict[str, Any] = {
        "paths": [str(m.path) for m in models],
        "fusion": models[0].fusion,
        "seconds": [r.seconds for r in runs],
        "subsets": {s: {k: summarize([r.subsets[s][k] for r in runs]) for k in METRICS} for s in runs[0].subsets},
        "per_seed_subsets": [r.subsets for r in runs],
        # all four sensors (as the data delivers them), every window turned to a random heading
        "heading_turned": {k: summarize([r.heading[k] for r in runs]) for k in METRICS},
        "per_seed_heading_turned": [r.heading for r in runs],
        "curves": {t: np.mean([r.curves[t] for r in runs], axis=0).tolist() for t in runs[0].curves},
        "per_seed_curves": [r.curves for r in runs],
        "gates": [gate_stats(r.gates, data["mask"], data["terrain"], r.gate_shift, LEVELS) for r in runs],
        "_gates": [r.gates[data["mask"].min(axis=1) > 0.5] for r in runs],  # for the plot
    }
    if options.emap_samples <= 0:
        entry["emap"] = {"skipped": "EMAP turned off (--emap-samples 0)"}
    elif not all(isinstance(m, TorchModel) for m in models):
        entry["emap"] = {"skipped": "EMAP needs the training checkpoint (pass --model NAME=best.pt)"}
        missing.append(f"EMAP of {name}: EMAP needs the training checkpoint (an ONNX model was given)")
    else:
        rows = np.flatnonzero(data["mask"].min(axis=1) > 0.5)
        labels = {h: data[h][rows] for h in HEADS}
        per_seed = []
        for m, r in zip(models, runs, strict=True):
            assert isinstance(m, TorchModel)
            per_seed.append(emap_report(m.classify, r.features[rows], labels, options.emap_samples, options.noise_seed))
            r.features = None  # free the memory
        entry["emap"] = {
            "per_seed": per_seed,
            "model_terrain_acc": summarize([p["model"]["terrain_acc"] for p in per_seed]),
            "emap_terrain_acc": summarize([p["emap"]["terrain_acc"] for p in per_seed]),
            "gap_terrain_points": summarize([100 * p["gap"]["terrain_acc"] for p in per_seed]),
        }
    return entry


def _robustness(result: dict[str, Any], options: Options, missing: list[str]) -> None:
    """Relative and effective robustness per model and noise target (effective against the baseline's mean curve)."""
    if not options.noise:
        return
    base = result["models"].get(options.baseline)
    if base is None:
        missing.append(f"effective robustness: no late-fusion baseline model named {options.baseline!r} (--baseline)")
    for entry in result["models"].values():
        rob: dict[str, Any] = {}
        for t in TARGETS:
            curves = [c[t] for c in entry["per_seed_curves"]]
            rob[t] = {"relative": summarize([relative_robustness(c) for c in curves])}
            if base is not None:
                rob[t]["effective"] = summarize([effective_robustness(c, base["curves"][t]) for c in curves])
        entry["robustness"] = rob


def _specialist_entry(
    subset: str, models: list[EvalModel], data: Arrays, options: Options, missing: list[str]
) -> dict[str, Any]:
    """A subset's specialists, each evaluated on its own subset only."""
    want = parse_subset(subset)
    per_seed = []
    for m in models:
        if m.modalities != want:
            missing.append(
                f"specialist {subset}: {m.path} was trained on {'+'.join(m.modalities)}; evaluated on {subset}"
            )
        run = run_model(m, data, subsets=[want], noise=False, batch_size=options.batch_size, progress=options.progress)
        per_seed.append(run.subsets[subset])
    entry: dict[str, Any] = {"paths": [str(m.path) for m in models], "per_seed": per_seed}
    entry.update({k: summarize([p[k] for p in per_seed]) for k in METRICS})
    return entry


def _checks(result: dict[str, Any], options: Options) -> list[dict[str, Any]]:
    """The issue's acceptance criteria, each with ``ok`` (None when it cannot be judged) and a detail."""
    checks: list[dict[str, Any]] = []
    default = result["models"].get(options.default)
    if default is not None:
        acc = default["subsets"][FULL]["terrain_acc"]["mean"]
        checks.append(
            {
                "name": f"{options.default} with all four sensors >= 95% terrain",
                "ok": bool(acc >= 0.95),
                "detail": f"{100 * acc:.2f}%",
            }
        )
        turned = default["heading_turned"]["terrain_acc"]["mean"]
        drop = 100 * (acc - turned)
        checks.append(
            {
                "name": f"{options.default} with the robot facing any way (IMU heading turned) within "
                f"{MAX_HEADING_DROP_POINTS:g} point of all four sensors",
                "ok": bool(drop <= MAX_HEADING_DROP_POINTS),
                "detail": f"{100 * turned:.2f}% ({-drop:+.2f} points)",
            }
        )
    singles = [subset_name(s) for s in all_subsets() if len(s) == 1]
    for s in singles:
        spec = result["specialists"].get(s)
        if spec is not None:
            acc = spec["terrain_acc"]["mean"]
            checks.append(
                {
                    "name": f"specialist {s} < 85% terrain",
                    "ok": bool(acc < 0.85),
                    "detail": f"mean {100 * acc:.2f}% (max {100 * spec['terrain_acc']['max']:.2f}%)",
                }
            )
    for s, c in result["comparison"].items():
        checks.append(
            {
                "name": f"{options.default} on {s} within {MAX_DROP_POINTS:g} points of the specialist",
                "ok": c["ok"],
                "detail": f"{c['diff_points']:+.2f} points (specialist std "
                f"{100 * c['specialist_std']:.2f}, {c['seeds']} seeds)",
            }
        )
    for name, entry in result["models"].items():
        if entry["fusion"] not in ("gated", "lmf") or "robustness" not in entry:
            continue
        for t, rob in entry["robustness"].items():
            if "effective" in rob:
                er = rob["effective"]["mean"]
                checks.append(
                    {
                        "name": f"effective robustness of {name} ({entry['fusion']}) vs {options.baseline}, "
                        f"noise on {t}, not negative",
                        "ok": bool(er >= 0),
                        "detail": f"{er:+.4f}",
                    }
                )
    return checks
