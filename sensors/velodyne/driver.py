"""Velodyne LIDARs as Sources: live from the UDP data port, or replayed from a pcap file.

Both run datagrams through the same parser and scan assembler, and publish whole turns only. ``stamp_ns`` is the scan's
first firing on the sensor clock (microseconds past the hour, unrolled across hour wraps), so
ClockSync sees the sensor's own clock; ``recv_ns`` is when the datagram that completed the
scan arrived (live: the host's monotonic clock; replay: the capture time in the file).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

from robofuse.errors import SensorError
from robofuse.messages import Modality, PointCloud, SourceItem
from robofuse.messages.build import sample_or_rejection
from robofuse.source import Source
from sensors.base import POLL_S, Driver, now_ns
from sensors.velodyne.parser import VelodyneParser
from sensors.velodyne.pcap import read_udp
from sensors.velodyne.scans import Scan, ScanAssembler
from sensors.velodyne.settings import VelodyneSettings

MAX_DATAGRAM = 2048


class _ScanStream:
    """Datagrams in, PointCloud samples (or rejections) out: what live and replay share."""

    def __init__(self, stream: str, frame_id: str, settings: VelodyneSettings) -> None:
        self.stream = stream
        self.frame_id = frame_id
        self.parser = VelodyneParser(settings.product_id)
        self.assembler = ScanAssembler(settings.cut_azimuth_deg)
        self.seq = 0
        self.partial_scans = 0  # the first turn, or one cut by a gap: not published, as ROS drivers do

    def feed(self, datagram: bytes, recv_ns: int) -> list[SourceItem]:
        scans = [scan for p in self.parser.feed(datagram) for scan in self.assembler.add(p)]
        self.partial_scans += sum(not scan.complete for scan in scans)
        return [self._sample(scan, recv_ns) for scan in scans if scan.complete]

    def _sample(self, scan: Scan, recv_ns: int) -> SourceItem:
        seq, self.seq = self.seq, self.seq + 1
        return sample_or_rejection(
            PointCloud,
            stream=self.stream,
            frame_id=self.frame_id,
            seq=seq,
            stamp_ns=scan.stamp_ns,
            recv_ns=recv_ns,
            **scan.cloud_fields(),
        )


class VelodyneUdpDriver(Driver):
    """A live Velodyne: listens on its UDP data port."""

    def __init__(self, stream: str, frame_id: str, settings: VelodyneSettings) -> None:
        super().__init__()
        self.stream_name = stream
        self.settings = settings
        self.scans = _ScanStream(stream, frame_id, settings)
        self._sock: socket.socket | None = None

    @property
    def streams(self) -> dict[str, Modality]:
        """The one LIDAR stream."""
        return {self.stream_name: Modality.LIDAR}

    @property
    def address(self) -> tuple[str, int]:
        """Where the socket listens (the port the OS chose, when settings asked for 0)."""
        if self._sock is None:
            raise SensorError("the Velodyne driver is not open")
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def _connect(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)  # a scan's burst must not overflow
        try:
            sock.bind((self.settings.host, self.settings.port))
        except OSError as err:
            sock.close()
            raise SensorError(
                f"cannot listen on UDP {self.settings.host}:{self.settings.port} ({err.strerror});"
                " is another driver already bound to it? Set the stream's settings.port"
            ) from None
        sock.settimeout(POLL_S)
        self._sock = sock

    def _disconnect(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def _read(self) -> list[SourceItem]:
        if self._sock is None:
            raise SensorError("the Velodyne socket is closed")
        try:
            datagram = self._sock.recv(MAX_DATAGRAM)
        except TimeoutError:
            return []
        return self.scans.feed(datagram, now_ns())


class VelodynePcapSource(Source):
    """A recorded Velodyne: the data-port datagrams of a pcap file, with their capture times."""

    def __init__(self, path: str | Path, stream: str, frame_id: str, settings: VelodyneSettings | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.stream_name = stream
        self.frame_id = frame_id
        self.settings = settings or VelodyneSettings()
        self.scans = _ScanStream(stream, frame_id, self.settings)

    @property
    def streams(self) -> dict[str, Modality]:
        """The one LIDAR stream."""
        return {self.stream_name: Modality.LIDAR}

    def _open(self) -> None:
        if not self.path.is_file():
            raise SensorError(f"no pcap file at {self.path}")
        self.scans = _ScanStream(self.stream_name, self.frame_id, self.settings)

    def _close(self) -> None:
        pass

    def _items(self) -> Iterator[SourceItem]:
        for datagram in read_udp(self.path, self.settings.port):
            if not self.is_open:
                return
            yield from self.scans.feed(datagram.payload, datagram.timestamp_ns)
