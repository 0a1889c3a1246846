"""Simulated mono microphone: rolling noise, motor whine, wind and impact transients.

The sound field is a deterministic function of host (true) time. Its noisy parts are tabulated
once per world segment on a fixed 32 kHz host-time grid (drawn from
``world.rng(segment, RNG_AUDIO_FIELD)``, band-shaped in the frequency domain), and crossfaded
over 10 ms at segment boundaries with power-preserving weights so no click marks a boundary.
The motor whine is evaluated analytically, ``sin(2*pi*cycles(t))`` with ``cycles`` the exact
integral of its frequency, so its pitch is continuous. Each audio sample is taken at its own
sensor-clock instant ``sensor_ns + i / rate`` mapped to host time: a drifting ADC clock really
resamples the field, which is what alignment must undo. Only the microphone's self-noise comes
from the sensor's ``rng``.

Cues (docs/cue_table.md): rolling noise and whine scale with *wheel* speed, so slipping wheels
sound like driving; terrains sound alike in pairs (hiss: asphalt and sand, rustle: grass and
mud); wind masks the low band; bumps and collisions make the same transient.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from robofuse.config.calibration import StreamCalibration
from robofuse.config.rig import StreamConfig
from robofuse.messages import AudioChunk, Sample
from robofuse.sim.clock import SensorClock
from robofuse.sim.sensor import SimSensor
from robofuse.sim.settings import SimAudioSettings
from robofuse.sim.signals import band_spectrum, fast_len, joint_crossings, unit_rms
from robofuse.sim.terrain import PHYSICS
from robofuse.sim.world import GRID_NS as WORLD_GRID_NS
from robofuse.sim.world import RNG_AUDIO_FIELD, Segment, World

FIELD_GRID_NS = 31_250  # 32 kHz: twice the output rate, so linear interpolation keeps 6 kHz content
KIN_GRID_NS = 1_000_000  # kinematics for envelopes at 1 kHz (the world's own grid is 200 Hz)
BLEND_NS = 5_000_000  # half-width of the crossfade between two segments' tables
LOOKBACK_NS = 100_000_000  # transients that started this long before a table still ring into it
MAX_HZ = 7000.0  # nothing above this, so sampling at 16 kHz does not alias
ROLL_RMS_PER_MPS = 0.07  # rolling-noise RMS per m/s of wheel speed
TILE_FLOOR = 0.3  # tiles: a quiet continuous roll under the joint clicks
CLICK_PEAK = (0.12, 0.08)  # joint click: base + per m/s of body speed
CLICK_TAU_S = 0.0025
CRUNCH_GRAINS_HZ = 120.0  # gravel: impulsive grains, each a fast-decaying burst
CRUNCH_TAU_S = 0.003
WHINE_HZ_PER_MPS = 150.0  # motor whine fundamental per m/s of wheel speed
WHINE_PEAK_PER_MPS = 0.03
WHINE_HARMONICS = ((1, 1.0, 0.0), (2, 0.5, 0.7), (3, 0.3, 1.9), (4, 0.2, 2.8))  # (n, amplitude, phase)
WIND_RMS = 0.28  # rumble strong enough to bury the rustle band (0.2-0.9 kHz) even at top speed
GUST_KNOT_S = 0.25  # gusts change over a few tenths of a second
IMPACT_PER_MPS2 = 0.05  # transient peak per m/s^2 of the jolt's peak (same for bumps and collisions)
IMPACT_TAU_S = 0.012
SELF_NOISE = 1e-3  # microphone and ADC noise floor (about -60 dBFS)
TEST_TONE_AMPLITUDE = 0.5
TABLE_CACHE = 4


def _band_gain(lo: float, hi: float) -> Callable[[np.ndarray], np.ndarray]:
    """Spectral gain: 1 within [lo, hi] with 10 % raised-cosine skirts, 0 elsewhere."""

    def gain(f: np.ndarray) -> np.ndarray:
        """Gain at frequencies ``f`` (Hz)."""
        edge_lo, edge_hi = 0.1 * lo, 0.1 * hi
        rise = np.clip((f - (lo - edge_lo)) / edge_lo, 0.0, 1.0)
        fall = np.clip(((hi + edge_hi) - f) / edge_hi, 0.0, 1.0)
        return np.sin(0.5 * np.pi * np.minimum(rise, fall)) ** 2 * (f <= MAX_HZ)

    return gain


def _wind_gain(f: np.ndarray) -> np.ndarray:
    """Wind: flat rumble 20-450 Hz, rolling off by 700 Hz to a broadband floor up to MAX_HZ."""
    rumble = np.clip((700.0 - f) / 250.0, 0.0, 1.0) * (f >= 20.0)
    gain: np.ndarray = np.maximum(rumble, 0.12 * ((f >= 20.0) & (f <= MAX_HZ)))
    return gain


def _decays(grid: np.ndarray, events: list[tuple[int, float]], tau_s: float) -> np.ndarray:
    """Sum of ``peak * exp(-(t - t0) / tau)`` for t >= t0 over ``events`` (t0 ns, peak), on ``grid``."""
    out = np.zeros(grid.size)
    t_first = int(grid[0])
    span = int(8 * tau_s * 1e9)
    for t0, peak in events:
        i0 = max(0, -(-(t0 - t_first) // FIELD_GRID_NS))
        i1 = min(grid.size, (t0 + span - t_first) // FIELD_GRID_NS + 1)
        if i1 > i0:
            out[i0:i1] += peak * np.exp(-(grid[i0:i1] - t0) / (tau_s * 1e9))
    return out


@dataclass(frozen=True)
class _Table:
    """One segment's noisy sound field on the 32 kHz grid from ``first_ns`` (start - BLEND_NS)."""

    first_ns: int
    values: np.ndarray  # float32

    def at(self, t: np.ndarray) -> np.ndarray:
        """Linear interpolation at host times ``t``."""
        x = (t - self.first_ns) / FIELD_GRID_NS
        i = np.minimum(np.maximum(x.astype(np.int64), 0), self.values.size - 2)
        f = x - i
        v = self.values
        value: np.ndarray = v[i] + f * (v[i + 1] - v[i])
        return value


