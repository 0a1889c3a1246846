"""Signal helpers shared by the simulated IMU and microphone: FFT sizes, shaped noise, tile joints."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from robofuse.labels import Terrain
from robofuse.sim.terrain import PHYSICS
from robofuse.sim.world import WorldState


def fast_len(n: int) -> int:
    """Smallest 5-smooth integer >= ``n``: FFT sizes that pocketfft transforms quickly."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def band_spectrum(
    rng: np.random.Generator, channels: int, n_fft: int, rate_hz: float, gain: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Random complex spectra (channels, n_fft//2+1) of Gaussian noise shaped by ``gain(freq_hz)``.

    Drawing the spectrum directly (rather than filtering white noise) needs one inverse FFT and
    random numbers only for the bins that carry energy.
    """
    freq = np.fft.rfftfreq(n_fft, 1.0 / rate_hz)
    shape = np.asarray(gain(freq), dtype=np.float64)
    live = np.flatnonzero(shape > 0)
    spec = np.zeros((channels, freq.size), dtype=np.complex128)
    draws = rng.standard_normal((channels, 2, live.size))
    spec[:, live] = (draws[:, 0] + 1j * draws[:, 1]) * shape[live]
    return spec


def unit_rms(signal: np.ndarray) -> np.ndarray:
    """Per-row factors that scale each row of ``signal`` to unit RMS (0 rows stay 0)."""
    rms = np.sqrt(np.mean(np.square(signal), axis=-1, keepdims=True))
    return np.where(rms > 0, 1.0 / np.where(rms > 0, rms, 1.0), 0.0)


def joint_crossings(st: WorldState) -> list[tuple[int, float]]:
    """(host ns, body speed) of each tile joint the body crosses within the sampled ``st``."""
    out: list[tuple[int, float]] = []
    t = st.time_ns.astype(np.float64)
    for terrain in np.unique(st.terrain):
        pitch = PHYSICS[Terrain(int(terrain))].joint_pitch_m
        if pitch <= 0:
            continue
        count = np.floor(st.odometer_m / pitch)
        steps = np.flatnonzero((np.diff(count) > 0) & (st.terrain[1:] == terrain))
        for i in steps:
            d0, d1 = st.odometer_m[i], st.odometer_m[i + 1]
            frac = (count[i + 1] * pitch - d0) / (d1 - d0)
            out.append((round(t[i] + frac * (t[i + 1] - t[i])), float(st.body_speed[i])))
    return out
