"""The Xsens driver against a device emulator on a real pseudo-terminal.

The emulator speaks Xbus on the master side of an ``os.openpty`` pair: it acknowledges
GoToMeasurement and streams MTData2 packets (built with the protocol's own item layout), with
garbage in between when asked. The driver opens the slave side through pyserial, as it would a
USB serial adapter.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from devicetools import collect

from robofuse.errors import SensorError
from robofuse.messages import ImuSample
from sensors.xsens.driver import XsensDriver
from sensors.xsens.settings import XsensSettings
from sensors.xsens.xbus import MessageId, XbusParser, frame

pytest.importorskip("serial", reason="pyserial is not installed (pip install 'robofuse[drivers]')")


def item(data_id: int, payload: bytes) -> bytes:
    return struct.pack(">HB", data_id, len(payload)) + payload


def mtdata2(counter: int, sample_time_fine: int, t: float) -> bytes:
    """A measurement like an MTi-300's: counter, time, quaternion (w-first), acceleration, rate of turn."""
    yaw = 0.1 * t
    quat = (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))
    return b"".join(
        (
            item(0x1020, struct.pack(">H", counter & 0xFFFF)),
            item(0x1060, struct.pack(">I", sample_time_fine & 0xFFFFFFFF)),
            item(0x2010, struct.pack(">4f", *quat)),
            item(0x4020, struct.pack(">3f", 0.01, -0.02, 9.81)),
            item(0x8020, struct.pack(">3f", 0.001, 0.002, 0.1)),
        )
    )


class Emulator:
    """An MTi on the master side of a pty: streams at ``rate_hz`` once told GoToMeasurement."""

    def __init__(self, link: Path, rate_hz: float = 400.0, garbage: bool = False, first_stf: int = 0) -> None:
        self.link = link
        self.rate_hz = rate_hz
        self.garbage = garbage
        self.stf = first_stf
        self.counter = 65530  # close to the 16-bit wrap
        self.sent = 0
        self.commands: list[int] = []
        self._stop = threading.Event()
        self.master, slave = os.openpty()
        self.slave_path = os.ttyname(slave)
        os.close(slave)  # the driver opens it by name, like a real device node
        if link.is_symlink():
            link.unlink()
        link.symlink_to(self.slave_path)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        parser = XbusParser()
        streaming = False
        os.set_blocking(self.master, False)
        t0 = time.monotonic()
        while not self._stop.is_set():
            try:
                data = os.read(self.master, 4096)
            except (BlockingIOError, OSError):
                data = b""
            for msg in parser.feed(data):
                self.commands.append(msg.message_id)
                if msg.message_id == MessageId.GO_TO_MEASUREMENT:
                    os.write(self.master, frame(0xFF, MessageId.GO_TO_MEASUREMENT_ACK))
                    streaming = True
            if streaming and self.sent < 4000:
                packet = frame(0xFF, MessageId.MT_DATA2, mtdata2(self.counter, self.stf, time.monotonic() - t0))
                if self.garbage and self.sent % 10 == 5:
                    packet = b"\x00\xfa\x13garbage" + packet
                try:
                    os.write(self.master, packet)
                except OSError:
                    return
                self.sent += 1
                self.counter += 1
                self.stf += round(1e4 / self.rate_hz)
            time.sleep(1.0 / self.rate_hz)

    def unplug(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self.master)


@pytest.fixture
def link(tmp_path: Path) -> Iterator[Path]:
    return tmp_path / "ttyXSENS"


def test_the_driver_starts_the_device_and_yields_stamped_imu_samples(link: Path) -> None:
    emu = Emulator(link, first_stf=2**32 - 2000)  # SampleTimeFine wraps after 80 samples
    try:
        with XsensDriver("imu", "imu_link", XsensSettings(port=str(link))) as driver:
            samples = collect(driver, 200)
    finally:
        emu.unplug()
    assert MessageId.GO_TO_MEASUREMENT in emu.commands
    assert len(samples) == 200
    assert all(isinstance(s, ImuSample) for s in samples)
    imu = [s for s in samples if isinstance(s, ImuSample)]
    stamps = np.array([s.stamp_ns for s in imu])
    assert np.all(np.diff(stamps) == 2_500_000)  # 25 ticks of 100 us, across the 2**32 wrap
    seqs = [s.seq for s in imu]
    assert seqs == list(range(seqs[0], seqs[0] + 200))  # PacketCounter unrolled past 65535
    recv = np.array([s.recv_ns for s in imu])
    assert np.all(np.diff(recv) >= 0)
    assert imu[0].orientation is not None
    assert imu[0].orientation[3] > 0.99  # w last: (x, y, z, w)
    assert imu[0].linear_acceleration[2] == pytest.approx(9.81, abs=1e-5)


def test_garbage_on_the_line_is_counted_and_skipped(link: Path) -> None:
    emu = Emulator(link, garbage=True)
    try:
        with XsensDriver("imu", "imu_link", XsensSettings(port=str(link))) as driver:
            samples = collect(driver, 100)
            counters = driver.parser.counters
    finally:
        emu.unplug()
    assert len(samples) == 100
    assert all(isinstance(s, ImuSample) for s in samples)
    assert counters.dropped_bytes > 0
    assert counters.resyncs > 0


def test_an_unplugged_device_is_reconnected_when_it_comes_back(link: Path) -> None:
    emu = Emulator(link)
    with XsensDriver("imu", "imu_link", XsensSettings(port=str(link))) as driver:
        assert len(collect(driver, 20)) == 20
        emu.unplug()
        time.sleep(0.3)
        emu = Emulator(link)  # plugged back: a new pty behind the same device path
        try:
            after = collect(driver, 20, timeout_s=8.0)
        finally:
            emu.unplug()
        assert len(after) == 20
        assert driver.counters.device_errors >= 1
        assert driver.counters.reconnects >= 1


def test_a_missing_port_is_a_clear_error(tmp_path: Path) -> None:
    driver = XsensDriver("imu", "imu_link", XsensSettings(port=str(tmp_path / "ttyNONE")))
    with pytest.raises(SensorError, match=r"cannot open Xsens port .*ttyNONE.*dialout"):
        driver.open()
    assert not driver.is_open
