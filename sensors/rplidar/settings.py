"""Rig-file settings of a Slamtec RPLIDAR A1/A2 on a serial port (stream ``type: rplidar.serial``)."""

from __future__ import annotations

from dataclasses import dataclass

from robofuse.config.registry import register_stream_type
from robofuse.messages import Modality
from robofuse.schema import require

BAUDRATES = (115200, 256000)


@dataclass(frozen=True, kw_only=True)
class RplidarSettings:
    """Where the device is and how to turn its revolutions into scans.

    ``port``: the serial device (``/dev/ttyUSB0``, or a udev symlink). ``baudrate``: 115200 for
    the A1 and the A2M8 (and earlier), 256000 for the A2M12 and later. ``bins``: beams per
    scan, the fixed angular grid each revolution is resampled onto (360 = 1 degree).
    ``range_min_m``/``range_max_m``: the valid range (A1: 0.15-12 m; A2M12: up to 16 m);
    returns outside it are stored as no return (+inf). ``response_timeout_s``: how long to wait
    for the device to answer a request on connect.
    """

    port: str
    baudrate: int = 115200
    bins: int = 360
    range_min_m: float = 0.15
    range_max_m: float = 12.0
    response_timeout_s: float = 1.0

    def __post_init__(self) -> None:
        require(bool(self.port), "port must name the serial device, e.g. /dev/ttyUSB0")
        require(
            self.baudrate in BAUDRATES,
            f"baudrate {self.baudrate} is not an RPLIDAR's: 115200 (A1, A2M8) or 256000 (A2M12 and later)",
        )
        require(4 <= self.bins <= 8192, f"bins must be in [4, 8192] (360 or 720 are usual), got {self.bins}")
        require(
            0 <= self.range_min_m < self.range_max_m,
            f"need 0 <= range_min_m < range_max_m, got {self.range_min_m}, {self.range_max_m}",
        )
        require(self.response_timeout_s > 0, f"response_timeout_s must be > 0, got {self.response_timeout_s}")


register_stream_type(
    "rplidar.serial", (Modality.LIDAR,), RplidarSettings, "Slamtec RPLIDAR A1/A2 over a serial port (standard scan)"
)
