"""The Velodyne data port as a parser: one UDP datagram in, at most one checked packet out."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from sensors.parsing import ParserCounters
from sensors.velodyne.decoder import (
    HOUR_US,
    PACKET_BYTES,
    ReturnMode,
)
from sensors.velodyne.layouts import layout_for


@dataclass(frozen=True, slots=True)
class VelodynePacket:
    """One data packet that passed :func:`packet_problem`: its bytes and header fields."""

    data: bytes
    timestamp_us: int  # microseconds past the top of the hour, of block 0's first firing
    return_mode: int
    product_id: int


def packet_problem(data: bytes, product_id: int | None = None) -> str | None:
    """Why ``data`` is not a decodable data packet (of ``product_id`` when given), or None."""
    if len(data) != PACKET_BYTES:
        return f"wrong size: {len(data)} bytes, not {PACKET_BYTES}"
    if data[0:1200:100] != b"\xff" * 12 or data[1:1200:100] != b"\xee" * 12:
        return "bad block flag: not 0xFFEE"
    if (np.frombuffer(data, "<u2", count=600)[1::50] >= 36000).any():
        return "bad azimuth: 360 degrees or more"
    if int.from_bytes(data[1200:1204], "little") >= HOUR_US:
        return "bad timestamp: an hour or more past the hour"
    if data[1204] not in tuple(ReturnMode):
        return f"unknown return mode: 0x{data[1204]:02x}"
    if product_id is not None and data[1205] != product_id:
        return f"unexpected product id: 0x{data[1205]:02x}, not 0x{product_id:02x}"
    if layout_for(data[1205]) is None:
        return f"unknown product id: 0x{data[1205]:02x}"
    return None


class VelodyneParser:
    """The parser contract (``sensors.parsing``) for a Velodyne data port: one datagram a feed.

    Each ``feed`` is one UDP datagram, which is one packet: anything else (wrong size, broken
    block flags, out-of-range azimuth or timestamp, an unknown or unexpected model) is counted
    as ``malformed`` and its bytes as ``dropped_bytes``; ``rejected`` tallies the reasons
    (the part of :func:`packet_problem`'s message before the colon).
    It never raises on bad bytes, and a bad datagram costs only itself.
    """

    def __init__(self, product_id: int | None = None) -> None:
        self.product_id = product_id
        self.counters = ParserCounters()
        self.rejected: Counter[str] = Counter()

    def feed(self, data: bytes) -> list[VelodynePacket]:
        """Consume one datagram; return the packet it held, or nothing if it was not one."""
        data = bytes(data)
        self.counters.bytes += len(data)
        problem = packet_problem(data, self.product_id)
        if problem is not None:
            self.counters.malformed += 1
            self.counters.dropped_bytes += len(data)
            self.rejected[problem.split(":")[0]] += 1  # reasons without their values, to stay few
            return []
        self.counters.packets += 1
        ts = int.from_bytes(data[1200:1204], "little")
        return [VelodynePacket(data, ts, data[1204], data[1205])]
