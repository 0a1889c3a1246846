"""Velodyne packets cut into 360-degree scans, each decoded in one batch; sensor time onto a host clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sensors.velodyne.decoder import (
    HOUR_US,
    decode_packets,
    wrap_hour_us,
)
from sensors.velodyne.layouts import LaserLayout, layout_for
from sensors.velodyne.parser import VelodynePacket, packet_problem


def absolute_time_ns(past_hour_ns: int, reference_ns: int) -> int:
    """The time nearest ``reference_ns`` (any epoch, e.g. host UTC) that is ``past_hour_ns`` into its hour.

    Velodyne stamps count from the top of the hour (of UTC when the sensor has GPS or PTP);
    the hour itself comes from a reference clock within 30 minutes of the truth.
    """
    hour_ns = HOUR_US * 1000
    candidate = reference_ns - reference_ns % hour_ns + past_hour_ns % hour_ns
    if candidate - reference_ns > hour_ns // 2:
        candidate -= hour_ns
    elif reference_ns - candidate >= hour_ns // 2:
        candidate += hour_ns
    return candidate


@dataclass(frozen=True)
class Scan:
    """One revolution's points: the fields of a PointCloud, and its first point's time.

    ``stamp_ns`` is on the sensor clock: ns after the top of the hour in which the stream
    began, unrolled across hour wraps so that it never jumps back (:func:`absolute_time_ns`
    places it on a host clock). ``complete`` is False for a partial turn: the stream's first,
    one cut short by a gap in the packets, or one emptied by ``flush``.
    """

    stamp_ns: int
    points: np.ndarray
    intensity: np.ndarray
    ring: np.ndarray
    time_offset_ns: np.ndarray  # int32, after stamp_ns
    duration_ns: int
    azimuth_deg: np.ndarray
    return_type: np.ndarray
    packets: int
    complete: bool

    def cloud_fields(self) -> dict[str, Any]:
        """The keyword arguments of :class:`~robofuse.messages.PointCloud` that a scan fills."""
        return {
            "points": self.points,
            "intensity": self.intensity,
            "ring": self.ring,
            "time_offset_ns": self.time_offset_ns,
            "duration_ns": self.duration_ns,
        }


class ScanAssembler:
    """Cuts a stream of packets into 360-degree scans at ``cut_azimuth_deg`` and decodes them.

    The cut is made between blocks: a block belongs to the turn its azimuth falls in, counted
    from the cut, so a packet that straddles the cut is split. Each scan is decoded in one
    vectorised batch when the first block of the next turn arrives. A silence longer than
    ``max_gap_ns`` (the azimuth can no longer be followed) or a scan longer than
    ``max_scan_ns`` (the sensor is not turning) ends the scan early.
    """

    def __init__(
        self,
        cut_azimuth_deg: float = 0.0,
        layout: LaserLayout | None = None,
        max_gap_ns: int = 20_000_000,
        max_scan_ns: int = 1_000_000_000,
    ) -> None:
        if not 0 < max_gap_ns <= max_scan_ns <= 2_000_000_000:  # offsets must fit int32
            raise ValueError(f"need 0 < max_gap_ns <= max_scan_ns <= 2e9 ns, got {max_gap_ns}, {max_scan_ns}")
        self.cut_centideg = round(cut_azimuth_deg * 100) % 36000
        self.layout = layout
        self.max_gap_ns = max_gap_ns
        self.max_scan_ns = max_scan_ns
        self.rejected = 0  # packets of another model, or not packets at all
        self._pending: list[bytes] = []
        self._masks: list[np.ndarray] = []
        self._turn: int | None = None  # turn number of the pending scan; None: start afresh
        self._started_at_cut = False
        self._first_us = 0  # unrolled clock of the pending scan's first packet
        self._clock_us: int | None = None  # unrolled clock of the last packet
        self._last_ts = 0
        self._unrolled = 0  # unrolled azimuth (centidegrees) of the last block
        self._last_az = 0

    def add(self, packet: VelodynePacket | bytes) -> list[Scan]:
        """Take one packet; return the scans it completed (usually none, at most a few)."""
        if not isinstance(packet, VelodynePacket):
            data = bytes(packet)
            if packet_problem(data, None if self.layout is None else self.layout.product_id) is not None:
                self.rejected += 1
                return []
            packet = VelodynePacket(data, int.from_bytes(data[1200:1204], "little"), data[1204], data[1205])
        if self.layout is None:
            self.layout = layout_for(packet.product_id)
        if self.layout is None or packet.product_id != self.layout.product_id:
            self.rejected += 1
            return []
        done: list[Scan] = []
        if self._clock_us is None:
            clock = packet.timestamp_us
        else:
            clock = self._clock_us + int(wrap_hour_us(packet.timestamp_us - self._last_ts))
            silent = abs(clock - self._clock_us) * 1000 > self.max_gap_ns
            if silent or (clock - self._first_us) * 1000 > self.max_scan_ns:
                done += self._finish(complete=False)
        self._clock_us, self._last_ts = clock, packet.timestamp_us
        block_turns = self._turns_of_blocks(packet.data)
        if self._turn is None:
            self._turn, self._started_at_cut, self._first_us = int(block_turns[0]), False, clock
        block_turns = np.maximum(block_turns, self._turn)  # a block never joins a turn already sent
        for turn in np.unique(block_turns):
            if turn > self._turn:  # the first block past the cut: the pending turn is whole
                done += self._finish(complete=True)
                self._turn, self._started_at_cut, self._first_us = int(turn), True, clock
            self._pending.append(packet.data)
            self._masks.append(block_turns == turn)
        return done

    def flush(self) -> Scan | None:
        """The pending partial scan, if any; the next packet starts afresh."""
        done = self._finish(complete=False)
        return done[0] if done else None

    def _turns_of_blocks(self, data: bytes) -> np.ndarray:
        az = np.frombuffer(data, "<u2", count=600)[1::50].astype(np.int64)
        if self._turn is None:
            self._unrolled, self._last_az = int(az[0]), int(az[0])
        # Signed steps: jitter backwards is a small step back, not a whole turn forward.
        steps = (np.diff(az, prepend=self._last_az) + 18000) % 36000 - 18000
        unrolled = self._unrolled + np.cumsum(steps)
        self._unrolled, self._last_az = int(unrolled[-1]), int(az[-1])
        return (unrolled - self.cut_centideg) // 36000

    def _finish(self, complete: bool) -> list[Scan]:
        pending, masks, self._pending, self._masks = self._pending, self._masks, [], []
        started_at_cut = self._started_at_cut
        if not complete:
            self._turn = None  # follow the azimuth afresh from the next packet
        if not pending:
            return []
        assert self.layout is not None
        dec = decode_packets(np.frombuffer(b"".join(pending), np.uint8), self.layout, np.stack(masks))
        t0 = int(dec.time_ns.min()) if len(dec) else 0
        offsets = (dec.time_ns - t0).astype(np.int32)
        return [
            Scan(
                stamp_ns=self._first_us * 1000 + t0,
                points=dec.points,
                intensity=dec.intensity,
                ring=dec.ring,
                time_offset_ns=offsets,
                duration_ns=int(offsets.max()) if len(dec) else 0,
                azimuth_deg=dec.azimuth_deg,
                return_type=dec.return_type,
                packets=len(pending),
                complete=complete and started_at_cut,
            )
        ]
