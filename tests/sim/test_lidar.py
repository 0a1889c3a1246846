"""The simulated LIDAR measures the world's ground and obstacles as a VLP-16 would, deterministically."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from simtools import BARE, find_segment, make_sensor

from robofuse.config import RigConfig
from robofuse.labels import Terrain
from robofuse.messages import PointCloud
from robofuse.sim.lidar import SimLidar


def make_lidar(rig: RigConfig, *, seed: int = 0, settings: dict[str, Any] | None = None, **world: Any) -> SimLidar:
    return make_sensor(SimLidar, "lidar", seed=seed, settings=settings, world=world, rig=rig)


def scan_at(lidar: SimLidar, host_ns: int, seq: int = 0) -> dict[str, Any]:
    """The scan whose first point fires at host time ``host_ns``."""
    return lidar.render(seq, int(lidar.clock.sensor_ns(host_ns)))


def test_render_makes_a_valid_point_cloud_of_sixteen_rings(bundled_rig: RigConfig) -> None:
    lidar = make_lidar(bundled_rig)
    payload = scan_at(lidar, 5_000_000_000)
    cloud = PointCloud(stream="lidar", frame_id="velodyne", seq=0, stamp_ns=0, recv_ns=1, **payload)
    assert len(cloud.points) > 10_000
    assert cloud.duration_ns == lidar.span_ns() == lidar.period_ns == 100_000_000
    assert cloud.ring.min() >= 0
    assert cloud.ring.max() < 16
    assert len(np.unique(cloud.ring)) >= 8  # at least every laser that looks down hits the ground
    assert SimLidar.value_fields == ("points", "intensity")


def test_time_offsets_grow_with_azimuth_and_stay_within_the_scan(bundled_rig: RigConfig) -> None:
    payload = scan_at(make_lidar(bundled_rig), 7_000_000_000)
    offsets = payload["time_offset_ns"]
    assert np.all(np.diff(offsets.astype(np.int64)) >= 0)
    assert offsets.min() >= 0
    assert offsets.max() <= payload["duration_ns"]
    assert offsets.max() > 0.95 * payload["duration_ns"]  # the scan covers the whole revolution
    azimuth = np.unwrap(np.arctan2(payload["points"][:, 1], payload["points"][:, 0]))
    assert np.all(np.diff(azimuth) < 1e-4)  # a clockwise sweep: azimuth falls as time goes on...
    assert azimuth[0] - azimuth[-1] == pytest.approx(2 * np.pi, abs=0.05)  # ...once round


def test_two_sensors_with_the_same_seed_give_the_same_scans(bundled_rig: RigConfig) -> None:
    a, b = make_lidar(bundled_rig, seed=3), make_lidar(bundled_rig, seed=3)
    for i in range(3):
        t = 2_000_000_000 + i * 100_000_000
        sa, sb = scan_at(a, t, i), scan_at(b, t, i)
        for key in ("points", "intensity", "ring", "time_offset_ns"):
            assert np.array_equal(sa[key], sb[key]), key


def test_different_seeds_give_different_scans(bundled_rig: RigConfig) -> None:
    a = scan_at(make_lidar(bundled_rig, seed=1), 2_000_000_000)
    b = scan_at(make_lidar(bundled_rig, seed=2), 2_000_000_000)
    assert a["points"].shape != b["points"].shape or not np.array_equal(a["points"], b["points"])


@pytest.mark.parametrize("max_range_m", [100.0, 6.0])
def test_points_are_finite_and_never_beyond_max_range(bundled_rig: RigConfig, max_range_m: float) -> None:
    lidar = make_lidar(bundled_rig, seed=5, settings={"max_range_m": max_range_m})
    for i in range(5):
        payload = scan_at(lidar, 1_000_000_000 + i * 9_000_000_000, i)
        points = payload["points"]
        assert np.isfinite(points).all()
        assert np.isfinite(payload["intensity"]).all()
        assert np.linalg.norm(points.astype(np.float64), axis=1).max() <= max_range_m * (1 + 1e-6)  # float32 points
        assert (payload["intensity"] >= 0).all()


def ground_height_spread(rig: RigConfig, terrain: Terrain) -> float:
    """Standard deviation of the ground points' height, 2 to 10 m out, on ``terrain``."""
    seed, seg = find_segment(rig, lambda s: s.terrain == terrain, **BARE)
    lidar = make_lidar(rig, seed=seed, **BARE)
    spreads = []
    for i in range(2):
        points = scan_at(lidar, seg.start_ns + 500_000_000 + i * 100_000_000, i)["points"]
        reach = np.hypot(points[:, 0], points[:, 1])
        ground = (reach > 2) & (reach < 10) & (points[:, 2] < -0.3)
        spreads.append(float(points[ground, 2].std()))
    return float(np.mean(spreads))


