"""Rig-file settings of a camera read through OpenCV (stream ``type: camera.opencv``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from robofuse.config.registry import register_stream_type
from robofuse.messages import Modality
from robofuse.schema import require


@dataclass(frozen=True, kw_only=True)
class CameraSettings:
    """Which camera, and what to ask of it.

    ``source``: a device index (``0`` is ``/dev/video0``), a stream URL (``rtsp://...``) or a
    video file path. ``width``/``height``/``fps``: what to request from a live device (the
    driver asks; the device may choose otherwise; files ignore them); ``None`` keeps the
    device's default. ``encoding``: ``rgb8`` (converted from OpenCV's BGR) or ``bgr8``.
    ``live``: whether the source is a live stream (a read failure or its end is a device error
    that triggers a reconnect) or a recording (its end ends the stream); by default an index
    or a URL (``://``) is live and a path is a recording.
    """

    source: int | str
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    encoding: Literal["rgb8", "bgr8"] = "rgb8"
    live: bool | None = None

    def __post_init__(self) -> None:
        if isinstance(self.source, int):
            require(self.source >= 0, f"source index must be >= 0 (0 is /dev/video0), got {self.source}")
        else:
            require(bool(self.source), "source must be a device index, a stream URL or a video file path")
        for name in ("width", "height", "fps"):
            value = getattr(self, name)
            require(value is None or value > 0, f"{name} must be > 0 (or left out for the default), got {value}")
        require(self.encoding in ("rgb8", "bgr8"), f"encoding must be 'rgb8' or 'bgr8', got {self.encoding!r}")

    @property
    def is_live(self) -> bool:
        """Whether the source is a live stream rather than a recording (see ``live``)."""
        if self.live is not None:
            return self.live
        return isinstance(self.source, int) or "://" in self.source


register_stream_type(
    "camera.opencv", (Modality.CAMERA,), CameraSettings, "a camera, stream URL or video file read through OpenCV"
)
