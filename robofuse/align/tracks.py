"""One track per stream: it keeps the stream's history in sensor time and builds that stream's
part of a window for a tick in host time, through the stream's ClockSync.

- IMU: rates and accelerations linearly, orientation by slerp, onto a uniform grid over
  ``[t - W, t]`` ending at ``t``.
- Audio: resampled by the estimated drift to exactly ``W * rate`` samples.
- Camera, LIDAR: the frame or scan (by its mid time) nearest ``t`` within a bound, referenced.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from robofuse.align.clock_sync import ClockJump, ClockSync
from robofuse.align.config import AlignmentConfig
from robofuse.align.counters import StreamCounters
from robofuse.align.history import History
from robofuse.align.range_image import range_image
from robofuse.align.resample import interp_index, interp_linear, slerp
from robofuse.config.rig import StreamConfig
from robofuse.messages import AudioChunk, CameraFrame, ImuSample, LaserScan, Modality, PointCloud, Sample, StreamQuality

GAP_PERIODS = 1.5  # a hole longer than this many nominal periods is a gap


class Track(abc.ABC):
    """History and window-building for one stream."""

    shape: tuple[int, ...]  # the array each window gets from this stream

    def __init__(self, stream: StreamConfig, sync: ClockSync, config: AlignmentConfig) -> None:
        self.stream = stream
        self.sync = sync
        self.config = config
        self.counters = StreamCounters()
        self.last_recv_ns: int | None = None
        self.last_seq: int | None = None
        self.period_ns = stream.period_ns
        self.history: History[Any] = History(max_items=int(config.buffer_s * stream.rate_hz * 2) + 16)

    def push(self, sample: Sample) -> ClockJump | None:
        """Take one sample (in arrival order); returns a clock jump if it revealed one."""
        self.counters.received += 1
        self.last_recv_ns = sample.recv_ns
        if self.last_seq is not None and sample.seq > self.last_seq + 1:
            self.counters.lost += sample.seq - self.last_seq - 1
        elif self.last_seq is not None and sample.seq < self.last_seq and self.counters.lost:
            self.counters.lost -= 1  # it was counted lost when a later one overtook it
        self.last_seq = sample.seq if self.last_seq is None else max(self.last_seq, sample.seq)
        jump = self.sync.observe(sample.stamp_ns, sample.recv_ns, self.span_ns(sample))
        if jump is not None:
            self.counters.resets += 1
            self.history.clear()  # old stamps are in the old time base
        status = self.history.insert(sample.stamp_ns, self.keep(sample))
        if status == "duplicate":
            self.counters.duplicates += 1
        elif status == "out_of_order":
            self.counters.out_of_order += 1
        return jump

    def span_ns(self, sample: Sample) -> int:
        """Sensor time from the stamp to when the message was complete."""
        return 0

    def keep(self, sample: Sample) -> Any:
        """What the history stores of a sample."""
        return sample

    def trim(self, before_host_ns: int) -> None:
        """Forget data measured before host time ``before_host_ns``."""
        if len(self.history):
            self.counters.trimmed += self.history.trim_before(int(self.sync.to_sensor(before_host_ns)))

    @abc.abstractmethod
    def newest_host_ns(self) -> int | None:
        """Host time up to which this stream has delivered data."""

    def passed(self, t_ns: int) -> bool:
        """Whether the data for tick ``t_ns`` is complete."""
        newest = self.newest_host_ns()
        return newest is not None and newest >= t_ns

    @abc.abstractmethod
    def build(self, t_ns: int) -> tuple[np.ndarray, StreamQuality]:
        """This stream's input for the window at ``t_ns`` and how good it is."""

    def quality(
        self,
        present: bool,
        age_ns: int = 0,
        spread_ns: int = 0,
        gaps: int = 0,
        interpolated: bool = False,
        used: int = 0,
    ) -> StreamQuality:
        """A StreamQuality for this stream."""
        return StreamQuality(
            stream=self.stream.name,
            modality=self.stream.modality,
            present=present,
            age_ns=age_ns,
            spread_ns=spread_ns,
            gaps=gaps,
            interpolated=interpolated,
            samples_used=used,
        )


