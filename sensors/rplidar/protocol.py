"""The RPLIDAR (A1/A2) serial protocol, standard scan mode.

Requests are ``0xA5, command`` (commands with a payload add ``size, payload, checksum``, the
checksum being the XOR of every byte before it). Every response starts with a 7-byte
descriptor: ``0xA5 0x5A``, a little-endian uint32 holding a 30-bit length and a 2-bit send
mode (0 single response, 1 multiple), and a data type byte. After SCAN the device streams
5-byte measurement nodes until told STOP::

    byte 0: quality << 2 | !S << 1 | S     S: first node of a new 360 degree scan
    byte 1: angle_q6[6:0] << 1 | C         C: check bit, always 1
    byte 2: angle_q6[14:7]                 angle = angle_q6 / 64 degrees, CLOCKWISE
    byte 3-4: distance_q2 (uint16 LE)      distance = distance_q2 / 4 mm; 0 = no return

The only integrity checks a node has are those three bits (S and !S complementary, C set), so
one node of random bytes passes them one time in four. :class:`RplidarParser` therefore also
rejects angles of 360 degrees or more, and after losing sync accepts a node only when the
node after it passes the checks too.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from robofuse.errors import SensorError
from sensors.parsing import ParserCounters

SYNC = 0xA5
SYNC2 = 0x5A
DESCRIPTOR_SIZE = 7
NODE_SIZE = 5
FULL_CIRCLE_Q6 = 360 * 64


class Command(IntEnum):
    """Request bytes that follow the 0xA5 start flag."""

    STOP = 0x25
    RESET = 0x40
    SCAN = 0x20
    GET_INFO = 0x50
    GET_HEALTH = 0x52


class DataType(IntEnum):
    """The data type byte of the response descriptors the driver expects."""

    SCAN = 0x81
    INFO = 0x04
    HEALTH = 0x06


class SendMode(IntEnum):
    """How many responses follow a descriptor."""

    SINGLE = 0
    MULTIPLE = 1


def request(command: int, payload: bytes = b"") -> bytes:
    """The bytes of one request; ``payload`` (if any) gets its size byte and XOR checksum."""
    if not payload:
        return bytes((SYNC, command))
    if len(payload) > 255:
        raise ValueError(f"an RPLIDAR request payload has at most 255 bytes, got {len(payload)}")
    body = bytes((SYNC, command, len(payload))) + payload
    checksum = 0
    for b in body:
        checksum ^= b
    return body + bytes((checksum,))


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A response descriptor: how long each response is, how many follow, what they hold."""

    length: int
    send_mode: int
    data_type: int


def encode_descriptor(length: int, send_mode: int, data_type: int) -> bytes:
    """The 7 bytes of a response descriptor (what a device, or an emulator, sends)."""
    return bytes((SYNC, SYNC2)) + struct.pack("<IB", (length & 0x3FFFFFFF) | (send_mode << 30), data_type)


def parse_descriptor(data: bytes) -> Descriptor:
    """Decode 7 descriptor bytes; SensorError if they are not one."""
    if len(data) != DESCRIPTOR_SIZE or data[0] != SYNC or data[1] != SYNC2:
        raise SensorError(
            f"expected an RPLIDAR response descriptor (a5 5a ...), got {data.hex(' ') or 'nothing'};"
            " check the baudrate (115200 for A1/A2M8, 256000 for A2M12 and later) and the cable"
        )
    word, data_type = struct.unpack("<IB", data[2:])
    return Descriptor(length=word & 0x3FFFFFFF, send_mode=word >> 30, data_type=data_type)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """GET_INFO's answer."""

    model: int
    firmware: tuple[int, int]  # (major, minor)
    hardware: int
    serial_number: str  # 16 bytes, as hex

    @property
    def firmware_version(self) -> str:
        """``major.minor``, the way Slamtec writes it (e.g. ``1.29``)."""
        return f"{self.firmware[0]}.{self.firmware[1]:02d}"


INFO_SIZE = 20
HEALTH_SIZE = 3


def decode_info(data: bytes) -> DeviceInfo:
    """Decode GET_INFO's 20 bytes: model, firmware minor, major, hardware, serial number."""
    if len(data) != INFO_SIZE:
        raise SensorError(f"RPLIDAR device info must be {INFO_SIZE} bytes, got {len(data)}")
    return DeviceInfo(model=data[0], firmware=(data[2], data[1]), hardware=data[3], serial_number=data[4:].hex())


