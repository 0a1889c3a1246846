"""Tests of the simulated microphone (robofuse.sim.audio): spectra, cues, drift and determinism."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from simtools import make_sensor, segment_windows

import robofuse
from robofuse.config import load_rig
from robofuse.labels import Terrain
from robofuse.messages import AudioChunk
from robofuse.sim.audio import (
    ROLL_RMS_PER_MPS,
    SELF_NOISE,
    TILE_FLOOR,
    WHINE_HARMONICS,
    WHINE_HZ_PER_MPS,
    SimAudio,
)
from robofuse.sim.world import World, WorldState

RIG = load_rig(robofuse.default_rig_path())
STREAM = RIG.stream("audio")
assert RIG.calibration is not None
CALIBRATION = RIG.calibration.of("audio")
SETTINGS = STREAM.settings
RATE = SETTINGS.sample_rate_hz


def make_audio(
    seed: int = 0, world: dict[str, Any] | None = None, clock: dict[str, Any] | None = None, **settings: Any
) -> SimAudio:
    return make_sensor(SimAudio, "audio", seed=seed, settings=settings, clock=clock, world=world)


def record(mic: SimAudio, host_start_ns: float, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """(host times, samples) of consecutive chunks from ``host_start_ns``, as the rig renders them."""
    s0 = int(mic.clock.sensor_ns(host_start_ns))
    chunks = round(seconds * STREAM.rate_hz)
    samples = [mic.render(seq, s0 + seq * mic.period_ns)["samples"][:, 0] for seq in range(chunks)]
    sensor = s0 + np.arange(chunks * SETTINGS.chunk_samples) * (1e9 / RATE)
    return mic.clock.host_ns(sensor), np.concatenate(samples).astype(np.float64)


def band_fraction(x: np.ndarray, lo: float, hi: float) -> float:
    """Share of the signal's energy between ``lo`` and ``hi`` Hz (sample units)."""
    power = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    freq = np.fft.rfftfreq(x.size, 1.0 / RATE)
    return float(power[(freq >= lo) & (freq < hi)].sum() / power.sum())


def band_power(x: np.ndarray, lo: float, hi: float) -> float:
    """Mean power of the signal between ``lo`` and ``hi`` Hz."""
    spec = np.fft.rfft(x)
    freq = np.fft.rfftfreq(x.size, 1.0 / RATE)
    spec[(freq < lo) | (freq >= hi)] = 0
    return float(np.mean(np.fft.irfft(spec, x.size) ** 2))


def calm_cruise(world: World, st: WorldState) -> bool:
    return bool(not st.wind.any() and st.wheel_speed.min() > 0.6 and np.ptp(st.wheel_speed) < 0.05)


def test_payload_builds_a_valid_audio_chunk() -> None:
    mic = make_audio()
    payload = mic.render(0, int(mic.clock.sensor_ns(5e9)))
    chunk = AudioChunk(stream="audio", frame_id="mic_link", seq=0, stamp_ns=1, recv_ns=2, **payload)
    assert chunk.samples.shape == (SETTINGS.chunk_samples, 1)
    assert chunk.samples.dtype == np.float32
    assert chunk.rate_hz == RATE
    assert np.abs(chunk.samples).max() <= 1.0
    assert mic.span_ns() == 20_000_000 == mic.period_ns  # 320 samples at 16 kHz: chunks tile time
    assert SimAudio.value_fields == ("samples",)


def test_same_seed_same_sound_other_seed_other_sound() -> None:
    a, b, c = (record(make_audio(seed), 9e9, 0.2)[1] for seed in (0, 0, 1))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c, atol=10 * SELF_NOISE)


