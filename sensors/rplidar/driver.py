"""Slamtec RPLIDAR A1/A2 over a serial port, as a Source of LaserScans.

On connect: STOP (a device left scanning keeps streaming), GET_HEALTH (an error status means
the device has shut its laser or motor down: SensorError, power-cycle it), GET_INFO, then
SCAN; from then on the port carries 5-byte nodes that :class:`RplidarParser` decodes and
:class:`ScanBuilder` turns into one scan per revolution.

Stamps: the RPLIDAR has no clock, so both stamps are host monotonic time (configure the
stream's ``clock_domain`` as ``host``): ``stamp_ns`` is the arrival of the revolution's first
node, ``recv_ns`` the arrival of the node that closed it (the next revolution's first).
Angles are converted from the device's clockwise angles to REP-103 (see ``scans``).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from robofuse.errors import SensorError
from robofuse.messages import LaserScan, Modality, SourceItem
from sensors.rplidar.protocol import (
    DESCRIPTOR_SIZE,
    HEALTH_SIZE,
    INFO_SIZE,
    NODE_SIZE,
    SYNC,
    SYNC2,
    Command,
    DataType,
    DeviceHealth,
    DeviceInfo,
    HealthStatus,
    RplidarParser,
    decode_health,
    decode_info,
    parse_descriptor,
    request,
)
from sensors.rplidar.scans import ScanBuilder, ScanPayload
from sensors.rplidar.settings import RplidarSettings
from sensors.serial_driver import SerialDriver

STOP_SETTLE_S = 0.01  # the protocol asks for at least 1 ms after STOP before the next request


class RplidarDriver(SerialDriver):
    """Reads the standard scan of an RPLIDAR and yields one LaserScan per revolution."""

    device_name = "RPLIDAR"

    def __init__(self, stream: str, frame_id: str, settings: RplidarSettings, *, queue_size: int = 16) -> None:
        super().__init__(settings.port, settings.baudrate, queue_size=queue_size)
        self.stream_name = stream
        self.frame_id = frame_id
        self.settings = settings
        self.parser = RplidarParser()
        self.builder = ScanBuilder(settings.bins, settings.range_min_m, settings.range_max_m)
        self.info: DeviceInfo | None = None
        self.health: DeviceHealth | None = None
        self._seq = 0

    @property
    def streams(self) -> dict[str, Modality]:
        """The one LIDAR stream this device produces."""
        return {self.stream_name: Modality.LIDAR}

    def _start(self, port: Any) -> None:
        where = self.settings.port
        with contextlib.suppress(Exception):  # not every port has the line (a pty has none)
            port.dtr = False  # the A1/A2M8 USB adapters run the motor while DTR is low
        port.write(request(Command.STOP))
        time.sleep(STOP_SETTLE_S)
        port.reset_input_buffer()
        port.write(request(Command.GET_HEALTH))
        self.health = decode_health(self._response(DataType.HEALTH, HEALTH_SIZE, "GET_HEALTH"))
        if self.health.status == HealthStatus.ERROR:
            raise SensorError(
                f"RPLIDAR on {where!r} reports a hardware error (health status 2, error code"
                f" 0x{self.health.error_code:04x}); power-cycle it (unplug and replug its USB/power) and"
                " check that the motor can turn freely"
            )
        port.write(request(Command.GET_INFO))
        self.info = decode_info(self._response(DataType.INFO, INFO_SIZE, "GET_INFO"))
        port.write(request(Command.SCAN))
        self._response(DataType.SCAN, 0, "SCAN")
        self.parser = RplidarParser()  # a fresh stream: nodes start right after the descriptor
        self.builder.reset()

    def _response(self, data_type: int, size: int, what: str) -> bytes:
        """Skip to the next response descriptor of ``data_type``; return the ``size`` bytes after it."""
        deadline = time.monotonic() + self.settings.response_timeout_s
        buf = b""
        while True:
            start = buf.find(bytes((SYNC, SYNC2)))
            if start >= 0 and len(buf) >= start + DESCRIPTOR_SIZE:
                desc = parse_descriptor(buf[start : start + DESCRIPTOR_SIZE])
                expected = NODE_SIZE if data_type == DataType.SCAN else size
                if desc.data_type == data_type and desc.length == expected:
                    body = buf[start + DESCRIPTOR_SIZE :]
                    if len(body) >= size:
                        return body[:size]  # SCAN: size 0, the nodes that follow stay in the port
                else:
                    buf = buf[start + 1 :]  # a false descriptor inside stale bytes
                    continue
            elif start < 0:
                buf = buf[-1:]
            if time.monotonic() > deadline:
                raise SensorError(
                    f"RPLIDAR on {self.settings.port!r} did not answer {what} within"
                    f" {self.settings.response_timeout_s} s; check the baudrate ({self.settings.baudrate}:"
                    " 115200 for A1/A2M8, 256000 for A2M12+) and the power"
                )
            chunk = self._port.read(DESCRIPTOR_SIZE + size if data_type != DataType.SCAN else 1)
            buf += chunk

    def _stop_device(self, port: Any) -> None:
        port.write(request(Command.STOP))

    def _bytes(self, data: bytes, recv_ns: int) -> list[SourceItem]:
        return [self._scan(p) for p in self.builder.add(self.parser.feed(data), recv_ns)]

    def _scan(self, payload: ScanPayload) -> SourceItem:
        self._seq += 1
        return LaserScan(
            stream=self.stream_name,
            frame_id=self.frame_id,
            seq=self._seq,
            stamp_ns=payload.stamp_ns,
            recv_ns=payload.recv_ns,
            ranges_m=payload.ranges_m,
            angle_min_rad=payload.angle_min_rad,
            angle_increment_rad=payload.angle_increment_rad,
            time_increment_ns=payload.time_increment_ns,
            range_min_m=self.settings.range_min_m,
            range_max_m=self.settings.range_max_m,
            intensities=payload.intensities,
        )