class ImuTrack(Track):
    """IMU: (T, 10) float32 rows of gyro xyz, accel xyz, orientation xyzw on a uniform grid."""

    def __init__(self, stream: StreamConfig, sync: ClockSync, config: AlignmentConfig) -> None:
        super().__init__(stream, sync, config)
        self.rate_hz = config.imu_rate_hz or stream.rate_hz
        self.points = round(config.window_s * self.rate_hz)
        self.shape = (self.points, 10)

    def keep(self, sample: Sample) -> Any:
        assert isinstance(sample, ImuSample)
        q = sample.orientation if sample.orientation is not None else _IDENTITY
        return np.concatenate((sample.angular_velocity, sample.linear_acceleration, q))

    def newest_host_ns(self) -> int | None:
        last = self.history.last()
        return None if last is None else self.sync.to_host(last[0])

    def build(self, t_ns: int) -> tuple[np.ndarray, StreamQuality]:
        step = 1e9 / self.rate_hz
        grid_rel = -step * np.arange(self.points - 1, -1, -1, dtype=np.float64)  # ends at t
        margin = 2 * self.period_ns
        lo = int(self.sync.to_sensor(t_ns + grid_rel[0] - margin))
        hi = int(self.sync.to_sensor(t_ns + margin))
        stamps, rows = self.history.range(lo, hi)
        if len(stamps) < 2:
            return np.zeros(self.shape, np.float32), self.quality(False)
        host = self.sync.to_host_array(np.array(stamps), relative_to_ns=t_ns)
        values = np.array(rows)
        max_gap = GAP_PERIODS * self.period_ns
        lin, valid = interp_linear(host, values[:, :6], grid_rel, max_gap)
        rot, _ = slerp(host, values[:, 6:], grid_rel, max_gap)
        out = np.concatenate((lin, rot), axis=1).astype(np.float32)
        used = (host >= grid_rel[0] - self.period_ns) & (host <= 0)
        gaps = _invalid_runs(valid)
        present = bool(valid.mean() >= 0.5)
        newest = float(host[used].max()) if used.any() else float(host.max())
        return out, self.quality(
            present,
            age_ns=round(-newest),
            spread_ns=round(np.ptp(host[used])) if used.any() else 0,
            gaps=gaps,
            interpolated=True,
            used=int(used.sum()),
        )


_IDENTITY = np.array([0.0, 0.0, 0.0, 1.0])


class AudioTrack(Track):
    """Audio: exactly ``W * rate`` float32 samples over ``[t - W, t)``, resampled by the clock's drift.

    Sample ``n`` of the stream (counted from seq 0, ``chunk`` samples per message) was taken at
    sensor time ``origin + n * P`` with ``P`` the nominal sample period: the ADC's clock *is* the
    sensor clock. ``origin`` is averaged over chunk stamps, so per-chunk stamping jitter does not
    become audible jumps.
    """

    def __init__(self, stream: StreamConfig, sync: ClockSync, config: AlignmentConfig, sample_rate_hz: int) -> None:
        super().__init__(stream, sync, config)
        self.sample_rate_hz = sample_rate_hz
        self.points = round(config.window_s * sample_rate_hz)
        self.shape = (self.points,)
        self.sample_ns = 1e9 / sample_rate_hz
        self.chunk: int | None = None
        self._origin0: int | None = None  # stamp of the first chunk; the mean is kept relative to it
        self._origin_sum = 0.0
        self._origin_count = 0

    def span_ns(self, sample: Sample) -> int:
        assert isinstance(sample, AudioChunk)
        return sample.duration_ns

    def push(self, sample: Sample) -> ClockJump | None:
        assert isinstance(sample, AudioChunk)
        size = sample.samples.shape[0]
        if (self.chunk is not None and size != self.chunk) or abs(
            self._deviation(sample, size) - self._mean
        ) > 50 * self.sample_ns:
            # chunk size changed, or stamps and sample counts disagree (device restart): count afresh
            self.history.clear()
            self._reset_origin()
        self.chunk = size
        jump = super().push(sample)
        if jump is not None:
            self._reset_origin()  # the base class restarted the history already
        if self._origin0 is None:
            self._origin0 = sample.stamp_ns
        self._origin_sum += self._deviation(sample, size)
        self._origin_count += 1
        return jump

    def _deviation(self, sample: AudioChunk, size: int) -> float:
        """This chunk's time of sample 0, as an offset from the first chunk's stamp.

        Kept relative because epoch stamps (~1.8e18 ns) summed in float64 would lose milliseconds.
        """
        if self._origin0 is None:
            return self._mean
        return (sample.stamp_ns - self._origin0) - sample.seq * size * self.sample_ns

    def _reset_origin(self) -> None:
        self._origin0, self._origin_sum, self._origin_count = None, 0.0, 0

    @property
    def _mean(self) -> float:
        return self._origin_sum / self._origin_count if self._origin_count else 0.0

    @property
    def origin(self) -> float:
        """Sensor time of sample 0 (mean over chunks, so stamping jitter averages out)."""
        return (self._origin0 or 0) + self._mean

    def keep(self, sample: Sample) -> Any:
        assert isinstance(sample, AudioChunk)
        mono = sample.samples[:, 0]
        return (sample.seq, mono.astype(np.float32) / 32768.0 if mono.dtype == np.int16 else mono)

    def newest_host_ns(self) -> int | None:
        last = self.history.last()
        if last is None or self.chunk is None:
            return None
        seq = last[1][0]
        return self.sync.to_host(round(self.origin + (seq + 1) * self.chunk * self.sample_ns))

    def build(self, t_ns: int) -> tuple[np.ndarray, StreamQuality]:
        if self.chunk is None or not len(self.history):
            return np.zeros(self.shape, np.float32), self.quality(False)
        grid = t_ns - self.sample_ns * np.arange(self.points, 0, -1, dtype=np.float64)
        lo_s, hi_s = self.sync.to_sensor(round(grid[0])), self.sync.to_sensor(t_ns)
        margin = self.chunk * self.sample_ns
        _, chunks = self.history.range(int(lo_s - margin), int(hi_s + margin))
        if not chunks:
            return np.zeros(self.shape, np.float32), self.quality(False)
        first_seq = chunks[0][0]
        count = (chunks[-1][0] - first_seq + 1) * self.chunk
        values = np.zeros(count, np.float32)
        present = np.zeros(count, bool)
        for seq, mono in chunks:
            k = (seq - first_seq) * self.chunk
            values[k : k + self.chunk] = mono
            present[k : k + self.chunk] = True
        # host grid -> sensor time -> fractional sample index within `values`
        sensor = self.sync.to_sensor(t_ns) + (grid - t_ns) / self.sync.slope
        index = (sensor - self.origin) / self.sample_ns - first_seq * self.chunk
        out, valid = interp_index(values, present, index)
        gaps = _invalid_runs(valid)
        newest = self.newest_host_ns() or t_ns
        return out, self.quality(
            bool(valid.mean() >= 0.5),
            age_ns=t_ns - min(newest, t_ns),
            spread_ns=self.points * round(self.sample_ns),
            gaps=gaps,
            interpolated=True,
            used=int(valid.sum()),
        )


