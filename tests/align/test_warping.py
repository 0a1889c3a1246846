"""Continuous warping: the buffer's IMU and audio windows against the simulator's noise-free truth.

The simulated sensors sample a deterministic physical signal at their own (offset, drifting,
jittered) clock instants. A window at tick ``t`` must hold that signal on a uniform host-time
grid ending at ``t``: IMU rows ``j`` at ``t - (T-1-j) / rate``, audio samples ``n`` at
``t - (N-n) / rate``. Comparing with the truth at those host times measures the whole chain:
clock map, resampling and windowing.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest
from simtools import ACCEPTANCE_CLOCKS, TRANSPORT_JITTER, small_rig

from robofuse.align.buffer import AlignmentBuffer
from robofuse.align.tracks import AudioTrack
from robofuse.config import RigConfig
from robofuse.messages import AudioChunk, CameraFrame, Modality, RejectedSample, SourceItem, Window
from robofuse.sim.clock import SensorClock
from robofuse.sim.faults import Fault
from robofuse.sim.imu import SimImu
from robofuse.sim.rig import Emission, SimRig
from robofuse.sim.world import World

S = 1_000_000_000
MS = 1_000_000
F64 = npt.NDArray[np.float64]

CONVERGED_S = 10.0  # windows before this are left out: the clock estimate is still settling


# --- helpers ----------------------------------------------------------------------------------
def with_settings(rig: RigConfig, name: str, clock: dict[str, float] | None = None, **settings: float) -> RigConfig:
    """``rig`` with stream ``name``'s sensor settings (and clock settings) overridden."""
    streams = []
    for s in rig.streams:
        if s.name == name:
            c = dataclasses.replace(s.settings.clock, **(clock or {}))
            s = dataclasses.replace(s, settings=dataclasses.replace(s.settings, clock=c, **settings))
        streams.append(s)
    return dataclasses.replace(rig, streams=tuple(streams))


def acceptance_rig(seed: int = 0) -> RigConfig:
    """The small rig on the acceptance clocks (calibrated minimum latencies unchanged, so still true)."""
    rig = small_rig(seed)
    for name, clock in ACCEPTANCE_CLOCKS.items():
        rig = with_settings(rig, name, {**clock, **TRANSPORT_JITTER})
    return rig


@dataclass
class Run:
    """Windows from a SimRig fed through an AlignmentBuffer, with the items and timing truth."""

    buf: AlignmentBuffer
    windows: list[Window]
    items: list[SourceItem]
    emissions: dict[tuple[str, int], Emission]
    # per window tick, per stream: the clock map's error there, to_sensor(tick) - true sensor time (ns)
    sensor_error: dict[int, dict[str, float]]


def run_rig(rig: RigConfig, seconds: float, faults: Sequence[Fault] = ()) -> Run:
    """Feed ``seconds`` of the simulated rig into an AlignmentBuffer, polling after each item."""
    buf = AlignmentBuffer(rig)
    windows: list[Window] = []
    items: list[SourceItem] = []
    sensor_error: dict[int, dict[str, float]] = {}
    with SimRig(rig, duration_s=seconds, faults=faults, record_truth=True) as sim:
        for item in sim:
            buf.push(item)
            items.append(item)
            for w in buf.poll(item.recv_ns):
                windows.append(w)
                sensor_error[w.tick_ns] = {
                    s.name: buf.sync(s.name).to_sensor(w.tick_ns) - float(sim.clocks[s.name].sensor_ns(w.tick_ns))
                    for s in rig.streams
                }
        emissions = dict(sim.emissions)
    return Run(buf, windows, items, emissions, sensor_error)


def grid_ns(tick_ns: int, points: int, rate_hz: float) -> F64:
    """Host times of a window's rows: uniform at ``rate_hz``, the last one at ``tick_ns`` (IMU)."""
    return tick_ns - (points - 1 - np.arange(points)) * (1e9 / rate_hz)


def rms(x: F64) -> F64:
    """Root mean square of each column."""
    out: F64 = np.sqrt(np.mean(np.square(x), axis=0))
    return out


F0 = 1000.0  # the audio test tone