@pytest.mark.parametrize(
    ("terrains", "lo", "hi"),
    [
        ((Terrain.ASPHALT, Terrain.SAND), 2000.0, 6000.0),  # hiss
        ((Terrain.GRASS, Terrain.MUD), 200.0, 900.0),  # rustle
        ((Terrain.GRAVEL,), 800.0, 5000.0),  # crunch
    ],
)
def test_rolling_noise_sits_in_the_terrains_band(terrains: tuple[Terrain, ...], lo: float, hi: float) -> None:
    found = dict.fromkeys(terrains, 0)
    for seed, start, terrain in segment_windows(range(10), 1.0, calm_cruise, quiet=True):
        if terrain in found and found[terrain] < 2:
            _, x = record(make_audio(seed), start, 1.0)
            assert band_fraction(x, lo, hi) > 0.6, (seed, start, terrain)
            found[terrain] += 1
    assert all(found.values()), found


def test_no_rolling_sound_when_the_wheels_stop() -> None:
    def calm_stop(world: World, st: WorldState) -> bool:
        return bool(not st.wind.any() and st.wheel_speed.max() == 0)

    seed, start, _ = next(segment_windows(range(5), 1.0, calm_stop, quiet=True))
    _, x = record(make_audio(seed), start, 1.0)
    assert x.std() == pytest.approx(SELF_NOISE, rel=0.1)  # only the microphone's own noise


def test_wind_raises_the_energy_below_500_hz_and_masks_the_rustle() -> None:
    # The wind flag is one draw per segment whatever the probabilities: same drive, with and without wind.
    always, never = {"wind_prob": 1.0, "wind_keep_prob": 1.0}, {"wind_prob": 0.0, "wind_keep_prob": 0.0}
    checked, rustle = 0, 0
    for seed, start, terrain in segment_windows(range(6), 0.5, calm_cruise, world=never, quiet=True):
        is_rustle = terrain in (Terrain.GRASS, Terrain.MUD)
        if checked >= 4 and (rustle >= 2 or not is_rustle):
            continue
        _, calm = record(make_audio(seed, world=never), start, 0.5)
        _, windy = record(make_audio(seed, world=always), start, 0.5)
        assert band_power(windy, 0, 500) > 3 * band_power(calm, 0, 500)
        if is_rustle:  # masked: the wind outweighs the rustle itself
            assert band_power(windy, 200, 900) > 2 * band_power(calm, 200, 900)
        checked, rustle = checked + 1, rustle + is_rustle
        if checked >= 4 and rustle >= 2:
            break
    assert checked >= 4
    assert rustle >= 2


def test_slipping_wheels_whine_at_the_wheel_speed_pitch_and_roll() -> None:
    def slipping(world: World, st: WorldState) -> bool:
        return bool(st.slip.all() and st.wheel_speed.min() > 0.5 and np.ptp(st.wheel_speed) < 0.01)

    checked = 0
    for seed, start, terrain in segment_windows(range(10), 1.0, slipping, quiet=True):
        mic = make_audio(seed)
        _, x = record(mic, start, 1.0)
        wheel = float(mic.world.state(np.array([start + 500_000_000])).wheel_speed[0])
        f0 = WHINE_HZ_PER_MPS * wheel
        power = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
        freq = np.fft.rfftfreq(x.size, 1.0 / RATE)
        near = (freq > f0 - 40) & (freq < f0 + 40)
        peak = freq[near][np.argmax(power[near])]
        assert abs(peak - f0) <= 2.0
        assert power[near].max() > 50 * np.median(power[near])  # a line, not broadband noise
        # Without the whine's lines what is left is rolling noise at the *wheel* speed.
        lines = np.zeros(freq.size, dtype=bool)
        for n, _, _ in WHINE_HARMONICS:
            lines |= np.abs(freq - n * f0) < 5
        rolling = x.std() * np.sqrt(power[~lines].sum() / power.sum())
        expected = ROLL_RMS_PER_MPS * wheel * (TILE_FLOOR if terrain is Terrain.TILES else 1.0)
        assert 0.6 * expected < rolling < 1.4 * expected
        checked += 1
        if checked == 3:
            break
    assert checked, "no slip window found"


