"""Helpers for driver tests (on the path through ``pythonpath = ["tests"]``; import as ``devicetools``)."""

from __future__ import annotations

import time

from robofuse.messages import SourceItem
from robofuse.source import Source


def collect(source: Source, count: int, timeout_s: float = 5.0) -> list[SourceItem]:
    """Up to ``count`` items from an open live source, giving up after ``timeout_s``."""
    out: list[SourceItem] = []
    deadline = time.monotonic() + timeout_s
    for got in source:
        out.append(got)
        if len(out) >= count or time.monotonic() > deadline:
            break
    return out
