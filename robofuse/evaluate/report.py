"""Write the evaluation as report.md (tables), report.json (everything) and PNG plots (matplotlib, Agg)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from robofuse.evaluate.data import SENSORS
from robofuse.evaluate.robustness import TARGETS
from robofuse.evaluate.subsets import all_subsets, subset_name


def write_report(result: dict[str, Any], out: Path) -> list[Path]:
    """Write ``report.json``, the PNGs and ``report.md`` into ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "report.json"]
    written[0].write_text(json.dumps(_plain(result), indent=1, allow_nan=True) + "\n")
    try:
        written += write_plots(result, out)
    except ImportError as err:
        result.setdefault("missing", []).append(f"plots: matplotlib is not installed ({err})")
    md = out / "report.md"
    md.write_text(markdown(result, [p.name for p in written if p.suffix == ".png"]))
    return [md, *written]


def _plain(value: Any) -> Any:
    """JSON-ready copy: keys starting with ``_`` dropped, numpy scalars and arrays converted."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _pct(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}"


def _spread(s: dict[str, Any]) -> str:
    """``mean`` in percent, with ``± std [min-max]`` over seeds when there are several."""
    if s.get("n", 1) > 1:
        return f"{_pct(s['mean'])} ± {100 * s['std']:.2f} [{_pct(s['min'])}-{_pct(s['max'])}]"
    return _pct(s["mean"])


def markdown(result: dict[str, Any], plots: list[str]) -> str:
    """The report's tables in Markdown."""
    d = result["data"]
    lines = [
        "# robofuse evaluate",
        "",
        f"{d['windows']} windows from {d['seed_count']} seeds ({d['seeds'][0]}-{d['seeds'][-1]}), "
        f"{d['windows_all_sensors']} with all four sensors present. Accuracies in percent; several "
        "training seeds are shown as mean ± std [min-max]. Accuracy on a subset counts windows "
        "where at least one of its sensors is present; the model's mask is the data's mask AND the subset.",
        "",
    ]
    models = result["models"]
    ref = result.get("reference")
    if ref and (ref["models"] or ref["specialists"]):
        specialists = [f"the specialists of {len(ref['specialists'])} subsets"] if ref["specialists"] else []
        taken = [*ref["models"], *specialists]
        lines += [
            f"Recorded in `{ref['path']}` on the same windows, not re-run here: {', '.join(taken)}.",
            "",
        ]
    if result.get("checks"):
        lines += ["## Acceptance checks", "", "| check | result | value |", "|---|---|---|"]
        for c in result["checks"]:
            ok = "n/a" if c["ok"] is None else ("pass" if c["ok"] else "**FAIL**")
            lines.append(f"| {c['name']} | {ok} | {c['detail']} |")
        lines.append("")
    lines += ["## Terrain accuracy per sensor subset", ""]
    head = ["subset", *models, *(["specialists"] if result["specialists"] else [])]
    if result["comparison"]:
        head.append(f"{result['default']} - specialist (points)")
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in all_subsets():
        name = subset_name(s)
        row = [name] + [
            _spread(m["subsets"][name]["terrain_acc"]) if name in m["subsets"] else "" for m in models.values()
        ]
        if result["specialists"]:
            spec = result["specialists"].get(name)
            row.append(_spread(spec["terrain_acc"]) if spec else "missing")
        if result["comparison"]:
            c = result["comparison"].get(name)
            row.append(f"{c['diff_points']:+.2f}" if c else "")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Collision and slip balanced accuracy with all four sensors:", ""]
    lines += ["| model | collision | slip |", "|---|---|---|"]
    full = subset_name(SENSORS)
    for name, m in models.items():
        sub = m["subsets"][full]
        lines.append(f"| {name} | {_spread(sub['collision_bacc'])} | {_spread(sub['slip_bacc'])} |")
    lines += ["", "## Heading", ""]
    lines += [
        "Accuracy with all four sensors, as recorded and with each window's IMU orientation turned "
        "about the vertical by a random angle (the robot facing another way; nothing else changes). Every "
        "simulated run starts facing +x, so a model can learn the headings those runs reach; a robot's yaw "
        "reference is wherever its AHRS started.",
        "",
        "| model | terrain as recorded | terrain, heading turned | change (points) | slip, heading turned "
        "(as recorded) | collision, heading turned (as recorded) |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in models.items():
        clean, turned = m["subsets"][full], m["heading_turned"]
        change = 100 * (turned["terrain_acc"]["mean"] - clean["terrain_acc"]["mean"])
        lines.append(
            f"| {name} | {_spread(clean['terrain_acc'])} | {_spread(turned['terrain_acc'])} | {change:+.2f} | "
            f"{_pct(turned['slip_bacc']['mean'])} ({_pct(clean['slip_bacc']['mean'])}) | "
            f"{_pct(turned['collision_bacc']['mean'])} ({_pct(clean['collision_bacc']['mean'])}) |"
        )
    if any("robustness" in m for m in models.values()):
        lines += _robustness_table(result)
    lines += ["", "## EMAP (Hessel & Lee 2020)", ""]
    lines += ["| model | terrain acc | EMAP terrain acc | gap (points) | windows x partners |", "|---|---|---|---|---|"]
    for name, m in models.items():
        e = m.get("emap", {})
        if "skipped" in e:
            lines.append(f"| {name} | | | {e['skipped']} | |")
        elif e:
            first = e["per_seed"][0]
            gap = e["gap_terrain_points"]
            lines.append(
                f"| {name} | {_spread(e['model_terrain_acc'])} | {_spread(e['emap_terrain_acc'])} | "
                f"{gap['mean']:+.2f} | {first['windows']} x {first['samples']} |"
            )
    lines += ["", "## Gates with all four sensors present (first seed)", ""]
    lines += ["| model | " + " | ".join(SENSORS) + " |", "|---|" + "---|" * len(SENSORS)]
    for name, m in models.items():
        per = m["gates"][0]["per_sensor"]
        cells = [
            f"{per[s]['mean']:.3f} ± {per[s]['std']:.3f} (p5 {per[s]['p5']:.2f}, p95 {per[s]['p95']:.2f})"
            for s in SENSORS
        ]
        lines.append(f"| {name} ({m['fusion']}) | " + " | ".join(cells) + " |")
    if result.get("missing"):
        lines += ["", "## Not evaluated", ""] + [f"- {x}" for x in result["missing"]]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def _robustness_table(result: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Noise robustness (terrain accuracy)",
        "",
        "Gaussian noise of level x the input's std on one sensor (or all), every sensor present. "
        "Relative robustness: area under the curve over levels 0-0.9 (trapezoids of width 0.1); effective "
        f"robustness: sum over levels of f - (late + f[0] - late[0]) against {result['baseline']!r}; as in "
        "MultiBench's eval_scripts/robustness.py, without its max-min normalisation.",
        "",
        "| model | noise on | acc 0 | acc 0.5 | acc 0.9 | relative | effective |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in result["models"].items():
        for t in TARGETS:
            if t not in m.get("robustness", {}):
                continue
            c, r = m["curves"][t], m["robustness"][t]
            eff = f"{r['effective']['mean']:+.4f}" if "effective" in r else "n/a"
            lines.append(
                f"| {name} | {t} | {_pct(c[0])} | {_pct(c[5]) if len(c) > 5 else ''} | {_pct(c[-1])} | "
                f"{r['relative']['mean']:.4f} | {eff} |"
            )
    return lines


def write_plots(result: dict[str, Any], out: Path) -> list[Path]:
    """subsets.png, noise.png (when curves exist) and gates.png; matplotlib with the Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    models = result["models"]
    names = [subset_name(s) for s in all_subsets()]
    fig, ax = plt.subplots(figsize=(14, 5))
    groups = [*models, *(["specialists"] if result["specialists"] else [])]
    width = 0.8 / max(1, len(groups))
    x = np.arange(len(names))
    for k, g in enumerate(groups):
        source = result["specialists"] if g == "specialists" else models[g]["subsets"]
        stats = [source.get(n, {}).get("terrain_acc") for n in names]
        mean = [100 * s["mean"] if s else np.nan for s in stats]
        err = [
            [100 * (s["mean"] - s["min"]) if s else 0 for s in stats],
            [100 * (s["max"] - s["mean"]) if s else 0 for s in stats],
        ]
        ax.bar(x + k * width - 0.4 + width / 2, mean, width, yerr=err, capsize=2, label=g)
    ax.set_xticks(x, names, rotation=45, ha="right")
    ax.set_ylabel("terrain accuracy (%)")
    ax.set_title("Terrain accuracy per sensor subset (error bars: min-max over seeds)")
    ax.legend()
    fig.tight_layout()
    written.append(_save(fig, out / "subsets.png", plt))
    if any(m["curves"] for m in models.values()):
        fig, axes = plt.subplots(1, len(TARGETS), figsize=(4 * len(TARGETS), 3.6), sharey=True)
        levels = result["levels"]
        for ax, t in zip(axes, TARGETS, strict=True):
            for name, m in models.items():
                if t in m["curves"]:
                    ax.plot(levels, [100 * v for v in m["curves"][t]], marker="o", label=name)
            ax.set_title(f"noise on {t}")
            ax.set_xlabel("noise (x input std)")
        axes[0].set_ylabel("terrain accuracy (%)")
        axes[-1].legend()
        fig.tight_layout()
        written.append(_save(fig, out / "noise.png", plt))
    fig, axes = plt.subplots(1, len(models), figsize=(4 * len(models), 3.6), squeeze=False)
    for ax, (name, m) in zip(axes[0], models.items(), strict=True):
        gates = m["_gates"][0] if m.get("_gates") else np.zeros((0, 4))
        ax.boxplot([gates[:, i] for i in range(len(SENSORS))], showfliers=False)  # all four sensors present
        ax.set_xticks(range(1, len(SENSORS) + 1), SENSORS)
        ax.set_title(f"gates: {name} ({m['fusion']})")
        ax.set_ylim(0, 1)
    fig.tight_layout()
    written.append(_save(fig, out / "gates.png", plt))
    return written


def _save(fig: Any, path: Path, plt: Any) -> Path:
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
