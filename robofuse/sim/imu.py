"""Simulated 6-axis IMU: gravity, the body's motion, terrain vibration, jolts, noise and bias.

The physical signal is a deterministic function of host (true) time. For each world segment it
is tabulated once on a fixed 2 kHz host-time grid (vibration drawn from
``world.rng(segment, RNG_IMU_VIBRATION)``, kinematics from ``world.state``) and read back by
linear interpolation, so it does not depend on when or how often the IMU samples it: a drifting
IMU clock really samples it at drifted instants. Sensor noise and the bias random walk come from
the sensor's own ``rng``, one draw per rendered sample, so output is deterministic for a seed.

Frames: the IMU frame is base_link rotated by the calibration's extrinsic rotation (lever-arm
effects of its translation are neglected). Cues follow docs/cue_table.md: vibration only while
the body moves (none during slip: the motor mounts damp the wheels), a jolt per tile joint, and
bumps and collisions jolt with one and the same shape.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from robofuse.config.calibration import StreamCalibration
from robofuse.config.rig import StreamConfig
from robofuse.messages import ImuSample, Sample
from robofuse.sim.clock import SensorClock
from robofuse.sim.sensor import SimSensor
from robofuse.sim.settings import SimImuSettings
from robofuse.sim.signals import band_spectrum, fast_len, joint_crossings, unit_rms
from robofuse.sim.terrain import PHYSICS
from robofuse.sim.world import RNG_IMU_VIBRATION, World, WorldState

GRID_NS = 500_000  # 2 kHz table: ten times the highest vibration frequency (50 Hz), cheap to build
GRAVITY_MPS2 = 9.81
# The world drops the body speed to zero within one 5 ms grid step at a collision or slip onset,
# which differentiates to hundreds of m/s^2. The impact jolt already models a collision's
# deceleration, so the kinematic part is limited to the hardest braking the world models
# (bump-stops decelerate at 4 m/s^2); otherwise slip onset would jolt harder than a collision.
MAX_BODY_ACCEL_MPS2 = 4.0
VIB_XY_RATIO = 0.35  # vibration is mostly vertical; fore-aft and lateral are weaker
VIB_RATE_PER_ACCEL = 0.05  # rad/s of roll/pitch rate per m/s^2 of vertical vibration (0.3 m track)
JOLT_TAU_S = 0.010  # decay of a jolt: ~30-40 ms long, broad enough that 400 Hz catches its peak
JOLT_HZ = 25.0  # ring of the chassis after a hit
JOLT_SPAN_NS = 80_000_000  # a jolt is negligible (< 1 % of peak) after this
LOOKBACK_NS = 100_000_000  # jolts that started this long before a segment still ring into it
JOINT_PEAK_MPS2 = (0.8, 0.6)  # tile-joint jolt peak: base + per m/s of body speed
JOINT_DIRECTION = np.array([-0.2, 0.0, 1.0]) / math.hypot(0.2, 1.0)  # mostly up, a little back
ORIENTATION_SIGMA_RAD = (0.0035, 0.0035, 0.0175)  # device estimate: 0.2 deg roll/pitch, 1 deg yaw
TABLE_CACHE = 4  # segments kept: the current one, neighbours, and a little history for tests

# Columns of a table row: gyro xyz (rad/s), specific force xyz (m/s^2), roll, pitch, yaw (rad).
_GYRO, _ACCEL, _ROLL, _PITCH, _YAW = slice(0, 3), slice(3, 6), 6, 7, 8
_COLUMNS = 9


def jolt_shape(t_s: np.ndarray) -> np.ndarray:
    """Unit-peak jolt (damped 25 Hz ring) at ``t_s`` seconds after the hit; 0 before it."""
    t = np.maximum(t_s, 0.0)
    w = 2 * math.pi * JOLT_HZ
    t_peak = math.atan(w * JOLT_TAU_S) / w
    peak = math.exp(-t_peak / JOLT_TAU_S) * math.sin(w * t_peak)
    return np.where(t_s >= 0, np.exp(-t / JOLT_TAU_S) * np.sin(w * t) / peak, 0.0)


def quaternion_rpy(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """Unit quaternion (x, y, z, w) of the ZYX (yaw, pitch, roll) rotation."""
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    return np.array(
        [
            sr * cp * cy - cr * sp * sy,
            cr * sp * cy + sr * cp * sy,
            cr * cp * sy - sr * sp * cy,
            cr * cp * cy + sr * sp * sy,
        ]
    )


def quaternion_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` of (x, y, z, w) quaternions."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.array(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ]
    )


def rotation_matrix(q: tuple[float, float, float, float]) -> np.ndarray:
    """3x3 rotation matrix of the (x, y, z, w) quaternion ``q``."""
    x, y, z, w = (float(v) for v in q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


@dataclass(frozen=True)
class _Table:
    """One segment's physical signal on the 2 kHz grid, rows at ``start_ns + i * GRID_NS``."""

    start_ns: int
    end_ns: int
    rows: np.ndarray  # (n, _COLUMNS), the last row at end_ns

    def row(self, t: float) -> np.ndarray:
        """Linear interpolation at one host time (the per-sample fast path)."""
        x = (t - self.start_ns) / GRID_NS
        i = min(max(int(x), 0), self.rows.shape[0] - 2)
        f = x - i
        r = self.rows
        value: np.ndarray = r[i] + f * (r[i + 1] - r[i])
        return value

    def rows_at(self, t: np.ndarray) -> np.ndarray:
        """Linear interpolation at many host times, same arithmetic as :meth:`row`."""
        x = (t - self.start_ns) / GRID_NS
        i = np.clip(x.astype(np.int64), 0, self.rows.shape[0] - 2)
        f = (x - i)[:, None]
        value: np.ndarray = self.rows[i] + f * (self.rows[i + 1] - self.rows[i])
        return value


