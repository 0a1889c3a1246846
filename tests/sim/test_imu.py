"""Tests of the simulated IMU (robofuse.sim.imu) against the physics it promises."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from simtools import make_sensor, segment_windows

import robofuse
from robofuse.config import load_rig
from robofuse.labels import Terrain
from robofuse.messages import ImuSample
from robofuse.sim.imu import JOINT_DIRECTION, JOINT_PEAK_MPS2, MAX_BODY_ACCEL_MPS2, ORIENTATION_SIGMA_RAD, SimImu
from robofuse.sim.terrain import PHYSICS
from robofuse.sim.world import World, WorldState

RIG = load_rig(robofuse.default_rig_path())
STREAM = RIG.stream("imu")
assert RIG.calibration is not None
CALIBRATION = RIG.calibration.of("imu")
SETTINGS = STREAM.settings
SIGMA_GYRO = SETTINGS.gyro_noise_density * np.sqrt(STREAM.rate_hz)
SIGMA_ACCEL = SETTINGS.accel_noise_density * np.sqrt(STREAM.rate_hz)


def make_imu(seed: int = 0, **settings: Any) -> SimImu:
    return make_sensor(SimImu, "imu", seed=seed, settings=settings)


@dataclasses.dataclass
class Recording:
    host_ns: np.ndarray  # (N,) true measurement times
    gyro: np.ndarray  # (N, 3)
    accel: np.ndarray  # (N, 3)
    payloads: list[dict[str, Any]]


def record(imu: SimImu, host_start_ns: float, seconds: float) -> Recording:
    """Render consecutive samples from host time ``host_start_ns``, as the rig does."""
    s0 = int(imu.clock.sensor_ns(host_start_ns))
    sensor = s0 + np.arange(round(seconds * STREAM.rate_hz)) * imu.period_ns
    payloads = [imu.render(seq, int(s)) for seq, s in enumerate(sensor)]
    return Recording(
        host_ns=imu.clock.host_ns(sensor),
        gyro=np.array([p["angular_velocity"] for p in payloads]),
        accel=np.array([p["linear_acceleration"] for p in payloads]),
        payloads=payloads,
    )


def no_impacts(world: World, st: WorldState) -> bool:
    """No jolt rings into the window."""
    return not world.impacts_between(int(st.time_ns[0]) - 200_000_000, int(st.time_ns[-1]) + 1)


def event_mask(world: World, host_ns: np.ndarray) -> np.ndarray:
    """True for samples clear of impacts and tile joints (their jolts last < 100 ms)."""
    lo, hi = int(host_ns[0]) - 200_000_000, int(host_ns[-1]) + 1
    times = [im.time_ns for im in world.impacts_between(lo, hi)]
    st = world.state(np.arange(lo, hi, 1_000_000))
    count = np.floor(st.odometer_m / PHYSICS[Terrain.TILES].joint_pitch_m)
    joints = st.time_ns[1:][(np.diff(count) > 0) & (st.terrain[1:] == Terrain.TILES)]
    keep = np.ones(host_ns.size, dtype=bool)
    for t in [*times, *joints.tolist()]:
        keep &= ~((host_ns >= t - 10_000_000) & (host_ns < t + 100_000_000))
    return keep


def test_payload_builds_a_valid_imu_sample() -> None:
    imu = make_imu()
    payload = imu.render(0, int(imu.clock.sensor_ns(5e9)))
    sample = ImuSample(stream="imu", frame_id="imu_link", seq=0, stamp_ns=1, recv_ns=2, **payload)
    assert sample.angular_velocity.shape == (3,)
    assert sample.angular_velocity.dtype == np.float64
    assert sample.linear_acceleration.shape == (3,)
    assert sample.linear_acceleration.dtype == np.float64
    assert sample.orientation is not None
    assert abs(np.linalg.norm(sample.orientation) - 1) < 1e-9
    covariances = (
        sample.angular_velocity_covariance,
        sample.linear_acceleration_covariance,
        sample.orientation_covariance,
    )
    stated = (SIGMA_GYRO**2, SIGMA_ACCEL**2, np.square(ORIENTATION_SIGMA_RAD))
    for cov, variance in zip(covariances, stated, strict=True):
        assert cov is not None
        np.testing.assert_allclose(cov, np.diag(np.broadcast_to(variance, 3)))
    assert set(SimImu.value_fields) <= set(payload)
    bare = make_imu(with_orientation=False).render(0, int(imu.clock.sensor_ns(5e9)))
    assert "orientation" not in bare
    assert "orientation_covariance" not in bare
    ImuSample(stream="imu", frame_id="imu_link", seq=0, stamp_ns=1, recv_ns=2, **bare)


def test_same_seed_same_samples_other_seed_other_samples() -> None:
    a, b, c = (record(make_imu(seed), 7e9, 0.5) for seed in (0, 0, 1))
    np.testing.assert_array_equal(a.accel, b.accel)
    np.testing.assert_array_equal(a.gyro, b.gyro)
    assert not np.allclose(a.accel, c.accel)


def test_at_rest_reads_gravity_and_the_stated_white_noise() -> None:
    def still(world: World, st: WorldState) -> bool:
        return bool(st.body_speed.max() == 0 and st.wheel_speed.max() == 0) and no_impacts(world, st)

    seed, start, _ = next(segment_windows(range(5), 3.0, still))
    rec = record(make_imu(seed), start, 3.0)
    n = rec.accel.shape[0]
    # Mean: gravity on +z (REP-103), within the noise of the mean plus a few sigma of bias walk.
    walk = SETTINGS.accel_bias_walk * np.sqrt(3.0)
    np.testing.assert_allclose(rec.accel.mean(axis=0), [0, 0, 9.81], atol=5 * SIGMA_ACCEL / np.sqrt(n) + 4 * walk)
    np.testing.assert_allclose(rec.gyro.mean(axis=0), 0, atol=5 * SIGMA_GYRO / np.sqrt(n) + 0.001)
    # Spread: density * sqrt(rate) on every axis, within 10 %.
    np.testing.assert_allclose(rec.accel.std(axis=0), SIGMA_ACCEL, rtol=0.1)
    np.testing.assert_allclose(rec.gyro.std(axis=0), SIGMA_GYRO, rtol=0.1)


def vibration_ratio(seed: int, start: int, seconds: float) -> float:
    """RMS of the vibration (all axes, noise removed) per m/s of body speed, clear of jolts."""
    imu = make_imu(seed)
    rec = record(imu, start, seconds)
    keep = event_mask(imu.world, rec.host_ns)
    var = rec.accel[keep].var(axis=0).sum() - 3 * SIGMA_ACCEL**2
    speed = imu.world.state(rec.host_ns.astype(np.int64)).body_speed.mean()
    return float(np.sqrt(max(var, 0.0)) / speed)


def test_vibration_ranks_gravel_over_grass_and_sand_over_the_smooth_terrains() -> None:
    def cruising(world: World, st: WorldState) -> bool:
        return bool(st.body_speed.min() > 0.5 and np.ptp(st.body_speed) < 0.05)

    ratios: dict[Terrain, list[float]] = {t: [] for t in Terrain}
    for seed, start, _ in segment_windows(range(8), 2.0, cruising):
        terrain = Terrain(int(World(dataclasses.replace(RIG.world, seed=seed)).state(np.array([start])).terrain[0]))
        if len(ratios[terrain]) < 3:
            ratios[terrain].append(vibration_ratio(seed, start, 2.0))
        if all(len(r) >= 2 for r in ratios.values()):
            break
    mean = {t: float(np.mean(r)) for t, r in ratios.items()}
    assert all(ratios.values()), f"no cruising window found for some terrain: {ratios}"
    for t, m in mean.items():  # vertical RMS is vib_gain per m/s; x and y add 0.35 each
        assert PHYSICS[t].vib_gain * 0.95 < m < PHYSICS[t].vib_gain * 1.3, (t, m)
    low = [mean[Terrain.ASPHALT], mean[Terrain.MUD], mean[Terrain.TILES]]
    medium = [mean[Terrain.GRASS], mean[Terrain.SAND]]
    assert mean[Terrain.GRAVEL] > 1.6 * max(medium)
    assert min(medium) > 1.8 * max(low)
    assert max(medium) / min(medium) < 1.2
    assert max(low) / min(low) < 1.2


def test_no_vibration_while_the_body_stands_still_in_slip() -> None:
    def slipping(world: World, st: WorldState) -> bool:
        return bool(st.slip.all() and st.wheel_speed.min() > 0.5) and no_impacts(world, st)

    found = 0
    for seed, start, _ in segment_windows(range(10), 0.8, slipping):
        rec = record(make_imu(seed), start, 0.8)
        np.testing.assert_allclose(rec.accel.std(axis=0), SIGMA_ACCEL, rtol=0.2)
        np.testing.assert_allclose(rec.gyro.std(axis=0), SIGMA_GYRO, rtol=0.2)
        found += 1
        if found == 2:
            break
    assert found, "no slip window found"


@pytest.mark.parametrize("kind", ["bump", "collision"])
def test_an_impact_jolts_with_its_peak_along_its_direction(kind: str) -> None:
    best = None
    for seed in range(6):
        world = World(dataclasses.replace(RIG.world, seed=seed))
        for im in world.impacts_between(1_000_000_000, 300_000_000_000):
            speed = float(world.state(np.array([im.time_ns - 50_000_000])).body_speed[0])
            terrain = Terrain(int(world.state(np.array([im.time_ns])).terrain[0]))
            score = im.peak_mps2 / (1 + PHYSICS[terrain].vib_gain * speed)
            if im.kind == kind and (best is None or score > best[0]):
                best = (score, seed, im)
    assert best is not None
    _, seed, im = best
    rec = record(make_imu(seed), im.time_ns - 0.2e9, 0.3)
    before = rec.host_ns < im.time_ns - 10e6
    after = (rec.host_ns >= im.time_ns) & (rec.host_ns < im.time_ns + 40e6)
    base = np.median(rec.accel[before], axis=0)
    dev = rec.accel[after] - base
    top = dev[np.argmax(np.linalg.norm(dev, axis=1))]
    assert np.linalg.norm(top) > 0.8 * im.peak_mps2
    assert top @ np.asarray(im.direction) / np.linalg.norm(top) > 0.9
    assert np.abs(rec.accel[before] - base).max() < 0.5 * im.peak_mps2


def test_each_tile_joint_gives_a_jolt() -> None:
    def tiles_cruising(world: World, st: WorldState) -> bool:
        return bool((st.terrain == Terrain.TILES).all() and st.body_speed.min() > 0.5)

    seed, start, _ = next(segment_windows(range(5), 2.0, tiles_cruising))
    imu = make_imu(seed)
    rec = record(imu, start, 2.0)
    st = imu.world.state(np.arange(start, start + 2_000_000_000, 100_000))
    count = np.floor(st.odometer_m / PHYSICS[Terrain.TILES].joint_pitch_m)
    joints = st.time_ns[1:][np.diff(count) > 0]
    assert joints.size >= 3
    # The jolt peaks about 6 ms after the joint; average over joints to beat the vibration.
    peaks = [np.interp(t + 6.4e6, rec.host_ns, rec.accel[:, 2]) - 9.81 for t in joints[:-1]]
    v = st.body_speed.mean()
    expected = (JOINT_PEAK_MPS2[0] + JOINT_PEAK_MPS2[1] * v) * JOINT_DIRECTION[2]
    assert 0.6 * expected < np.mean(peaks) < 1.3 * expected


def test_kinematics_gyro_z_yaw_rate_and_accelerations_follow_the_world() -> None:
    imu = make_imu(2)
    t = np.arange(2e9, 60e9, 2.5e6)
    gyro, accel = imu.true_signal(t)
    st = imu.world.state(t.astype(np.int64))
    clear = event_mask(imu.world, t)[: t.size // 200 * 200].reshape(-1, 200).all(axis=1)

    def blocks(x: np.ndarray) -> np.ndarray:
        """Means over 0.5 s blocks clear of jolts: they remove the >= 5 Hz vibration, keep the motion."""
        means: np.ndarray = x[: x.size // 200 * 200].reshape(-1, 200).mean(axis=1)[clear]
        return means

    accel_x = np.clip(st.body_accel, -MAX_BODY_ACCEL_MPS2, MAX_BODY_ACCEL_MPS2)
    np.testing.assert_allclose(blocks(gyro[:, 2]), blocks(st.yaw_rate), atol=0.01)
    np.testing.assert_allclose(blocks(accel[:, 0]), blocks(accel_x), atol=0.2)
    np.testing.assert_allclose(blocks(accel[:, 1]), blocks(st.body_speed * st.yaw_rate), atol=0.2)
    np.testing.assert_allclose(blocks(accel[:, 2]), 9.81, atol=0.3)


def test_orientation_follows_the_world_yaw() -> None:
    imu = make_imu(1)
    rec = record(imu, 20e9, 1.0)
    q = np.array([p["orientation"] for p in rec.payloads])
    yaw = np.arctan2(2 * (q[:, 3] * q[:, 2] + q[:, 0] * q[:, 1]), 1 - 2 * (q[:, 1] ** 2 + q[:, 2] ** 2))
    world_yaw = imu.world.state(rec.host_ns.astype(np.int64)).yaw_rad
    err = np.angle(np.exp(1j * (yaw - world_yaw)))
    assert np.abs(err).max() < 5 * ORIENTATION_SIGMA_RAD[2]


def test_true_signal_is_render_minus_noise_and_bias() -> None:
    imu = make_imu(3)
    rec = record(imu, 30e9, 2.0)
    gyro, accel = imu.true_signal(rec.host_ns)
    for measured, truth, sigma in ((rec.gyro, gyro, SIGMA_GYRO), (rec.accel, accel, SIGMA_ACCEL)):
        residual = measured - truth
        np.testing.assert_allclose(residual.std(axis=0), sigma, rtol=0.15)
        assert np.abs(residual.mean(axis=0)).max() < 0.5 * sigma  # the bias is still tiny after 2 s
    assert np.ptp(accel[:, 2]) > 10 * SIGMA_ACCEL  # the truth does move: this is not a still window


def test_a_rotated_mount_rotates_the_readings_into_the_imu_frame() -> None:
    # IMU x along base_link y: a quarter turn about z (x, y, z, w).
    turned = dataclasses.replace(
        CALIBRATION,
        extrinsics=dataclasses.replace(CALIBRATION.extrinsics, rotation_xyzw=(0.0, 0.0, np.sqrt(0.5), np.sqrt(0.5))),
    )
    level = make_imu(4)
    mounted = SimImu(level.stream, level.world, level.clock, turned)
    t = np.arange(10e9, 12e9, 2.5e6)
    gyro, accel = level.true_signal(t)
    gyro_m, accel_m = mounted.true_signal(t)
    np.testing.assert_allclose(accel_m, np.stack([accel[:, 1], -accel[:, 0], accel[:, 2]], axis=1), atol=1e-12)
    np.testing.assert_allclose(gyro_m, np.stack([gyro[:, 1], -gyro[:, 0], gyro[:, 2]], axis=1), atol=1e-12)
    q = mounted.render(0, int(mounted.clock.sensor_ns(10e9)))["orientation"]
    yaw = np.arctan2(2 * (q[3] * q[2] + q[0] * q[1]), 1 - 2 * (q[1] ** 2 + q[2] ** 2))
    world_yaw = float(level.world.state(np.array([10_000_000_000])).yaw_rad[0])
    assert abs(np.angle(np.exp(1j * (yaw - world_yaw - np.pi / 2)))) < 5 * ORIENTATION_SIGMA_RAD[2]
