"""Timing an engine the way a robot runs it: real Windows in, outputs out, one call at a time.

Pure measurement helpers for ``robofuse bench`` (and anything else that wants an engine's
latency): no printing, no files. Batch 1 goes through :meth:`Engine.infer` (the Window to
float32 conversion included); larger batches stack windows once, outside the timed region,
and time :meth:`Engine.infer_batch`, which is what a batched replay pays per call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from robofuse.engine.base import Arrays, Engine, window_to_inputs
from robofuse.errors import EngineError
from robofuse.messages import Window


@dataclass(frozen=True)
class Timing:
    """Latency of ``calls`` timed calls at one batch size (milliseconds) and the throughput it implies."""

    batch: int
    calls: int
    median_ms: float
    p99_ms: float
    mean_ms: float
    windows_per_s: float  # batch / mean latency: what one thread sustains back to back

    def as_dict(self) -> dict[str, float | int]:
        """Plain values for JSON."""
        return {
            "batch": self.batch,
            "calls": self.calls,
            "median_ms": round(self.median_ms, 4),
            "p99_ms": round(self.p99_ms, 4),
            "mean_ms": round(self.mean_ms, 4),
            "windows_per_s": round(self.windows_per_s, 1),
        }


def summarize(samples_s: Sequence[float], batch: int) -> Timing:
    """A :class:`Timing` from per-call durations in seconds."""
    if len(samples_s) == 0:
        raise EngineError("no timed calls to summarize; ask for at least one call")
    ms = np.asarray(samples_s, dtype=np.float64) * 1e3
    mean = float(ms.mean())
    return Timing(
        batch=batch,
        calls=int(ms.size),
        median_ms=float(np.median(ms)),
        p99_ms=float(np.percentile(ms, 99)),
        mean_ms=mean,
        windows_per_s=batch * 1e3 / mean if mean > 0 else float("inf"),
    )


def stack(windows: Sequence[Window], engine: Engine) -> Arrays:
    """The engine's batched inputs for ``windows`` (batch axis = window order)."""
    parts = [window_to_inputs(w, engine.input_spec) for w in windows]
    return {name: np.concatenate([p[name] for p in parts]) for name in engine.input_spec}


def time_calls(call: Callable[[int], object], calls: int, warmup: int) -> list[float]:
    """Seconds per ``call(i)`` for ``calls`` timed calls after ``warmup`` untimed ones."""
    for i in range(warmup):
        call(i)
    samples = []
    for i in range(calls):
        start = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - start)
    return samples


def time_engine(engine: Engine, windows: Sequence[Window], batch: int, calls: int, warmup: int = 20) -> Timing:
    """Time ``engine`` on ``windows`` (cycled) at ``batch``: ``infer(window)`` for 1, ``infer_batch`` above.

    Raises:
        EngineError: no windows, a batch below 1, or the engine failed on them.
    """
    if not windows:
        raise EngineError("timing needs at least one window")
    if batch < 1 or calls < 1:
        raise EngineError(f"batch and calls must be at least 1, got batch={batch}, calls={calls}")
    if batch == 1:
        return summarize(time_calls(lambda i: engine.infer(windows[i % len(windows)]), calls, warmup), 1)
    groups = [stack([windows[(g * batch + k) % len(windows)] for k in range(batch)], engine) for g in range(4)]
    return summarize(time_calls(lambda i: engine.infer_batch(groups[i % len(groups)]), calls, warmup), batch)
