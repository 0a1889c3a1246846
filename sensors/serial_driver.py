"""Drivers of devices on a serial port: what opening, reading and closing the port share.

pyserial is imported only when a serial device is opened. Subclasses say what to send when the
port opens (``_start``), before it closes (``_stop_device``), and what the bytes become
(``_bytes``); the base stamps each read on arrival and turns port failures into SensorError,
so the Driver base reconnects.
"""

from __future__ import annotations

import abc
import contextlib
from typing import Any, ClassVar

from robofuse.errors import SensorError
from robofuse.messages import SourceItem
from sensors.base import POLL_S, Driver, now_ns


class SerialDriver(Driver):
    """A Driver reading a serial port in whatever chunks arrive."""

    device_name: ClassVar[str] = "serial device"  # for messages: "cannot open Xsens port ..."

    def __init__(self, port: str, baudrate: int, *, queue_size: int) -> None:
        super().__init__(queue_size=queue_size)
        self.port_path = port
        self.baudrate = baudrate
        self._port: Any = None

    def _connect(self) -> None:
        try:
            import serial  # lazy: only rigs with serial devices need pyserial
        except ImportError as err:
            raise SensorError(f"the {self.device_name} driver needs pyserial: pip install 'robofuse[drivers]'") from err
        try:
            self._port = serial.Serial(self.port_path, self.baudrate, timeout=POLL_S)
        except (serial.SerialException, OSError) as err:
            raise SensorError(
                f"cannot open {self.device_name} port {self.port_path!r} ({err}); check the cable, the device"
                " path (ls /dev/ttyUSB*) and that your user is in the dialout group"
            ) from None
        self._start(self._port)

    def _disconnect(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(Exception):  # the device may be gone already: closing must not raise
                self._stop_device(port)
            with contextlib.suppress(Exception):
                port.close()

    def _read(self) -> list[SourceItem]:
        if self._port is None:
            raise SensorError(f"{self.device_name} port {self.port_path!r} is not open")
        try:
            data = self._port.read(max(1, self._port.in_waiting))
        except Exception as err:  # pyserial raises SerialException (an OSError subclass only on some versions)
            raise SensorError(f"{self.device_name} port {self.port_path!r} failed: {err}") from None
        return self._bytes(data, now_ns()) if data else []

    def _start(self, port: Any) -> None:
        """Talk to the device right after the port opened (configure it, start streaming)."""

    def _stop_device(self, port: Any) -> None:
        """Tell the device to stop before the port closes (best effort)."""

    @abc.abstractmethod
    def _bytes(self, data: bytes, recv_ns: int) -> list[SourceItem]:
        """The items completed by ``data``, which arrived at ``recv_ns``."""