class SimImu(SimSensor):
    """A simulated IMU: ``render`` gives ImuSample payloads, ``true_signal`` the noise-free truth."""

    sample_cls: ClassVar[type[Sample]] = ImuSample
    value_fields: ClassVar[tuple[str, ...]] = ("angular_velocity", "linear_acceleration")

    def __init__(self, stream: StreamConfig, world: World, clock: SensorClock, calibration: StreamCalibration) -> None:
        super().__init__(stream, world, clock, calibration)
        s: SimImuSettings = self.settings
        rate = float(stream.rate_hz)
        # White noise per sample: density * sqrt(rate); bias walk per sample: walk / sqrt(rate).
        self._white = np.repeat([s.gyro_noise_density, s.accel_noise_density], 3) * math.sqrt(rate)
        self._walk = np.repeat([s.gyro_bias_walk, s.accel_bias_walk], 3) / math.sqrt(rate)
        self._bias = np.zeros(6)
        self._last_seq: int | None = None
        q = calibration.extrinsics.rotation_xyzw
        self._q_mount = np.array(q, dtype=np.float64)
        self._mounted = not np.allclose(self._q_mount, (0.0, 0.0, 0.0, 1.0))
        self._r_mount = rotation_matrix(q)
        self._cov = tuple(
            _frozen(np.diag(np.square(v))) for v in (self._white[:3], self._white[3:], np.array(ORIENTATION_SIGMA_RAD))
        )
        self._tables: OrderedDict[int, _Table] = OrderedDict()
        self._current: _Table | None = None

    def render(self, seq: int, sensor_ns: int) -> dict[str, Any]:
        """The ImuSample payload of measurement ``seq`` taken at sensor time ``sensor_ns``."""
        t = float(self.clock.host_ns(sensor_ns))
        row = self._row(t)
        noise = self.rng.standard_normal(15)
        steps = 0 if self._last_seq is None else max(seq - self._last_seq, 1)
        self._last_seq = seq
        # The bias walks once per sample period elapsed (skipped seqs count).
        self._bias += self._walk * noise[6:12] * math.sqrt(steps)
        values = self._to_imu(row[:6]) + self._bias + self._white * noise[:6]
        payload: dict[str, Any] = {
            "angular_velocity": values[:3],
            "linear_acceleration": values[3:],
            "angular_velocity_covariance": self._cov[0],
            "linear_acceleration_covariance": self._cov[1],
        }
        if self.settings.with_orientation:
            sig = ORIENTATION_SIGMA_RAD
            q = quaternion_rpy(
                row[_ROLL] + sig[0] * noise[12], row[_PITCH] + sig[1] * noise[13], row[_YAW] + sig[2] * noise[14]
            )
            payload["orientation"] = quaternion_multiply(q, self._q_mount) if self._mounted else q
            payload["orientation_covariance"] = self._cov[2]
        return payload

    def true_signal(self, host_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Noise- and bias-free (gyro (N,3) rad/s, specific force (N,3) m/s^2) in the IMU frame."""
        t = np.maximum(np.atleast_1d(np.asarray(host_ns, dtype=np.float64)), 0.0)
        rows = np.empty((t.size, _COLUMNS))
        seg = self.world.segment_index_at(t.astype(np.int64))
        for k in np.unique(seg):
            sel = seg == k
            rows[sel] = self._table(int(k)).rows_at(t[sel])
        six = (
            rows[:, :6]
            if not self._mounted
            else np.concatenate([rows[:, _GYRO] @ self._r_mount, rows[:, _ACCEL] @ self._r_mount], axis=1)
        )
        return six[:, :3].copy(), six[:, 3:].copy()

    # --- internals --------------------------------------------------------------------------
    def _to_imu(self, six: np.ndarray) -> np.ndarray:
        """Body-frame (gyro, accel) to the IMU frame: v_imu = R^T v_body."""
        if not self._mounted:
            return six
        return np.concatenate([six[:3] @ self._r_mount, six[3:] @ self._r_mount])

    def _row(self, t: float) -> np.ndarray:
        # Host times before 0 precede the world; they read the world's first instant.
        t = max(t, 0.0)
        cur = self._current
        if cur is None or not cur.start_ns <= t < cur.end_ns:
            k = int(self.world.segment_index_at(np.array([int(t)]))[0])
            cur = self._current = self._table(k)
        return cur.row(t)

    def _table(self, k: int) -> _Table:
        table = self._tables.get(k)
        if table is None:
            table = self._tables[k] = self._build_table(k)
            while len(self._tables) > TABLE_CACHE:
                self._tables.popitem(last=False)
        else:
            self._tables.move_to_end(k)
        return table

    def _build_table(self, k: int) -> _Table:
        """Tabulate segment ``k``'s physical signal; a pure function of the world and ``k``."""
        seg = self.world.segment(k)
        first = max(0, seg.start_ns - LOOKBACK_NS)
        st = self.world.state(np.arange(first, seg.end_ns + 1, GRID_NS, dtype=np.int64))
        lo = (seg.start_ns - first) // GRID_NS
        grid = st.time_ns[lo:]
        rows = np.zeros((grid.size, _COLUMNS))
        speed, yaw_rate = st.body_speed[lo:], st.yaw_rate[lo:]
        rows[:, 2] = yaw_rate
        rows[:, 3] = np.clip(st.body_accel[lo:], -MAX_BODY_ACCEL_MPS2, MAX_BODY_ACCEL_MPS2)
        rows[:, 4] = speed * yaw_rate  # centripetal: to the left (+y) when turning left
        rows[:, _YAW] = st.yaw_rad[lo:]
        physics = PHYSICS[seg.terrain]
        envelope = physics.vib_gain * speed  # no motion, no vibration (slip included)
        rows += envelope[:, None] * self._vibration(k, grid.size, physics.vib_band_hz)
        self._add_jolts(rows, grid, first, seg.end_ns, st)
        roll, pitch = rows[:, _ROLL], rows[:, _PITCH]
        # An accelerometer measures specific force: gravity's reaction, seen in the tilted body.
        rows[:, 3] += -GRAVITY_MPS2 * np.sin(pitch)
        rows[:, 4] += GRAVITY_MPS2 * np.sin(roll) * np.cos(pitch)
        rows[:, 5] += GRAVITY_MPS2 * np.cos(roll) * np.cos(pitch)
        return _Table(seg.start_ns, seg.end_ns, rows)

    def _vibration(self, k: int, n: int, band_hz: tuple[float, float]) -> np.ndarray:
        """Unit-envelope vibration rows (n, _COLUMNS): band noise on z (RMS 1), x/y, roll/pitch."""
        n_fft = fast_len(n)
        rate_hz = 1e9 / GRID_NS
        lo, hi = band_hz
        spec = band_spectrum(
            self.world.rng(k, RNG_IMU_VIBRATION),
            5,
            n_fft,
            rate_hz,
            lambda f: ((f >= lo) & (f <= hi)).astype(np.float64),
        )
        freq = np.fft.rfftfreq(n_fft, 1.0 / rate_hz)
        # Roll and pitch angles are the integrals of their rates: divide by j*2*pi*f.
        angle_spec = spec[3:] / np.where(freq > 0, 2j * np.pi * freq, np.inf)
        signal = np.fft.irfft(np.concatenate([spec, angle_spec]), n_fft)[:, :n]
        scale = unit_rms(signal[:5])
        out = np.zeros((n, _COLUMNS))
        gains = (VIB_XY_RATIO, VIB_XY_RATIO, 1.0)
        for axis in range(3):
            out[:, 3 + axis] = gains[axis] * scale[axis] * signal[axis]
        for axis in range(2):
            g = VIB_RATE_PER_ACCEL * scale[3 + axis]
            out[:, axis] = g * signal[3 + axis]
            out[:, _ROLL + axis] = g * signal[5 + axis]
        return out

    def _add_jolts(self, rows: np.ndarray, grid: np.ndarray, first: int, end_ns: int, st: WorldState) -> None:
        """Impacts (bumps and collisions alike) and tile joints, as jolts of specific force."""
        events = [
            (im.time_ns, im.peak_mps2 * np.asarray(im.direction))
            for im in self.world.impacts_between(first, end_ns + 1)
        ]
        base, per_mps = JOINT_PEAK_MPS2
        events += [(t, (base + per_mps * v) * JOINT_DIRECTION) for t, v in joint_crossings(st)]
        t0 = int(grid[0])
        for time_ns, vector in events:
            i0 = max(0, -(-(time_ns - t0) // GRID_NS))
            i1 = min(grid.size, (time_ns + JOLT_SPAN_NS - t0) // GRID_NS + 1)
            if i1 <= i0:
                continue
            shape = jolt_shape((grid[i0:i1] - time_ns) / 1e9)
            rows[i0:i1, _ACCEL] += shape[:, None] * vector[None, :]


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False  # shared by every sample: nobody may write through it
    return a