def tone_phasors(t_s: F64, x: F64) -> tuple[F64, npt.NDArray[np.complex128]]:
    """``x`` demodulated by F0 at its times ``t_s``, averaged over blocks of 16 samples.

    At 16 kHz, 16 samples are one period of F0 (and two of 2*F0), so each block mean keeps the
    tone's slowly turning phasor and cancels its mirror image at -2*F0.
    """
    z = x * np.exp(-2j * np.pi * np.mod(F0 * t_s, 1.0))
    m = z.size // 16
    return t_s[: m * 16].reshape(m, 16).mean(axis=1), z[: m * 16].reshape(m, 16).mean(axis=1)


def tone_frequency(pieces: Sequence[tuple[F64, F64]]) -> float:
    """Frequency of the tone in ``(times_s, samples)`` pieces: F0 plus the slope of its phase (Hz)."""
    parts = [tone_phasors(t, x) for t, x in pieces]
    t = np.concatenate([p[0] for p in parts])
    phase = np.unwrap(np.angle(np.concatenate([p[1] for p in parts])))
    slope = np.polyfit(t - t.mean(), phase, 1)[0]
    return F0 + float(slope) / (2 * np.pi)


def zero_runs(bad: npt.NDArray[np.bool_]) -> int:
    """Number of maximal runs of True in ``bad``."""
    b = bad.astype(np.int8)
    return int(np.count_nonzero(np.diff(b) == 1) + b[0])


# --- IMU --------------------------------------------------------------------------------------
def test_imu_windows_match_the_true_signal_within_the_sensor_noise_on_the_host_grid() -> None:
    rig = acceptance_rig(0)
    run = run_rig(rig, 40.0)
    stream = rig.stream("imu")
    assert rig.calibration is not None
    truth = SimImu(stream, World(rig.world), SensorClock(stream.settings.clock), rig.calibration.of("imu"))
    rate = stream.rate_hz
    # white noise per sample (density * sqrt(rate)) of gyro xyz and accel xyz
    sigma = np.repeat([1.7e-4 * np.sqrt(rate), 2e-3 * np.sqrt(rate)], 3)
    # When each sample the IMU sent was really measured, and the noise-free signal there.
    t_samples = np.array(sorted(e.host_ns for (s, _), e in run.emissions.items() if s == "imu"), dtype=np.float64)
    at_samples = np.concatenate(truth.true_signal(t_samples), axis=1)

    windows = [w for w in run.windows if w.tick_ns > CONVERGED_S * S]
    assert len(windows) > 550
    calm = 0
    shifted_worst = 0.0
    for w in windows:
        x = w.inputs[Modality.IMU]
        assert x.shape == (200, 10)
        assert x.dtype == np.float32
        host = grid_ns(w.tick_ns, x.shape[0], rate)
        # The orientation is a unit quaternion on every row (identity where nothing was measured).
        assert np.abs(np.linalg.norm(x[:, 6:].astype(np.float64), axis=1) - 1).max() < 1e-5
        # A dropped sample (drop_prob 0.001: every fifth window or so) leaves a hole longer than
        # 1.5 periods: those rows are marked invalid and hold zeros, never made up. Compare the rest.
        hole = np.all(x[:, :6] == 0, axis=1)
        assert hole.any() == (w.quality["imu"].gaps > 0), w.tick_ns
        assert w.quality["imu"].present
        assert hole.mean() < 0.1
        ok = ~hole
        got = x[ok, :6].astype(np.float64)
        exact = np.concatenate(truth.true_signal(host[ok]), axis=1)
        # The best any linear warping could do: the exact signal at the true sample instants,
        # interpolated onto the grid. It differs from `exact` only where the signal changes fast.
        ideal = np.stack([np.interp(host[ok], t_samples, at_samples[:, c]) for c in range(6)], axis=1)

        # (1) Against the ideal warp, every window: what remains is the sensor's own noise,
        # interpolated (about 0.82 sigma for white noise at a random fraction), and a time error
        # would add signal slope * error. The accelerometer's bias random walk (3e-3 m/s^3/sqrt(Hz),
        # up to ~1.5 sigma after 40 s) is a constant per window that no warping creates or removes:
        # its columns are compared after removing the window's mean error. The gyro's walk is
        # negligible (under 0.05 sigma), so its columns are compared as they are.
        residual = got - ideal
        residual[:, 3:] -= residual[:, 3:].mean(axis=0)
        assert np.all(rms(residual) < 1.5 * sigma), (w.tick_ns, rms(residual) / sigma)

        # (2) Against the true signal itself, on windows where 400 Hz linear interpolation can
        # represent it: excluded are windows where even the ideal warp misses the truth by more
        # than 0.3 sigma in some column. Those are the impacts and tile-joint jolts (a 25 Hz ring
        # decaying in 10 ms, peaks of several m/s^2) and the strongest gravel vibration (up to
        # 50 Hz): there linear interpolation between exact samples is off by up to ~30 sigma,
        # which says nothing about the clock map or the warping.
        if np.all(rms(ideal - exact) < 0.3 * sigma):
            calm += 1
            error = got - exact
            error[:, 3:] -= error[:, 3:].mean(axis=0)
            assert np.all(rms(error) < 1.5 * sigma), (w.tick_ns, rms(error) / sigma)

        # The comparison has teeth: had the windows been 1 ms late, (1) would see it where the
        # signal moves (jolts, vibration).
        late = np.stack([np.interp(host[ok] - 1e6, t_samples, at_samples[:, c]) for c in range(6)], axis=1) - got
        late[:, 3:] -= late[:, 3:].mean(axis=0)
        shifted_worst = max(shifted_worst, float(np.max(rms(late) / sigma)))
    assert calm > 0.3 * len(windows)
    assert shifted_worst > 3.0


