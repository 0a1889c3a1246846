"""When windows happen: a fixed-rate fusion clock, or a master stream with a nominal-rate fallback."""

from __future__ import annotations

import math
from collections import deque


class TickClock:
    """Produces tick times (host ns) in strictly increasing order; none is ever skipped.

    Fixed rate: multiples of ``period_ns``, the first one ``window_ns`` after the first data.
    Master: each master sample's host time is a tick; while the master is silent for more than
    1.5 periods (plus ``max_wait_ns``), ticks continue at its nominal period.
    """

    def __init__(self, period_ns: int, window_ns: int, max_wait_ns: int, master: bool) -> None:
        self.period_ns = period_ns
        self.window_ns = window_ns
        self.max_wait_ns = max_wait_ns
        self.master = master
        self.last_ns: int | None = None  # the latest tick handed out
        self._pending: deque[int] = deque()
        self.synthetic = 0  # master ticks made up while the master was missing
        self.ignored_master = 0  # master samples too old to be ticks (they arrived after a later tick)

    def start(self, first_host_ns: int) -> None:
        """Anchor the clock on the first data seen (later calls are ignored)."""
        if self.last_ns is not None:
            return
        if self.master:
            self.last_ns = first_host_ns + self.window_ns - self.period_ns
        else:
            self.last_ns = (
                math.ceil((first_host_ns + self.window_ns) / self.period_ns) * self.period_ns - self.period_ns
            )

    def master_sample(self, host_ns: int) -> None:
        """A master sample measured at ``host_ns`` arrived: it becomes a tick if it is newer than the last."""
        newest = self._pending[-1] if self._pending else self.last_ns
        if newest is None or host_ns > newest:
            self._pending.append(host_ns)
        else:
            self.ignored_master += 1

    def due(self, now_ns: int) -> list[int]:
        """Ticks whose time has come by ``now_ns``, oldest first (each is returned once)."""
        if self.last_ns is None:
            return []
        out: list[int] = []
        while True:
            if self._pending and self._pending[0] <= now_ns:
                tick = self._pending.popleft()
            elif not self.master and self.last_ns + self.period_ns <= now_ns:
                tick = self.last_ns + self.period_ns
            elif (
                self.master
                and not self._pending
                and now_ns >= self.last_ns + self.period_ns * 3 // 2 + self.max_wait_ns
            ):
                tick = self.last_ns + self.period_ns
                self.synthetic += 1
            else:
                return out
            self.last_ns = tick
            out.append(tick)