@dataclass(frozen=True)
class _Whine:
    """A segment's wheel speed on the world grid (plus its end) and the whine's cycle count there."""

    start_ns: int
    wheel: np.ndarray
    cycles: np.ndarray


class SimAudio(SimSensor):
    """A simulated microphone: ``render`` gives AudioChunk payloads, ``true_signal`` the field."""

    sample_cls: ClassVar[type[Sample]] = AudioChunk
    value_fields: ClassVar[tuple[str, ...]] = ("samples",)

    def __init__(self, stream: StreamConfig, world: World, clock: SensorClock, calibration: StreamCalibration) -> None:
        super().__init__(stream, world, clock, calibration)
        s: SimAudioSettings = self.settings
        self._offsets = np.arange(s.chunk_samples) * (1e9 / s.sample_rate_hz)
        self._tables: OrderedDict[int, _Table] = OrderedDict()
        self._whines: OrderedDict[int, _Whine] = OrderedDict()
        self._start_cycles: list[float] = [0.0]  # whine phase (cycles mod 1) at each segment start
        self._segment: Segment | None = None  # the segment of the last chunk (fast path)

    def span_ns(self) -> int:
        """Sensor-clock time one chunk covers."""
        s: SimAudioSettings = self.settings
        return round(s.chunk_samples * 1e9 / s.sample_rate_hz)

    def render(self, seq: int, sensor_ns: int) -> dict[str, Any]:
        """The AudioChunk payload of chunk ``seq``, whose first sample is at sensor time ``sensor_ns``."""
        host = self.clock.host_ns(sensor_ns + self._offsets)
        x = self.true_signal(host) + SELF_NOISE * self.rng.standard_normal(host.size)
        samples = np.minimum(np.maximum(x, -1.0), 1.0).astype(np.float32).reshape(-1, 1)
        return {"samples": samples, "rate_hz": int(self.settings.sample_rate_hz)}

    def true_signal(self, host_ns: np.ndarray) -> np.ndarray:
        """The microphone's output at ``host_ns`` without self-noise or clipping (gain applied)."""
        s: SimAudioSettings = self.settings
        # Host times before 0 precede the world; they hear its first instant.
        t = np.maximum(np.atleast_1d(np.asarray(host_ns, dtype=np.float64)), 0.0)
        out = np.empty(t.size)
        if s.test_tone_hz > 0:
            np.sin(2 * np.pi * np.mod(t * (s.test_tone_hz / 1e9), 1.0), out=out)
            out *= s.gain * TEST_TONE_AMPLITUDE
            return out
        for seg, sel in self._by_segment(t):
            ts = t[sel]
            out[sel] = self._noise_field(ts, seg) + self._whine_at(ts, seg.index)
        out *= s.gain
        return out

    def _by_segment(self, t: np.ndarray) -> list[tuple[Segment, slice | np.ndarray]]:
        """The segments holding times ``t``, each with the selection of ``t`` that falls in it."""
        cur = self._segment
        if cur is not None and t.size and cur.start_ns <= t.min() and t.max() < cur.end_ns:
            return [(cur, slice(None))]  # the common case: a chunk inside the current segment
        k = self.world.segment_index_at(t.astype(np.int64))
        groups: list[tuple[Segment, slice | np.ndarray]] = [
            (self.world.segment(int(i)), np.flatnonzero(k == i)) for i in np.unique(k)
        ]
        self._segment = groups[-1][0] if groups else cur
        return groups

    # --- the tabulated (noisy) part ---------------------------------------------------------
    def _noise_field(self, t: np.ndarray, seg: Segment) -> np.ndarray:
        """``seg``'s own table, crossfaded with a neighbour's within BLEND_NS of a boundary."""
        out = self._table(seg.index).at(t)
        if t.min() - seg.start_ns >= BLEND_NS and seg.end_ns - t.max() > BLEND_NS:
            return out
        # Across boundary b the weights are cos/sin of u = (t - b + BLEND) / (2 BLEND): their
        # squares sum to 1, which keeps the power of two independent noises constant.
        for side, near, other in (
            (-1, (t - seg.start_ns < BLEND_NS) & (seg.index > 0), seg.index - 1),
            (1, seg.end_ns - t <= BLEND_NS, seg.index + 1),
        ):
            if not near.any():
                continue
            b = seg.start_ns if side < 0 else seg.end_ns
            u = (t[near] - b + BLEND_NS) / (2 * BLEND_NS) * (np.pi / 2)
            w_own, w_other = (np.sin(u), np.cos(u)) if side < 0 else (np.cos(u), np.sin(u))
            out[near] = w_own * out[near] + w_other * self._table(other).at(t[near])
        return out

    def _table(self, k: int) -> _Table:
        table = self._tables.get(k)
        if table is None:
            table = self._tables[k] = self._build_table(self.world.segment(k))
            while len(self._tables) > TABLE_CACHE:
                self._tables.popitem(last=False)
        else:
            self._tables.move_to_end(k)
        return table

    def _build_table(self, seg: Segment) -> _Table:
        """Rolling noise, wind and impact transients of one segment over its span +- BLEND_NS."""
        first = seg.start_ns - BLEND_NS
        grid = np.arange(first, seg.end_ns + BLEND_NS + 1, FIELD_GRID_NS, dtype=np.int64)
        rng = self.world.rng(seg.index, RNG_AUDIO_FIELD)
        # Independent sub-streams, so a part that is absent (no wind) does not shift the others.
        sub = [np.random.default_rng(int(v)) for v in rng.integers(0, 2**63 - 1, size=4)]
        kin_t = np.arange(max(0, first - LOOKBACK_NS), seg.end_ns + BLEND_NS + KIN_GRID_NS, KIN_GRID_NS, dtype=np.int64)
        st = self.world.state(kin_t)
        wheel = np.interp(grid, kin_t, st.wheel_speed)
        field = self._rolling(seg, grid, wheel, joint_crossings(st), sub[0])
        if seg.wind:
            field += self._wind(grid, sub[1])
        impacts = [
            (im.time_ns, IMPACT_PER_MPS2 * im.peak_mps2)
            for im in self.world.impacts_between(first - LOOKBACK_NS, int(grid[-1]) + 1)
        ]
        if impacts:
            field += _decays(grid, impacts, IMPACT_TAU_S) * sub[2].standard_normal(grid.size)
        return _Table(first, field.astype(np.float32))

    def _rolling(
        self,
        seg: Segment,
        grid: np.ndarray,
        wheel: np.ndarray,
        joints: list[tuple[int, float]],
        rng: np.random.Generator,
    ) -> np.ndarray:
        """The terrain's rolling noise: band noise scaled by wheel speed, shaped by its kind."""
        physics = PHYSICS[seg.terrain]
        band = self._noise(grid.size, rng, _band_gain(*physics.sound_band_hz))
        level: np.ndarray = ROLL_RMS_PER_MPS * wheel
        if physics.sound == "crunch":
            level = level * self._grains(grid, rng)
        elif physics.sound == "clicks":
            base, per_mps = CLICK_PEAK
            clicks = _decays(grid, [(t, base + per_mps * v) for t, v in joints], CLICK_TAU_S)
            level = TILE_FLOOR * level + clicks
        rolling: np.ndarray = level * band  # hiss and rustle differ only in their band
        return rolling

    def _wind(self, grid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Rumble with a broadband floor, swelling and fading with the gusts."""
        knots = np.arange(int(grid[0]), int(grid[-1]) + int(2 * GUST_KNOT_S * 1e9), int(GUST_KNOT_S * 1e9))
        gust = np.interp(grid, knots, rng.random(knots.size) ** 2)
        wind: np.ndarray = WIND_RMS * (0.5 + gust) * self._noise(grid.size, rng, _wind_gain)
        return wind

    def _grains(self, grid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Unit mean-square envelope of random impulsive grains (the crunch of gravel)."""
        count = rng.poisson(CRUNCH_GRAINS_HZ * grid.size * FIELD_GRID_NS / 1e9)
        idx = rng.integers(0, grid.size, size=count)
        impulses = np.zeros(grid.size)
        np.add.at(impulses, idx, rng.exponential(1.0, size=count))
        kernel = np.exp(-np.arange(int(6 * CRUNCH_TAU_S * 1e9 / FIELD_GRID_NS)) * FIELD_GRID_NS / (CRUNCH_TAU_S * 1e9))
        n_fft = fast_len(grid.size + kernel.size)
        env = np.fft.irfft(np.fft.rfft(impulses, n_fft) * np.fft.rfft(kernel, n_fft), n_fft)[: grid.size]
        value: np.ndarray = env * unit_rms(env)
        return value

    @staticmethod
    def _noise(n: int, rng: np.random.Generator, gain: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Gaussian noise of unit RMS with the spectral shape ``gain(freq_hz)`` on the 32 kHz grid."""
        n_fft = fast_len(n)
        spec = band_spectrum(rng, 1, n_fft, 1e9 / FIELD_GRID_NS, gain).astype(np.complex64)
        signal = np.fft.irfft(spec[0], n_fft)[:n]
        value: np.ndarray = signal * unit_rms(signal)
        return value

    # --- the motor whine (analytic) ---------------------------------------------------------
    def _whine_at(self, t: np.ndarray, k: int) -> np.ndarray:
        """Motor whine in segment ``k``: harmonics of a fundamental proportional to wheel speed."""
        dt_s = WORLD_GRID_NS / 1e9
        wh = self._whine(k)
        tau = (t - wh.start_ns) / 1e9
        i = np.minimum(np.maximum((tau / dt_s).astype(np.int64), 0), wh.wheel.size - 2)
        tau -= i * dt_s
        w0 = wh.wheel[i]
        dw = (wh.wheel[i + 1] - w0) / dt_s
        # Wheel speed is linear within a grid step, so the cycle count is quadratic in tau.
        cycles = wh.cycles[i] + WHINE_HZ_PER_MPS * (w0 * tau + 0.5 * dw * tau * tau)
        # Harmonics by powers of e^(i*theta): one complex exponential instead of a sine each.
        z = np.exp(2j * np.pi * cycles)
        zn = z
        acc = np.zeros(t.size, dtype=np.complex128)
        for n, amplitude, phase in WHINE_HARMONICS:
            if n > 1:
                zn = zn * z
            acc += (amplitude * np.exp(1j * phase)) * zn
        value: np.ndarray = WHINE_PEAK_PER_MPS * (w0 + dw * tau) * acc.imag
        return value

    def _whine(self, k: int) -> _Whine:
        wh = self._whines.get(k)
        if wh is not None:
            self._whines.move_to_end(k)
            return wh
        # The phase at a segment's start is where the previous segment's phase ended.
        while len(self._start_cycles) <= k:
            prev = self._whine_table(len(self._start_cycles) - 1)
            self._start_cycles.append(float(prev.cycles[-1] % 1.0))
        wh = self._whines[k] = self._whine_table(k)
        while len(self._whines) > TABLE_CACHE:
            self._whines.popitem(last=False)
        return wh

    def _whine_table(self, k: int) -> _Whine:
        seg = self.world.segment(k)
        # world.state holds the last grid value until the segment ends: append it at end_ns.
        wheel = np.append(seg.wheel_speed, seg.wheel_speed[-1])
        steps = np.diff(np.append(seg.grid_ns, seg.end_ns)) / 1e9
        increments = WHINE_HZ_PER_MPS * 0.5 * (wheel[:-1] + wheel[1:]) * steps
        cycles = self._start_cycles[k] + np.concatenate(([0.0], np.cumsum(increments)))
        return _Whine(seg.start_ns, wheel, cycles)