# --- audio ------------------------------------------------------------------------------------
def tone_rig(seed: int = 0) -> RigConfig:
    """The small rig whose microphone hears a 1 kHz tone on an ADC clock 100 ppm fast."""
    return with_settings(small_rig(seed), "audio", {"drift_ppm": 100.0}, test_tone_hz=F0)


def test_audio_windows_are_resampled_to_true_time_so_a_drifting_adc_plays_the_true_pitch() -> None:
    rig = tone_rig(0)
    run = run_rig(rig, 30.0)
    rate = 16000.0
    windows = [w for w in run.windows if w.tick_ns > CONVERGED_S * S]
    whole = [w for w in windows if w.quality["audio"].samples_used == 8000]
    assert len(whole) > 0.9 * len(windows)

    # Each window on its own, its samples taken to be exactly 1/16000 s apart (ending 1/16000 s
    # before the tick): the pitch is the true one. 100 ppm would shift it by 0.1 Hz.
    per_window = []
    pieces = []
    offsets_us = []
    map_us = []
    for w in whole:
        x = w.inputs[Modality.AUDIO].astype(np.float64)
        assert x.shape == (8000,)
        t_s = (w.tick_ns - (x.size - np.arange(x.size)) * (1e9 / rate)) / 1e9
        per_window.append(tone_frequency([(t_s, x)]) - F0)
        pieces.append((t_s[-800:], x[-800:]))  # the 50 ms since the previous tick: windows tile time
        # and the tone's phase at the grid times is the true phase (0.5 sin(2 pi F0 t_true))
        _, z = tone_phasors(t_s, x)
        offsets_us.append(float(np.angle(np.mean(z) * 2j)) / (2 * np.pi * F0) * 1e6)
        map_us.append(run.sensor_error[w.tick_ns]["audio"] / 1e3)
    per_window_err = np.abs(per_window)
    assert np.median(per_window_err) < 0.01
    assert per_window_err.max() < 0.03  # each window: the drift estimate of that moment, within 30 ppm
    # Stitched by tick time over 20 s: the long-run pitch, within 0.01 Hz (10 ppm of the 100 removed).
    assert tone_frequency(pieces) == pytest.approx(F0, abs=0.01)
    # In time, each window sits where the clock map puts it: its phase against the true tone is
    # the map's error at that tick (tens of us), to within a small fraction of one sample (62.5 us),
    # so the sample counting, origin and grid arithmetic add nothing of their own.
    offsets, map_error = np.array(offsets_us), np.array(map_us)
    assert np.abs(offsets - map_error).max() < 10
    assert np.abs(offsets).max() < 500

    # The raw chunks, concatenated at the nominal 16 kHz, carry the ADC's drift: F0 / (1 + 1e-4).
    chunks = [i for i in run.items if isinstance(i, AudioChunk) and i.recv_ns > CONVERGED_S * S]
    raw = [((i.seq * 320 + np.arange(320)) / rate, i.samples[:, 0].astype(np.float64)) for i in chunks]
    raw_f = tone_frequency(raw)
    assert raw_f == pytest.approx(F0 / (1 + 1e-4), abs=0.002)
    assert F0 - raw_f > 0.09  # so the warping really did something


