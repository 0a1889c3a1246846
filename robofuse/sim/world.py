"""The procedural world: where the robot is, what it drives on, and what happens, at any time.

Time is the host clock in integer nanoseconds (the simulator's true time). The world is cut
into segments of a few seconds; segment ``k`` is drawn from its own random stream seeded by
``(seed, k)`` and generated in order on first use, so the world is unbounded, deterministic for
a seed, and cheap to query anywhere already visited. Kinematics are tabulated on a 200 Hz grid
per segment and interpolated; events (bumps, collisions) are exact times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from robofuse.labels import GroundTruth, Light, Terrain
from robofuse.sim.settings import WorldSettings
from robofuse.sim.terrain import PHYSICS

GRID_NS = 5_000_000  # kinematics grid: 200 Hz
COLLISION_LABEL_NS = 500_000_000  # a collision is labelled for 0.5 s after contact
ROBOT_FRONT_M = 0.3  # base_link to the front bumper
MAX_ACCEL_MPS2 = 1.0  # driving: speed changes at most this fast
SLIP_DECEL_MPS2 = 4.0  # bogging down into a slip, and picking up after it
COLLISION_STOP_S = 0.1  # from contact to rest


@dataclass(frozen=True)
class Impact:
    """A jolt: a bump from the ground or a collision with an obstacle.

    ``direction`` is a unit vector in the body frame, drawn from one distribution for both
    kinds so the jolt alone does not say which it was.
    """

    time_ns: int
    kind: str  # "bump" or "collision"
    peak_mps2: float
    direction: tuple[float, float, float]


@dataclass(frozen=True)
class Segment:
    """A stretch of constant terrain and conditions, with its kinematics tabulated at 200 Hz."""

    index: int
    start_ns: int
    end_ns: int
    terrain: Terrain
    light: Light
    wind: bool
    event: str  # "", "stop", "slip", "collision", "approach"
    event_ns: int  # when the event starts (0 when none)
    slip_end_ns: int
    grid_ns: np.ndarray  # (G,) int64 sample times
    x_m: np.ndarray  # (G,) pose in the world frame
    y_m: np.ndarray
    yaw_rad: np.ndarray
    odometer_m: np.ndarray  # (G,) distance the body has travelled since time 0
    body_speed: np.ndarray  # (G,) m/s along the heading
    wheel_speed: np.ndarray  # (G,) m/s at the wheel rims
    impacts: tuple[Impact, ...]
    obstacles: np.ndarray  # (K, 4): x, y, radius, height in the world frame


@dataclass(frozen=True)
class WorldState:
    """The world at an array of times (all arrays share the times' shape)."""

    time_ns: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    yaw_rad: np.ndarray
    yaw_rate: np.ndarray  # rad/s
    odometer_m: np.ndarray  # distance travelled by the body since time 0 (tile joints, texture scroll)
    body_speed: np.ndarray
    body_accel: np.ndarray  # m/s^2 along the heading
    wheel_speed: np.ndarray
    terrain: np.ndarray  # int, Terrain values
    light: np.ndarray  # int, Light values
    wind: np.ndarray  # bool
    slip: np.ndarray  # bool
    segment: np.ndarray  # int, segment index


class World:
    """The simulated world for one seed. Queries accept any times >= 0."""

    def __init__(self, settings: WorldSettings) -> None:
        self.settings = settings
        self._segments: list[Segment] = []
        self._starts: list[int] = []

    # --- segments -------------------------------------------------------------------------
    def rng(self, segment: int, purpose: int) -> np.random.Generator:
        """A random stream private to ``(seed, segment, purpose)``: sensors draw their noise here."""
        return np.random.default_rng([self.settings.seed, segment, purpose])

    def segment(self, index: int) -> Segment:
        """Segment ``index``, generating it and its predecessors on first use."""
        while len(self._segments) <= index:
            self._segments.append(self._make_segment(len(self._segments)))
            self._starts.append(self._segments[-1].start_ns)
        return self._segments[index]

    def segment_index_at(self, time_ns: np.ndarray) -> np.ndarray:
        """Index of the segment holding each time."""
        t = np.asarray(time_ns, dtype=np.int64)
        if t.size and int(t.min()) < 0:
            raise ValueError(f"world time must be >= 0 ns, got {int(t.min())}")
        last = int(t.max()) if t.size else 0
        while not self._segments or self._segments[-1].end_ns <= last:
            self.segment(len(self._segments))
        return np.searchsorted(np.asarray(self._starts), t, side="right") - 1

    def segments_between(self, start_ns: int, end_ns: int) -> list[Segment]:
        """Every segment overlapping ``[start_ns, end_ns]``."""
        lo, hi = self.segment_index_at(np.array([max(0, start_ns), max(0, end_ns)]))
        return [self._segments[i] for i in range(int(lo), int(hi) + 1)]

    def _make_segment(self, k: int) -> Segment:
        s = self.settings
        prev = self._segments[k - 1] if k else None
        r = self.rng(k, 0)
        start = prev.end_ns if prev else 0
        length = int(r.uniform(s.segment_min_s, s.segment_max_s) * 1e9) // GRID_NS * GRID_NS
        end = start + length
        terrain = Terrain(int(r.integers(len(Terrain))))
        light = prev.light if prev and r.random() < s.light_keep_prob else Light(int(r.integers(len(Light))))
        wind = bool(r.random() < (s.wind_keep_prob if prev and prev.wind else s.wind_prob))
        u = r.random()
        cuts = np.cumsum([s.stop_prob, s.slip_prob, s.collision_prob, s.approach_prob])
        event = ["stop", "slip", "collision", "approach", ""][int(np.searchsorted(cuts, u, side="right"))]
        target = 0.0 if event == "stop" else float(r.uniform(0.6, s.max_speed_mps))
        curvature = float(r.uniform(-0.12, 0.12))
        g = np.arange(start, end, GRID_NS, dtype=np.int64)
        dt = GRID_NS / 1e9
        v0 = float(prev.wheel_speed[-1]) if prev and prev.event not in ("collision", "approach") else 0.0
        if prev is not None and prev.body_speed[-1] == 0.0:
            v0 = 0.0
        wheel = (
            np.minimum(target, v0 + MAX_ACCEL_MPS2 * (g - start) / 1e9)
            if target >= v0
            else np.maximum(target, v0 - MAX_ACCEL_MPS2 * (g - start) / 1e9)
        )
        event_ns = 0
        slip_end = 0
        if event:
            event_ns = start + (int(r.uniform(1.5, max(1.6, (length / 1e9) - 2.0)) * 1e9) // GRID_NS) * GRID_NS
        body = wheel.copy()
        if event == "slip":
            # the body bogs down just before the slip starts and picks up after it ends (no step in speed)
            slip_end = event_ns + int(r.uniform(1.0, 2.0) * 1e9)
            ramp = np.maximum(np.maximum(event_ns - g, g - slip_end), 0) / 1e9 * SLIP_DECEL_MPS2
            body = np.minimum(body, ramp)
        elif event == "collision":
            # contact at event_ns; the bumper brings the robot to rest within COLLISION_STOP_S
            after = np.clip((g - event_ns) / 1e9 / COLLISION_STOP_S, 0.0, 1.0)
            v_contact = float(wheel[int((event_ns - start) // GRID_NS)])
            wheel = np.where(g >= event_ns, v_contact * (1.0 - after), wheel)
            body = wheel.copy()
        elif event == "approach":
            # brake so that the robot stands still exactly at event_ns
            t_to = (event_ns - g) / 1e9
            brake = np.clip(t_to * MAX_ACCEL_MPS2 * 2, 0.0, None)
            wheel = np.minimum(wheel, brake)
            body = wheel.copy()
        impacts: list[Impact] = self._bumps(r, g, body, wheel, terrain, event, event_ns)  # may stop the robot
        x, y, yaw = self._integrate(prev, body, curvature, dt)
        obstacles: list[tuple[float, float, float, float]] = []
        if event in ("collision", "approach"):
            # the obstacle touches the bumper once the robot is at rest (a collision's last
            # few centimetres before rest are the bumper's foam giving way)
            i = int((event_ns - start) // GRID_NS) + (
                round(COLLISION_STOP_S * 1e9) // GRID_NS if event == "collision" else 0
            )
            radius = float(r.uniform(0.15, 0.4))
            gap = 0.0 if event == "collision" else float(r.uniform(0.15, 0.35))
            ahead = ROBOT_FRONT_M + gap + radius
            obstacles.append(
                (x[i] + ahead * np.cos(yaw[i]), y[i] + ahead * np.sin(yaw[i]), radius, float(r.uniform(0.4, 1.5)))
            )
            if event == "collision":
                speed = float(wheel[int((event_ns - start) // GRID_NS)]) or target
                impacts.append(
                    Impact(event_ns, "collision", float(max(4.0, speed * r.uniform(6.0, 14.0))), _direction(r))
                )
        impacts.sort(key=lambda im: im.time_ns)
        obstacles.extend(_scatter_obstacles(r, x, y, yaw, s.obstacles_per_m))
        odo0 = float(prev.odometer_m[-1] + prev.body_speed[-1] * dt) if prev else 0.0
        odometer = odo0 + np.concatenate(([0.0], np.cumsum(body[:-1] * dt)))
        return Segment(
            index=k,
            start_ns=start,
            end_ns=end,
            terrain=terrain,
            light=light,
            wind=wind,
            event=event,
            event_ns=event_ns,
            slip_end_ns=slip_end,
            grid_ns=g,
            x_m=x,
            y_m=y,
            yaw_rad=yaw,
            odometer_m=odometer,
            body_speed=body,
            wheel_speed=wheel,
            impacts=tuple(impacts),
            obstacles=np.array(obstacles, dtype=np.float64).reshape(-1, 4),
        )

    def _bumps(
        self,
        r: np.random.Generator,
        g: np.ndarray,
        body: np.ndarray,
        wheel: np.ndarray,
        terrain: Terrain,
        event: str,
        event_ns: int,
    ) -> list[Impact]:
        """Jolts from the ground while moving; some make the robot stop (so a jolt + stop is no proof of collision)."""
        rate = self.settings.bump_rate_hz * PHYSICS[terrain].bump_factor
        span_s = (int(g[-1]) - int(g[0])) / 1e9
        times = np.sort(r.uniform(0, span_s, size=r.poisson(rate * span_s)))
        out = []
        for t_s in times:
            i = int(t_s * 1e9 // GRID_NS)
            if body[i] < 0.3 or (event and abs(int(g[i]) - event_ns) < 1_000_000_000):
                continue
            out.append(Impact(int(g[i]), "bump", float(r.uniform(4.0, 22.0)), _direction(r)))
            if r.random() < self.settings.bump_stop_prob and not event:
                body[i:] = np.minimum(body[i:], np.maximum(0.0, body[i] - 4.0 * (g[i:] - g[i]) / 1e9))
                wheel[i:] = body[i:]
                break
        return out

    def _integrate(
        self, prev: Segment | None, body: np.ndarray, curvature: float, dt: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if prev is None:
            x0, y0, yaw0 = 0.0, 0.0, 0.0
        else:  # continue from one grid step past the previous segment's last sample
            v, h = float(prev.body_speed[-1]), float(prev.yaw_rad[-1])
            x0, y0, yaw0 = prev.x_m[-1] + v * np.cos(h) * dt, prev.y_m[-1] + v * np.sin(h) * dt, h
        yaw = yaw0 + np.concatenate(([0.0], np.cumsum(body[:-1] * curvature * dt)))
        x = x0 + np.concatenate(([0.0], np.cumsum(body[:-1] * np.cos(yaw[:-1]) * dt)))
        y = y0 + np.concatenate(([0.0], np.cumsum(body[:-1] * np.sin(yaw[:-1]) * dt)))
        return x, y, yaw

    # --- queries ----------------------------------------------------------------------------
    def state(self, time_ns: np.ndarray) -> WorldState:
        """The world at each of ``time_ns`` (host clock, ns, >= 0)."""
        t = np.atleast_1d(np.asarray(time_ns, dtype=np.int64))
        seg_idx = self.segment_index_at(t)
        out = {
            name: np.empty(t.shape, dtype=np.float64)
            for name in ("x_m", "y_m", "yaw_rad", "yaw_rate", "odometer_m", "body_speed", "body_accel", "wheel_speed")
        }
        terrain = np.empty(t.shape, dtype=np.int64)
        light = np.empty(t.shape, dtype=np.int64)
        wind = np.empty(t.shape, dtype=bool)
        slip = np.zeros(t.shape, dtype=bool)
        for k in np.unique(seg_idx):
            seg = self._segments[int(k)]
            sel = seg_idx == k
            tk = t[sel].astype(np.float64)
            gf = seg.grid_ns.astype(np.float64)
            for name, arr in (
                ("x_m", seg.x_m),
                ("y_m", seg.y_m),
                ("yaw_rad", seg.yaw_rad),
                ("odometer_m", seg.odometer_m),
                ("body_speed", seg.body_speed),
                ("wheel_speed", seg.wheel_speed),
            ):
                out[name][sel] = np.interp(tk, gf, arr)
            out["yaw_rate"][sel] = np.interp(tk, gf, np.gradient(seg.yaw_rad, GRID_NS / 1e9))
            out["body_accel"][sel] = np.interp(tk, gf, np.gradient(seg.body_speed, GRID_NS / 1e9))
            terrain[sel] = int(seg.terrain)
            light[sel] = int(seg.light)
            wind[sel] = seg.wind
            if seg.event == "slip":
                slip[sel] = (t[sel] >= seg.event_ns) & (t[sel] < seg.slip_end_ns)
        return WorldState(time_ns=t, terrain=terrain, light=light, wind=wind, slip=slip, segment=seg_idx, **out)

    def impacts_between(self, start_ns: int, end_ns: int) -> list[Impact]:
        """Every impact with ``start_ns <= time < end_ns``."""
        return [
            im
            for seg in self.segments_between(start_ns, end_ns)
            for im in seg.impacts
            if start_ns <= im.time_ns < end_ns
        ]

    def obstacles_near(self, time_ns: int) -> np.ndarray:
        """Obstacles (K, 4: x, y, radius, height) of the segments around ``time_ns``."""
        k = int(self.segment_index_at(np.array([time_ns]))[0])
        segs = [self.segment(i) for i in range(max(0, k - 2), k + 3)]
        return np.concatenate([s.obstacles for s in segs], axis=0)

    def truth(self, time_ns: int) -> GroundTruth:
        """The labels and conditions at ``time_ns``."""
        st = self.state(np.array([time_ns]))
        collided = any(im.kind == "collision" for im in self.impacts_between(time_ns - COLLISION_LABEL_NS, time_ns + 1))
        obs = self.obstacles_near(time_ns)
        if len(obs):
            dist = np.hypot(obs[:, 0] - st.x_m[0], obs[:, 1] - st.y_m[0]) - obs[:, 2]
            nearest = float(dist.min())
        else:
            nearest = float("inf")
        return GroundTruth(
            time_ns=int(time_ns),
            terrain=Terrain(int(st.terrain[0])),
            collision=collided,
            slip=bool(st.slip[0]),
            light=Light(int(st.light[0])),
            wind=bool(st.wind[0]),
            wheel_speed_mps=float(st.wheel_speed[0]),
            body_speed_mps=float(st.body_speed[0]),
            obstacle_distance_m=nearest,
        )


def obstacle_material(x_m: float, y_m: float) -> int:
    """Which of two materials (0: painted barrel, 1: concrete post) the obstacle at ``(x_m, y_m)`` is.

    Derived from the position so camera colour and LIDAR reflectivity agree without storing it.
    """
    return math.floor(x_m * 3.1 + y_m * 7.3) % 2


def _direction(r: np.random.Generator) -> tuple[float, float, float]:
    v = np.array([-abs(r.normal(0.7, 0.3)), r.normal(0.0, 0.3), abs(r.normal(0.6, 0.3))])
    v /= np.linalg.norm(v)
    return (float(v[0]), float(v[1]), float(v[2]))


def _scatter_obstacles(
    r: np.random.Generator, x: np.ndarray, y: np.ndarray, yaw: np.ndarray, per_m: float
) -> list[tuple[float, float, float, float]]:
    """Obstacles beside the path, 0.8 to 12 m off it: near misses the LIDAR and camera see."""
    path_m = float(np.sum(np.hypot(np.diff(x), np.diff(y))))
    count = int(r.poisson(per_m * max(path_m, 3.0)))
    out = []
    for _ in range(count):
        i = int(r.integers(len(x)))
        side = float(r.choice([-1.0, 1.0]) * r.uniform(0.8, 12.0))
        along = float(r.uniform(-2.0, 8.0))
        ox = x[i] + along * np.cos(yaw[i]) - side * np.sin(yaw[i])
        oy = y[i] + along * np.sin(yaw[i]) + side * np.cos(yaw[i])
        out.append((float(ox), float(oy), float(r.uniform(0.1, 0.6)), float(r.uniform(0.3, 2.0))))
    return out


# Purposes for World.rng: each consumer of randomness draws from its own stream.
RNG_WORLD = 0
RNG_IMU_VIBRATION = 1
RNG_AUDIO_FIELD = 2
RNG_CAMERA_TEXTURE = 3
RNG_LIDAR_GROUND = 4
