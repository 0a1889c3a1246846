"""Sensor clocks and transport: the truths alignment will be measured against."""

from __future__ import annotations

import numpy as np
import pytest

from robofuse.sim.clock import SensorClock, Transport
from robofuse.sim.settings import ClockSettings


def test_a_clock_maps_host_to_sensor_time_with_offset_and_drift_and_back() -> None:
    clock = SensorClock(ClockSettings(offset_s=0.5, drift_ppm=100))
    assert float(clock.sensor_ns(0)) == 500_000_000
    assert float(clock.sensor_ns(1e9)) == pytest.approx(0.5e9 + 1e9 * 1.0001)
    host = np.array([0.0, 3.3e9, 7200e9])
    assert np.allclose(clock.host_ns(clock.sensor_ns(host)), host, atol=1e-3)


def test_transport_delay_is_a_minimum_plus_a_capped_one_sided_part_and_keeps_order() -> None:
    s = ClockSettings(latency_min_ms=2.0, latency_extra_ms=0.5, latency_cap_ms=2.0, burst_prob=0.0, drop_prob=0.0)
    link = Transport(s, np.random.default_rng(0))
    ready = np.arange(20000) * 2_500_000
    delay = np.array([link.deliver(int(t)) for t in ready]) - ready
    assert delay.min() >= 2_000_000
    assert delay.max() <= 4_000_000 + 1
    assert np.mean(delay) - 2e6 == pytest.approx(0.5e6 * (1 - np.exp(-4)), rel=0.05)  # capped exponential mean


def test_bursts_hold_messages_up_without_reordering_them() -> None:
    s = ClockSettings(latency_min_ms=1.0, latency_extra_ms=0.1, burst_prob=0.05, burst_ms=30.0, drop_prob=0.0)
    link = Transport(s, np.random.default_rng(1))
    recv = np.array([link.deliver(i * 1_000_000) for i in range(5000)])
    assert np.all(np.diff(recv) > 0)
    assert (recv - np.arange(5000) * 1_000_000).max() > 10_000_000


def test_drops_happen_at_the_configured_rate() -> None:
    link = Transport(ClockSettings(drop_prob=0.1), np.random.default_rng(2))
    lost = sum(link.deliver(i * 1_000_000) is None for i in range(20000))
    assert lost / 20000 == pytest.approx(0.1, abs=0.01)


def test_stamping_jitter_has_the_configured_spread() -> None:
    link = Transport(ClockSettings(jitter_us=30), np.random.default_rng(3))
    jitter = np.array([link.jitter_ns() for _ in range(20000)])
    assert np.std(jitter) == pytest.approx(30_000, rel=0.03)
    assert abs(np.mean(jitter)) < 1_000
