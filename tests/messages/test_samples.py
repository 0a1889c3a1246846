"""Sample construction: valid samples keep their data by reference, invalid ones say what is wrong."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from robofuse.errors import RobofuseError, SampleError
from robofuse.messages import AudioChunk, CameraFrame, ImuSample, LaserScan, Modality, PointCloud

HEADER: dict[str, Any] = {"stream": "front", "frame_id": "f", "seq": 3, "stamp_ns": 10, "recv_ns": 20}


def imu(**over: Any) -> ImuSample:
    kwargs = {**HEADER, "angular_velocity": np.zeros(3), "linear_acceleration": np.array([0, 0, 9.81])}
    return ImuSample(**{**kwargs, **over})


def cloud(n: int = 4, **over: Any) -> PointCloud:
    kwargs = {
        **HEADER,
        "points": np.ones((n, 3), np.float32),
        "intensity": np.zeros(n, np.float32),
        "ring": np.arange(n, dtype=np.uint16),
        "time_offset_ns": np.arange(n, dtype=np.int32) * 10,
        "duration_ns": 100,
    }
    return PointCloud(**{**kwargs, **over})


def test_a_valid_camera_frame_references_the_callers_pixels_read_only() -> None:
    image = np.zeros((4, 6, 3), np.uint8)
    frame = CameraFrame(**HEADER, image=image, encoding="rgb8")
    assert np.shares_memory(frame.image, image)
    assert (frame.height, frame.width, frame.modality) == (4, 6, Modality.CAMERA)
    with pytest.raises(ValueError, match="read-only"):
        frame.image[0, 0, 0] = 1
    image[0, 0, 0] = 7  # the caller's own array stays writable
    assert frame.image[0, 0, 0] == 7


def test_samples_are_frozen() -> None:
    sample = imu()
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample.seq = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    ("encoding", "image", "message"),
    [
        ("rgb8", np.zeros((4, 6), np.uint8), r"shape \(4, 6\) does not match \(N, N, 3\)"),
        ("mono8", np.zeros((4, 6), np.float32), "dtype float32 not allowed; use uint8"),
        ("yuv422", np.zeros((4, 6), np.uint8), "unknown encoding 'yuv422'"),
        ("mono8", np.zeros((0, 6), np.uint8), "empty image"),
    ],
)
def test_a_camera_frame_with_the_wrong_layout_is_refused(encoding: str, image: np.ndarray, message: str) -> None:
    with pytest.raises(SampleError, match=message) as info:
        CameraFrame(**HEADER, image=image, encoding=encoding)
    assert "stream 'front'" in str(info.value)


def test_a_nan_from_the_sensor_names_stream_and_field() -> None:
    with pytest.raises(SampleError) as info:
        imu(angular_velocity=np.array([0.0, np.nan, 0.0]))
    assert (info.value.stream, info.value.field) == ("front", "angular_velocity")
    assert "NaN" in str(info.value)
    assert isinstance(info.value, RobofuseError)


def test_times_must_be_integer_nanoseconds() -> None:
    with pytest.raises(SampleError, match=r"stamp_ns.*integer.*int\(s \* 1e9\)"):
        imu(stamp_ns=1.5)
    with pytest.raises(SampleError, match=r"seq.*>= 0"):
        imu(seq=-1)
    assert imu(stamp_ns=np.int64(-5)).stamp_ns == -5  # a sensor clock may read before the host's zero


def test_an_orientation_must_be_a_unit_quaternion_in_xyzw_order() -> None:
    assert imu(orientation=np.array([0.0, 0.0, 0.0, 1.0])).orientation is not None
    with pytest.raises(SampleError, match=r"norm 2\.0+ is not 1.*\(x, y, z, w\)"):
        imu(orientation=np.array([0.0, 0.0, 0.0, 2.0]))


def test_imu_covariances_must_be_3x3() -> None:
    with pytest.raises(SampleError, match="angular_velocity_covariance"):
        imu(angular_velocity_covariance=np.eye(2))


def test_a_point_cloud_carries_per_point_times_within_the_scan() -> None:
    pc = cloud()
    assert pc.mid_stamp_ns == 10 + 50
    with pytest.raises(SampleError, match=r"offsets must lie in \[0, duration_ns=100\]"):
        cloud(time_offset_ns=np.array([0, 10, 20, 500], np.int32))
    with pytest.raises(SampleError, match=r"intensity.*shape \(3,\) does not match \(4\)"):
        cloud(intensity=np.zeros(3, np.float32))
    with pytest.raises(SampleError, match=r"points.*NaN or inf"):
        cloud(points=np.full((4, 3), np.inf, np.float32))


def test_a_laser_scan_allows_inf_for_no_return_but_not_nan() -> None:
    kwargs: dict[str, Any] = {
        **HEADER,
        "angle_min_rad": -1.0,
        "angle_increment_rad": 0.01,
        "time_increment_ns": 1000,
        "range_min_m": 0.1,
        "range_max_m": 30.0,
    }
    scan = LaserScan(**kwargs, ranges_m=np.array([1.0, np.inf, 2.0], np.float32))
    assert scan.duration_ns == 2000
    with pytest.raises(SampleError, match=r"ranges_m.*NaN"):
        LaserScan(**kwargs, ranges_m=np.array([1.0, np.nan], np.float32))
    with pytest.raises(SampleError, match="range_min_m < range_max_m"):
        LaserScan(**{**kwargs, "range_min_m": 40.0}, ranges_m=np.ones(2, np.float32))


def test_an_audio_chunk_knows_its_channels_and_span() -> None:
    chunk = AudioChunk(**HEADER, samples=np.zeros((320, 2), np.float32), rate_hz=16000)
    assert (chunk.channels, chunk.duration_ns) == (2, 20_000_000)
    with pytest.raises(SampleError, match=r"shape \(320,\) does not match \(N, N\)"):
        AudioChunk(**HEADER, samples=np.zeros(320, np.float32))
    with pytest.raises(SampleError, match="rate_hz"):
        AudioChunk(**HEADER, samples=np.zeros((4, 1), np.int16), rate_hz=0)


def test_an_empty_stream_name_is_refused() -> None:
    with pytest.raises(SampleError, match="non-empty"):
        imu(stream="")


def test_huge_but_finite_values_are_accepted_without_warnings() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sample = imu(angular_velocity=np.full(3, 1e308))
    assert sample.angular_velocity[0] == 1e308


def test_sample_or_rejection_keeps_a_bad_sample_as_a_record_of_why() -> None:
    from robofuse.messages import RejectedSample
    from robofuse.messages.build import sample_or_rejection

    good = sample_or_rejection(ImuSample, **HEADER, angular_velocity=np.zeros(3), linear_acceleration=np.zeros(3))
    assert isinstance(good, ImuSample)
    bad = sample_or_rejection(ImuSample, **HEADER, angular_velocity=np.full(3, np.nan), linear_acceleration=np.zeros(3))
    assert isinstance(bad, RejectedSample)
    assert (bad.stream, bad.seq, bad.stamp_ns, bad.recv_ns) == ("front", 3, 10, 20)
    assert "angular_velocity" in bad.reason
