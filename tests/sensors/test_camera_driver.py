"""The OpenCV camera driver against real video files that OpenCV writes and decodes here.

Files are MJPG in AVI (what opencv-python-headless can always write). Each frame's number is
written into its pixel values, so the test can tell frames apart after JPEG compression. A
device index that does not exist stands in for an unplugged camera; a file opened as a live
stream (``live: true``) stands in for a camera that stops: its end is a real VideoCapture read
failure, which the base turns into a device error and a reconnect.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from robofuse.errors import SensorError
from robofuse.messages import CameraFrame, SourceItem
from sensors.camera.driver import OpenCVCameraDriver
from sensors.camera.settings import CameraSettings

cv2 = pytest.importorskip("cv2", reason="OpenCV is not installed (pip install opencv-python-headless)")

W, H, N = 64, 48, 30


def write_video(path: Path, frames: int = N, colour_bgr: tuple[int, int, int] | None = None) -> Path:
    """Frame i is uniformly grey level 8*i (or ``colour_bgr``), at 30 fps."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (W, H))
    assert writer.isOpened(), "this OpenCV cannot write MJPG/AVI"
    for i in range(frames):
        image = np.full((H, W, 3), colour_bgr if colour_bgr is not None else 8 * i, dtype=np.uint8)
        writer.write(image)
    writer.release()
    return path


def frames_of(driver: OpenCVCameraDriver, timeout_s: float = 10.0) -> list[SourceItem]:
    deadline = time.monotonic() + timeout_s
    items: list[SourceItem] = []
    with driver:
        for item in driver:
            items.append(item)
            assert time.monotonic() < deadline, "the driver did not end at the end of the file"
    return items


def test_a_video_file_yields_every_frame_in_order_and_then_ends(tmp_path: Path) -> None:
    path = write_video(tmp_path / "count.avi")
    driver = OpenCVCameraDriver("cam", "camera_optical", CameraSettings(source=str(path)), queue_size=4)
    items = frames_of(driver)
    assert all(isinstance(i, CameraFrame) for i in items)
    frames = [i for i in items if isinstance(i, CameraFrame)]
    assert len(frames) == N  # a small queue: the file waits for its reader instead of dropping frames
    assert [f.seq for f in frames] == list(range(N))
    assert all(f.image.shape == (H, W, 3) and f.encoding == "rgb8" for f in frames)
    levels = [int(np.median(f.image)) for f in frames]
    assert levels == pytest.approx([8 * i for i in range(N)], abs=3)
    assert driver.ended
    assert driver.counters.device_errors == 0


def test_file_frames_are_stamped_on_the_file_timeline(tmp_path: Path) -> None:
    path = write_video(tmp_path / "count.avi")
    frames = list(frames_of(OpenCVCameraDriver("cam", "cam", CameraSettings(source=str(path)))))
    stamps = [f.stamp_ns for f in frames if isinstance(f, CameraFrame)]
    assert stamps[0] == 0
    assert all(b > a for a, b in itertools.pairwise(stamps))
    assert np.diff(stamps) == pytest.approx(1e9 / 30, abs=1e3)
    recvs = [f.recv_ns for f in frames]
    assert recvs == sorted(recvs)


@pytest.mark.parametrize(("encoding", "rgb"), [("rgb8", (255, 0, 0)), ("bgr8", (0, 0, 255))])
def test_a_pure_red_frame_has_its_red_in_the_channel_the_encoding_names(
    tmp_path: Path, encoding: str, rgb: tuple[int, int, int]
) -> None:
    path = write_video(tmp_path / "red.avi", frames=3, colour_bgr=(0, 0, 255))  # OpenCV writes BGR: red
    settings = CameraSettings(source=str(path), encoding=encoding)  # type: ignore[arg-type]
    frames = [f for f in frames_of(OpenCVCameraDriver("cam", "cam", settings)) if isinstance(f, CameraFrame)]
    assert len(frames) == 3
    assert frames[0].encoding == encoding
    assert tuple(int(c) for c in np.median(frames[0].image, axis=(0, 1))) == pytest.approx(rgb, abs=4)


def test_an_unplugged_camera_index_is_a_clear_error() -> None:
    driver = OpenCVCameraDriver("cam", "cam", CameraSettings(source=57))
    with pytest.raises(SensorError, match=r"cannot open camera 57: no such device.*v4l2-ctl --list-devices"):
        driver.open()
    assert not driver.is_open


def test_a_missing_video_file_is_a_clear_error(tmp_path: Path) -> None:
    driver = OpenCVCameraDriver("cam", "cam", CameraSettings(source=str(tmp_path / "nope.avi")))
    with pytest.raises(SensorError, match=r"cannot open video file .*nope\.avi.*no such file"):
        driver.open()


def drain(driver: OpenCVCameraDriver, until: float) -> Iterator[SourceItem]:
    for item in driver:
        yield item
        if time.monotonic() > until:
            return


def test_a_live_stream_that_stops_triggers_reconnect_and_counts_it(tmp_path: Path) -> None:
    """A file opened with ``live: true`` ends after 5 frames: a real read failure on a live source.

    The base counts a device error and reconnects with backoff. While the file is gone, the
    reconnect fails with the open error (kept in ``last_error``); once a file is back at the path,
    the driver reconnects, ``reconnects`` increases and frames flow again, stamped on the host clock.
    """
    path = write_video(tmp_path / "live.avi", frames=5)
    driver = OpenCVCameraDriver("cam", "cam", CameraSettings(source=str(path), live=True))
    driver._backoff = (0.05, 0.1)  # keep the test short; the backoff itself is the base's
    with driver:
        first = list(drain(driver, time.monotonic() + 0.3))
        path.unlink()
        deadline = time.monotonic() + 5
        while "no such file" not in driver.last_error and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "no such file" in driver.last_error
        errors_while_gone, reconnects_while_gone = driver.counters.device_errors, driver.counters.reconnects
        write_video(path, frames=5)
        while driver.counters.reconnects == reconnects_while_gone and time.monotonic() < deadline:
            time.sleep(0.02)
        later = list(drain(driver, time.monotonic() + 0.3))
    assert errors_while_gone >= 1
    assert driver.counters.reconnects > reconnects_while_gone
    frames = [f for f in first + later if isinstance(f, CameraFrame)]
    assert len(first) >= 5
    assert len(later) >= 1
    assert all(f.stamp_ns == f.recv_ns for f in frames)  # live: the host clock, no device clock
