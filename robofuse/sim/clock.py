"""A simulated sensor's clock and transport: what makes alignment a real problem.

The sensor clock runs ``drift_ppm`` fast and starts ``offset_s`` ahead of the host:
``sensor = offset + host * (1 + drift)``. Stamps get symmetric jitter; arrival gets a constant
minimum delay plus a one-sided random part, occasional bursts, and in-order (FIFO) delivery.
The true parameters are public so tests can check estimates against them.
"""

from __future__ import annotations

import numpy as np

from robofuse.sim.settings import ClockSettings


class SensorClock:
    """Maps between host time and one sensor's clock (both integer nanoseconds)."""

    def __init__(self, settings: ClockSettings) -> None:
        self.settings = settings
        self.offset_ns = round(settings.offset_s * 1e9)
        self.rate = 1.0 + settings.drift_ppm * 1e-6

    def sensor_ns(self, host_ns: float | np.ndarray) -> np.ndarray:
        """Sensor-clock reading at the given host time(s) (float64 ns, not yet rounded)."""
        return self.offset_ns + np.asarray(host_ns, dtype=np.float64) * self.rate

    def host_ns(self, sensor_ns: float | np.ndarray) -> np.ndarray:
        """Host time at which the sensor clock read ``sensor_ns`` (float64 ns)."""
        return (np.asarray(sensor_ns, dtype=np.float64) - self.offset_ns) / self.rate


class Transport:
    """Delays and drops messages between sensor and host, in order."""

    def __init__(self, settings: ClockSettings, rng: np.random.Generator) -> None:
        self.settings = settings
        self._rng = rng
        self._last_recv_ns = -(2**62)

    def deliver(self, ready_ns: int) -> int | None:
        """Arrival time of a message ready at host time ``ready_ns``, or None if it is dropped."""
        s = self.settings
        r = self._rng
        extra = min(r.exponential(s.latency_extra_ms), s.latency_cap_ms) if s.latency_extra_ms > 0 else 0.0
        if r.random() < s.burst_prob:
            extra += s.burst_ms * r.random()
        dropped = r.random() < s.drop_prob
        recv = ready_ns + round((s.latency_min_ms + extra) * 1e6)
        recv = max(recv, self._last_recv_ns + 1)  # FIFO: a link does not reorder its own messages
        if dropped:
            return None
        self._last_recv_ns = recv
        return recv

    def jitter_ns(self) -> int:
        """One draw of the stamping jitter."""
        return round(self._rng.normal(0.0, self.settings.jitter_us * 1e3)) if self.settings.jitter_us else 0
