"""Train the models an evaluation compares, many at once: specialists for every sensor subset and seed, other fusions.

Each model is one ``robofuse train`` process (its own log, checkpoints, ONNX and sidecar), so a
crash costs one model and a finished one is never trained again: a sweep resumes where it stopped.
Jobs run in the order an evaluation needs them (the fusion baselines, then specialists from one
sensor up to four; the four-sensor one is the default recipe under another seed) on
``parallel`` workers; a deadline stops what is still running and says so, rather than losing
everything.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from robofuse.progress import Bar

if TYPE_CHECKING:  # the config module imports torch; sweeping needs only its fields
    from robofuse.train.config import TrainConfig

SENSORS = ("camera", "lidar", "imu", "audio")


@dataclass(frozen=True)
class Job:
    """One training run: where it writes (relative to the sweep's folder) and its extra ``robofuse train`` flags."""

    name: str  # e.g. "specialists/camera+imu/seed1"
    flags: tuple[str, ...]


@dataclass
class JobResult:
    """How one job ended: ``done``, ``skipped`` (already trained), ``failed`` or ``stopped`` (the deadline)."""

    name: str
    status: str
    seconds: float = 0.0
    returncode: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)


def subset_names() -> list[str]:
    """The 15 non-empty sensor subsets as ``camera+imu`` style names, in the evaluation's order."""
    return ["+".join(c) for k in range(1, 5) for c in itertools.combinations(SENSORS, k)]


def evaluation_plan(seeds: Sequence[int], fusions: Sequence[str], fusion_seeds: Sequence[int] = (0,)) -> list[Job]:
    """One model per fusion kind x ``fusion_seeds``, then specialists for all 15 subsets x ``seeds``.

    The folders are the ones ``robofuse evaluate --specialists DIR/specialists --fusion DIR/fusion`` reads.
    """
    jobs = [Job(f"fusion/{f}/seed{k}", ("--fusion", f, "--seed", str(k))) for f in fusions for k in fusion_seeds]
    jobs += [
        Job(f"specialists/{s}/seed{k}", ("--modalities", s.replace("+", ","), "--seed", str(k)))
        for s in subset_names()
        for k in seeds
    ]
    return jobs


def finished(folder: Path) -> bool:
    """Whether a job's folder holds a finished run (``robofuse train`` writes the sidecar last)."""
    return (folder / "model.json").is_file() and (folder / "best.pt").is_file()


def sidecar_metrics(folder: Path) -> dict[str, float]:
    """The validation metrics a finished run's sidecar records (empty if unreadable)."""
    try:
        metrics = json.loads((folder / "model.json").read_text()).get("metrics", {})
    except (OSError, ValueError):
        return {}
    return {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}


def _generate(seed_windows: tuple[int, int, str]) -> int:
    from robofuse.dataset.generate import cached

    seed, windows, cache = seed_windows
    cached(seed, windows, cache)
    return seed


def recipe_worlds(config: TrainConfig) -> list[tuple[int, int]]:
    """The (seed, windows) sets a training run with ``config`` reads: its training worlds, then validation."""
    return [(s, config.windows_per_seed) for s in config.train_seeds] + [
        (s, config.val_windows_per_seed) for s in config.val_seeds
    ]


def fill_cache(seeds: Sequence[tuple[int, int]], cache: Path, parallel: int, *, progress: bool) -> None:
    """Generate the (seed, windows) sets missing from ``cache`` on ``parallel`` processes.

    Without this every training process would simulate the same worlds at once.
    """
    todo = [(s, n, str(cache)) for s, n in seeds]
    with Bar("windows", len(todo), progress, unit="worlds") as bar, ProcessPoolExecutor(parallel) as pool:
        for _ in pool.map(_generate, todo):
            bar.advance()


def run_sweep(
    jobs: Sequence[Job],
    out: Path,
    train_flags: Sequence[str],
    *,
    parallel: int,
    deadline_s: float | None = None,
    progress: bool = True,
) -> list[JobResult]:
    """Run ``jobs`` as ``robofuse train --out OUT/NAME <train_flags> <job flags>`` processes, ``parallel`` at once.

    Finished jobs are skipped. At ``deadline_s`` (seconds from now) running jobs are stopped
    and the ones not started are reported ``stopped``. Writes ``OUT/sweep.json`` and returns
    the results in job order.
    """
    start = time.monotonic()
    results = {j.name: JobResult(j.name, "skipped", metrics=sidecar_metrics(out / j.name)) for j in jobs}
    queue = [j for j in jobs if not finished(out / j.name)]
    running: dict[str, tuple[subprocess.Popen[bytes], float]] = {}
    with Bar("models", len(jobs), progress, unit="models") as bar:
        bar.advance(len(jobs) - len(queue))
        while queue or running:
            late = deadline_s is not None and time.monotonic() - start > deadline_s
            while queue and len(running) < parallel and not late:
                job = queue.pop(0)
                running[job.name] = (_launch(job, out, train_flags), time.monotonic())
            for name, (proc, began) in list(running.items()):
                code = proc.poll()
                if code is None and not late:
                    continue
                if code is None:
                    proc.terminate()
                    code = proc.wait()
                    results[name] = JobResult(name, "stopped", time.monotonic() - began, code)
                else:
                    status = "done" if code == 0 else "failed"
                    metrics = sidecar_metrics(out / name)
                    results[name] = JobResult(name, status, time.monotonic() - began, code, metrics)
                del running[name]
                bar.advance()
            if late:
                for job in queue:
                    results[job.name] = JobResult(job.name, "stopped")
                queue = []
            time.sleep(0.2)
    ordered = [results[j.name] for j in jobs]
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps([asdict(r) for r in ordered], indent=2) + "\n")
    return ordered


def _launch(job: Job, out: Path, train_flags: Sequence[str]) -> subprocess.Popen[bytes]:
    folder = out / job.name
    folder.mkdir(parents=True, exist_ok=True)
    train = [sys.executable, "-m", "robofuse.cli.main", "train", "--out", str(folder), "--quiet"]
    cmd = [*train, *train_flags, *job.flags]
    with (folder / "train.log").open("wb") as log:  # the child keeps its own handle
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
