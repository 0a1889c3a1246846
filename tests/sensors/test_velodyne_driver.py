"""Velodyne as a Source: replayed from the real pcap, and live over UDP on loopback."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from robofuse.errors import SensorError
from robofuse.messages import PointCloud, SourceItem
from sensors.velodyne.driver import VelodynePcapSource, VelodyneUdpDriver
from sensors.velodyne.pcap import read_udp
from sensors.velodyne.settings import VelodyneSettings

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
PCAP = REAL / "velodyne_vlp16" / "mrpt_sample_velodyne_vlp16_gps.pcap"
needs_pcap = pytest.mark.skipif(not PCAP.exists(), reason=f"the real VLP-16 capture is not at {PCAP}")


def clouds(items: list[SourceItem]) -> list[PointCloud]:
    out = [i for i in items if isinstance(i, PointCloud)]
    assert len(out) == len(items), "every scan of a clean capture is a valid PointCloud"
    return out


@needs_pcap
def test_the_real_capture_replays_as_scans_stamped_by_the_sensor_clock() -> None:
    with VelodynePcapSource(PCAP, "lidar", "velodyne") as source:
        scans = clouds(list(source))
    assert len(scans) >= 3  # 0.39 s of a 10 Hz sensor, cut at azimuth 0
    assert source.scans.partial_scans == 1  # the turn already under way when the capture began
    assert [s.seq for s in scans] == list(range(len(scans)))
    stamps = np.array([s.stamp_ns for s in scans])
    assert np.all(np.diff(stamps) > 80_000_000)
    assert np.all(np.diff(stamps) < 120_000_000)  # ~10 Hz
    recv = np.array([s.recv_ns for s in scans])
    assert np.all(np.diff(recv) > 0)
    assert recv[0] > 1_400_000_000 * 10**9  # capture times: the host's epoch clock in 2016
    assert all(s.points.shape[0] > 10_000 for s in scans[1:])


@needs_pcap
def test_the_capture_sent_over_udp_on_loopback_gives_the_same_scans_as_the_file() -> None:
    with VelodynePcapSource(PCAP, "lidar", "velodyne") as source:
        expected = clouds(list(source))
    driver = VelodyneUdpDriver("lidar", "velodyne", VelodyneSettings(host="127.0.0.1", port=0))
    received: list[SourceItem] = []
    with driver:
        target = driver.address
        datagrams = [d.payload for d in read_udp(PCAP)]  # data and position packets, as on the wire

        def send() -> None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
                for payload in datagrams:
                    tx.sendto(payload, target)
                    time.sleep(0.0002)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        deadline = time.monotonic() + 10
        for item in driver:
            received.append(item)
            if len(received) == len(expected) or time.monotonic() > deadline:
                break
        sender.join(timeout=5)
    got = clouds(received)
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert a.stamp_ns == b.stamp_ns
        assert np.array_equal(a.points, b.points)
        assert np.array_equal(a.ring, b.ring)
    assert driver.scans.parser.counters.malformed == sum(1 for d in read_udp(PCAP) if d.dst_port != 2368)


def test_a_port_already_in_use_is_a_clear_error() -> None:
    first = VelodyneUdpDriver("lidar", "velodyne", VelodyneSettings(host="127.0.0.1", port=0))
    with first:
        _, port = first.address
        second = VelodyneUdpDriver("lidar", "velodyne", VelodyneSettings(host="127.0.0.1", port=port))
        with pytest.raises(SensorError, match=rf"cannot listen on UDP 127.0.0.1:{port}.*settings.port"):
            second.open()
        assert not second.is_open


def test_a_missing_capture_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SensorError, match="no pcap file"):
        VelodynePcapSource(tmp_path / "none.pcap", "lidar", "velodyne").open()
