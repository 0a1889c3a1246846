"""Figures recorded in an earlier report, so a new model can be compared without re-running the old ones.

A full report compares the default model with late fusion (effective robustness), the LMF and
45 specialists. Their checkpoints are large, slow to retrain (hours on a CPU) and often not at
hand, but on the same worlds their figures never change: inference is deterministic, so the
``report.json`` of an earlier run holds exactly what re-running them would give. ``robofuse
evaluate --reference REPORT.json`` takes every model and specialist from it that this run does not
evaluate itself, after checking that both runs measured the same windows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from robofuse.errors import ConfigError

REQUIRED = ("data", "levels", "models", "specialists")
SAME_DATA = ("seeds", "seed_count", "windows", "windows_all_sensors")


def load_reference(path: Path) -> dict[str, Any]:
    """The ``report.json`` at ``path``, its path under ``_path``; a ConfigError that says what is wrong otherwise."""
    try:
        report = json.loads(path.read_text())
    except OSError as err:
        raise ConfigError(f"--reference {path}: cannot read it ({err.strerror or err})") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"--reference {path}: not JSON ({err}); pass the report.json of robofuse evaluate") from None
    absent = [k for k in REQUIRED if not isinstance(report, dict) or k not in report]
    if absent:
        raise ConfigError(
            f"--reference {path}: not a robofuse evaluate report (no {', '.join(absent)}); "
            "pass the report.json an earlier robofuse evaluate wrote"
        )
    report["_path"] = str(path)  # "_": kept out of any report.json written from it
    return report  # type: ignore[no-any-return]


def check_same_data(reference: dict[str, Any], data: dict[str, Any]) -> None:
    """Refuse a reference measured on other windows: its figures would not be comparable."""
    theirs = {k: reference["data"].get(k) for k in SAME_DATA}
    ours = {k: data[k] for k in SAME_DATA}
    if theirs != ours:
        raise ConfigError(
            f"--reference {reference['_path']} was measured on worlds {_worlds(theirs)}, this run on {_worlds(ours)}: "
            "figures from other windows cannot be compared; evaluate on the reference's --seeds and --windows-per-seed"
        )


def _worlds(data: dict[str, Any]) -> str:
    seeds = data.get("seeds") or ["?", "?"]
    return f"{seeds[0]}-{seeds[-1]} ({data.get('seed_count')} seeds, {data.get('windows')} windows)"


def merge_models(result: dict[str, Any], reference: dict[str, Any], levels: list[float], noise: bool) -> list[str]:
    """Add the reference's models that ``result`` lacks (by name); returns their names.

    With noise curves on, each one must have been recorded with curves at the same levels, or
    effective robustness against it would compare different things.
    """
    taken = []
    for name, entry in reference["models"].items():
        if name in result["models"]:
            continue
        if noise and (list(reference["levels"]) != list(levels) or not entry.get("per_seed_curves")):
            raise ConfigError(
                f"--reference {reference['_path']}: model {name!r} has no noise curves at levels {levels}; "
                "pass a reference evaluated with noise, or add --no-noise"
            )
        result["models"][name] = {**entry, "recorded": reference["_path"]}
        taken.append(name)
    return taken


def merge_specialists(result: dict[str, Any], reference: dict[str, Any]) -> list[str]:
    """Add the reference's specialists for the subsets ``result`` has none for; returns those subsets."""
    taken = []
    for subset, entry in reference["specialists"].items():
        if subset not in result["specialists"]:
            result["specialists"][subset] = {**entry, "recorded": reference["_path"]}
            taken.append(subset)
    return taken
