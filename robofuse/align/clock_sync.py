"""Passive clock synchronisation: map one sensor's clock onto the host clock.

Each message gives a pair (stamp, arrival). Transport delay is never negative, so every pair
lies on or above the line ``arrival = a * stamp + b + d_min``: the true mapping shifted by the
smallest delay. Like Olson's passive synchronisation (IROS 2010) and convex-hull time
translators, the estimate is the lower convex hull of the pairs, and of its edges the one that
minimises the summed distance to all pairs (the edge spanning their mean stamp). ``d_min``
cannot be seen this way; it is the calibrated ``latency_min`` subtracted at the end.

To stay O(1) per message and bounded in memory, pairs are reduced to the lowest one per bin of
``bin_s`` seconds (the only ones that can be hull vertices, up to the drift within a bin), and
only the last ``window_s`` seconds of bins are kept. The hull is refit when a bin closes.

A stamp more than ``reorder_s`` older than the newest (less is a reordered message, counted and
left out of the fit), a pair that would put arrival before measurement by more than
``jump_tolerance_s``, or a stamp advancing more than ``jump_forward_s`` beyond what arrival
advanced, is a clock jump: the estimate restarts from that pair and the jump is reported.
A step back smaller than ``reorder_s`` is not detected: it looks exactly like a lasting rise in
transport delay (a congested bus), and taking congestion for a clock step would misplace the
stream by the congestion; its pairs sit above the envelope and age out of the fit in ``window_s``.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass

import numpy as np

from robofuse.align.config import ClockSyncConfig


@dataclass(frozen=True)
class ClockJump:
    """A detected discontinuity of a sensor clock: the estimate restarted at ``recv_ns``."""

    stream: str
    recv_ns: int
    size_ns: int  # stamp change not explained by elapsed host time (negative: backwards)
    reason: str


class ClockSync:
    """Online estimate of ``host = a * stamp + b`` for one stream.

    ``host_domain=True`` is for streams stamped on arrival by the host: the map is the
    identity (minus the calibrated latency), stated as such by ``method``.
    """

    def __init__(
        self, stream: str, config: ClockSyncConfig | None = None, *, latency_min_ns: int = 0, host_domain: bool = False
    ) -> None:
        self.stream = stream
        self.config = config or ClockSyncConfig()
        self.latency_min_ns = latency_min_ns
        self.host_domain = host_domain
        self._bin_ns = round(self.config.bin_s * 1e9)
        self._window_ns = self.config.window_s * 1e9
        self._min_span_ns = self.config.min_span_s * 1e9
        self._max_bins = max(4, round(self.config.window_s / self.config.bin_s))
        self.out_of_order = 0
        self.resets = 0
        self.observed = 0
        self._restart()

    def _restart(self) -> None:
        self._ref_stamp: int | None = None  # reference point: all fitting happens relative to it
        self._ref_recv = 0
        self._bins: deque[tuple[float, float]] = deque()  # closed bins' lowest (x, y), x = stamp - ref
        self._bin_index: int | None = None
        self._bin_low: tuple[float, float] | None = None
        self._last: tuple[int, int] | None = None
        self._slope = 1.0  # host ns per sensor ns
        self._intercept = 0.0  # host ns (relative to ref_recv) at x = 0

    @property
    def method(self) -> str:
        """How this stream's time is mapped, for diagnostics."""
        return "host arrival time (no sensor clock)" if self.host_domain else "lower convex hull of (stamp, arrival)"

    @property
    def ready(self) -> bool:
        """Whether drift is estimated: closed bins span ``min_span_s``. Before that only the offset is.

        A slope from a second or two of data is mostly noise (hundreds of ppm), worse than assuming
        the nominal rate, and a wrong slope would make later arrivals look like clock jumps.
        """
        return self.host_domain or (len(self._bins) >= 2 and self._bins[-1][0] - self._bins[0][0] >= self._min_span_ns)

    @property
    def drift_ppm(self) -> float:
        """How much faster the sensor clock runs than the host's, in parts per million."""
        return 0.0 if self.host_domain else (1.0 / self._slope - 1.0) * 1e6

    def offset_ns(self, host_ns: int) -> float:
        """Sensor clock minus host clock at host time ``host_ns`` (calibrated latency included)."""
        return self.to_sensor(host_ns) - host_ns

    def observe(self, stamp_ns: int, recv_ns: int, span_ns: int = 0) -> ClockJump | None:
        """Take one (stamp, arrival) pair; returns the jump it revealed, if any.

        ``span_ns`` is how long after its stamp the message was complete (a scan's duration, an
        audio chunk's length): only then could it be sent, so that instant is what arrival bounds.
        """
        self.observed += 1
        if self.host_domain:
            return None
        stamp_ns += span_ns
        if self._last is not None and 0 < self._last[0] - stamp_ns <= self.config.reorder_s * 1e9:
            self.out_of_order += 1  # reordered in transport: not a jump, and left out of the fit
            return None
        jump = self._check_jump(stamp_ns, recv_ns)
        if jump is not None:
            self.resets += 1
            self._restart()
        self._add(stamp_ns, recv_ns)
        return jump

    def _add(self, stamp_ns: int, recv_ns: int) -> None:
        """Put one pair in its bin, closing the previous bin (and refitting) when a new one starts."""
        self._last = (stamp_ns, recv_ns)
        if self._ref_stamp is None:
            self._ref_stamp, self._ref_recv = stamp_ns, recv_ns
            self._intercept = 0.0
        x = float(stamp_ns - self._ref_stamp)
        y = float(recv_ns - self._ref_recv)
        index = int(x // self._bin_ns)
        if index != self._bin_index:
            self._close_bin()
            self._bin_index, self._bin_low = index, (x, y)
        elif self._bin_low is None or y - x < self._bin_low[1] - self._bin_low[0]:
            self._bin_low = (x, y)
        if not self.ready and self._bin_low is not None:  # offset only: the lowest delay so far, nominal rate
            low = min([*self._bins, self._bin_low], key=lambda p: p[1] - p[0])
            self._slope, self._intercept = 1.0, low[1] - low[0]

    def _check_jump(self, stamp_ns: int, recv_ns: int) -> ClockJump | None:
        if self._last is None:
            return None
        last_stamp, last_recv = self._last
        if stamp_ns < last_stamp:  # by more than reorder_s: smaller steps back are reordering
            return ClockJump(self.stream, recv_ns, stamp_ns - last_stamp, "stamp went backwards")
        ahead = (stamp_ns - last_stamp) - (recv_ns - last_recv)
        if ahead > self.config.jump_forward_s * 1e9:
            return ClockJump(self.stream, recv_ns, ahead, f"stamp advanced {ahead / 1e9:.3f} s more than arrival")
        if self.ready and self._raw_host(stamp_ns) > recv_ns + self.config.jump_tolerance_s * 1e9:
            early = self._raw_host(stamp_ns) - recv_ns
            return ClockJump(self.stream, recv_ns, round(early), f"arrived {early / 1e6:.1f} ms before it was measured")
        return None

    def _close_bin(self) -> None:
        if self._bin_low is None:
            return
        self._bins.append(self._bin_low)
        newest = self._bin_low[0]
        while len(self._bins) > self._max_bins or self._bins[0][0] < newest - self._window_ns:
            self._bins.popleft()  # bounded by count and by age: a long silence forgets the old clock
        self._bin_low = None
        if self.ready:
            self._fit()

    def _fit(self) -> None:
        """Choose the lower-hull edge under the mean stamp: the line below every bin with the least total gap."""
        hull: list[tuple[float, float]] = []
        for p in self._bins:  # Andrew's monotone chain, lower half; bins arrive sorted by x
            while len(hull) >= 2 and _cross(hull[-2], hull[-1], p) <= 0:
                hull.pop()
            hull.append(p)
        mean_x = sum(p[0] for p in self._bins) / len(self._bins)
        a, b = next((a, b) for a, b in itertools.pairwise(hull) if b[0] >= mean_x)
        slope = (b[1] - a[1]) / (b[0] - a[0])
        bound = self.config.max_drift_ppm * 1e-6
        if 1 / (1 + bound) <= slope <= 1 / (1 - bound):
            self._intercept = a[1] - slope * a[0]
        else:  # implausible drift: clamp it, and keep the line under every bin
            slope = min(max(slope, 1 / (1 + bound)), 1 / (1 - bound))
            self._intercept = min(y - slope * x for x, y in self._bins)
        self._slope = slope

    def _raw_host(self, stamp_ns: int) -> float:
        """Arrival-side mapping (before removing the calibrated latency), absolute ns."""
        assert self._ref_stamp is not None
        return self._ref_recv + self._intercept + self._slope * (stamp_ns - self._ref_stamp)

    def to_host(self, stamp_ns: int) -> int:
        """Host time at which the sensor measured what it stamped ``stamp_ns``."""
        if self.host_domain or self._ref_stamp is None:
            return stamp_ns - self.latency_min_ns
        return round(self._raw_host(stamp_ns)) - self.latency_min_ns

    def to_host_array(self, stamps_ns: np.ndarray, relative_to_ns: int = 0) -> np.ndarray:
        """Vectorised :meth:`to_host` as float64, minus ``relative_to_ns`` (keeps precision)."""
        stamps = np.asarray(stamps_ns, dtype=np.int64)
        if self.host_domain or self._ref_stamp is None:
            return (stamps - (self.latency_min_ns + relative_to_ns)).astype(np.float64)
        x = (stamps - self._ref_stamp).astype(np.float64)
        base = self._ref_recv - self.latency_min_ns - relative_to_ns
        return base + self._intercept + self._slope * x

    def to_sensor(self, host_ns: int) -> float:
        """Sensor-clock reading at host time ``host_ns`` (inverse of :meth:`to_host`)."""
        if self.host_domain or self._ref_stamp is None:
            return float(host_ns + self.latency_min_ns)
        x = (host_ns + self.latency_min_ns - self._ref_recv - self._intercept) / self._slope
        return self._ref_stamp + x

    @property
    def slope(self) -> float:
        """Host nanoseconds per sensor nanosecond."""
        return self._slope


def _cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
