"""Per-stream counters the alignment buffer keeps: what arrived, and what was wrong with it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class StreamCounters:
    """Counts since the buffer was made. ``lost`` are gaps in seq (dropped before arrival)."""

    received: int = 0
    rejected: int = 0  # RejectedSample items (corrupt, NaN, wrong shape)
    late: int = 0  # arrived after a window that needed it was emitted
    out_of_order: int = 0  # earlier stamp than one already received
    duplicates: int = 0  # same stamp as one already held: dropped
    lost: int = 0
    resets: int = 0  # clock jumps that restarted the clock estimate
    trimmed: int = 0  # dropped from history by the time or size bound
