"""MTData2, the measurement message of Xsens MTi devices, decoded into typed values.

The payload is a list of items, each ``data id (uint16) | size (uint8) | data``, big-endian.
The data id's top 12 bits name the quantity; for real-valued quantities the low 2 bits give
the number format (float32, fixed-point 12.20, fixed-point 16.32, float64) and bits 2-3 the
earth frame the value is expressed in (ENU, NED, NWU). :func:`decode_mtdata2` keeps both, so
nothing is converted silently; :func:`to_imu_payload` converts, at this edge, to the
conventions of robofuse (REP-103, quaternions ``(x, y, z, w)``).

Frames: Xsens applies its ENU/NED/NWU choice to the local earth frame L, the frame of the
orientation, free acceleration and velocity outputs. Rate of turn, acceleration and magnetic
field are measured in the sensor frame S (the axes printed on the housing: right-handed, z
out of the base plate), which REP-103 takes as the IMU's own frame.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypedDict

import numpy as np

from robofuse.errors import SensorError
from sensors.xsens.xbus import MessageId, XbusMessage


class NumberFormat(IntEnum):
    """How a real-valued item is written: the low 2 bits of its data id."""

    FLOAT32 = 0
    FP1220 = 1
    """Fixed point: a signed int32 counting 2**-20."""
    FP1632 = 2
    """Fixed point: a uint32 fraction (2**-32) then a signed int16 integer part, 6 bytes."""
    FLOAT64 = 3


class EarthFrame(IntEnum):
    """The earth frame a real-valued item is expressed in: bits 2-3 of its data id."""

    ENU = 0x0
    NED = 0x4
    NWU = 0x8


_VALUE_BYTES = {NumberFormat.FLOAT32: 4, NumberFormat.FP1220: 4, NumberFormat.FP1632: 6, NumberFormat.FLOAT64: 8}
_FP1632 = np.dtype([("frac", ">u4"), ("int", ">i2")])

# Real-valued items: data id with format and frame bits cleared -> (MtData2 field, values).
REAL_ITEMS: dict[int, tuple[str, int]] = {
    0x0810: ("temperature_c", 1),
    0x2010: ("quaternion_wxyz", 4),
    0x2020: ("rotation_matrix", 9),
    0x2030: ("euler_deg", 3),
    0x4010: ("delta_v_mps", 3),
    0x4020: ("acceleration_mps2", 3),
    0x4030: ("free_acceleration_mps2", 3),
    0x4040: ("acceleration_hr_mps2", 3),
    0x5020: ("altitude_ellipsoid_m", 1),
    0x5030: ("position_ecef_m", 3),
    0x5040: ("lat_lon_deg", 2),
    0x8020: ("rate_of_turn_radps", 3),
    0x8030: ("delta_q_wxyz", 4),
    0x8040: ("rate_of_turn_hr_radps", 3),
    0xC020: ("magnetic_field_au", 3),
    0xD010: ("velocity_mps", 3),
}
# Integer items: exact data id -> (MtData2 field, struct format).
INT_ITEMS: dict[int, tuple[str, str]] = {
    0x1020: ("packet_counter", ">H"),
    0x1060: ("sample_time_fine", ">I"),
    0x1070: ("sample_time_coarse_s", ">I"),
    0x3010: ("baro_pressure_pa", ">I"),
    0xE010: ("status_byte", ">B"),
    0xE020: ("status_word", ">I"),
}


@dataclass(frozen=True, slots=True, eq=False)  # numpy arrays have no single-bool ==
class RealItem:
    """A real-valued item as the device sent it.

    ``values`` is read-only float64 in the device's order and units; ``number_format`` and
    ``frame`` come from the data id.
    """

    values: np.ndarray
    number_format: NumberFormat
    frame: EarthFrame


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MtData2:
    """One decoded MTData2 message: a field per supported item, None where it was absent.

    Units are the device's (in the field names). Quaternions are Xsens order ``(w, x, y,
    z)``; ``rotation_matrix`` holds the nine values in the order sent, not interpreted here.
    ``sample_time_fine`` counts 10 kHz ticks and wraps at 2**32 (see
    :class:`SampleTimeFineUnwrapper`); ``magnetic_field_au`` is in units of the field at
    calibration. ``item_ids`` lists every data id in the order received; ``unknown`` keeps
    the items not decoded here as ``(data id, data)``.
    """

    item_ids: tuple[int, ...] = ()
    unknown: tuple[tuple[int, bytes], ...] = ()
    packet_counter: int | None = None
    sample_time_fine: int | None = None
    sample_time_coarse_s: int | None = None
    baro_pressure_pa: int | None = None
    status_byte: int | None = None
    status_word: int | None = None
    temperature_c: RealItem | None = None
    quaternion_wxyz: RealItem | None = None
    rotation_matrix: RealItem | None = None
    euler_deg: RealItem | None = None
    delta_v_mps: RealItem | None = None
    acceleration_mps2: RealItem | None = None
    free_acceleration_mps2: RealItem | None = None
    acceleration_hr_mps2: RealItem | None = None
    altitude_ellipsoid_m: RealItem | None = None
    position_ecef_m: RealItem | None = None
    lat_lon_deg: RealItem | None = None
    rate_of_turn_radps: RealItem | None = None
    delta_q_wxyz: RealItem | None = None
    rate_of_turn_hr_radps: RealItem | None = None
    magnetic_field_au: RealItem | None = None
    velocity_mps: RealItem | None = None


def decode_mtdata2(payload: bytes) -> MtData2:
    """Decode an MTData2 payload.

    Items this module does not know are kept raw in ``unknown``, not an error. A truncated
    item list, a size that does not fit its data id, or a quantity sent twice raises
    :class:`~robofuse.errors.SensorError` saying which item and what was wrong.
    """
    fields: dict[str, Any] = {}
    ids: list[int] = []
    unknown: list[tuple[int, bytes]] = []
    pos, end = 0, len(payload)
    while pos < end:
        if end - pos < 3:
            raise SensorError(
                f"MTData2 item at byte {pos}: only {end - pos} byte(s) left, an item header needs 3"
                " (data id, size): the item list is truncated"
            )
        data_id = (payload[pos] << 8) | payload[pos + 1]
        size = payload[pos + 2]
        start = pos + 3
        if start + size > end:
            raise SensorError(
                f"MTData2 item 0x{data_id:04X} at byte {pos} claims {size} data bytes but only"
                f" {end - start} remain: the item list is truncated"
            )
        data = bytes(payload[start : start + size])
        decoded = _decode_item(data_id, data)
        if decoded is None:
            unknown.append((data_id, data))
        else:
            name, value = decoded
            if name in fields:
                raise SensorError(f"MTData2 item 0x{data_id:04X} at byte {pos}: {name} was already in this message")
            fields[name] = value
        ids.append(data_id)
        pos = start + size
    return MtData2(item_ids=tuple(ids), unknown=tuple(unknown), **fields)


def _decode_item(data_id: int, data: bytes) -> tuple[str, int | RealItem] | None:
    """(field, value) for a known item, None for an unknown one; SensorError on a bad size."""
    if data_id in INT_ITEMS:
        name, fmt = INT_ITEMS[data_id]
        want = struct.calcsize(fmt)
        if len(data) != want:
            raise SensorError(f"MTData2 item 0x{data_id:04X} ({name}): {len(data)} data bytes, expected {want}")
        return name, int(struct.unpack(fmt, data)[0])
    base, frame_bits = data_id & 0xFFF0, data_id & 0x000C
    if base not in REAL_ITEMS or frame_bits == 0x000C:  # frame code 3 is not defined: not ours
        return None
    name, count = REAL_ITEMS[base]
    number_format = NumberFormat(data_id & 0x0003)
    want = count * _VALUE_BYTES[number_format]
    if len(data) != want:
        raise SensorError(
            f"MTData2 item 0x{data_id:04X} ({name}): {len(data)} data bytes, expected {want}"
            f" for {count} {number_format.name} value(s)"
        )
    values = _decode_reals(data, number_format)
    values.setflags(write=False)
    return name, RealItem(values, number_format, EarthFrame(frame_bits))


def _decode_reals(data: bytes, number_format: NumberFormat) -> np.ndarray:
    if number_format is NumberFormat.FLOAT32:
        return np.frombuffer(data, ">f4").astype(np.float64)
    if number_format is NumberFormat.FLOAT64:
        return np.frombuffer(data, ">f8").astype(np.float64)
    if number_format is NumberFormat.FP1220:
        return np.frombuffer(data, ">i4").astype(np.float64) / float(1 << 20)
    fp = np.frombuffer(data, _FP1632)
    # integer part + fraction: both exact in float64, and so is their sum (48 significant bits)
    return fp["int"].astype(np.float64) + fp["frac"].astype(np.float64) / float(1 << 32)


class MtData2Decoder:
    """The decode hook that makes an :class:`~sensors.xsens.xbus.XbusParser` speak MTi.

    ``XbusParser(decode=MtData2Decoder())`` returns :class:`MtData2` for measurement messages
    and the :class:`~sensors.xsens.xbus.XbusMessage` itself for everything else (acks,
    errors). An MTData2 payload that does not decode is counted by the parser as malformed.
    ``unknown_items`` counts, by data id, the items received but not decoded here.
    """

    def __init__(self) -> None:
        self.unknown_items: dict[int, int] = {}

    def __call__(self, message: XbusMessage) -> XbusMessage | MtData2:
        """Decode ``message`` if it is MTData2; raise SensorError if its content makes no sense."""
        if message.message_id != MessageId.MT_DATA2:
            return message
        data = decode_mtdata2(message.payload)
        for data_id, _ in data.unknown:
            self.unknown_items[data_id] = self.unknown_items.get(data_id, 0) + 1
        return data


class ImuPayload(TypedDict):
    """The measurement fields of :class:`~robofuse.messages.ImuSample`, ready for ``**``."""

    angular_velocity: np.ndarray
    linear_acceleration: np.ndarray
    orientation: np.ndarray | None


_HALF_SQRT2 = math.sqrt(0.5)
# Rotation taking earth frame L's coordinates to ENU's, as a (w, x, y, z) quaternion:
# NED -> ENU swaps the first two axes and flips the third (180 deg about (1, 1, 0)/sqrt 2);
# NWU -> ENU turns 90 deg about up.
_ENU_FROM = {
    EarthFrame.NED: np.array([0.0, _HALF_SQRT2, _HALF_SQRT2, 0.0]),
    EarthFrame.NWU: np.array([_HALF_SQRT2, 0.0, 0.0, _HALF_SQRT2]),
}
QUATERNION_NORM_TOLERANCE = 1e-3


def to_imu_payload(data: MtData2) -> ImuPayload:
    """The ImuSample fields of ``data``: ``ImuSample(stream=..., ..., **to_imu_payload(data))``.

    angular_velocity comes from RateOfTurn, linear_acceleration from Acceleration (both
    required: the error says which is missing), orientation from Quaternion when present,
    reordered from Xsens ``(w, x, y, z)`` to ``(x, y, z, w)`` and renormalised.

    Earth frames: an orientation in NED or NWU is rotated to ENU, the REP-103 world frame
    (only its earth side changes, the sensor frame S stays). RateOfTurn and Acceleration are
    sensor-frame quantities that the ENU/NED/NWU choice does not describe, so one tagged NED
    or NWU has no documented meaning and is refused with a SensorError rather than guessed.
    """
    orientation = None if data.quaternion_wxyz is None else _orientation_xyzw(data.quaternion_wxyz)
    return ImuPayload(
        angular_velocity=_sensor_vector(data.rate_of_turn_radps, "RateOfTurn (0x8020)"),
        linear_acceleration=_sensor_vector(data.acceleration_mps2, "Acceleration (0x4020)"),
        orientation=orientation,
    )


def _sensor_vector(item: RealItem | None, what: str) -> np.ndarray:
    if item is None:
        raise SensorError(f"the MTData2 message has no {what}, which an ImuSample needs: enable it on the device")
    if item.frame is not EarthFrame.ENU:
        raise SensorError(
            f"{what} arrived tagged {item.frame.name}; Xsens defines NED/NWU only for earth-frame outputs,"
            " so its meaning for a sensor-frame quantity is unknown: configure it with the default (ENU) bits"
        )
    return item.values


def _orientation_xyzw(item: RealItem) -> np.ndarray:
    q = item.values
    if item.frame is not EarthFrame.ENU:
        q = _quat_mul_wxyz(_ENU_FROM[item.frame], q)
    norm = float(np.sqrt(q @ q))
    if not abs(norm - 1.0) <= QUATERNION_NORM_TOLERANCE:  # also catches NaN
        raise SensorError(f"the MTData2 quaternion has norm {norm:.6f}, not 1: the device sent no valid orientation")
    w, x, y, z = q / norm
    return np.array([x, y, z, w], dtype=np.float64)


def _quat_mul_wxyz(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` of (w, x, y, z) quaternions: rotate by b, then by a."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ]
    )


TICK_NS = 100_000
"""One SampleTimeFine tick (10 kHz) in nanoseconds."""
SAMPLE_TIME_FINE_WRAP = 1 << 32


class SampleTimeFineUnwrapper:
    """Turns the wrapping SampleTimeFine counter into nanoseconds that never go back.

    The counter runs at 10 kHz and wraps at 2**32 ticks (about 5 days). Each call adds the
    forward distance from the previous value modulo 2**32, so a wrap continues the count. The
    device's counter only moves forward; if it ever steps back (a device reset), that reads
    as a jump forward, which clock sync reports as a clock jump. Call :meth:`reset` after
    resetting the device on purpose. The first value sets the origin: ``ticks * TICK_NS``.
    """

    def __init__(self) -> None:
        self._last: int | None = None
        self._ticks = 0

    def unwrap(self, sample_time_fine: int) -> int:
        """Nanoseconds of ``sample_time_fine`` on the unwrapped device clock."""
        if not 0 <= sample_time_fine < SAMPLE_TIME_FINE_WRAP:
            raise ValueError(f"SampleTimeFine is a uint32, got {sample_time_fine}")
        if self._last is None:
            self._ticks = sample_time_fine
        else:
            self._ticks += (sample_time_fine - self._last) % SAMPLE_TIME_FINE_WRAP
        self._last = sample_time_fine
        return self._ticks * TICK_NS

    def reset(self) -> None:
        """Forget the history: the next value starts a new count."""
        self._last = None
        self._ticks = 0