def encode_info(info: DeviceInfo) -> bytes:
    """The 20 bytes a device sends for ``info`` (for emulators and tests)."""
    serial = bytes.fromhex(info.serial_number)
    if len(serial) != 16:
        raise ValueError("the serial number is 16 bytes (32 hex digits)")
    return bytes((info.model, info.firmware[1], info.firmware[0], info.hardware)) + serial


class HealthStatus(IntEnum):
    """GET_HEALTH's status byte."""

    GOOD = 0
    WARNING = 1
    ERROR = 2


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """GET_HEALTH's answer: a status and the device's error code."""

    status: int
    error_code: int


def decode_health(data: bytes) -> DeviceHealth:
    """Decode GET_HEALTH's 3 bytes: status, uint16 LE error code."""
    if len(data) != HEALTH_SIZE:
        raise SensorError(f"RPLIDAR health must be {HEALTH_SIZE} bytes, got {len(data)}")
    return DeviceHealth(status=data[0], error_code=data[1] | data[2] << 8)


def encode_health(health: DeviceHealth) -> bytes:
    """The 3 bytes a device sends for ``health``."""
    return struct.pack("<BH", health.status, health.error_code)


@dataclass(frozen=True, slots=True)
class Node:
    """One measurement as the device reports it: clockwise angle, distance (0.0 = no return)."""

    angle_deg: float
    distance_m: float
    quality: int
    start: bool


def encode_node(angle_deg: float, distance_m: float, quality: int = 47, start: bool = False) -> bytes:
    """The 5 bytes of one node (rounded to the protocol's 1/64 degree and 1/4 mm)."""
    angle_q6 = round(angle_deg * 64) % FULL_CIRCLE_Q6
    dist_q2 = min(0xFFFF, max(0, round(distance_m * 4000)))
    s = 1 if start else 0
    return bytes(((quality & 0x3F) << 2 | (s ^ 1) << 1 | s, (angle_q6 & 0x7F) << 1 | 1, angle_q6 >> 7)) + struct.pack(
        "<H", dist_q2
    )


def _checks(b0: int, b1: int) -> bool:
    return ((b0 ^ (b0 >> 1)) & 1) == 1 and (b1 & 1) == 1


def decode_node(data: bytes | bytearray, offset: int = 0) -> Node | None:
    """The node in ``data[offset:offset + 5]``, or None when its check bits or angle are wrong."""
    b0, b1, b2 = data[offset], data[offset + 1], data[offset + 2]
    if not _checks(b0, b1):
        return None
    angle_q6 = (b1 >> 1) | (b2 << 7)
    if angle_q6 >= FULL_CIRCLE_Q6:
        return None
    dist_q2 = data[offset + 3] | data[offset + 4] << 8
    return Node(angle_deg=angle_q6 / 64.0, distance_m=dist_q2 / 4000.0, quality=b0 >> 2, start=bool(b0 & 1))


class RplidarParser:
    """The scan stream after SCAN's descriptor, as :class:`Node` s (the ``sensors.parsing`` contract).

    Counters: ``packets`` nodes decoded; a node that fails its check bits while in sync is a
    ``checksum_failure``, one whose bits pass but whose angle is 360 degrees or more is
    ``malformed``; either starts a ``resync``, which drops a byte at a time (``dropped_bytes``)
    until two consecutive nodes pass. ``bytes == 5 * packets + dropped_bytes + pending``.
    """

    def __init__(self) -> None:
        self.counters = ParserCounters()
        self._buf = bytearray()
        self._in_sync = True  # the stream starts on a node boundary right after the descriptor

    @property
    def pending(self) -> int:
        """Bytes held back until more arrive."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Node]:
        """Consume ``data``; return the nodes it completes. Never raises."""
        self.counters.bytes += len(data)
        buf = self._buf
        buf += data
        out: list[Node] = []
        i = 0
        n = len(buf)
        while True:
            if self._in_sync:
                if n - i < NODE_SIZE:
                    break
                node = decode_node(buf, i)
                if node is not None:
                    out.append(node)
                    i += NODE_SIZE
                    continue
                if _checks(buf[i], buf[i + 1]):
                    self.counters.malformed += 1
                else:
                    self.counters.checksum_failures += 1
                self.counters.resyncs += 1
                self._in_sync = False
            else:
                if n - i < 2 * NODE_SIZE:
                    break
                node = decode_node(buf, i)
                if node is not None and decode_node(buf, i + NODE_SIZE) is not None:
                    out.append(node)
                    i += NODE_SIZE
                    self._in_sync = True
                    continue
            i += 1
            self.counters.dropped_bytes += 1
        del buf[:i]
        self.counters.packets += len(out)
        return out
