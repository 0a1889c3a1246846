"""Xbus framing of Xsens MTi devices (the MT Low-Level Communication Protocol).

One message on the wire, every multi-byte field big-endian::

    0xFA | bus id | message id | length | [length hi | length lo] | payload | checksum

A ``length`` of 0xFF means the real payload length follows as a uint16 (an "extended"
message, what the device uses for payloads over 254 bytes). The checksum byte makes the sum
of every byte after the preamble, itself included, 0 modulo 256. An MTi answers on bus id
0xFF (the "master" address), and so do the commands sent to it.

The checksum is one byte, so a false preamble inside garbage or inside a cut-short message
passes it once in 256 tries. That is why the parser also checks the bus id, caps the length,
and lets a decode hook reject content that makes no sense (see :class:`XbusParser`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Generic, TypeVar, cast, overload

from robofuse.errors import SensorError
from sensors.parsing import ParserCounters

PREAMBLE = 0xFA
BUS_MASTER = 0xFF
EXTENDED_LENGTH = 0xFF
MAX_STANDARD_PAYLOAD = 254
DEFAULT_MAX_PAYLOAD = 2048
"""The largest payload :class:`XbusParser` accepts unless told otherwise.

MTi messages stay well below it (the longest in the recorded MTi-300 session is 1320 bytes);
a header claiming more is taken for a false preamble. Raise it for a device that sends more.
"""


class MessageId(IntEnum):
    """The message ids a driver needs. A device acknowledges a command with ``id + 1``."""

    REQ_DID = 0x00
    """Ask for the device id (answered by DEVICE_ID, whose payload is the id)."""
    DEVICE_ID = 0x01
    GO_TO_MEASUREMENT = 0x10
    """Leave configuration mode and start streaming MTData2."""
    GO_TO_MEASUREMENT_ACK = 0x11
    GO_TO_CONFIG = 0x30
    """Stop streaming and enter configuration mode (send it first: it works in any state)."""
    GO_TO_CONFIG_ACK = 0x31
    MT_DATA2 = 0x36
    """A measurement: a list of (data id, size, data) items, decoded by ``sensors.xsens.mtdata2``."""
    RESET = 0x40
    """Restart the device (acknowledged before it restarts)."""
    RESET_ACK = 0x41
    ERROR = 0x42
    """The device refused a message; the payload's first byte is the error code."""
    SET_OUTPUT_CONFIGURATION = 0xC0
    """Choose the MTData2 items and their rates: (data id uint16, rate uint16) pairs."""
    SET_OUTPUT_CONFIGURATION_ACK = 0xC1


def ack_of(message_id: int) -> int:
    """The id of the acknowledgement a device sends for command ``message_id``."""
    if not 0 <= message_id < 0xFF:
        raise ValueError(f"a command's message id must be in [0, 254], got {message_id}")
    return message_id + 1


@dataclass(frozen=True, slots=True)
class XbusMessage:
    """One framed, checksummed Xbus message."""

    bus_id: int
    message_id: int
    payload: bytes


def frame(bus_id: int, message_id: int, payload: bytes = b"") -> bytes:
    """The bytes of one Xbus message: preamble, header, ``payload`` and checksum.

    Payloads over 254 bytes get the extended length field, as the device writes them.
    """
    for name, value in (("bus_id", bus_id), ("message_id", message_id)):
        if not 0 <= value <= 0xFF:
            raise ValueError(f"{name} must be one byte, got {value}")
    n = len(payload)
    if n > 0xFFFF:
        raise ValueError(f"an Xbus payload holds at most 65535 bytes, got {n}")
    length = bytes([n]) if n <= MAX_STANDARD_PAYLOAD else bytes([EXTENDED_LENGTH, n >> 8, n & 0xFF])
    body = bytes([bus_id, message_id]) + length + bytes(payload)
    return bytes([PREAMBLE]) + body + bytes([-sum(body) & 0xFF])


MessageT = TypeVar("MessageT")


def _as_is(message: XbusMessage) -> XbusMessage:
    return message


