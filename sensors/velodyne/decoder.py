"""Velodyne data packets to points, vectorised over a batch of packets.

Packet format (VLP-16 User Manual 63-9243, "Data Packet Format"; the same for HDL-32E and
VLP-32C): 1206 bytes = 12 blocks x (flag 0xFFEE, azimuth uint16 in 0.01 degrees, 32 x
(distance uint16 in 2 mm units, or 4 mm on the VLP-32C; reflectivity uint8)), then the
timestamp (uint32, microseconds past the top of the hour, of the first firing of block 0),
the return-mode byte and the product-id byte, all little-endian. In dual-return mode blocks
come in pairs with the same azimuth: the even block holds the last return, the odd one the
strongest (the same bytes when they coincide, which is then one point, not two).

Points come out in REP-103 (x forward, y left, z up), as ROS velodyne_pointcloud and tier4
nebula give them: the sensor's azimuth turns clockwise seen from above, so
``x = r cos(el) cos(az)``, ``y = -r cos(el) sin(az)``, ``z = r sin(el)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from sensors.velodyne.layouts import SLOTS_PER_BLOCK, VLP_16, LaserLayout

__all__ = [
    "BLOCKS_PER_PACKET",
    "HOUR_US",
    "PACKET_BYTES",
    "PACKET_DTYPE",
    "DecodedPoints",
    "ReturnMode",
    "ReturnType",
    "as_packet_array",
    "decode_packets",
    "wrap_hour_us",
]

PACKET_BYTES = 1206
BLOCKS_PER_PACKET = 12
BLOCK_FLAG = 0xEEFF  # the bytes FF EE read as a little-endian uint16
HOUR_US = 3_600_000_000
_CENTIDEG_TO_RAD = np.pi / 18000.0
_BLOCK_NO = np.arange(BLOCKS_PER_PACKET, dtype=np.int64)

_RETURN = np.dtype([("distance", "<u2"), ("reflectivity", "u1")])
_BLOCK = np.dtype([("flag", "<u2"), ("azimuth", "<u2"), ("returns", _RETURN, (SLOTS_PER_BLOCK,))])
PACKET_DTYPE = np.dtype(
    [("blocks", _BLOCK, (BLOCKS_PER_PACKET,)), ("timestamp_us", "<u4"), ("return_mode", "u1"), ("product_id", "u1")]
)
"""A data packet as a numpy structured type: view a (P, 1206) uint8 array with it."""
assert PACKET_DTYPE.itemsize == PACKET_BYTES


class ReturnMode(IntEnum):
    """The return-mode byte (offset 1204)."""

    STRONGEST = 0x37
    LAST = 0x38
    DUAL = 0x39


class ReturnType(IntEnum):
    """What kind of echo a point is; numbered as tier4 nebula's ``ReturnType`` so clouds compare.

    In dual-return mode the farther of two different echoes is LAST_*, the nearer FIRST_*,
    and the one with the higher reflectivity *_STRONGEST (a tie goes to the odd block, the
    sensor's "strongest" slot). One echo reported in both blocks is IDENTICAL. (Nebula's
    VLP-16 decoder calls the farther echo "first": swap FIRST and LAST to compare with it.)
    """

    UNKNOWN = 0
    LAST = 1
    FIRST = 2
    STRONGEST = 3
    FIRST_WEAK = 4
    LAST_WEAK = 5
    IDENTICAL = 6
    FIRST_STRONGEST = 9
    LAST_STRONGEST = 10


@dataclass(frozen=True)
class DecodedPoints:
    """The valid returns of a batch of packets, in packet, block and slot order.

    Shape:
        points (N, 3) float32 metres; intensity (N,) float32 (reflectivity 0..255);
        ring (N,) uint16 (0 = lowest laser); azimuth_deg (N,) float32, 0 to 360, the sensor's
        clockwise azimuth of each firing; return_type (N,) uint8 (:class:`ReturnType`);
        time_ns (N,) int64 after the batch's first firing (the first packet's timestamp);
        block_index (N,) int64, the point's block in the batch (its packet is ``// 12``).
    """

    points: np.ndarray
    intensity: np.ndarray
    ring: np.ndarray
    azimuth_deg: np.ndarray
    return_type: np.ndarray
    time_ns: np.ndarray
    block_index: np.ndarray
    stamp_us: int  # the first packet's timestamp, microseconds past the top of the hour

    def __len__(self) -> int:
        return int(self.points.shape[0])


def as_packet_array(packets: np.ndarray | bytes | bytearray | list[bytes]) -> np.ndarray:
    """``packets`` as a C-contiguous (P, 1206) uint8 array, copying only when it must."""
    if isinstance(packets, (bytes, bytearray, memoryview)):
        arr = np.frombuffer(packets, dtype=np.uint8)
    elif isinstance(packets, list):
        arr = np.frombuffer(b"".join(packets), dtype=np.uint8)
    else:
        arr = np.ascontiguousarray(packets, dtype=np.uint8)
    if arr.size % PACKET_BYTES or (arr.ndim == 2 and arr.shape[1] != PACKET_BYTES):
        raise ValueError(f"packets must be whole {PACKET_BYTES}-byte packets, got {arr.shape} bytes")
    return arr.reshape(-1, PACKET_BYTES)


def wrap_hour_us(delta_us: np.ndarray | int) -> np.ndarray:
    """A difference of two 'microseconds past the hour' stamps, wrapped to [-30 min, 30 min)."""
    return (np.asarray(delta_us, dtype=np.int64) + HOUR_US // 2) % HOUR_US - HOUR_US // 2


def decode_packets(
    packets: np.ndarray | bytes | list[bytes], layout: LaserLayout = VLP_16, block_mask: np.ndarray | None = None
) -> DecodedPoints:
    """Decode a batch of data packets of one model into points (distance-0 returns dropped).

    Args:
        packets: (P, 1206) uint8 (or their bytes), in arrival order, e.g. one scan's worth.
        layout: the model's laser tables (see :func:`~sensors.velodyne.layouts.layout_for`).
        block_mask: (P, 12) bool, blocks to decode (the scan assembler splits a packet that
            straddles the cut); None for all. Blocks whose flag is not 0xFFEE or whose azimuth
            is out of range are always skipped.
    """
    pk = as_packet_array(packets)
    n_packets = pk.shape[0]
    if n_packets == 0:
        return _empty()
    raw = pk.view(PACKET_DTYPE).reshape(n_packets)
    blocks = raw["blocks"]
    azimuth = blocks["azimuth"].astype(np.int32)  # (P, 12) centidegrees
    modes = raw["return_mode"]
    dual = modes == ReturnMode.DUAL  # (P,)
    any_dual = bool(dual.any())
    block_ok = (blocks["flag"] == BLOCK_FLAG) & (azimuth < 36000)
    if block_mask is not None:
        block_ok &= np.asarray(block_mask, dtype=bool).reshape(n_packets, BLOCKS_PER_PACKET)

    # Contiguous copies of the strided fields: every later gather (np.take) is then cheap.
    distance = np.ascontiguousarray(blocks["returns"]["distance"])  # (P, 12, 32)
    valid = distance != 0
    if not block_ok.all():
        valid &= block_ok[:, :, None]
    if any_dual:
        # The odd block repeats the even one when the strongest echo is also the last: one point.
        same = distance[:, 1::2] == distance[:, 0::2]
        valid[:, 1::2] &= ~(same & dual[:, None, None])
    idx = np.flatnonzero(valid)  # (N,) into the P * 12 * 32 slots
    slot = idx & (SLOTS_PER_BLOCK - 1)
    block = idx >> 5

    # Each firing's azimuth: the block's plus the share of the rotation to the next block
    # (next pair in dual mode) that had passed when it fired; the last block(s) of a packet
    # reuse the step before, as the Velodyne manual and the ROS driver do.
    step = _azimuth_steps(azimuth, dual, any_dual).astype(np.float32).reshape(-1)
    az = np.take(azimuth.astype(np.float32).reshape(-1), block)  # centidegrees from here on
    az += np.take(step, block) * np.take(layout.slot_fraction, slot)
    if layout.has_azimuth_offsets:
        az += np.take(layout.slot_offset_centideg, slot)
    np.subtract(az, np.float32(36000), out=az, where=az >= 36000)
    np.add(az, np.float32(36000), out=az, where=az < 0)
    rad = az * np.float32(_CENTIDEG_TO_RAD)

    r = np.take(distance.reshape(-1), idx).astype(np.float32)
    r *= np.float32(layout.distance_resolution_m)
    rxy = r * np.take(layout.cos_elevation, slot)
    points = np.empty((idx.size, 3), dtype=np.float32)
    np.multiply(rxy, np.cos(rad), out=points[:, 0])
    np.negative(rxy, out=rxy)  # clockwise azimuth: positive angles point right, to -y
    np.multiply(rxy, np.sin(rad), out=points[:, 1])
    np.multiply(r, np.take(layout.sin_elevation, slot), out=points[:, 2])

    ts = raw["timestamp_us"].astype(np.int64)
    packet_ns = wrap_hour_us(ts - ts[0]) * 1000  # (P,) packet times after the first, hour wrap included
    block_ns = np.where(dual[:, None], _BLOCK_NO // 2, _BLOCK_NO) * layout.block_ns + packet_ns[:, None]
    time_ns = np.take(block_ns.reshape(-1), block)
    time_ns += np.take(layout.slot_time, slot)

    refl = np.ascontiguousarray(blocks["returns"]["reflectivity"]).reshape(-1)
    az *= np.float32(0.01)
    if any_dual or (modes != modes[0]).any():
        return_type = _return_types(modes, distance.reshape(-1), refl, idx, block)
    else:  # the common case: one single-return mode throughout
        return_type = np.full(idx.size, _single_type(int(modes[0])), dtype=np.uint8)
    return DecodedPoints(
        points=points,
        intensity=np.take(refl, idx).astype(np.float32),
        ring=np.take(layout.ring_of_slot, slot),
        azimuth_deg=az,
        return_type=return_type,
        time_ns=time_ns,
        block_index=block,
        stamp_us=int(ts[0]),
    )


def _azimuth_steps(azimuth: np.ndarray, dual: np.ndarray, any_dual: bool) -> np.ndarray:
    """(P, 12) centidegrees each block turns before the next firing block (pair) starts."""
    # A signed step: a slightly backward azimuth (jitter) must not read as a whole turn.
    one = (np.diff(azimuth, axis=1) + 18000) % 36000 - 18000  # (P, 11)
    single = np.concatenate([one, one[:, -1:]], axis=1)
    if not any_dual:
        return single
    two = (azimuth[:, 2:] - azimuth[:, :-2] + 18000) % 36000 - 18000  # (P, 10): pair to next pair
    paired = np.concatenate([two, two[:, -2:]], axis=1)
    return np.where(dual[:, None], paired, single)


def _single_type(mode: int) -> ReturnType:
    if mode == ReturnMode.STRONGEST:
        return ReturnType.STRONGEST
    return ReturnType.LAST if mode == ReturnMode.LAST else ReturnType.UNKNOWN


def _return_types(
    modes: np.ndarray, distance: np.ndarray, refl: np.ndarray, idx: np.ndarray, block: np.ndarray
) -> np.ndarray:
    """(N,) :class:`ReturnType` of each point, for batches that mix modes or hold dual packets."""
    per_packet = np.array([_single_type(int(m)) for m in modes], dtype=np.uint8)
    packet = block // BLOCKS_PER_PACKET
    types = np.take(per_packet, packet)
    on_dual = np.flatnonzero(np.take(modes == ReturnMode.DUAL, packet))
    if on_dual.size == 0:
        return types
    here = idx[on_dual]
    there = here ^ SLOTS_PER_BLOCK  # the same slot of the paired block (blocks 2k and 2k+1)
    d, d_other = np.take(distance, here), np.take(distance, there)
    refl_here, refl_other = np.take(refl, here), np.take(refl, there)
    odd = (here & SLOTS_PER_BLOCK).astype(bool)
    farther = d > d_other
    stronger = (refl_here > refl_other) | ((refl_here == refl_other) & odd)
    kind = np.where(
        farther,
        np.where(stronger, ReturnType.LAST_STRONGEST, ReturnType.LAST_WEAK),
        np.where(stronger, ReturnType.FIRST_STRONGEST, ReturnType.FIRST_WEAK),
    )
    identical = (d_other == 0) | (d_other == d)
    types[on_dual] = np.where(identical, ReturnType.IDENTICAL, kind)
    return types


def _empty() -> DecodedPoints:
    return DecodedPoints(
        points=np.empty((0, 3), np.float32),
        intensity=np.empty(0, np.float32),
        ring=np.empty(0, np.uint16),
        azimuth_deg=np.empty(0, np.float32),
        return_type=np.empty(0, np.uint8),
        time_ns=np.empty(0, np.int64),
        block_index=np.empty(0, np.int64),
        stamp_us=0,
    )
