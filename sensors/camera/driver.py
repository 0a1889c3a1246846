"""A camera through OpenCV's VideoCapture, as a Source of CameraFrames.

Stamps: a USB webcam (UVC through V4L2) gives OpenCV no device clock, so a live frame is
stamped when ``read()`` returns: ``stamp_ns == recv_ns`` on the host's monotonic clock
(configure the stream's ``clock_domain: host``; exposure and transfer delay become part of the
stream's calibrated time offset). A recording is stamped on its own timeline: the position
OpenCV reports for the frame (``CAP_PROP_POS_MSEC``) in nanoseconds from the file's start.

A live source that stops delivering is a device error: the base reconnects with backoff. A
recording ends the stream when it ends: iteration stops once every frame has been yielded, and
a recording is read no faster than it is consumed (frames are never dropped from a file).
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any

from robofuse.errors import SensorError
from robofuse.messages import CameraFrame, Modality, SourceItem
from robofuse.messages.build import sample_or_rejection
from sensors.base import Driver, now_ns
from sensors.camera.settings import CameraSettings


class OpenCVCameraDriver(Driver):
    """Reads frames from ``settings.source`` and yields CameraFrames in ``settings.encoding``."""

    def __init__(self, stream: str, frame_id: str, settings: CameraSettings, *, queue_size: int = 8) -> None:
        super().__init__(queue_size=queue_size, keep_all=not settings.is_live)
        self.stream_name = stream
        self.frame_id = frame_id
        self.settings = settings
        self._cv2: Any = None
        self._cap: Any = None
        self._seq = 0

    @property
    def streams(self) -> dict[str, Modality]:
        """The one camera stream."""
        return {self.stream_name: Modality.CAMERA}

    def _connect(self) -> None:
        try:
            import cv2  # lazy: only a rig with a camera needs OpenCV
        except ImportError as err:
            raise SensorError(
                "the camera driver needs OpenCV: pip install opencv-python-headless (or opencv-python)"
            ) from err
        self._cv2 = cv2
        source = self.settings.source
        self._cap = cv2.VideoCapture(source)
        if not self._cap.isOpened():
            raise SensorError(self._open_failure(source))
        if self.settings.is_live:
            self._request_format()

    def _open_failure(self, source: int | str) -> str:
        if isinstance(source, int):
            return (
                f"cannot open camera {source}: no such device, or it is busy; list devices with"
                " `v4l2-ctl --list-devices` and check that your user is in the video group"
            )
        if "://" not in source and not Path(source).is_file():
            return f"cannot open video file {source!r}: no such file"
        return (
            f"cannot open video file/URL {source!r}: OpenCV has no backend that reads it (check the URL,"
            " that the stream is up, and that the codec is supported: try `ffprobe` on it)"
        )

    def _request_format(self) -> None:
        cv2, cap = self._cv2, self._cap
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not one queued in the driver
        for prop, value in (
            (cv2.CAP_PROP_FRAME_WIDTH, self.settings.width),
            (cv2.CAP_PROP_FRAME_HEIGHT, self.settings.height),
            (cv2.CAP_PROP_FPS, self.settings.fps),
        ):
            if value is not None:
                cap.set(prop, value)

    def _disconnect(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            with contextlib.suppress(Exception):  # releasing a half-open capture must not mask the first error
                cap.release()

    def _read(self) -> list[SourceItem]:
        if self._cap is None:
            raise SensorError(f"camera {self.settings.source!r} is not open")
        live = self.settings.is_live
        ok, image = self._cap.read()
        recv = now_ns()
        if not ok or image is None:
            if live:
                raise SensorError(f"camera {self.settings.source!r} stopped delivering frames; reconnecting")
            self._end()  # a recording read to its end
            return []
        stamp = recv if live else self._file_stamp(recv)
        return [self._frame(image, stamp, recv)]

    def _file_stamp(self, recv_ns: int) -> int:
        pos_ms = float(self._cap.get(self._cv2.CAP_PROP_POS_MSEC))
        return round(pos_ms * 1e6) if math.isfinite(pos_ms) and pos_ms >= 0 else recv_ns

    def _frame(self, image: Any, stamp_ns: int, recv_ns: int) -> SourceItem:
        seq, self._seq = self._seq, self._seq + 1
        if self.settings.encoding == "rgb8":
            image = self._cv2.cvtColor(image, self._cv2.COLOR_BGR2RGB)
        return sample_or_rejection(
            CameraFrame,
            stream=self.stream_name,
            frame_id=self.frame_id,
            seq=seq,
            stamp_ns=stamp_ns,
            recv_ns=recv_ns,
            image=image,
            encoding=self.settings.encoding,
        )
