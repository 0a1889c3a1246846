"""Sample types: one frozen dataclass per kind of measurement.

Conventions (DESIGN.md, "Time"): REP-103 frames, SI units, quaternions ``(x, y, z, w)``,
integer nanoseconds. ``stamp_ns`` is when the sensor says it measured, in the sensor's
clock domain; ``recv_ns`` is the host's monotonic clock at arrival. A scan's stamp is its
first point, an audio chunk's its first sample, a camera frame's its exposure.

Arrays are stored as read-only views of what the caller passed: nothing is copied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Union

import numpy as np

from robofuse.errors import SampleError
from robofuse.messages._validate import check_int, check_text, frozen_array


class Modality(str, Enum):
    """The four kinds of sensor robofuse fuses. Their order is the order of every mask."""

    CAMERA = "camera"
    LIDAR = "lidar"
    IMU = "imu"
    AUDIO = "audio"


MODALITIES: tuple[Modality, ...] = tuple(Modality)

# Image encodings (ROS sensor_msgs/Image names) and the layout each implies.
IMAGE_ENCODINGS: dict[str, tuple[type[np.generic], int]] = {
    "rgb8": (np.uint8, 3),
    "bgr8": (np.uint8, 3),
    "rgba8": (np.uint8, 4),
    "bgra8": (np.uint8, 4),
    "mono8": (np.uint8, 1),
    "mono16": (np.uint16, 1),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleHeader:
    """What every sample carries: which stream, which frame, which message, and when."""

    stream: str
    frame_id: str
    seq: int
    stamp_ns: int
    recv_ns: int

    def _check_header(self) -> None:
        if not isinstance(self.stream, str) or not self.stream:
            raise SampleError("?", "stream", f"must be a non-empty str, got {self.stream!r}")
        check_text(self.stream, "frame_id", self.frame_id)
        check_int(self.stream, "seq", self.seq, minimum=0)
        check_int(self.stream, "stamp_ns", self.stamp_ns)
        check_int(self.stream, "recv_ns", self.recv_ns)

    @property
    def modality(self) -> Modality:
        """The kind of sensor this sample comes from."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraFrame(SampleHeader):
    """One image. ``image`` is (H, W) for mono encodings, (H, W, C) otherwise."""

    image: np.ndarray
    encoding: str

    def __post_init__(self) -> None:
        self._check_header()
        if self.encoding not in IMAGE_ENCODINGS:
            raise SampleError(
                self.stream,
                "encoding",
                f"unknown encoding {self.encoding!r}; use one of {sorted(IMAGE_ENCODINGS)}",
            )
        dtype, channels = IMAGE_ENCODINGS[self.encoding]
        shape: tuple[int | None, ...] = (None, None) if channels == 1 else (None, None, channels)
        img = frozen_array(self.stream, "image", self.image, dtypes=(dtype,), shape=shape)
        if img.shape[0] == 0 or img.shape[1] == 0:
            raise SampleError(self.stream, "image", f"empty image of shape {img.shape}")
        object.__setattr__(self, "image", img)

    @property
    def modality(self) -> Modality:
        """Always ``Modality.CAMERA``."""
        return Modality.CAMERA

    @property
    def height(self) -> int:
        """Rows of the image."""
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        """Columns of the image."""
        return int(self.image.shape[1])


@dataclass(frozen=True, slots=True, kw_only=True)
class PointCloud(SampleHeader):
    """A 3-D LIDAR scan in the sensor's own frame.

    ``points`` (N, 3) float32 metres; ``intensity`` (N,) float32; ``ring`` (N,) uint16 laser
    index; ``time_offset_ns`` (N,) int32, each point's time after ``stamp_ns`` (the first
    point), which is what makes de-skewing possible; ``duration_ns`` the scan's span.
    """

    points: np.ndarray
    intensity: np.ndarray
    ring: np.ndarray
    time_offset_ns: np.ndarray
    duration_ns: int

    def __post_init__(self) -> None:
        self._check_header()
        s = self.stream
        pts = frozen_array(s, "points", self.points, dtypes=(np.float32,), shape=(None, 3))
        n = pts.shape[0]
        inten = frozen_array(s, "intensity", self.intensity, dtypes=(np.float32,), shape=(n,))
        ring = frozen_array(s, "ring", self.ring, dtypes=(np.uint16,), shape=(n,))
        toff = frozen_array(s, "time_offset_ns", self.time_offset_ns, dtypes=(np.int32,), shape=(n,))
        check_int(s, "duration_ns", self.duration_ns, minimum=0)
        if n and (int(toff.min()) < 0 or int(toff.max()) > self.duration_ns):
            raise SampleError(
                s,
                "time_offset_ns",
                f"offsets must lie in [0, duration_ns={self.duration_ns}], got"
                f" [{int(toff.min())}, {int(toff.max())}]; stamp the scan by its first point",
            )
        for name, arr in (("points", pts), ("intensity", inten), ("ring", ring), ("time_offset_ns", toff)):
            object.__setattr__(self, name, arr)

    @property
    def modality(self) -> Modality:
        """Always ``Modality.LIDAR``."""
        return Modality.LIDAR

    @property
    def mid_stamp_ns(self) -> int:
        """The scan's middle time in the sensor clock: what alignment matches a tick to."""
        return self.stamp_ns + self.duration_ns // 2


