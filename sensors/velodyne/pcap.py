"""A small pure-Python reader of classic pcap files: the UDP datagrams they hold, in order.

Velodyne recordings (VeloView, Wireshark, tcpdump) are classic pcap: a 24-byte global header
whose magic number gives the byte order and the timestamp resolution (0xA1B2C3D4 for
microseconds, 0xA1B23C4D for nanoseconds), then records of a 16-byte header and the captured
frame. This reader understands Ethernet (with 802.1Q VLAN tags), Linux "cooked" captures
(``tcpdump -i any``) and raw IP frames carrying IPv4/UDP; every other frame (ARP, IPv6, TCP,
IP fragments) is skipped, never fatal. pcapng is not read: it says so.

Every problem is a :class:`~robofuse.errors.SensorError` that names the byte offset, so a
truncated capture stops cleanly after its last whole record.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, NamedTuple

from robofuse.errors import SensorError

__all__ = ["LINKTYPE_ETHERNET", "LINKTYPE_LINUX_SLL", "LINKTYPE_RAW", "PcapReader", "UdpDatagram", "read_udp"]

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101  # raw IPv4/IPv6, no link header
LINKTYPE_LINUX_SLL = 113  # Linux cooked capture v1
_LINKTYPE_IPV4 = 228

_MAGIC_US = 0xA1B2C3D4
_MAGIC_NS = 0xA1B23C4D
_PCAPNG_MAGIC = 0x0A0D0D0A
_GLOBAL_HEADER = 24
_RECORD_HEADER = 16
# No link layer carries frames this large; a bigger length means the file is corrupt, and
# trusting it would make the reader swallow the rest of the file as one frame.
_MAX_FRAME = 262_144

_ETHERTYPE_IPV4 = 0x0800
_ETHERTYPE_VLAN = (0x8100, 0x88A8)
_IP_PROTO_UDP = 17


class UdpDatagram(NamedTuple):
    """One captured UDP datagram: capture time, ports and payload."""

    timestamp_ns: int  # capture time, ns since the Unix epoch (the capturing host's clock)
    src_port: int
    dst_port: int
    payload: bytes
    offset: int  # byte offset of the record in the file, for error messages and debugging


class PcapReader:
    """Reads the UDP datagrams of a classic pcap file.

    A context manager in the manner of rosbags' readers: the constructor only checks its
    argument, :meth:`open` reads the global header, iteration yields :class:`UdpDatagram`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: BinaryIO | None = None
        self._endian = "<"
        self._nanoseconds = False
        self._link_type = -1

    def open(self) -> None:
        """Open the file and read its global header; opening an open reader is a no-op."""
        if self._file is not None:
            return
        try:
            self._file = self.path.open("rb")
        except OSError as err:
            raise SensorError(f"cannot open pcap file {self.path}: {err}") from err
        try:
            self._read_global_header()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the file; closing a closed reader is a no-op."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> PcapReader:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def link_type(self) -> int:
        """The file's link-layer type (1 Ethernet, 101 raw IP, 113 Linux cooked)."""
        self._require_open()
        return self._link_type

    @property
    def nanoseconds(self) -> bool:
        """Whether the file stores nanosecond (rather than microsecond) timestamps."""
        self._require_open()
        return self._nanoseconds

    def __iter__(self) -> Iterator[UdpDatagram]:
        """The file's IPv4/UDP datagrams in file order; other frames are skipped."""
        f = self._require_open()
        offset = _GLOBAL_HEADER
        record = struct.Struct(self._endian + "IIII")
        frac_ns = 1 if self._nanoseconds else 1000
        while True:
            header = _read(f, _RECORD_HEADER)
            if not header:
                return
            if len(header) < _RECORD_HEADER:
                raise SensorError(
                    f"{self.path}: truncated pcap record header at byte offset {offset}"
                    f" ({len(header)} of {_RECORD_HEADER} bytes); the file ends mid-record"
                )
            sec, frac, incl_len, _orig_len = record.unpack(header)
            if incl_len > _MAX_FRAME:
                raise SensorError(
                    f"{self.path}: record at byte offset {offset} claims {incl_len} bytes;"
                    " the file is corrupt (no frame is that large)"
                )
            frame = _read(f, incl_len)
            if len(frame) < incl_len:
                raise SensorError(
                    f"{self.path}: truncated pcap record at byte offset {offset}: its frame has"
                    f" {len(frame)} of {incl_len} bytes; the file ends mid-record"
                )
            udp = _udp_of(frame, self._link_type)
            if udp is not None:
                yield UdpDatagram(sec * 1_000_000_000 + frac * frac_ns, udp[0], udp[1], udp[2], offset)
            offset += _RECORD_HEADER + incl_len

    def _read_global_header(self) -> None:
        f = self._require_open()
        header = _read(f, _GLOBAL_HEADER)
        if len(header) < 4:
            raise SensorError(f"{self.path}: not a pcap file: only {len(header)} bytes at byte offset 0")
        (magic,) = struct.unpack("<I", header[:4])
        if magic == _PCAPNG_MAGIC:
            raise SensorError(f"{self.path}: this is a pcapng file; convert it with `editcap -F pcap` first")
        for endian in ("<", ">"):
            (value,) = struct.unpack(endian + "I", header[:4])
            if value in (_MAGIC_US, _MAGIC_NS):
                self._endian, self._nanoseconds = endian, value == _MAGIC_NS
                break
        else:
            raise SensorError(f"{self.path}: not a pcap file: magic number 0x{magic:08x} at byte offset 0")
        if len(header) < _GLOBAL_HEADER:
            raise SensorError(
                f"{self.path}: truncated pcap global header at byte offset 0 ({len(header)} of {_GLOBAL_HEADER} bytes)"
            )
        # The link type's upper bits carry the FCS length (pcap-linktype(7)); only the low 16 name it.
        self._link_type = struct.unpack(self._endian + "I", header[20:24])[0] & 0xFFFF
        if self._link_type not in (LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL, _LINKTYPE_IPV4):
            raise SensorError(
                f"{self.path}: link type {self._link_type} is not read here; use Ethernet (1),"
                " raw IP (101) or Linux cooked (113) captures"
            )

    def _require_open(self) -> BinaryIO:
        if self._file is None:
            raise SensorError(f"pcap reader for {self.path} is not open; use it as a context manager")
        return self._file


