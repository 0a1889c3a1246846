"""The simulated rig as a Source: order, determinism, clocks that match their settings, faults."""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict

import numpy as np
import pytest

from robofuse.config import RigConfig
from robofuse.errors import ConfigError, SensorError
from robofuse.messages import (
    AudioChunk,
    CameraFrame,
    ImuSample,
    Modality,
    PointCloud,
    RejectedSample,
    SourceItem,
)
from robofuse.sim.faults import Fault
from robofuse.sim.rig import SimRig

S = 1_000_000_000


def run(rig: RigConfig, seconds: float, *faults: Fault) -> tuple[SimRig, list[SourceItem]]:
    sim = SimRig(rig, duration_s=seconds, faults=faults, record_truth=True)
    with sim:
        items = list(sim)
    return sim, items


def digest(item: SourceItem) -> str:
    h = hashlib.sha256(repr((type(item).__name__, item.stream, item.recv_ns, item.stamp_ns)).encode())
    for name in ("image", "points", "angular_velocity", "linear_acceleration", "samples"):
        value = getattr(item, name, None)
        if value is not None:
            h.update(np.ascontiguousarray(value).tobytes())
    return h.hexdigest()


def by_stream(items: list[SourceItem]) -> dict[str, list[SourceItem]]:
    out: dict[str, list[SourceItem]] = defaultdict(list)
    for item in items:
        out[item.stream].append(item)
    return out


def test_items_arrive_in_host_order_with_every_stream_at_its_rate(rig: RigConfig) -> None:
    _, items = run(rig, 3.0)
    recv = [i.recv_ns for i in items]
    assert recv == sorted(recv)
    streams = by_stream(items)
    kinds = {CameraFrame: "camera", PointCloud: "lidar", ImuSample: "imu", AudioChunk: "audio"}
    for cls, name in kinds.items():
        assert all(isinstance(i, cls) for i in streams[name])
    for stream in rig.streams:
        assert len(streams[stream.name]) == pytest.approx(3.0 * stream.rate_hz, rel=0.05), stream.name


def test_the_same_seed_replays_byte_for_byte_and_another_seed_differs(rig: RigConfig) -> None:
    _, a = run(rig, 1.0)
    _, b = run(rig, 1.0)
    _, c = run(rig.with_seed(1), 1.0)
    assert [digest(i) for i in a] == [digest(i) for i in b]
    assert [digest(i) for i in a] != [digest(i) for i in c]


def test_reopening_replays_the_same_run(rig: RigConfig) -> None:
    sim = SimRig(rig, duration_s=0.5)
    with sim:
        first = [digest(i) for i in sim]
    with sim:
        second = [digest(i) for i in sim]
    assert first == second


def test_iterating_a_closed_rig_is_a_clear_error(rig: RigConfig) -> None:
    with pytest.raises(SensorError, match="not open"):
        iter(SimRig(rig))


def test_clocks_match_their_configured_offset_drift_and_jitter(rig: RigConfig) -> None:
    sim, items = run(rig, 30.0)
    for stream in rig.streams:
        truth = stream.settings.clock
        em = [sim.emissions[(stream.name, i.seq)] for i in items if i.stream == stream.name]
        host = np.array([e.host_ns for e in em], dtype=np.float64)
        stamp = np.array([e.stamp_ns for e in em], dtype=np.float64)
        slope, intercept = np.polyfit(host - host[0], stamp - stamp[0], 1)
        residual = (stamp - stamp[0]) - (slope * (host - host[0]) + intercept)
        assert (slope - 1) * 1e6 == pytest.approx(truth.drift_ppm, abs=0.5), stream.name
        offset_s = (stamp[0] + intercept - slope * host[0]) / 1e9
        assert offset_s == pytest.approx(truth.offset_s, abs=1e-5), stream.name
        assert np.std(residual) / 1e3 == pytest.approx(truth.jitter_us, rel=0.15), stream.name
        delay_ms = (np.array([e.recv_ns for e in em]) - host) / 1e6
        if stream.modality in (Modality.CAMERA, Modality.IMU):  # instantaneous measurements
            assert delay_ms.min() == pytest.approx(truth.latency_min_ms, abs=0.05), stream.name
            assert np.median(delay_ms) < truth.latency_min_ms + truth.latency_cap_ms, stream.name


def test_seq_gaps_reveal_dropped_messages(rig: RigConfig) -> None:
    _, items = run(rig, 20.0)
    imu = [i.seq for i in items if i.stream == "imu"]
    lost = imu[-1] + 1 - len(imu)
    assert len(set(imu)) == len(imu)
    assert 0 < lost < 40  # drop_prob 0.001 of 8000 messages


def test_a_dead_stream_is_silent_in_its_interval_and_comes_back(rig: RigConfig) -> None:
    sim, items = run(rig, 3.0, Fault(stream="imu", kind="dead", start_s=1.0, end_s=2.0))
    host = [sim.emissions[("imu", i.seq)].host_ns for i in items if i.stream == "imu"]
    assert not any(1 * S <= t < 2 * S for t in host)
    assert any(t >= 2 * S for t in host)
    assert len(by_stream(items)["camera"]) == pytest.approx(90, abs=3)  # the others carry on


def test_a_clock_jump_shifts_every_later_stamp(rig: RigConfig) -> None:
    _, clean = run(rig, 2.0)
    sim, jumped = run(rig, 2.0, Fault(stream="lidar", kind="clock_jump", start_s=1.0, magnitude=-0.7))
    for a, b in zip(by_stream(clean)["lidar"], by_stream(jumped)["lidar"], strict=True):
        after = sim.emissions[("lidar", b.seq)].host_ns >= 1 * S
        assert b.stamp_ns - a.stamp_ns == (-700_000_000 if after else 0)


