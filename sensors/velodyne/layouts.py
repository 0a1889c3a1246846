"""Laser tables of the Velodyne models whose packets share the 1206-byte "12 blocks x 32" format.

A data packet holds 12 blocks; a block holds one azimuth and 32 returns ("slots"). How the
slots map to lasers and to firing times differs by model:

- VLP-16 (product id 0x22; the Puck LITE reports the same id and angles): 16 lasers at -15..+15
  degrees in 2-degree steps, fired one at a time 2.304 us apart, one firing sequence every
  55.296 us; a block carries two sequences (slots 0-15, then 16-31). Laser order within a
  sequence interleaves low and high: -15, +1, -13, +3, ... (VLP-16 User Manual 63-9243 Rev E,
  "Laser Firing Sequence" and "Precision Azimuth Calculation").
- HDL-32E (0x21): 32 lasers from -30.67 to +10.67 degrees, fired one at a time 1.152 us
  apart, one sequence (one block) every 46.080 us (HDL-32E packet structure application note
  63-9277 Rev D).
- VLP-32C (0x28): 32 lasers from -25 to +15 degrees, fired two at a time, 2.304 us per pair,
  one sequence (one block) every 55.296 us; each laser also looks a little to the side of the
  block's azimuth (+-1.4 or +-4.2 degrees) and ranges are in 4 mm units (VLP-32C User Manual
  63-9325, timing and calibration tables).

The angles of the 32-laser models are VeloView's default calibrations, as converted to ROS
form by the velodyne_decoder project; the timings are the manuals'. No recording of either
model is at hand, so only the VLP-16 table is checked against real data (the nebula ground
truth); the other two are checked for internal consistency.

Angles follow the sensor's own convention: elevation up from the horizontal plane, azimuth
clockwise seen from above, 0 straight ahead (REP-103 x). The decoder turns them into x forward,
y left, z up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["HDL_32E", "LAYOUTS", "SLOTS_PER_BLOCK", "VLP_16", "VLP_32C", "LaserLayout", "layout_for"]

SLOTS_PER_BLOCK = 32


@dataclass(frozen=True)
class LaserLayout:
    """How one model's 32 slots per block map to lasers, angles and firing times.

    ``elevation_deg`` and ``azimuth_offset_deg`` are per laser (index as the manual numbers
    them); ``slot_laser`` says which laser each of a block's 32 slots holds;
    ``slot_time_ns`` when it fired after the block's first firing; ``block_ns`` how long a
    block's firings take (the time from one block to the next in single-return mode).
    """

    name: str
    product_id: int
    elevation_deg: tuple[float, ...]
    azimuth_offset_deg: tuple[float, ...]
    slot_laser: tuple[int, ...]
    slot_time_ns: tuple[int, ...]
    block_ns: int
    distance_resolution_m: float
    # Derived tables, per slot, in the dtypes the decoder uses (filled in __post_init__).
    ring_of_slot: np.ndarray = field(init=False, repr=False, compare=False)
    cos_elevation: np.ndarray = field(init=False, repr=False, compare=False)
    sin_elevation: np.ndarray = field(init=False, repr=False, compare=False)
    slot_fraction: np.ndarray = field(init=False, repr=False, compare=False)
    slot_offset_centideg: np.ndarray = field(init=False, repr=False, compare=False)
    slot_time: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lasers = len(self.elevation_deg)
        if len(self.azimuth_offset_deg) != lasers:
            raise ValueError(f"{self.name}: {len(self.azimuth_offset_deg)} azimuth offsets for {lasers} lasers")
        if len(self.slot_laser) != SLOTS_PER_BLOCK or len(self.slot_time_ns) != SLOTS_PER_BLOCK:
            raise ValueError(f"{self.name}: need {SLOTS_PER_BLOCK} slot lasers and slot times")
        if not all(0 <= laser < lasers for laser in self.slot_laser):
            raise ValueError(f"{self.name}: slot_laser refers to a laser outside 0..{lasers - 1}")
        if not all(0 <= t < self.block_ns for t in self.slot_time_ns):
            raise ValueError(f"{self.name}: slot times must lie within the block's {self.block_ns} ns")
        slot = np.asarray(self.slot_laser)
        elevation = np.radians(np.asarray(self.elevation_deg, dtype=np.float64))
        # Ring 0 is the lowest laser, as in ROS velodyne_pointcloud and nebula's "channel".
        ring_of_laser = np.empty(lasers, dtype=np.uint16)
        ring_of_laser[np.argsort(elevation, kind="stable")] = np.arange(lasers, dtype=np.uint16)
        tables = {
            "ring_of_slot": ring_of_laser[slot],
            "cos_elevation": np.cos(elevation)[slot].astype(np.float32),
            "sin_elevation": np.sin(elevation)[slot].astype(np.float32),
            # How far through the block each slot fired: the share of the block's rotation to add.
            "slot_fraction": (np.asarray(self.slot_time_ns, dtype=np.float64) / self.block_ns).astype(np.float32),
            "slot_offset_centideg": (100 * np.asarray(self.azimuth_offset_deg, dtype=np.float64))[slot].astype(
                np.float32
            ),
            "slot_time": np.asarray(self.slot_time_ns, dtype=np.int64),
        }
        for name, table in tables.items():
            table.setflags(write=False)
            object.__setattr__(self, name, table)

    @property
    def lasers(self) -> int:
        """Number of lasers."""
        return len(self.elevation_deg)

    @property
    def has_azimuth_offsets(self) -> bool:
        """Whether any laser looks to the side of its block's azimuth (the decoder can skip it if not)."""
        return any(offset != 0.0 for offset in self.azimuth_offset_deg)