def test_ground_roughness_ranks_gravel_above_grass_and_mud_above_the_smooth_terrains(bundled_rig: RigConfig) -> None:
    spread = {t: ground_height_spread(bundled_rig, t) for t in Terrain}
    smooth = [spread[t] for t in (Terrain.ASPHALT, Terrain.SAND, Terrain.TILES)]
    medium = [spread[t] for t in (Terrain.GRASS, Terrain.MUD)]
    assert max(smooth) < 0.6 * min(medium)
    assert max(medium) < 0.7 * spread[Terrain.GRAVEL]


@pytest.mark.parametrize("event", ["collision", "approach"])
def test_an_obstacle_at_the_front_returns_points_at_its_distance(bundled_rig: RigConfig, event: str) -> None:
    seed, seg = find_segment(bundled_rig, lambda s: s.event == event)
    lidar = make_lidar(bundled_rig, seed=seed)
    t = seg.event_ns + 500_000_000  # standing still at the obstacle
    state = lidar.world.state(np.array([t]))
    x, y, yaw = float(state.x_m[0]), float(state.y_m[0]), float(state.yaw_rad[0])
    ox, oy, radius, _height = seg.obstacles[0]  # the event's obstacle comes first
    mount = lidar.calibration.extrinsics.translation_m
    sx, sy = x + mount[0] * np.cos(yaw), y + mount[0] * np.sin(yaw)
    expected = float(np.hypot(ox - sx, oy - sy) - radius)
    bearing = np.arctan2(oy - sy, ox - sx) - yaw
    points = scan_at(lidar, t)["points"]
    ahead = np.abs(np.angle(np.exp(1j * (np.arctan2(points[:, 1], points[:, 0]) - bearing)))) < 0.01
    ahead &= points[:, 2] > -mount[2] + 0.05  # off the ground
    reach = np.hypot(points[ahead, 0], points[ahead, 1])
    assert len(reach) >= 8
    assert abs(float(np.median(reach)) - expected) < 0.02
    if event == "collision":
        assert expected < 0.25  # touching the bumper, 0.3 m ahead of base_link
    else:  # stopped 0.15-0.35 m short of it; the sensor sits 0.1 m ahead of base_link, the bumper 0.3 m
        assert 0.3 - 0.1 + 0.15 - 0.01 < expected < 0.3 - 0.1 + 0.35 + 0.01


def test_a_moving_scan_is_skewed_and_per_point_poses_undo_it(bundled_rig: RigConfig) -> None:
    seed, seg = find_segment(bundled_rig, lambda s: s.body_speed.min() > 1.5 and len(s.obstacles) > 0)
    lidar = make_lidar(bundled_rig, seed=seed)
    start = seg.start_ns + 1_000_000_000
    payload = scan_at(lidar, start)
    host = lidar.clock.host_ns(int(lidar.clock.sensor_ns(start)) + payload["time_offset_ns"].astype(np.int64))
    state = lidar.world.state(host.astype(np.int64))
    obstacles = lidar.world.obstacles_near(start)

    def miss_m(x: np.ndarray, y: np.ndarray, yaw: np.ndarray) -> np.ndarray:
        """Distance of each point, placed in the world with the given poses, from the nearest cylinder wall."""
        p = payload["points"].astype(np.float64)
        px = x + np.cos(yaw) * (p[:, 0] + 0.1) - np.sin(yaw) * p[:, 1]
        py = y + np.sin(yaw) * (p[:, 0] + 0.1) + np.cos(yaw) * p[:, 1]
        walls = np.abs(np.hypot(px[:, None] - obstacles[:, 0], py[:, None] - obstacles[:, 1]) - obstacles[:, 2])
        return np.asarray(walls.min(axis=1))

    # Obstacle points fired in the last half of the scan, when the robot had moved 7.5 cm or more.
    late = (payload["points"][:, 2] > -0.4) & (payload["time_offset_ns"] > payload["duration_ns"] // 2)
    own = miss_m(state.x_m, state.y_m, state.yaw_rad)[late]
    first = miss_m(state.x_m[0], state.y_m[0], state.yaw_rad[0])[late]
    assert len(own) > 20
    assert np.median(own) < 0.02  # each point placed with the pose at its own firing lies on a wall
    assert np.median(first) > max(0.03, 3 * np.median(own))  # with the first pose, they miss by the drive