def test_every_hole_in_an_audio_window_is_reported_as_one_gap() -> None:
    # The microphone drops out for 45 ms (two or three chunks) around the tick at 6.05 s: the
    # windows around it hold the hole at their end, in their middle, then at their start.
    rig = small_rig(0)
    run = run_rig(rig, 8.0, [Fault(stream="audio", kind="dead", start_s=6.02, end_s=6.065)])
    seen = []
    for w in run.windows:
        if w.tick_ns < 3 * S:
            continue
        x = w.inputs[Modality.AUDIO]
        holes = zero_runs(x == 0)
        q = w.quality["audio"]
        assert q.samples_used == x.size - int(np.count_nonzero(x == 0))
        if holes:
            seen.append(w.tick_ns)
        assert q.gaps == holes, f"tick {w.tick_ns / S:.2f} s: {holes} hole(s), gaps={q.gaps}"
    assert len(seen) >= 5


def test_audio_sample_times_stay_exact_with_epoch_scale_stamps() -> None:
    # ROS stamps are UNIX-epoch nanoseconds. 12 minutes of 20 ms chunks stamped exactly (no
    # jitter): the origin (sensor time of sample 0) must stay where the stamps put it.
    rig = small_rig(0)
    buf = AlignmentBuffer(rig)
    track = buf.tracks[Modality.AUDIO]
    assert isinstance(track, AudioTrack)
    epoch = 1_764_000_000_000_000_000
    samples = np.zeros((320, 1), np.float32)
    worst = 0.0
    for seq in range(36_000):
        stamp = epoch + seq * 20_000_000
        buf.push(
            AudioChunk(
                stream="audio", frame_id="mic_link", seq=seq, stamp_ns=stamp, recv_ns=stamp + 9 * MS, samples=samples
            )
        )
        if seq % 500 == 0:
            worst = max(worst, abs(track.origin - epoch))
    assert worst < 2_000, f"origin off by up to {worst / 1e6:.3f} ms"


# --- shapes -----------------------------------------------------------------------------------
def test_every_window_has_the_rig_fixed_shapes_with_frames_referenced_not_copied() -> None:
    rig = small_rig(0)
    run = run_rig(rig, 4.0)
    frames = {id(i.image): i.image for i in run.items if isinstance(i, CameraFrame)}
    assert len(run.windows) > 60
    lidar_arrays: list[np.ndarray] = []
    for w in run.windows:
        assert set(w.inputs) == set(Modality)
        assert w.mask.dtype == np.float32
        assert w.mask.shape == (4,)
        imu, audio = w.inputs[Modality.IMU], w.inputs[Modality.AUDIO]
        camera, lidar = w.inputs[Modality.CAMERA], w.inputs[Modality.LIDAR]
        assert imu.shape == (round(0.5 * 400), 10)
        assert imu.dtype == np.float32
        assert audio.shape == (round(0.5 * 16000),)
        assert audio.dtype == np.float32
        assert camera.shape == (48, 64, 3)
        assert camera.dtype == np.uint8
        assert lidar.shape == (16, 1800)
        assert lidar.dtype == np.float32
        if w.tick_ns < 1 * S:
            continue  # the first windows may still miss a stream (then zeros of the same shape)
        assert w.mask.all(), w.tick_ns
        # the camera frame is the received image itself
        assert id(camera) in frames
        assert camera is frames[id(camera)]
        assert np.shares_memory(camera, frames[id(camera)])
        # the range image: ranges in metres, the ground in view
        assert np.all(lidar >= 0)
        assert np.count_nonzero(lidar) > 500
        lidar_arrays.append(lidar)
    # ticks at 20 Hz, scans at 10 Hz: a scan's range image is computed once and shared
    shared = sum(a is b for a, b in itertools.pairwise(lidar_arrays))
    assert shared > 0.3 * len(lidar_arrays)
    assert not any(isinstance(i, RejectedSample) for i in run.items)
