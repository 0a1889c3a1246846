"""When windows happen: a fixed-rate fusion clock, or a master stream with a nominal-rate fallback."""

from __future__ import annotations

from collections import deque


class TickClock:
    """Produces tick times (host ns) in strictly increasing order; none is ever skipped.

    Fixed rate: multiples of ``period_ns``, the first one ``window_ns`` after the first data.
    Master: each master sample's host time is a tick; once the master has been silent for 1.5
    periods (plus ``max_wait_ns``) since its last real tick, ticks continue at its nominal period,
    each due at its own time, until master samples come back.
    """

    def __init__(self, period_ns: int, window_ns: int, max_wait_ns: int, master: bool) -> None:
        self.period_ns = period_ns
        self.window_ns = window_ns
        self.max_wait_ns = max_wait_ns
        self.master = master
        self.last_ns: int | None = None  # the latest tick handed out
        self._last_real_ns: int | None = None  # the latest tick that came from a master sample
        self._pending: deque[int] = deque()
        self.synthetic = 0  # master ticks made up while the master was missing
        self.ignored_master = 0  # master samples too old to be ticks (they arrived after a later tick)

    def start(self, first_host_ns: int) -> None:
        """Anchor the clock on the first data seen (later calls are ignored)."""
        if self.last_ns is not None:
            return
        if self.master:
            self.last_ns = first_host_ns + self.window_ns - self.period_ns
            self._last_real_ns = self.last_ns
        else:  # integer ceiling: at epoch-scale times (1.8e18 ns) a float division would round
            first = -(-(first_host_ns + self.window_ns) // self.period_ns) * self.period_ns
            self.last_ns = first - self.period_ns

    def master_sample(self, host_ns: int) -> None:
        """A master sample measured at ``host_ns`` arrived: it becomes a tick if it is newer than the last."""
        newest = self._pending[-1] if self._pending else self.last_ns
        if newest is None or host_ns > newest:
            self._pending.append(host_ns)
        else:
            self.ignored_master += 1

    def _master_missing(self, now_ns: int) -> bool:
        if self._pending or self._last_real_ns is None:
            return False
        return now_ns >= self._last_real_ns + self.period_ns * 3 // 2 + self.max_wait_ns

    def due(self, now_ns: int) -> list[int]:
        """Ticks whose time has come by ``now_ns``, oldest first (each is returned once)."""
        if self.last_ns is None:
            return []
        out: list[int] = []
        while True:
            if self._pending and self._pending[0] <= now_ns:
                tick = self._pending.popleft()
                self._last_real_ns = tick
            elif self.last_ns + self.period_ns <= now_ns and (not self.master or self._master_missing(now_ns)):
                tick = self.last_ns + self.period_ns
                self.synthetic += int(self.master)
            else:
                return out
            self.last_ns = tick
            out.append(tick)