def test_delayed_messages_arrive_later_by_the_delay(rig: RigConfig) -> None:
    sim, items = run(rig, 2.0, Fault(stream="camera", kind="delayed", start_s=0.5, end_s=1.5, magnitude=0.25))
    lag = {i.seq: i.recv_ns - sim.emissions[("camera", i.seq)].host_ns for i in by_stream(items)["camera"]}
    hosts = {seq: sim.emissions[("camera", seq)].host_ns for seq in lag}
    inside = [v for s, v in lag.items() if 0.5 * S <= hosts[s] < 1.5 * S]
    outside = [v for s, v in lag.items() if hosts[s] < 0.5 * S]
    assert min(outside) >= 15_000_000  # the camera's minimum transport delay
    assert min(inside) >= 250_000_000 + 15_000_000
    assert max(outside) < 30_000_000


def test_a_frozen_sensor_repeats_its_values_while_stamps_advance(rig: RigConfig) -> None:
    _, items = run(rig, 1.0, Fault(stream="imu", kind="frozen", start_s=0.4, end_s=0.6))
    imu = [i for i in by_stream(items)["imu"] if isinstance(i, ImuSample)]
    values = [tuple(i.linear_acceleration) for i in imu]
    runs = max(sum(1 for _ in group) for _, group in itertools.groupby(values))
    assert runs >= 75  # 0.2 s at 400 Hz, minus drops
    stamps = [i.stamp_ns for i in imu]
    assert stamps == sorted(stamps)


def test_noise_raises_the_spread_of_the_signal(rig: RigConfig) -> None:
    def spread(*faults: Fault) -> float:
        _, items = run(rig, 1.0, *faults)
        acc = np.array([i.linear_acceleration for i in by_stream(items)["imu"] if isinstance(i, ImuSample)])
        return float(np.std(np.diff(acc[:, 2])))

    assert spread(Fault(stream="imu", kind="noisy", magnitude=1.0)) > 5 * spread()


def test_nan_values_become_rejected_samples_that_name_stream_and_field(rig: RigConfig) -> None:
    _, items = run(rig, 1.0, Fault(stream="audio", kind="nan", start_s=0.5, magnitude=0.01))
    audio = by_stream(items)["audio"]
    rejected = [i for i in audio if isinstance(i, RejectedSample)]
    assert len(rejected) == pytest.approx(25, abs=2)
    assert all("stream 'audio', field 'samples'" in r.reason and "NaN" in r.reason for r in rejected)
    assert all(isinstance(i, AudioChunk) for i in audio if i.recv_ns < 0.5 * S)


def test_corrupt_bytes_are_rejected_or_delivered_never_raised(rig: RigConfig) -> None:
    _, items = run(rig, 1.0, Fault(stream="lidar", kind="corrupt", magnitude=0.05))
    lidar = by_stream(items)["lidar"]
    assert len(lidar) == pytest.approx(10, abs=1)
    rejected = [i for i in lidar if isinstance(i, RejectedSample)]
    assert len(rejected) >= len(lidar) - 2  # flipped float bytes make NaN/inf somewhere in almost every scan
    assert all("stream 'lidar'" in r.reason for r in rejected)


def test_faults_on_unknown_streams_or_impossible_kinds_are_refused(rig: RigConfig) -> None:
    with pytest.raises(ConfigError, match="unknown stream 'radar'"):
        SimRig(rig, faults=[Fault(stream="radar", kind="dead")])
    with pytest.raises(ConfigError, match="cannot hold NaN; use 'corrupt'"):
        SimRig(rig, faults=[Fault(stream="camera", kind="nan")])


def test_a_stream_dead_for_good_ends_while_the_others_go_on(rig: RigConfig) -> None:
    sim, items = run(rig, 3.0, Fault(stream="imu", kind="dead", start_s=1.0), Fault(stream="lidar", kind="dead"))
    streams = by_stream(items)
    assert "lidar" not in streams
    assert max(sim.emissions[("imu", i.seq)].host_ns for i in streams["imu"]) < 1 * S
    assert max(i.recv_ns for i in streams["audio"]) > 2.9 * S


def test_back_to_back_dead_intervals_are_skipped_together(rig: RigConfig) -> None:
    sim, items = run(
        rig,
        3.0,
        Fault(stream="imu", kind="dead", start_s=0.5, end_s=1.0),
        Fault(stream="imu", kind="dead", start_s=1.0, end_s=2.0),
    )
    host = [sim.emissions[("imu", i.seq)].host_ns for i in by_stream(items)["imu"]]
    assert not any(0.5 * S <= t < 2 * S for t in host)
    assert sum(t >= 2 * S for t in host) == pytest.approx(400, abs=5)


def test_the_true_sensor_clock_includes_injected_jumps(rig: RigConfig) -> None:
    sim = SimRig(rig, faults=[Fault(stream="lidar", kind="clock_jump", start_s=1.0, magnitude=-0.7)])
    with sim:
        before = sim.true_sensor_ns("lidar", int(0.5 * S)) - float(sim.clocks["lidar"].sensor_ns(0.5 * S))
        after = sim.true_sensor_ns("lidar", int(1.5 * S)) - float(sim.clocks["lidar"].sensor_ns(1.5 * S))
    assert (before, after) == (0.0, -0.7e9)
