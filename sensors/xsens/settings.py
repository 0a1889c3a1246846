"""Rig-file settings of an Xsens MTi on a serial port (stream ``type: xsens.mti``)."""

from __future__ import annotations

from dataclasses import dataclass

from robofuse.config.registry import register_stream_type
from robofuse.messages import Modality
from robofuse.schema import require


@dataclass(frozen=True, kw_only=True)
class XsensSettings:
    """Where the device is and how to talk to it.

    ``port``: the serial device (``/dev/ttyUSB0``, or a udev symlink). ``baudrate``: the MTi's
    configured rate (115200 out of the box). ``start_measurement``: send GoToMeasurement on
    connect (a device left in config mode sends nothing otherwise).
    """

    port: str
    baudrate: int = 115200
    start_measurement: bool = True

    def __post_init__(self) -> None:
        require(bool(self.port), "port must name the serial device, e.g. /dev/ttyUSB0")
        require(
            self.baudrate in (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 2000000),
            f"baudrate {self.baudrate} is not one an MTi supports; 115200 is its default",
        )


register_stream_type("xsens.mti", (Modality.IMU,), XsensSettings, "Xsens MTi IMU over a serial port (Xbus MTData2)")
