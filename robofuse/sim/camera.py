"""Simulated RGB camera: ground texture, obstacles, light, motion blur and read noise.

What it must show is fixed by docs/cue_table.md: terrain colour and texture by day, weaker at
dusk, nothing but read noise at night; obstacles filling the lower view at contact; motion blur
that vanishes when the body stands still (the camera's half of the slip cue).

How a 640x480 frame fits in 1-3 ms of one CPU core:

- The camera is fixed on the robot and the ground is flat, so every pixel always sees the same
  ground point relative to the robot. Rays, ground hits and texture indices are computed once.
- The ground texture lives in the coordinates of the robot's path: along-track (the world's
  odometer plus the hit's forward offset) and cross-track. A frame is the precomputed index
  shifted by the distance travelled, so consecutive frames scroll exactly as the robot moves and
  tile joints pass under the body when the odometer crosses them. Motion is then always along
  the texture's first axis: motion blur (body speed x exposure) is a 1-D box filter of the tile,
  built once per blur length. The rotation of the view while turning (under a pixel per frame
  at the world's curvatures) is left out.
- Distance works the same way: rows whose pixels cover several texels sample a tile filtered to
  their footprint (a cheap mip-map); beyond ``FAR_TEXELS`` the ground is its mean colour.
- The frame is drawn as 8-bit codes (texture levels, obstacle shades, far ground, sky); one
  look-up table per terrain and light turns codes into colour, so light, dusk desaturation and
  exposure cost nothing per pixel.
- Read noise is sliced from a pre-drawn bank at a random offset. A black level (pedestal) keeps
  every value clear of 0 and 255, so adding it is one wrapping uint8 add that never wraps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from robofuse.config.calibration import Extrinsics, Intrinsics, StreamCalibration
from robofuse.config.rig import StreamConfig
from robofuse.geometry import rotation_matrix
from robofuse.labels import Light, Terrain
from robofuse.messages import CameraFrame
from robofuse.sim.clock import SensorClock
from robofuse.sim.sensor import SimSensor
from robofuse.sim.terrain import PHYSICS
from robofuse.sim.world import RNG_CAMERA_TEXTURE, World, WorldState, obstacle_material

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]
I32 = npt.NDArray[np.int32]

TEXEL_M = 0.3 / 64  # tile joints (0.3 m pitch, terrain.py) fall on whole texels
TILE = 512  # texels per side: 2.4 m, eight joints; a power of two so wrapping is a mask
SUB_BITS = 2  # fractional bits of the along-track index: the view scrolls in 1/4-texel steps
N_TEXTURE = 192  # codes 0..191 are texture levels
CODE_OBSTACLE = 192  # then two obstacle materials x OBSTACLE_SHADES shades (192..253)
OBSTACLE_SHADES = 31
CODE_FAR = 254  # ground too far to resolve its texture: the terrain's mean colour
CODE_SKY = 255
Z_CLIP = 2.5  # texture fields have unit variance; +-2.5 sigma spans the texture codes
FAR_TEXELS = 32.0  # a pixel covering more ground than this along track shows the mean colour
MAX_OBSTACLE_M = 40.0  # farther obstacles are under a pixel or two wide
HALF_RES_PX = 20_000  # obstacles whose bounds exceed this many pixels are cast at half resolution
REFERENCE_EXPOSURE_MS = 8.0  # the exposure at which PHYSICS colours come out as given
FALLBACK_HFOV_DEG = 77.0  # a typical robot webcam, used when the calibration has no intrinsics
NOISE_SPARE = 1 << 18  # bank length beyond one frame: the range of random slice offsets
LIGHT_GAIN = {Light.DAY: 1.0, Light.DUSK: 0.35, Light.NIGHT: 0.0}  # night: below one DN
LIGHT_SATURATION = {Light.DAY: 1.0, Light.DUSK: 0.25, Light.NIGHT: 0.0}  # dusk greys colours
LIGHT_NOISE = {Light.DAY: 1.0, Light.DUSK: 1.5, Light.NIGHT: 2.0}  # gain rises as light falls
SKY_RGB = (150.0, 190.0, 235.0)
OBSTACLE_RGB = ((215.0, 100.0, 35.0), (120.0, 125.0, 135.0))  # an orange barrel, a concrete post
LUMA = np.array([0.299, 0.587, 0.114])
# The default mount (sim_calibration.yaml), for a calibration that leaves the camera unplaced.
DEFAULT_MOUNT = Extrinsics(translation_m=(0.25, 0.0, 0.6), rotation_xyzw=(-0.579228, 0.579228, -0.40558, 0.40558))


def _intrinsics(cal: StreamCalibration, width: int, height: int) -> Intrinsics:
    """The calibrated lens at the configured size, or a typical webcam's when uncalibrated."""
    intr = cal.intrinsics
    if intr is None:
        f = (width / 2) / math.tan(math.radians(FALLBACK_HFOV_DEG / 2))
        return Intrinsics(width=width, height=height, fx=f, fy=f, cx=width / 2, cy=height / 2)
    return intr if (intr.width, intr.height) == (width, height) else intr.scaled(width, height)


