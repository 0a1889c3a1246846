"""The RPLIDAR driver against a device emulator on a real pseudo-terminal.

The emulator answers STOP, GET_HEALTH, GET_INFO and SCAN on the master side of an
``os.openpty`` pair and streams the nodes of a known room at 5.5 revolutions per second: a
circle of radius 2 m around the sensor, an obstacle at 1 m straight ahead (clockwise -5..+5
degrees) and no return at clockwise 100..110 degrees (the sensor's right). The driver opens the
slave side through a symlink, so unplugging and replugging is a new pty behind the same path.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from devicetools import collect

from robofuse.errors import SensorError
from robofuse.messages import LaserScan
from sensors.rplidar.driver import RplidarDriver
from sensors.rplidar.protocol import (
    Command,
    DataType,
    DeviceHealth,
    DeviceInfo,
    encode_descriptor,
    encode_health,
    encode_info,
    encode_node,
)
from sensors.rplidar.settings import RplidarSettings

pytest.importorskip("serial", reason="pyserial is not installed (pip install 'robofuse[drivers]')")

NODES_PER_REV = 360
REV_HZ = 5.5
GARBAGE = b"\x00\x00\xff\xfc"  # bytes with S == !S: never a node start
INFO = DeviceInfo(model=0x18, firmware=(1, 29), hardware=7, serial_number="0123456789abcdef0123456789abcdef")


def room_distance_m(clockwise_deg: float) -> float:
    """What the emulated sensor sees at a clockwise angle (0.0: no return)."""
    a = clockwise_deg % 360
    if a <= 5 or a >= 355:
        return 1.0
    if 100 <= a <= 110:
        return 0.0
    return 2.0


class Emulator:
    """An RPLIDAR on the master side of a pty."""

    def __init__(self, link: Path, health: int = 0, garbage: bool = False) -> None:
        self.link = link
        self.health = health
        self.garbage = garbage
        self.commands: list[int] = []
        self.garbage_sent = 0
        self._stop = threading.Event()
        self.master, slave = os.openpty()
        self.slave_path = os.ttyname(slave)
        os.close(slave)
        if link.is_symlink():
            link.unlink()
        link.symlink_to(self.slave_path)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _answer(self, command: int) -> bool:
        """Answer one request; True when it starts the scan."""
        self.commands.append(command)
        if command == Command.GET_HEALTH:
            os.write(
                self.master, encode_descriptor(3, 0, DataType.HEALTH) + encode_health(DeviceHealth(self.health, 0x0102))
            )
        elif command == Command.GET_INFO:
            os.write(self.master, encode_descriptor(20, 0, DataType.INFO) + encode_info(INFO))
        elif command == Command.SCAN:
            os.write(self.master, encode_descriptor(5, 1, DataType.SCAN))
            return True
        return False

    def _run(self) -> None:
        os.set_blocking(self.master, False)
        pending = b""
        scanning_since: float | None = None
        sent = 0
        while not self._stop.is_set():
            with contextlib.suppress(BlockingIOError, OSError):
                pending += os.read(self.master, 4096)
            while len(pending) >= 2:
                if pending[0] != 0xA5:
                    pending = pending[1:]
                    continue
                command, pending = pending[1], pending[2:]
                if command == Command.STOP:
                    self.commands.append(command)
                    scanning_since = None
                elif self._answer(command):
                    scanning_since, sent = time.monotonic(), 0
            if scanning_since is not None:
                due = int((time.monotonic() - scanning_since) * REV_HZ * NODES_PER_REV)
                out = bytearray()
                for k in range(sent, due):
                    angle = (k % NODES_PER_REV) * 360 / NODES_PER_REV + 0.2
                    out += encode_node(angle, room_distance_m(angle), 40, start=k % NODES_PER_REV == 0)
                    if self.garbage and k % 97 == 50:
                        out += GARBAGE
                        self.garbage_sent += 1
                sent = max(sent, due)
                try:
                    os.write(self.master, bytes(out))
                except OSError:
                    return
            time.sleep(0.005)

    def unplug(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self.master)


@pytest.fixture
def link(tmp_path: Path) -> Path:
    return tmp_path / "ttyRPLIDAR"


def range_at(scan: LaserScan, rep103_deg: float) -> float:
    i = round((math.radians(rep103_deg) - scan.angle_min_rad) / scan.angle_increment_rad) % len(scan.ranges_m)
    return float(scan.ranges_m[i])


def test_the_driver_starts_the_device_and_yields_the_room_in_rep103_angles(link: Path) -> None:
    emu = Emulator(link)
    try:
        with RplidarDriver("scan", "laser", RplidarSettings(port=str(link), bins=360)) as driver:
            scans = collect(driver, 4)
            info = driver.info
    finally:
        emu.unplug()
    assert emu.commands[:4] == [Command.STOP, Command.GET_HEALTH, Command.GET_INFO, Command.SCAN]
    assert info == INFO
    assert len(scans) == 4
    assert all(isinstance(s, LaserScan) for s in scans)
    laser = [s for s in scans if isinstance(s, LaserScan)]
    for scan in laser:
        assert scan.ranges_m.shape == (360,)
        assert range_at(scan, 0) == pytest.approx(1.0, abs=1e-3)  # the obstacle straight ahead
        assert range_at(scan, 4) == pytest.approx(1.0, abs=1e-3)
        assert range_at(scan, 20) == pytest.approx(2.0, abs=1e-3)
        assert range_at(scan, -105) == math.inf  # clockwise 105 is REP-103's -105: the right
        assert range_at(scan, 105) == pytest.approx(2.0, abs=1e-3)  # the left sees the wall
        assert int(np.isinf(scan.ranges_m).sum()) == 10  # nodes at clockwise 100.2 .. 109.2
        assert scan.stamp_ns < scan.recv_ns
    periods = np.diff([s.stamp_ns for s in laser])
    assert np.all(np.abs(periods - 1e9 / REV_HZ) < 0.3e9 / REV_HZ)
    assert laser[-1].time_increment_ns == pytest.approx(1e9 / REV_HZ / 360, rel=0.3)
    assert [s.seq for s in laser] == [1, 2, 3, 4]


def test_garbage_on_the_line_is_counted_and_survived(link: Path) -> None:
    emu = Emulator(link, garbage=True)
    try:
        with RplidarDriver("scan", "laser", RplidarSettings(port=str(link))) as driver:
            scans = collect(driver, 3)
            counters = driver.parser.counters
    finally:
        emu.unplug()
    assert len(scans) == 3
    laser = [s for s in scans if isinstance(s, LaserScan)]
    assert len(laser) == 3
    assert all(range_at(s, 0) == pytest.approx(1.0, abs=1e-3) for s in laser)
    assert counters.resyncs > 0
    assert counters.dropped_bytes == len(GARBAGE) * counters.resyncs
    assert counters.dropped_bytes > 0


def test_a_device_reporting_a_health_error_is_a_clear_error(link: Path) -> None:
    emu = Emulator(link, health=2)
    try:
        driver = RplidarDriver("scan", "laser", RplidarSettings(port=str(link)))
        with pytest.raises(SensorError, match=r"hardware error .*0x0102.*power-cycle"):
            driver.open()
    finally:
        emu.unplug()
    assert not driver.is_open
    assert Command.SCAN not in emu.commands


def test_an_unplugged_device_is_reconnected_when_it_comes_back(link: Path) -> None:
    emu = Emulator(link)
    with RplidarDriver("scan", "laser", RplidarSettings(port=str(link))) as driver:
        assert len(collect(driver, 2)) == 2
        emu.unplug()
        time.sleep(0.3)
        emu = Emulator(link)
        try:
            after = collect(driver, 2, timeout_s=8.0)
        finally:
            emu.unplug()
        assert len(after) == 2
        assert driver.counters.device_errors >= 1
        assert driver.counters.reconnects >= 1


def test_a_silent_device_is_a_clear_error(tmp_path: Path) -> None:
    master, slave = os.openpty()
    link = tmp_path / "ttySILENT"
    link.symlink_to(os.ttyname(slave))
    try:
        driver = RplidarDriver("scan", "laser", RplidarSettings(port=str(link), response_timeout_s=0.2))
        with pytest.raises(SensorError, match=r"did not answer GET_HEALTH.*baudrate"):
            driver.open()
    finally:
        os.close(slave)
        os.close(master)


def test_settings_refuse_a_baudrate_no_rplidar_uses() -> None:
    with pytest.raises(ValueError, match=r"115200 \(A1, A2M8\) or 256000"):
        RplidarSettings(port="/dev/ttyUSB0", baudrate=9600)
    assert RplidarSettings(port="/dev/ttyUSB0", baudrate=256000, bins=720).bins == 720