def read_udp(path: str | Path, port: int | None = None) -> Iterator[UdpDatagram]:
    """The UDP datagrams of the pcap file at ``path``, only those to ``port`` when given."""
    with PcapReader(path) as reader:
        for datagram in reader:
            if port is None or datagram.dst_port == port:
                yield datagram


def _read(f: BinaryIO, n: int) -> bytes:
    try:
        return f.read(n)
    except (OSError, ValueError) as err:  # ValueError: the reader was closed under an iteration
        raise SensorError(f"cannot read pcap file: {err}") from err


def _udp_of(frame: bytes, link_type: int) -> tuple[int, int, bytes] | None:
    """(src port, dst port, payload) of an IPv4/UDP frame, or None for anything else."""
    if link_type == LINKTYPE_ETHERNET:
        pos, ethertype = 14, _u16(frame, 12)
        while ethertype in _ETHERTYPE_VLAN:  # a VLAN tag pushes the real EtherType 4 bytes on
            pos, ethertype = pos + 4, _u16(frame, pos + 2)
    elif link_type == LINKTYPE_LINUX_SLL:
        pos, ethertype = 16, _u16(frame, 14)
    else:  # raw IP: the version nibble says which
        pos, ethertype = 0, _ETHERTYPE_IPV4 if frame[:1] and frame[0] >> 4 == 4 else -1
    if ethertype != _ETHERTYPE_IPV4 or len(frame) < pos + 20:
        return None
    ip = frame[pos:]
    ihl = (ip[0] & 0x0F) * 4
    total_len = _u16(ip, 2)
    flags_fragment = _u16(ip, 6)
    if ip[0] >> 4 != 4 or ihl < 20 or ip[9] != _IP_PROTO_UDP or flags_fragment & 0x3FFF:
        return None  # not IPv4/UDP, or an IP fragment (Velodyne packets never fragment)
    ip = ip[: max(total_len, ihl)]  # Ethernet pads short frames; the IP length is the truth
    if len(ip) < ihl + 8:
        return None
    src, dst, udp_len = struct.unpack_from("!HHH", ip, ihl)
    return src, dst, ip[ihl + 8 : ihl + max(udp_len, 8)]


def _u16(buf: bytes, pos: int) -> int:
    return int.from_bytes(buf[pos : pos + 2], "big") if len(buf) >= pos + 2 else -1
