"""Cameras through OpenCV: a USB/V4L2 device by index, a stream URL, or a video file.

``OpenCVCameraDriver`` yields CameraFrames; cv2 is imported only when a driver connects, so a
machine without OpenCV can still load rigs that name ``camera.opencv``.
"""

from sensors.camera.settings import CameraSettings

__all__ = ["CameraSettings"]
