"""Simulated spinning 3-D LIDAR, VLP-16 like: ground, obstacles, skew, range noise.

What it must show is fixed by docs/cue_table.md: ground roughness in three levels only
({asphalt, sand, tiles}, {grass, mud}, {gravel}), by day and night alike; returns at the
bumper when an obstacle touches it, and the 0.15-0.35 m gap of an "approach".

How a 28,800-ray scan fits in about two milliseconds of one CPU core:

- The ray table (directions in the sensor frame and in base_link, ring, firing time) is built
  once. The robot stays level on flat ground, so where each ray meets the ground relative to
  the robot never changes; only the robot's pose does.
- Each azimuth column uses the pose at its own firing time (one vectorised world query per
  scan), so a moving robot's scan is skewed exactly as a real one, and de-skewing has
  something to undo.
- Ground roughness is a fixed height field in world coordinates (a property of the ground, not
  of the sensor), scaled by the terrain's ``roughness_m``; a ray's range is corrected to where
  it meets that height.
- Obstacles are the world's vertical cylinders, ray-cast only in the columns that can see them.
- Range noise is sliced from a pre-drawn bank at a random offset.

Intensity is Velodyne-style calibrated reflectivity (0-100 for diffuse targets) times the cosine
of incidence, with a weak fall-off at long range. The ground's reflectivity is the same for
every terrain on purpose: a terrain-specific value would let the LIDAR alone tell all six
terrains apart, which the cue table rules out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from robofuse.config.calibration import Extrinsics, StreamCalibration
from robofuse.config.rig import StreamConfig
from robofuse.geometry import rotation_matrix
from robofuse.labels import Terrain
from robofuse.messages import PointCloud
from robofuse.sim.clock import SensorClock
from robofuse.sim.sensor import SimSensor
from robofuse.sim.terrain import PHYSICS
from robofuse.sim.world import RNG_LIDAR_GROUND, World, WorldState, obstacle_material

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

FIRING_NS = 2304  # VLP-16: 2.304 us between the lasers of one firing sequence
HEIGHT_TEXEL_M = 0.02  # height-field resolution: gravel-sized bumps
HEIGHT_TILE = 512  # texels per side (10 m), a power of two so wrapping is a mask
NOISE_SPARE = 1 << 16  # noise bank length beyond one scan: the range of slice offsets
GROUND_REFLECTIVITY = 0.25  # every terrain alike (see the module docstring)
OBSTACLE_REFLECTIVITY = (0.55, 0.3)  # painted barrel, concrete post (camera.OBSTACLE_RGB order)
INTENSITY_SCALE = 100.0  # calibrated reflectivity: 100 is a white diffuse target
FALLOFF_M = 60.0  # past this range weak returns lose intensity
SPECKLE = 0.05  # relative intensity noise
ROUGHNESS = np.array([PHYSICS[t].roughness_m for t in Terrain], dtype=np.float64)


@dataclass(frozen=True, eq=False)
class _Rays:
    """The scan pattern, fixed for the sensor: arrays are (steps, beams) in firing order."""

    sensor_dirs: F32  # (steps * beams, 3) unit directions in the sensor frame
    dirs: F64  # (3, steps, beams) the same directions in base_link
    horiz_sq: F64  # (steps, beams) squared horizontal part of each direction
    origin: F64  # (3,) sensor origin in base_link
    ground_s: F64  # (steps, beams) range to flat ground; inf for rays that never reach it
    ground_x: F64  # (steps, beams) where that is, in base_link (0 where there is none)
    ground_y: F64
    col_cos: F64  # (steps,) cosine and sine of each column's base_link azimuth (its middle laser)
    col_sin: F64
    max_spread: float  # how far any laser strays from its column's azimuth (a tilted mount)
    col_offset_ns: npt.NDArray[np.int64]  # (steps,) firing time of each column after the scan start
    time_offset_ns: npt.NDArray[np.int32]  # (steps * beams,)
    ring: npt.NDArray[np.uint16]  # (steps * beams,) laser index by elevation, 0 lowest


def _firing_order(beams: int) -> npt.NDArray[np.int64]:
    """Rings in the order they fire: low and high halves interleaved, as the VLP-16 does."""
    half = (beams + 1) // 2
    order = np.empty(beams, dtype=np.int64)
    order[0::2] = np.arange(half)
    order[1::2] = np.arange(half, beams)
    return order


def _make_rays(settings: Any, cal: StreamCalibration, period_ns: int) -> _Rays:
    """The scan pattern of ``settings`` (SimLidarSettings) on its calibrated mount."""
    steps, beams = settings.azimuth_steps, settings.beams
    ext = cal.extrinsics
    if ext == Extrinsics():  # uncalibrated: upright on the robot's centre at its mount height
        ext = Extrinsics(translation_m=(0.0, 0.0, settings.mount_height_m))
    rot = rotation_matrix(ext.rotation_xyzw)
    origin = np.array(ext.translation_m, dtype=np.float64)
    rings = _firing_order(beams)
    elevation = np.radians(np.linspace(settings.fov_down_deg, settings.fov_up_deg, beams))[rings]
    # Clockwise seen from above, starting behind: the forward view is measured at mid-scan.
    azimuth = math.pi - 2 * math.pi * np.arange(steps) / steps
    el, az = np.meshgrid(elevation, azimuth)  # (steps, beams)
    sensor = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    dirs = np.einsum("ij,jsb->isb", rot, sensor)
    down = dirs[2] < -1e-6
    with np.errstate(divide="ignore"):
        ground_s = np.where(down, origin[2] / np.where(down, -dirs[2], 1.0), np.inf)
    reach = np.where(down, ground_s, 0.0)
    ray_az = np.arctan2(dirs[1], dirs[0])
    col_az = ray_az[:, beams // 2]
    col_offset = np.arange(steps, dtype=np.int64) * period_ns // steps
    # Lasers within a column fire 2.3 us apart, squeezed if a column is shorter than that.
    laser_ns = min(FIRING_NS, period_ns // steps // beams)
    offsets = np.minimum(col_offset[:, None] + np.arange(beams) * laser_ns, period_ns)
    return _Rays(
        sensor_dirs=np.ascontiguousarray(sensor.reshape(3, -1).T, dtype=np.float32),
        dirs=dirs,
        horiz_sq=dirs[0] ** 2 + dirs[1] ** 2,
        origin=origin,
        ground_s=ground_s,
        ground_x=origin[0] + reach * dirs[0],
        ground_y=origin[1] + reach * dirs[1],
        col_cos=np.cos(col_az),
        col_sin=np.sin(col_az),
        max_spread=float(np.abs(_wrap(ray_az - col_az[:, None])).max()),
        col_offset_ns=col_offset,
        time_offset_ns=offsets.reshape(-1).astype(np.int32),
        ring=np.tile(rings, steps).astype(np.uint16),
    )


def _wrap(angle: F64) -> F64:
    """Angles folded into [-pi, pi)."""
    return np.asarray((angle + math.pi) % (2 * math.pi) - math.pi, dtype=np.float64)


def _height_field(rng: np.random.Generator) -> F64:
    """Unit-variance ground heights on a wrapping grid, lightly smoothed (stones, not needles)."""
    z = rng.standard_normal((HEIGHT_TILE, HEIGHT_TILE))
    for axis in (0, 1):
        z = 0.5 * z + 0.25 * (np.roll(z, 1, axis) + np.roll(z, -1, axis))
    return np.asarray((z - z.mean()) / z.std(), dtype=np.float64)


class SimLidar(SimSensor):
    """Simulated spinning LIDAR: one PointCloud per revolution, points in the sensor frame.

    Points are in the sensor frame at each point's own firing time (as a real driver emits
    them, before any de-skewing), stamped by the scan's first firing; rays with no return
    within ``max_range_m`` are dropped, never reported as NaN.
    """

    sample_cls = PointCloud
    value_fields = ("points", "intensity")

    def __init__(self, stream: StreamConfig, world: World, clock: SensorClock, calibration: StreamCalibration) -> None:
        super().__init__(stream, world, clock, calibration)
        s = self.settings
        self._rays = _make_rays(s, calibration, self.period_ns)
        self._heights = _height_field(world.rng(0, RNG_LIDAR_GROUND)).ravel()
        n = s.azimuth_steps * s.beams
        self._noise = self.rng.standard_normal(n + NOISE_SPARE, dtype=np.float32)

    def span_ns(self) -> int:
        """One revolution: the scan's last point is measured a period after its first."""
        return self.period_ns

    def render(self, seq: int, sensor_ns: int) -> dict[str, Any]:
        """The scan whose first point fires at sensor time ``sensor_ns``: the PointCloud payload."""
        host = self.clock.host_ns(sensor_ns + self._rays.col_offset_ns)
        st = self.world.state(np.maximum(host, 0).astype(np.int64))  # one pose per column
        ranges = self._ground(st)
        reflect = np.full(ranges.shape, GROUND_REFLECTIVITY)
        cosine = np.broadcast_to(-self._rays.dirs[2], ranges.shape).copy()  # flat ground faces up
        self._hit_obstacles(st, ranges, reflect, cosine)
        return self._payload(ranges.ravel(), reflect.ravel(), cosine.ravel())

    def _ground(self, st: WorldState) -> F64:
        """(steps, beams) range to the rough ground, inf where a ray never meets it."""
        rays = self._rays
        c, s = np.cos(st.yaw_rad)[:, None], np.sin(st.yaw_rad)[:, None]
        x = st.x_m[:, None] + c * rays.ground_x - s * rays.ground_y  # world coordinates of the flat hit
        y = st.y_m[:, None] + s * rays.ground_x + c * rays.ground_y
        ix = np.floor(x * (1 / HEIGHT_TEXEL_M)).astype(np.int64) & (HEIGHT_TILE - 1)
        iy = np.floor(y * (1 / HEIGHT_TEXEL_M)).astype(np.int64) & (HEIGHT_TILE - 1)
        height = np.take(self._heights, iy * HEIGHT_TILE + ix) * ROUGHNESS[st.terrain][:, None]
        # The ray drops linearly, so meeting the ground `height` higher shortens it in proportion.
        return np.asarray(rays.ground_s * (1 - height / rays.origin[2]), dtype=np.float64)

    def _hit_obstacles(self, st: WorldState, ranges: F64, reflect: F64, cosine: F64) -> None:
        """Shorten ``ranges`` where a ray meets one of the world's cylinders first.

        All obstacles are cast together as (obstacle, column) pairs, so the cost is a fixed
        handful of array operations whatever the number of obstacles.
        """
        rays = self._rays
        obstacles = self.world.obstacles_near(int(st.time_ns[len(st.time_ns) // 2]))
        obs, cols = self._facing(st, obstacles)
        if not len(cols):
            return
        ox, oy, radius, height = (obstacles[obs, k] for k in range(4))
        c, s = np.cos(st.yaw_rad[cols]), np.sin(st.yaw_rad[cols])
        dx, dy = ox - st.x_m[cols], oy - st.y_m[cols]
        # From each cylinder's axis to the sensor, in base_link at that column's time.
        ex = rays.origin[0] - (c * dx + s * dy)
        ey = rays.origin[1] - (-s * dx + c * dy)
        hit, cos_hit = self._cast(cols, ex[:, None], ey[:, None], radius[:, None], height[:, None])
        found = np.isfinite(hit)  # (pairs, beams)
        ray = (cols[:, None] * hit.shape[1] + np.arange(hit.shape[1]))[found]
        material = np.array([obstacle_material(float(x), float(y)) for x, y in obstacles[:, :2]], dtype=np.int64)
        refl = np.broadcast_to(np.take(OBSTACLE_REFLECTIVITY, material[obs])[:, None], hit.shape)[found]
        hit, cos_hit = hit[found], cos_hit[found]
        flat = ranges.reshape(-1)  # views: the caller's arrays are updated in place
        np.minimum.at(flat, ray, hit)  # a ray may cross several cylinders: the nearest wins
        won = hit <= flat[ray]
        reflect.reshape(-1)[ray[won]] = refl[won]
        cosine.reshape(-1)[ray[won]] = cos_hit[won]

    def _facing(self, st: WorldState, obstacles: F64) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """(obstacle, column) pairs whose rays may meet the obstacle, from the mid-scan pose.

        The window is widened by how far the robot moves and turns within the scan, so the
        per-column pose used for the actual cast is always covered.
        """
        rays = self._rays
        mid = len(st.time_ns) // 2
        x0, y0, yaw0 = float(st.x_m[mid]), float(st.y_m[mid]), float(st.yaw_rad[mid])
        c, s = math.cos(yaw0), math.sin(yaw0)
        dx, dy = obstacles[:, 0] - x0, obstacles[:, 1] - y0
        bx = c * dx + s * dy - rays.origin[0]  # sensor to axis, base_link
        by = -s * dx + c * dy - rays.origin[1]
        dist = np.hypot(bx, by)
        radius = obstacles[:, 2]
        travel = float(np.hypot(st.x_m - x0, st.y_m - y0).max())
        turn = float(np.abs(st.yaw_rad - yaw0).max())
        with np.errstate(divide="ignore", invalid="ignore"):
            half = np.where(dist > radius + travel, np.arcsin(np.minimum(1.0, radius / dist)), math.pi)
            margin = travel / np.maximum(dist - radius, 0.05) + turn + 0.01
        near = dist - radius < self.settings.max_range_m + travel
        # |column azimuth - bearing| <= window, as a cosine: no angle wrapping over (K, steps).
        window = np.minimum(half + margin + rays.max_spread, math.pi)
        cos_gap = np.outer(bx / dist, rays.col_cos) + np.outer(by / dist, rays.col_sin)
        facing = (cos_gap >= np.cos(window)[:, None]) & near[:, None]
        obs, cols = np.nonzero(facing)
        return obs, cols

    def _cast(self, cols: npt.NDArray[np.intp], ex: F64, ey: F64, radius: F64, height: F64) -> tuple[F64, F64]:
        """Range to each cylinder (side or top; inf: missed) along the rays of ``cols``, and the incidence cosine.

        ``ex, ey, radius, height`` are (pairs, 1): the cylinder relative to the sensor origin.
        """
        rays = self._rays
        dxr, dyr, dzr = rays.dirs[0, cols], rays.dirs[1, cols], rays.dirs[2, cols]
        cc = ex * ex + ey * ey - radius * radius  # < 0: the sensor stands inside it and sees nothing
        b = dxr * ex + dyr * ey
        disc = b * b - rays.horiz_sq[cols] * cc
        root = np.sqrt(np.maximum(disc, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            s_side = (-b - root) / rays.horiz_sq[cols]
            z = rays.origin[2] + s_side * dzr
            hit = np.where((disc >= 0) & (cc > 0) & (s_side > 0) & (z >= 0) & (z <= height), s_side, np.inf)
            cos_hit = root / radius  # incidence on the side, for unit rays
            s_top = (height - rays.origin[2]) / dzr  # the top, seen from above
            on_top = (dzr < 0) & (s_top > 0) & (cc > 0) & (s_top < hit)
            on_top &= (ex + s_top * dxr) ** 2 + (ey + s_top * dyr) ** 2 <= radius * radius
        return np.where(on_top, s_top, hit), np.where(on_top, -dzr, cos_hit)

    def _payload(self, ranges: F64, reflect: F64, cosine: F64) -> dict[str, Any]:
        """Noisy returns within range, as the PointCloud payload."""
        s = self.settings
        n = len(ranges)
        start, speckle_start = self.rng.integers(0, NOISE_SPARE, size=2)
        measured = ranges + s.range_noise_m * self._noise[start : start + n]
        keep = np.nonzero((measured <= s.max_range_m) & (measured > 0))[0]
        r = measured[keep].astype(np.float32)
        points = self._rays.sensor_dirs[keep] * r[:, None]
        falloff = 1.0 / (1.0 + (r / FALLOFF_M) ** 2)
        speckle = 1.0 + SPECKLE * self._noise[speckle_start : speckle_start + n][keep]
        intensity = INTENSITY_SCALE * reflect[keep] * np.clip(cosine[keep], 0.0, 1.0) * falloff * speckle
        return {
            "points": points,
            "intensity": np.maximum(intensity, 0.0).astype(np.float32),
            "ring": self._rays.ring[keep],
            "time_offset_ns": self._rays.time_offset_ns[keep],
            "duration_ns": int(self.period_ns),
        }
