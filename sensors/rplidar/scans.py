"""RPLIDAR nodes to one LaserScan per revolution, in REP-103 angles.

The RPLIDAR turns CLOCKWISE seen from above and reports clockwise angles from its forward
direction (the cable side is its back). REP-103 angles are counter-clockwise from x forward,
so a node at clockwise angle ``a`` lies at ``-a``. Each revolution is resampled onto a fixed
grid of ``bins`` beams in the order they were measured: beam ``i`` at ``-i * 2 pi / bins``
(``angle_min_rad = 0``, a negative ``angle_increment_rad``: still REP-103, sweeping clockwise),
so beam 0 looks straight ahead. A beam with no return is +inf; when several nodes fall into
one beam the nearest wins (the conservative choice for obstacles).

Time: the device has no clock, so a scan is stamped on the host at the arrival of its first
node (the start flag comes straight ahead), and ``time_increment_ns`` is the measured
revolution period divided by ``bins``: beam ``i`` was measured at ``stamp + i * time_increment``,
as the LaserScan contract says (:func:`beam_times_ns`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from sensors.rplidar.protocol import Node


@dataclass(frozen=True, slots=True)
class ScanPayload:
    """One revolution, ready to become a LaserScan (the driver adds stream, frame and seq)."""

    ranges_m: np.ndarray
    intensities: np.ndarray
    angle_min_rad: float
    angle_increment_rad: float
    time_increment_ns: int
    stamp_ns: int
    recv_ns: int
    nodes: int


def bin_angles_rad(bins: int) -> np.ndarray:
    """The REP-103 angle of every beam of a ``bins``-beam scan (clockwise from straight ahead)."""
    return -np.arange(bins) * (2 * math.pi / bins)


def beam_times_ns(bins: int, stamp_ns: int, time_increment_ns: int) -> np.ndarray:
    """When each beam was measured (the revolution starts straight ahead)."""
    return stamp_ns + np.arange(bins) * time_increment_ns


@dataclass
class _Revolution:
    stamp_ns: int
    angles_q: list[int] = field(default_factory=list)
    ranges: list[float] = field(default_factory=list)
    qualities: list[int] = field(default_factory=list)
    nodes: int = 0


class ScanBuilder:
    """Collects nodes and emits a :class:`ScanPayload` each time a revolution closes.

    A revolution closes when a node with the start flag arrives; that node opens the next one.
    Nodes before the first start flag (half a revolution) are dropped and counted.
    """

    def __init__(self, bins: int = 360, range_min_m: float = 0.15, range_max_m: float = 12.0) -> None:
        if bins < 4:
            raise ValueError(f"a scan needs at least 4 bins, got {bins}")
        if not 0 <= range_min_m < range_max_m:
            raise ValueError(f"need 0 <= range_min_m < range_max_m, got {range_min_m}, {range_max_m}")
        self.bins = bins
        self.range_min_m = range_min_m
        self.range_max_m = range_max_m
        self.dropped_nodes = 0
        self._current: _Revolution | None = None

    def reset(self) -> None:
        """Forget the revolution in progress (after a reconnect)."""
        self._current = None

    def add(self, nodes: Iterable[Node], recv_ns: int) -> list[ScanPayload]:
        """Add the nodes that arrived at ``recv_ns``; return the scans they closed."""
        out: list[ScanPayload] = []
        bins = self.bins
        for node in nodes:
            if node.start:
                if self._current is not None:
                    out.append(self._finish(self._current, recv_ns))
                self._current = _Revolution(stamp_ns=recv_ns)
            rev = self._current
            if rev is None:
                self.dropped_nodes += 1
                continue
            rev.nodes += 1
            if self.range_min_m <= node.distance_m <= self.range_max_m and node.distance_m > 0:
                # clockwise degrees -> beam index in sweep order (beam 0 straight ahead)
                rev.angles_q.append(round(node.angle_deg * bins / 360.0) % bins)
                rev.ranges.append(node.distance_m)
                rev.qualities.append(node.quality)
        return out

    def _finish(self, rev: _Revolution, recv_ns: int) -> ScanPayload:
        ranges = np.full(self.bins, np.inf, dtype=np.float32)
        inten = np.zeros(self.bins, dtype=np.float32)
        if rev.ranges:
            idx = np.asarray(rev.angles_q, dtype=np.intp)
            rng = np.asarray(rev.ranges, dtype=np.float32)
            qual = np.asarray(rev.qualities, dtype=np.float32)
            np.minimum.at(ranges, idx, rng)  # the nearest node of each beam wins
            won = rng == ranges[idx]
            inten[idx[won]] = qual[won]
        period = max(0, recv_ns - rev.stamp_ns)
        return ScanPayload(
            ranges_m=ranges,
            intensities=inten,
            angle_min_rad=0.0,
            angle_increment_rad=-2 * math.pi / self.bins,
            time_increment_ns=period // self.bins,
            stamp_ns=rev.stamp_ns,
            recv_ns=recv_ns,
            nodes=rev.nodes,
        )