def _vlp16() -> LaserLayout:
    # Laser i points at -15 + i degrees for even i and +1 + (i - 1) degrees for odd i: the
    # manual's interleaved order -15, 1, -13, 3, ..., -1, 15.
    elevation = tuple(float(-15 + i if i % 2 == 0 else i) for i in range(16))
    return LaserLayout(
        name="VLP-16",
        product_id=0x22,
        elevation_deg=elevation,
        azimuth_offset_deg=(0.0,) * 16,
        slot_laser=tuple(s % 16 for s in range(SLOTS_PER_BLOCK)),
        slot_time_ns=tuple(55_296 * (s // 16) + 2_304 * (s % 16) for s in range(SLOTS_PER_BLOCK)),
        block_ns=2 * 55_296,
        distance_resolution_m=0.002,
    )


def _hdl32e() -> LaserLayout:
    # Manual order: -30.67, -9.33, -29.33, -8.00, ... : two interleaved fans 4/3 degree apart.
    elevation = (
        -30.67, -9.33, -29.33, -8.00, -28.00, -6.67, -26.67, -5.33,
        -25.33, -4.00, -24.00, -2.67, -22.67, -1.33, -21.33, 0.00,
        -20.00, 1.33, -18.67, 2.67, -17.33, 4.00, -16.00, 5.33,
        -14.67, 6.67, -13.33, 8.00, -12.00, 9.33, -10.67, 10.67,
    )  # fmt: skip
    return LaserLayout(
        name="HDL-32E",
        product_id=0x21,
        elevation_deg=elevation,
        azimuth_offset_deg=(0.0,) * 32,
        slot_laser=tuple(range(SLOTS_PER_BLOCK)),
        slot_time_ns=tuple(1_152 * s for s in range(SLOTS_PER_BLOCK)),
        block_ns=46_080,
        distance_resolution_m=0.002,
    )


def _vlp32c() -> LaserLayout:
    elevation = (
        -25.0, -1.0, -1.667, -15.639, -11.31, 0.0, -0.667, -8.843,
        -7.254, 0.333, -0.333, -6.148, -5.333, 1.333, 0.667, -4.0,
        -4.667, 1.667, 1.0, -3.667, -3.333, 3.333, 2.333, -2.667,
        -3.0, 7.0, 4.667, -2.333, -2.0, 15.0, 10.333, -1.333,
    )  # fmt: skip
    azimuth_offset = (
        1.4, -4.2, 1.4, -1.4, 1.4, -1.4, 4.2, -1.4,
        1.4, -4.2, 1.4, -1.4, 4.2, -1.4, 4.2, -1.4,
        1.4, -4.2, 1.4, -4.2, 4.2, -1.4, 1.4, -1.4,
        1.4, -1.4, 1.4, -4.2, 4.2, -1.4, 1.4, -1.4,
    )  # fmt: skip
    return LaserLayout(
        name="VLP-32C",
        product_id=0x28,
        elevation_deg=elevation,
        azimuth_offset_deg=azimuth_offset,
        slot_laser=tuple(range(SLOTS_PER_BLOCK)),
        slot_time_ns=tuple(2_304 * (s // 2) for s in range(SLOTS_PER_BLOCK)),
        block_ns=55_296,
        distance_resolution_m=0.004,
    )


VLP_16 = _vlp16()
"""Velodyne VLP-16 (Puck) and Puck LITE."""
HDL_32E = _hdl32e()
"""Velodyne HDL-32E."""
VLP_32C = _vlp32c()
"""Velodyne VLP-32C (Ultra Puck)."""

LAYOUTS: dict[int, LaserLayout] = {layout.product_id: layout for layout in (VLP_16, HDL_32E, VLP_32C)}
"""Every known layout by the product-id byte at the end of a data packet."""


def layout_for(product_id: int) -> LaserLayout | None:
    """The layout of the model whose packets carry ``product_id``, or None if unknown."""
    return LAYOUTS.get(product_id)