@dataclass(frozen=True, slots=True, kw_only=True)
class LaserScan(SampleHeader):
    """A planar scan (``sensor_msgs/LaserScan``): ranges at evenly spaced angles.

    ``ranges_m`` (N,) float32; +inf means no return, -inf too close (REP-117); NaN is
    rejected. Beam i was measured at ``stamp_ns + i * time_increment_ns``.
    """

    ranges_m: np.ndarray
    angle_min_rad: float
    angle_increment_rad: float
    time_increment_ns: int
    range_min_m: float
    range_max_m: float
    intensities: np.ndarray | None = None

    def __post_init__(self) -> None:
        self._check_header()
        s = self.stream
        ranges = frozen_array(s, "ranges_m", self.ranges_m, dtypes=(np.float32,), shape=(None,), allow_inf=True)
        object.__setattr__(self, "ranges_m", ranges)
        if self.intensities is not None:
            inten = frozen_array(s, "intensities", self.intensities, dtypes=(np.float32,), shape=(ranges.shape[0],))
            object.__setattr__(self, "intensities", inten)
        for name in ("angle_min_rad", "angle_increment_rad", "range_min_m", "range_max_m"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise SampleError(s, name, f"must be a finite number, got {value!r}")
        check_int(s, "time_increment_ns", self.time_increment_ns, minimum=0)
        if not 0 <= self.range_min_m < self.range_max_m:
            raise SampleError(
                s, "range_max_m", f"need 0 <= range_min_m < range_max_m, got {self.range_min_m}, {self.range_max_m}"
            )

    @property
    def modality(self) -> Modality:
        """Always ``Modality.LIDAR``."""
        return Modality.LIDAR

    @property
    def duration_ns(self) -> int:
        """Time from the first to the last beam."""
        return max(0, int(self.ranges_m.shape[0]) - 1) * self.time_increment_ns

    @property
    def mid_stamp_ns(self) -> int:
        """The scan's middle time in the sensor clock."""
        return self.stamp_ns + self.duration_ns // 2


@dataclass(frozen=True, slots=True, kw_only=True)
class ImuSample(SampleHeader):
    """One inertial measurement in the IMU's frame (REP-103, SI units).

    ``angular_velocity`` (3,) rad/s and ``linear_acceleration`` (3,) m/s² (gravity included,
    as an accelerometer measures it), float64. ``orientation`` (4,) is ``(x, y, z, w)`` when
    the device estimates it. Covariances are (3, 3) when the device states them.
    """

    angular_velocity: np.ndarray
    linear_acceleration: np.ndarray
    orientation: np.ndarray | None = None
    angular_velocity_covariance: np.ndarray | None = None
    linear_acceleration_covariance: np.ndarray | None = None
    orientation_covariance: np.ndarray | None = None

    def __post_init__(self) -> None:
        self._check_header()
        s = self.stream
        f64 = (np.float64,)
        object.__setattr__(
            self, "angular_velocity", frozen_array(s, "angular_velocity", self.angular_velocity, dtypes=f64, shape=(3,))
        )
        object.__setattr__(
            self,
            "linear_acceleration",
            frozen_array(s, "linear_acceleration", self.linear_acceleration, dtypes=f64, shape=(3,)),
        )
        if self.orientation is not None:
            q = frozen_array(s, "orientation", self.orientation, dtypes=f64, shape=(4,))
            norm = float(np.sqrt(q @ q))
            if abs(norm - 1.0) > 1e-3:
                raise SampleError(
                    s,
                    "orientation",
                    f"quaternion norm {norm:.6f} is not 1; normalise it, and store it"
                    " (x, y, z, w) (Xsens and EuRoC are w-first: reorder at the driver)",
                )
            object.__setattr__(self, "orientation", q)
        for name in ("angular_velocity_covariance", "linear_acceleration_covariance", "orientation_covariance"):
            cov = getattr(self, name)
            if cov is not None:
                object.__setattr__(self, name, frozen_array(s, name, cov, dtypes=f64, shape=(3, 3)))

    @property
    def modality(self) -> Modality:
        """Always ``Modality.IMU``."""
        return Modality.IMU


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioChunk(SampleHeader):
    """Consecutive audio samples: ``samples`` (N, channels), float32 in [-1, 1] or int16.

    ``rate_hz`` is the nominal rate; the ADC's true rate drifts from it, which is why the
    chunk is stamped by its first sample's count on the device clock.
    """

    samples: np.ndarray
    rate_hz: int = field(default=16000)

    def __post_init__(self) -> None:
        self._check_header()
        s = self.stream
        arr = frozen_array(s, "samples", self.samples, dtypes=(np.float32, np.int16), shape=(None, None))
        if arr.shape[0] == 0 or arr.shape[1] == 0:
            raise SampleError(s, "samples", f"empty chunk of shape {arr.shape}; expected (N, channels)")
        check_int(s, "rate_hz", self.rate_hz, minimum=1)
        object.__setattr__(self, "samples", arr)

    @property
    def modality(self) -> Modality:
        """Always ``Modality.AUDIO``."""
        return Modality.AUDIO

    @property
    def channels(self) -> int:
        """Number of interleaved channels."""
        return int(self.samples.shape[1])

    @property
    def duration_ns(self) -> int:
        """Nominal span of the chunk at ``rate_hz``."""
        return int(self.samples.shape[0]) * 1_000_000_000 // self.rate_hz


Sample = Union[CameraFrame, PointCloud, LaserScan, ImuSample, AudioChunk]
"""Any measurement a Source yields."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RejectedSample:
    """Input that could not become a Sample (corrupt bytes, NaN, wrong shape).

    Sources yield it in place of the sample, so nothing is lost silently: the health monitor
    counts it against the stream and the reason says what was wrong.
    """

    stream: str
    recv_ns: int
    reason: str
    stamp_ns: int | None = None
    seq: int | None = None


SourceItem = Union[CameraFrame, PointCloud, LaserScan, ImuSample, AudioChunk, RejectedSample]
"""What a Source yields: a valid sample, or the record of one that was rejected."""