def tone_frequency(x: np.ndarray, nominal_hz: float) -> float:
    """The tone's frequency in sample units, by regression of its phase against the nominal tone."""
    n = np.arange(x.size)
    z = x * np.exp(-2j * np.pi * nominal_hz * n / RATE)
    block = 160  # 10 ms: a whole number of cycles of the 2 kHz image, which averages it out
    zb = z[: x.size // block * block].reshape(-1, block).mean(axis=1)
    phase = np.unwrap(np.angle(zb))
    slope = np.polyfit(np.arange(zb.size) * block / RATE, phase, 1)[0]
    return nominal_hz + float(slope) / (2 * np.pi)


@pytest.mark.parametrize("drift_ppm", [0.0, 100.0, -85.0])
def test_a_test_tone_is_resampled_by_the_clock_drift(drift_ppm: float) -> None:
    mic = make_audio(clock={"drift_ppm": drift_ppm}, test_tone_hz=1000.0)
    _, x = record(mic, 3e9, 4.0)
    assert np.abs(x).max() == pytest.approx(0.5, abs=0.01)
    # A clock that runs fast takes its samples closer together in true time: the tone, read
    # at the nominal 16 kHz, comes out lower by the drift, f / (1 + drift).
    expected = 1000.0 / (1 + drift_ppm * 1e-6)
    assert tone_frequency(x, 1000.0) == pytest.approx(expected, abs=2e-4)


def test_true_signal_is_render_minus_self_noise() -> None:
    seed, start, _ = next(segment_windows(range(5), 1.0, calm_cruise, quiet=True))
    mic = make_audio(seed)
    host, x = record(mic, start, 1.0)
    truth = mic.true_signal(host)
    assert np.abs(truth).max() < 0.99
    assert truth.std() > 20 * SELF_NOISE
    residual = x - truth
    assert residual.std() == pytest.approx(SELF_NOISE, rel=0.1)
    assert np.abs(residual).max() < 6 * SELF_NOISE


@pytest.mark.parametrize("kind", ["bump", "collision"])
def test_an_impact_makes_a_transient(kind: str) -> None:
    best = None
    for seed in range(6):
        world = World(dataclasses.replace(RIG.world, seed=seed))
        for im in world.impacts_between(1_000_000_000, 300_000_000_000):
            st = world.state(np.array([im.time_ns - 50_000_000]))
            score = im.peak_mps2 / (1 + st.wheel_speed[0])  # loud against the rolling noise
            if im.kind == kind and not st.wind[0] and (best is None or score > best[0]):
                best = (score, seed, im)
    assert best is not None
    _, seed, im = best
    host, x = record(make_audio(seed), im.time_ns - 0.2e9, 0.3)
    before = x[(host > im.time_ns - 150e6) & (host < im.time_ns - 10e6)]
    after = x[(host >= im.time_ns) & (host < im.time_ns + 20e6)]
    assert after.std() > 2 * before.std()


def test_tiles_click_at_each_joint() -> None:
    def calm_tiles(world: World, st: WorldState) -> bool:
        return calm_cruise(world, st) and bool((st.terrain == Terrain.TILES).all())

    seed, start, _ = next(segment_windows(range(10), 1.0, calm_tiles, quiet=True))
    mic = make_audio(seed)
    host, x = record(mic, start, 1.0)
    high = np.fft.rfft(x)
    high[np.fft.rfftfreq(x.size, 1.0 / RATE) < 1500] = 0  # above the whine's harmonics
    y = np.fft.irfft(high, x.size) ** 2
    st = mic.world.state(np.arange(start, start + 1_000_000_000, 100_000))
    joints = st.time_ns[1:][np.diff(np.floor(st.odometer_m / 0.3)) > 0]
    assert joints.size >= 2
    at_joint = np.zeros(x.size, dtype=bool)
    for t in joints:
        at_joint |= (host >= t) & (host < t + 5e6)
    assert y[at_joint].mean() > 10 * y[~at_joint].mean()