class FrameTrack(Track):
    """Camera or LIDAR: the frame or scan nearest the tick (a scan by its mid time) within a bound.

    Camera images are referenced, not copied. LIDAR scans become a range image, computed once
    per scan and shared by every window that uses it.
    """

    def __init__(self, stream: StreamConfig, sync: ClockSync, config: AlignmentConfig, shape: tuple[int, ...]) -> None:
        super().__init__(stream, sync, config)
        self.shape = shape
        self.bound_ns = round(config.match_bound_s * 1e9)
        self._zeros = np.zeros(shape, np.uint8 if stream.modality is Modality.CAMERA else np.float32)
        self._zeros.flags.writeable = False

    def span_ns(self, sample: Sample) -> int:
        return sample.duration_ns if isinstance(sample, (PointCloud, LaserScan)) else 0

    def keep(self, sample: Sample) -> Any:
        return [sample, None]  # the range image is filled in on first use

    def _mid_host(self, stamp: int, item: list[Any]) -> int:
        return self.sync.to_host(stamp + self.span_ns(item[0]) // 2)

    def newest_host_ns(self) -> int | None:
        last = self.history.last()
        return None if last is None else self._mid_host(*last)

    def passed(self, t_ns: int) -> bool:
        """Complete once a frame at or after ``t`` arrived, or the newest is so close that the next cannot be nearer."""
        newest = self.newest_host_ns()
        return newest is not None and (newest >= t_ns or 2 * (t_ns - newest) <= self.period_ns)

    def nearest(self, t_ns: int) -> tuple[int, list[Any]] | None:
        """The (stamp, item) nearest ``t_ns`` by host mid time, within the bound."""
        lo, hi = (
            int(self.sync.to_sensor(t_ns - self.bound_ns)) - self.period_ns,
            int(self.sync.to_sensor(t_ns + self.bound_ns)),
        )
        stamps, items = self.history.range(lo, hi)
        best: tuple[int, list[Any]] | None = None
        best_d = self.bound_ns + 1
        for stamp, item in zip(stamps, items, strict=True):
            d = abs(self._mid_host(stamp, item) - t_ns)
            if d < best_d:
                best, best_d = (stamp, item), d
        return best

    def build(self, t_ns: int) -> tuple[np.ndarray, StreamQuality]:
        found = self.nearest(t_ns)
        if found is None:
            return self._zeros, self.quality(False)
        stamp, item = found
        sample = item[0]
        if isinstance(sample, CameraFrame):
            array = sample.image if sample.image.shape == self.shape else self._zeros
        else:
            if item[1] is None:
                item[1] = _lidar_image(sample, self.shape)
            array = item[1]
        age = t_ns - self._mid_host(stamp, item)
        return array, self.quality(array is not self._zeros, age_ns=age, spread_ns=self.span_ns(sample), used=1)


def _invalid_runs(valid: np.ndarray) -> int:
    """How many separate stretches of invalid points a window has (its gaps)."""
    starts = np.count_nonzero(np.diff(valid.astype(np.int8)) == -1)
    return int(starts) + int(not valid[0])


def _lidar_image(sample: Sample, shape: tuple[int, ...]) -> np.ndarray:
    rows, cols = shape
    if isinstance(sample, PointCloud):
        return range_image(sample.points, sample.ring, rows, cols)
    assert isinstance(sample, LaserScan)
    ranges = np.where(np.isfinite(sample.ranges_m), sample.ranges_m, 0.0).astype(np.float32)
    image = np.zeros(shape, np.float32)
    idx = np.linspace(0, ranges.shape[0] - 1, cols).astype(np.intp)
    image[0] = ranges[idx]
    return image
