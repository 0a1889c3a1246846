"""Live per-stream statistics: rate, losses and rejections."""

from __future__ import annotations

import numpy as np
import pytest

from robofuse.cli.stream_stats import StreamStats
from robofuse.messages import ImuSample, RejectedSample

MS = 1_000_000


def imu(seq: int, recv_ns: int) -> ImuSample:
    return ImuSample(
        stream="imu",
        frame_id="imu",
        seq=seq,
        stamp_ns=recv_ns,
        recv_ns=recv_ns,
        angular_velocity=np.zeros(3),
        linear_acceleration=np.zeros(3),
    )


def test_rate_is_measured_while_filling_and_falls_to_zero_when_the_stream_goes_silent() -> None:
    stats = StreamStats("imu")
    for k in range(41):
        stats.update(imu(k, 100 * MS + k * 10 * MS))
    assert stats.rate_hz(500 * MS) == pytest.approx(100, rel=0.03)
    for k in range(41, 400):
        stats.update(imu(k, 100 * MS + k * 10 * MS))
    assert stats.rate_hz(4090 * MS) == pytest.approx(100, rel=0.03)
    assert stats.rate_hz(7000 * MS) == 0.0


def test_seq_gaps_count_as_lost_and_rejections_are_kept_with_their_reason() -> None:
    stats = StreamStats("imu")
    stats.update(imu(0, 0))
    stats.update(imu(3, 10))
    stats.update(RejectedSample(stream="imu", recv_ns=20, reason="stream 'imu', field 'x': NaN", seq=4))
    stats.update(imu(5, 30), ready_ns=25)
    assert (stats.received, stats.lost, stats.rejected) == (3, 2, 1)
    assert "NaN" in stats.last_reason
    assert stats.last_latency_ns == 5