def _ladder(length: float) -> float:
    """Quantise a filter length (texels) to half-octave steps, so few tiles cover every case."""
    if length < 1.2:  # shorter boxes do not change a texel-sampled texture
        return 0.0
    return float(2.0 ** (min(round(2 * math.log2(length)), 12) / 2))


def _smooth(z: F64) -> F64:
    """Periodic [1, 2, 1] / 4 smoothing along both axes (tiles must wrap seamlessly)."""
    for axis in (0, 1):
        z = 0.5 * z + 0.25 * (np.roll(z, 1, axis) + np.roll(z, -1, axis))
    return z


def _texture_fields(rng: np.random.Generator) -> dict[str, F32]:
    """Unit-variance periodic fields, one per texture kind of terrain.py, indexed [across, along]."""
    n = TILE
    fine = _smooth(rng.standard_normal((n, n)))
    stones = np.kron(rng.standard_normal((n // 4, n // 4)), np.ones((4, 4))).astype(np.float64)  # ~2 cm stones
    speckle = _smooth(_smooth(stones)) + 0.3 * rng.standard_normal((n, n))
    seeds = rng.standard_normal((n, n))
    streaks = sum((np.roll(seeds, (i, 2 * i), axis=(0, 1)) for i in range(16)), np.zeros((n, n)))  # blades
    streaks = streaks + 2.0 * fine
    pitch = round(0.3 / TEXEL_M)
    slabs = np.kron(rng.standard_normal((n // pitch, n // pitch)), np.ones((pitch, pitch)))
    grid = 0.5 * slabs + 0.3 * fine
    joint = np.arange(n) % pitch < 2  # 1 cm grout lines every 0.3 m
    grid[joint, :] = -4.0
    grid[:, joint] = -4.0
    out = {}
    for kind, z in (("fine", fine), ("speckle", speckle), ("streaks", streaks), ("grid", grid)):
        z = z - z.mean()
        out[kind] = (z / z.std()).astype(np.float32)
    return out


def _box_filter(field: F32, length: float) -> F32:
    """Average over ``length`` texels along track (axis 1), fractional ends included, wrapping."""
    half = length / 2
    reach = math.ceil(half - 0.5)
    out = np.zeros_like(field)
    for i in range(-reach, reach + 1):
        weight = min(i + 0.5, half) - max(i - 0.5, -half)
        if weight > 0:
            out += np.float32(weight / length) * np.roll(field, i, axis=1)
    return out


@dataclass(frozen=True, eq=False)
class _View:
    """Everything about the fixed camera that does not change between frames (base_link frame)."""

    intr: Intrinsics
    rot: F64  # optical frame -> base_link
    origin: F64  # camera centre in base_link
    rays: F32  # (3, H, W) unit ray directions
    horiz_sq: F32  # (H, W) squared horizontal part of each ray
    neg_inv_horiz_sq: F32  # (H, W) -1 / horiz_sq (0 for a vertical ray): a multiply, not a divide, per frame
    row0: int  # first row of the textured band
    top: U8  # (row0, W) codes above the band: far ground or sky
    along: I32  # (H - row0, W) along-track texel index of the ground hit, SUB_BITS fixed point
    across: I32  # (H - row0, W) cross-track texel index times TILE (a tile row offset)
    sky_in_band: npt.NDArray[np.bool_] | None  # pixels of the band that see no ground (a rolled camera)
    bands: tuple[tuple[int, int, float], ...]  # (start, stop, footprint in texels) rows of the band


def _pixel_rays(cal: StreamCalibration, intr: Intrinsics) -> tuple[F64, F64, F64]:
    """Unit ray of every pixel in base_link (3, H, W), with the camera's rotation and origin."""
    ext = DEFAULT_MOUNT if cal.extrinsics == Extrinsics() else cal.extrinsics
    rot = rotation_matrix(ext.rotation_xyzw)
    v, u = np.mgrid[0 : intr.height, 0 : intr.width].astype(np.float64)
    optical = np.stack([(u - intr.cx) / intr.fx, (v - intr.cy) / intr.fy, np.ones_like(u)])
    rays = np.einsum("ij,jhw->ihw", rot, optical)
    return rays / np.linalg.norm(rays, axis=0), rot, np.array(ext.translation_m, dtype=np.float64)


def _bands(row_footprint: F64) -> tuple[tuple[int, int, float], ...]:
    """Runs of rows whose footprint quantises alike: each samples one prefiltered tile."""
    bands: list[tuple[int, int, float]] = []
    for i, fp in enumerate(row_footprint):
        level = _ladder(min(float(fp), 2 * FAR_TEXELS)) if fp > 1.0 else 0.0
        if bands and bands[-1][2] == level:
            bands[-1] = (bands[-1][0], i + 1, level)
        else:
            bands.append((i, i + 1, level))
    return tuple(bands)


def _make_view(cal: StreamCalibration, width: int, height: int) -> _View:
    """Precompute the fixed camera's per-pixel geometry and texture layout."""
    intr = _intrinsics(cal, width, height)
    rays, rot, origin = _pixel_rays(cal, intr)
    with np.errstate(divide="ignore", invalid="ignore"):
        ground_s = np.where(rays[2] < -1e-6, -origin[2] / rays[2], np.inf)
    ground = np.isfinite(ground_s)
    hit = origin[:, None, None] + np.where(ground, ground_s, 0.0) * rays  # (3, H, W)
    horiz_sq = rays[0] ** 2 + rays[1] ** 2
    along_texels = np.where(ground, hit[0] / TEXEL_M, 1e6)
    # Ground covered by one pixel along track, per row: what decides filtering and the far band.
    footprint = np.abs(np.gradient(along_texels, axis=0))
    row_fp = np.array([np.median(footprint[r][ground[r]]) if ground[r].any() else np.inf for r in range(height)])
    textured = np.nonzero(row_fp < FAR_TEXELS)[0]
    row0 = int(textured[0]) if len(textured) else height
    band = slice(row0, height)
    sky_in_band = ~ground[band]
    across = (np.floor(hit[1][band] / TEXEL_M).astype(np.int64) & (TILE - 1)) * TILE
    along = np.floor(along_texels[band] * (1 << SUB_BITS)).astype(np.int64)
    return _View(
        intr=intr,
        rot=rot,
        origin=origin,
        rays=rays.astype(np.float32),
        horiz_sq=horiz_sq.astype(np.float32),
        neg_inv_horiz_sq=np.where(horiz_sq > 1e-12, -1 / np.maximum(horiz_sq, 1e-12), 0.0).astype(np.float32),
        row0=row0,
        top=np.where(ground[:row0], CODE_FAR, CODE_SKY).astype(np.uint8),
        along=np.where(sky_in_band, 0, along).astype(np.int32),
        across=np.where(sky_in_band, 0, across).astype(np.int32),
        sky_in_band=sky_in_band if sky_in_band.any() else None,
        bands=_bands(row_fp[band]),
    )


class SimCamera(SimSensor):
    """Simulated RGB camera (rgb8, ``settings.width`` x ``settings.height``) on the robot.

    A frame samples the world at mid-exposure. ``pedestal`` is the black level in DN (what a
    night frame averages to). Texture tiles and look-up tables are built on first use and kept,
    so the first frames of a new terrain or speed cost a few milliseconds more.
    """

    sample_cls = CameraFrame
    value_fields = ("image",)

    def __init__(self, stream: StreamConfig, world: World, clock: SensorClock, calibration: StreamCalibration) -> None:
        super().__init__(stream, world, clock, calibration)
        s = self.settings
        self._view = _make_view(calibration, s.width, s.height)
        self._fields = _texture_fields(world.rng(0, RNG_CAMERA_TEXTURE))
        self._tiles: dict[tuple[str, float], U8] = {}
        self._luts: dict[tuple[Terrain, Light], U8] = {}
        worst = s.read_noise_dn * max(LIGHT_NOISE.values())
        # Black level: wide enough that noise (clipped at 4 sigma) never leaves 0..255.
        self.pedestal = int(min(64, max(16, math.ceil(4 * worst) + 1)))
        unit = self.rng.standard_normal(s.width * s.height * 3 + NOISE_SPARE, dtype=np.float32)
        lim = self.pedestal - 1
        self._noise = {
            light: np.clip(np.rint(unit * (s.read_noise_dn * k)), -lim, lim).astype(np.int8).view(np.uint8)
            for light, k in LIGHT_NOISE.items()
        }
        self._half_exposure_ns = round(s.exposure_ms * 5e5)
        self._last: tuple[tuple[object, ...], U8] | None = None  # the latest view's key and codes

    def render(self, seq: int, sensor_ns: int) -> dict[str, Any]:
        """The frame whose exposure starts at sensor time ``sensor_ns``: ``{"image", "encoding"}``."""
        s = self.settings
        t_ns = max(0, int(self.clock.host_ns(sensor_ns + self._half_exposure_ns)))
        st = self.world.state(np.array([t_ns]))
        light = Light(int(st.light[0]))
        offset = int(self.rng.integers(0, NOISE_SPARE))
        noise = self._noise[light][offset : offset + s.width * s.height * 3].reshape(s.height, s.width, 3)
        if LIGHT_GAIN[light] == 0.0:  # nothing but the black level and read noise reaches the pixels
            return {"image": noise + np.uint8(self.pedestal), "encoding": "rgb8"}
        terrain = Terrain(int(st.terrain[0]))
        image: U8 = np.take(self._lut(terrain, light), self._codes(st, t_ns), axis=0)  # (H, W, 3)
        np.add(image, noise, out=image)  # cannot wrap: codes map inside [pedestal, 255 - pedestal]
        return {"image": image, "encoding": "rgb8"}

    def _codes(self, st: WorldState, t_ns: int) -> U8:
        """(H, W) codes of the view at ``st``; reused while nothing in view moves (a still robot)."""
        kind = PHYSICS[Terrain(int(st.terrain[0]))].texture
        odometer, x, y, yaw = (float(a[0]) for a in (st.odometer_m, st.x_m, st.y_m, st.yaw_rad))
        obstacles = self.world.obstacles_near(t_ns)
        blur_texels = abs(float(st.body_speed[0])) * self.settings.exposure_ms * 1e-3 / TEXEL_M
        key = (kind, odometer, x, y, yaw, _ladder(blur_texels), obstacles.tobytes())
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        codes = self._ground_codes(kind, odometer, blur_texels)
        self._draw_obstacles(codes, obstacles, x, y, yaw)
        self._last = (key, codes)
        return codes

    # --- ground ------------------------------------------------------------------------------
    def _ground_codes(self, kind: str, odometer_m: float, blur_texels: float) -> U8:
        """(H, W) codes of sky and ground, the ground scrolled to ``odometer_m`` and blurred."""
        view = self._view
        codes = np.empty((self.settings.height, self.settings.width), dtype=np.uint8)
        codes[: view.row0] = view.top
        scroll = math.floor(odometer_m / TEXEL_M * (1 << SUB_BITS)) % (TILE << SUB_BITS)
        idx = view.along + np.int32(scroll)
        np.right_shift(idx, SUB_BITS, out=idx)
        np.bitwise_and(idx, TILE - 1, out=idx)
        idx += view.across  # (H - row0, W) flat index into a tile
        band = codes[view.row0 :]
        for start, stop, footprint in view.bands:
            tile = self._tile(kind, _ladder(math.hypot(footprint, blur_texels)))
            np.take(tile, idx[start:stop], out=band[start:stop])
        if view.sky_in_band is not None:
            band[view.sky_in_band] = CODE_SKY
        return codes

    def _tile(self, kind: str, length: float) -> U8:
        """The texture of ``kind`` box-filtered over ``length`` texels along track, as flat codes."""
        tile = self._tiles.get((kind, length))
        if tile is None:
            field = self._fields[kind]
            if length > 0:
                field = _box_filter(field, length)
            mid = (N_TEXTURE - 1) / 2
            tile = np.rint(mid + mid / Z_CLIP * np.clip(field, -Z_CLIP, Z_CLIP)).astype(np.uint8).ravel()
            self._tiles[(kind, length)] = tile
        return tile

    def _lut(self, terrain: Terrain, light: Light) -> U8:
        """(256, 3) colour of every code under ``light``, black level and exposure included."""
        lut = self._luts.get((terrain, light))
        if lut is None:
            phys = PHYSICS[terrain]
            albedo = np.array(phys.color_rgb, dtype=np.float64)
            rgb = np.zeros((256, 3))
            mid = (N_TEXTURE - 1) / 2
            rgb[:N_TEXTURE] = np.outer(1 + phys.texture_contrast * (np.arange(N_TEXTURE) - mid) / mid, albedo)
            shade = np.arange(OBSTACLE_SHADES) / (OBSTACLE_SHADES - 1)
            for m, colour in enumerate(OBSTACLE_RGB):
                first = CODE_OBSTACLE + m * OBSTACLE_SHADES
                rgb[first : first + OBSTACLE_SHADES] = np.outer(shade, colour)
            rgb[CODE_FAR] = albedo  # what the footprint-filtered texture tends to: no seam at the band's top
            rgb[CODE_SKY] = SKY_RGB
            luma = (rgb @ LUMA)[:, None]
            rgb = luma + LIGHT_SATURATION[light] * (rgb - luma)
            top = 255 - self.pedestal
            gain = LIGHT_GAIN[light] * self.settings.exposure_ms / REFERENCE_EXPOSURE_MS * (top - self.pedestal) / 255
            lut = np.clip(np.rint(self.pedestal + gain * rgb), self.pedestal, top).astype(np.uint8)
            self._luts[(terrain, light)] = lut
        return lut

    # --- obstacles ----------------------------------------------------------------------------
    def _draw_obstacles(self, codes: U8, obstacles: F64, x_m: float, y_m: float, yaw: float) -> None:
        """Paint the world's cylinders over ``codes``, far to near, where they hide the ground."""
        if not len(obstacles):
            return
        view = self._view
        c, s = math.cos(yaw), math.sin(yaw)
        dx, dy = obstacles[:, 0] - x_m, obstacles[:, 1] - y_m
        base = np.stack([c * dx + s * dy, -s * dx + c * dy], axis=1)  # (K, 2) centres in base_link
        dist = np.hypot(base[:, 0] - view.origin[0], base[:, 1] - view.origin[1])
        radius, height = obstacles[:, 2], obstacles[:, 3]
        bounds = self._bounds(base, radius, height)
        for i in np.argsort(-dist):
            if bounds[i] is not None and dist[i] - radius[i] < MAX_OBSTACLE_M:
                material = obstacle_material(float(obstacles[i, 0]), float(obstacles[i, 1]))
                self._draw_cylinder(codes, base[i], float(radius[i]), float(height[i]), material, bounds[i])

    def _bounds(self, base: F64, radius: F64, height: F64) -> list[tuple[slice, slice] | None]:
        """Per obstacle, the image rows and columns that can show it (None: out of view)."""
        view = self._view
        h, w = self.settings.height, self.settings.width
        # The square around each cylinder's footprint, turned to face the camera: the tightest
        # square whose projection still holds the whole cylinder.
        facing = base - view.origin[:2]
        facing /= np.maximum(np.hypot(facing[:, 0], facing[:, 1]), 1e-9)[:, None]  # (K, 2)
        across = np.stack([-facing[:, 1], facing[:, 0]], axis=1)
        sign = np.array([(i, j) for i in (-1, 1) for j in (-1, 1) for _ in (0, 1)], dtype=np.float64)  # (8, 2)
        offsets = sign[None, :, :1] * facing[:, None, :] + sign[None, :, 1:] * across[:, None, :]  # (K, 8, 2)
        corners = np.empty((len(base), 8, 3))
        corners[:, :, :2] = base[:, None, :] + offsets * radius[:, None, None]
        corners[:, :, 2] = np.array([0.0, 1.0] * 4) * height[:, None]  # bottom and top of each corner post
        optical = (corners - view.origin) @ view.rot  # (K, 8, 3) in the optical frame
        ahead = optical[:, :, 2] > 0.05
        with np.errstate(divide="ignore", invalid="ignore"):
            u = view.intr.fx * optical[:, :, 0] / optical[:, :, 2] + view.intr.cx
            v = view.intr.fy * optical[:, :, 1] / optical[:, :, 2] + view.intr.cy
            # (Rows of obstacles not wholly ahead are garbage here, and not used.)
            r0 = np.clip(np.floor(v.min(axis=1)), 0, h).astype(int).tolist()
            r1 = np.clip(np.ceil(v.max(axis=1)) + 1, 0, h).astype(int).tolist()
            c0 = np.clip(np.floor(u.min(axis=1)), 0, w).astype(int).tolist()
            c1 = np.clip(np.ceil(u.max(axis=1)) + 1, 0, w).astype(int).tolist()
        in_front = np.count_nonzero(ahead, axis=1).tolist()  # corners ahead of the camera, of 8
        out: list[tuple[slice, slice] | None] = []
        for k in range(len(base)):
            if in_front[k] < 8:  # behind the camera, or straddling its plane: nothing, or everything
                out.append((slice(0, h), slice(0, w)) if in_front[k] else None)
            else:
                out.append((slice(r0[k], r1[k]), slice(c0[k], c1[k])) if r0[k] < r1[k] and c0[k] < c1[k] else None)
        return out

    def _draw_cylinder(
        self, codes: U8, centre: F64, radius: float, height: float, material: int, bounds: tuple[slice, slice]
    ) -> None:
        """Ray-cast one vertical cylinder (side and top) inside its image ``bounds``."""
        view = self._view
        ex, ey = float(view.origin[0] - centre[0]), float(view.origin[1] - centre[1])
        if ex * ex + ey * ey <= radius * radius:  # the camera stands inside it
            return
        rows, cols = bounds
        shape = (rows.stop - rows.start, cols.stop - cols.start)
        # A cylinder that fills much of the view is cast on every other row and column: its edge
        # moves by a pixel at most, and the cost stays near that of a small one.
        step = 2 if shape[0] * shape[1] > HALF_RES_PX else 1
        sub = (slice(rows.start, rows.stop, step), slice(cols.start, cols.stop, step))
        paint = self._cast(sub, (ex, ey), radius, height, CODE_OBSTACLE + material * OBSTACLE_SHADES)
        if step > 1:
            paint = np.repeat(np.repeat(paint, step, axis=0), step, axis=1)[: shape[0], : shape[1]]
        np.copyto(codes[rows, cols], paint, where=paint >= CODE_OBSTACLE)

    def _cast(
        self, pixels: tuple[slice, slice], axis_to_camera: tuple[float, float], radius: float, height: float, first: int
    ) -> U8:
        """Obstacle codes of ``pixels`` (0 where the cylinder is missed), shaded by incidence."""
        view = self._view
        ex, ey = axis_to_camera
        dx, dy, dz = (view.rays[k][pixels] for k in range(3))
        # Side: |e + s * d_horizontal| = radius, nearer root; the camera is outside, so s > 0 iff b < 0.
        b = dx * ex
        b += dy * ey
        disc = b * b
        disc -= view.horiz_sq[pixels] * (ex * ex + ey * ey - radius * radius)
        side = (disc >= 0) & (b < 0)
        root = np.sqrt(np.maximum(disc, 0, out=disc), out=disc)
        z = (b + root) * view.neg_inv_horiz_sq[pixels] * dz  # height of the hit above the camera
        side &= (z >= -view.origin[2]) & (z <= height - view.origin[2])
        # Lambert with the light at the camera: cos(incidence) = root / radius for unit rays.
        scale = 0.7 * (OBSTACLE_SHADES - 1) / radius
        paint: U8 = (root * scale + (first + 0.3 * (OBSTACLE_SHADES - 1) + 0.5)).astype(np.uint8)
        paint *= side
        if view.origin[2] > height:  # the top is in sight; a ray entering there misses the side
            with np.errstate(divide="ignore", invalid="ignore"):
                s_top = (height - view.origin[2]) / dz
            top = dz < 0
            top &= (ex + s_top * dx) ** 2 + (ey + s_top * dy) ** 2 <= radius * radius
            np.copyto(paint, np.uint8(first + OBSTACLE_SHADES - 1), where=top)
        return paint