class XbusParser(Generic[MessageT]):
    """Xbus messages out of a byte stream, in the contract of ``sensors.parsing``.

    ``feed`` returns what each complete, checksummed message becomes: the
    :class:`XbusMessage` itself, or what ``decode`` makes of it. ``decode`` may raise
    :class:`~robofuse.errors.SensorError` when the content makes no sense; the message is then
    counted as ``malformed`` and, like a checksum failure, treated as a false preamble: the
    search for the next 0xFA starts at the byte after the rejected one, never past the length
    the bad header claimed, so a good message hidden inside it is still found.

    Every byte fed ends up in exactly one of: a returned message, ``counters.dropped_bytes``,
    or :attr:`buffered` (a message still arriving, less than :attr:`max_frame_size` bytes).
    A run of discarded bytes between two good messages counts as one resync.

    Args:
        decode: turns each message into the value ``feed`` returns (default: itself).
        bus_ids: the bus ids taken for real; a header naming another is a false preamble.
        max_payload: the longest payload taken for real; a longer claim is a false preamble.
    """

    @overload
    def __init__(
        self: XbusParser[XbusMessage],
        *,
        bus_ids: Iterable[int] = ...,
        max_payload: int = ...,
    ) -> None: ...

    @overload
    def __init__(
        self,
        *,
        decode: Callable[[XbusMessage], MessageT],
        bus_ids: Iterable[int] = ...,
        max_payload: int = ...,
    ) -> None: ...

    def __init__(
        self,
        *,
        decode: Callable[[XbusMessage], Any] | None = None,
        bus_ids: Iterable[int] = (BUS_MASTER,),
        max_payload: int = DEFAULT_MAX_PAYLOAD,
    ) -> None:
        if not 0 <= max_payload <= 0xFFFF:
            raise ValueError(f"max_payload must be in [0, 65535], got {max_payload}")
        self._bus_ids = frozenset(bus_ids)
        if not self._bus_ids or not all(0 <= b <= 0xFF for b in self._bus_ids):
            raise ValueError(f"bus_ids must be one or more byte values, got {sorted(self._bus_ids)}")
        self._decode = cast(Callable[[XbusMessage], MessageT], decode if decode is not None else _as_is)
        self._max_payload = max_payload
        self._buf = bytearray()
        self._resyncing = False
        self.counters = ParserCounters()

    @property
    def max_frame_size(self) -> int:
        """The longest message this parser accepts, preamble to checksum, in bytes."""
        return 1 + 5 + self._max_payload + 1

    @property
    def buffered(self) -> int:
        """Bytes held back because the message they start has not fully arrived."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[MessageT]:
        """Consume ``data``; return the messages completed by it, in order. Never raises on bad bytes."""
        self.counters.bytes += len(data)
        buf = self._buf
        buf += data
        out: list[MessageT] = []
        pos = 0
        while True:
            start = buf.find(PREAMBLE, pos)
            if start < 0:
                self._drop(len(buf) - pos)
                pos = len(buf)
                break
            self._drop(start - pos)
            pos = start
            step = self._try_frame(buf, pos, out)
            if step == 0:
                break  # the message at pos has not fully arrived
            pos += step
        del buf[:pos]  # once per feed: deleting at the front on every message would be quadratic
        return out

    def _try_frame(self, buf: bytearray, pos: int, out: list[MessageT]) -> int:
        """Judge the message starting at ``buf[pos]`` (a preamble): bytes consumed, 0 to wait."""
        have = len(buf) - pos
        if have < 4:
            return 0
        bus_id, message_id, length = buf[pos + 1], buf[pos + 2], buf[pos + 3]
        header = 4
        if bus_id not in self._bus_ids:
            return self._reject()
        if length == EXTENDED_LENGTH:
            if have < 6:
                return 0
            length, header = (buf[pos + 4] << 8) | buf[pos + 5], 6
        if length > self._max_payload:
            return self._reject()
        size = header + length + 1
        if have < size:
            return 0
        if sum(buf[pos + 1 : pos + size]) & 0xFF:
            self.counters.checksum_failures += 1
            return self._reject()
        message = XbusMessage(bus_id, message_id, bytes(buf[pos + header : pos + header + length]))
        try:
            decoded = self._decode(message)
        except SensorError:
            self.counters.malformed += 1
            return self._reject()
        self.counters.packets += 1
        self._resyncing = False
        out.append(decoded)
        return size

    def _reject(self) -> int:
        """Give up the preamble at hand: drop that one byte and search on from the next."""
        self._drop(1)
        return 1

    def _drop(self, n: int) -> None:
        if n <= 0:
            return
        self.counters.dropped_bytes += n
        if not self._resyncing:
            self.counters.resyncs += 1
            self._resyncing = True
