"""Xbus framing and MTData2 decoding on synthetic messages: no recorded data needed.

Expected values are worked out by hand in the comments (checksums, fixed-point numbers,
frame rotations), so each test checks the code against arithmetic, not against itself.
"""

from __future__ import annotations

import itertools
import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robofuse.errors import SensorError
from robofuse.messages import ImuSample
from sensors.xsens import (
    EarthFrame,
    MessageId,
    MtData2,
    MtData2Decoder,
    NumberFormat,
    SampleTimeFineUnwrapper,
    XbusMessage,
    XbusParser,
    ack_of,
    decode_mtdata2,
    frame,
    to_imu_payload,
)

H = math.sqrt(0.5)


def item(data_id: int, data: bytes) -> bytes:
    return struct.pack(">HB", data_id, len(data)) + data


def floats(*values: float) -> bytes:
    return struct.pack(f">{len(values)}f", *values)


IMU_PAYLOAD = (
    item(0x1020, struct.pack(">H", 7))
    + item(0x1060, struct.pack(">I", 123456))
    + item(0x2010, floats(H, 0.0, 0.0, H))  # (w, x, y, z): 90 deg about z
    + item(0x4020, floats(0.1, 0.2, 9.8))
    + item(0x8020, floats(0.01, -0.02, 0.03))
)


def mti_parser() -> XbusParser[XbusMessage | MtData2]:
    return XbusParser(decode=MtData2Decoder())


def test_frame_writes_the_go_to_config_command_byte_for_byte() -> None:
    # checksum: -(0xFF + 0x30 + 0x00) mod 256 = 0xD1
    assert frame(0xFF, MessageId.GO_TO_CONFIG) == bytes.fromhex("FA FF 30 00 D1")
    assert ack_of(MessageId.GO_TO_CONFIG) == int(MessageId.GO_TO_CONFIG_ACK) == 0x31
    assert ack_of(MessageId.GO_TO_MEASUREMENT) == 0x11
    assert ack_of(MessageId.REQ_DID) == MessageId.DEVICE_ID
    assert ack_of(MessageId.RESET) == int(MessageId.RESET_ACK) == 0x41


def test_a_254_byte_payload_has_a_one_byte_length_and_255_bytes_the_extended_length() -> None:
    assert frame(0xFF, 0x36, bytes(254))[3] == 254
    assert frame(0xFF, 0x36, bytes(255))[3:6] == bytes([0xFF, 0x00, 0xFF])
    for n in (0, 1, 254, 255, 1000):
        wire = frame(0xFF, 0x36, bytes(range(n % 256)) + bytes(n - n % 256))
        assert sum(wire[1:]) % 256 == 0
        assert len(wire) == n + (5 if n <= 254 else 7)


def test_an_extended_message_is_read_whatever_the_split() -> None:
    payload = bytes(np.random.default_rng(1).integers(0, 256, 1000, dtype=np.uint8))  # holds 0xFA bytes
    assert 0xFA in payload
    wire = frame(0xFF, 0x99, payload) + frame(0xFF, MessageId.GO_TO_CONFIG_ACK)
    for cut in range(len(wire) + 1):
        parser = XbusParser()
        out = parser.feed(wire[:cut]) + parser.feed(wire[cut:])
        assert out == [XbusMessage(0xFF, 0x99, payload), XbusMessage(0xFF, 0x31, b"")]
        assert parser.counters.dropped_bytes == 0


def test_a_payload_of_max_payload_bytes_is_read_and_a_longer_claim_is_a_false_preamble() -> None:
    parser = XbusParser(max_payload=300)
    assert parser.feed(frame(0xFF, 0x36, bytes(300))) == [XbusMessage(0xFF, 0x36, bytes(300))]
    too_long = frame(0xFF, 0x36, bytes(301))
    ack = frame(0xFF, 0x31)
    assert parser.feed(too_long[:6]) == []  # judged on the header alone: nothing is waited for
    assert parser.buffered == 0
    assert parser.feed(too_long[6:] + ack) == [XbusMessage(0xFF, 0x31, b"")]
    assert parser.counters.dropped_bytes == len(too_long)


def test_a_checksum_failure_is_counted_and_the_next_message_still_decoded() -> None:
    bad = bytearray(frame(0xFF, 0x36, IMU_PAYLOAD))
    bad[10] ^= 0x40
    parser = mti_parser()
    out = parser.feed(bytes(bad) + frame(0xFF, 0x36, IMU_PAYLOAD))
    assert len(out) == 1
    assert isinstance(out[0], MtData2)
    assert out[0].packet_counter == 7
    c = parser.counters
    assert (c.packets, c.checksum_failures, c.resyncs, c.dropped_bytes) == (1, 1, 1, len(bad))


def test_a_bad_header_claiming_a_long_payload_does_not_swallow_the_messages_inside_it() -> None:
    good = frame(0xFF, 0x36, IMU_PAYLOAD) + frame(0xFF, 0x31)
    bogus_header = bytes([0xFA, 0xFF, 0x36, 200])  # claims 200 bytes: everything below and more
    parser = mti_parser()
    out = parser.feed(bogus_header + good)
    assert out == []  # the claimed length has not arrived: the verdict waits for it
    out = parser.feed(bytes(200))
    assert [type(m) for m in out] == [MtData2, XbusMessage]
    c = parser.counters
    assert c.checksum_failures == 1
    assert c.dropped_bytes == len(bogus_header) + 200
    assert c.bytes == c.dropped_bytes + len(good) + parser.buffered


def test_garbage_before_and_between_messages_is_dropped_with_one_resync_per_run() -> None:
    ack = frame(0xFF, 0x31)
    parser = XbusParser()
    out = parser.feed(b"\x00\x11\xfa" + ack + b"\xfa\xfa\xfa\xfa\x01" + ack + ack + b"\x05")
    assert out == [XbusMessage(0xFF, 0x31, b"")] * 3
    c = parser.counters
    assert (c.dropped_bytes, c.resyncs, c.checksum_failures) == (3 + 5 + 1, 3, 0)


def test_a_header_for_another_bus_is_a_false_preamble_unless_that_bus_is_accepted() -> None:
    other = frame(0x01, 0x31)
    assert XbusParser().feed(other) == []
    assert XbusParser(bus_ids=(0x01, 0xFF)).feed(other) == [XbusMessage(0x01, 0x31, b"")]


def test_an_mtdata2_message_with_a_truncated_item_list_is_counted_malformed_and_skipped() -> None:
    cut = frame(0xFF, 0x36, IMU_PAYLOAD[:-2])  # correct checksum, last item two bytes short
    parser = mti_parser()
    out = parser.feed(cut + frame(0xFF, 0x36, IMU_PAYLOAD))
    assert len(out) == 1
    assert (parser.counters.malformed, parser.counters.checksum_failures) == (1, 0)
    assert parser.counters.dropped_bytes == len(cut)


def test_a_malformed_mtdata2_frame_is_taken_for_a_false_preamble_and_searched_inside() -> None:
    ack = frame(0xFF, 0x31)
    hiding = frame(0xFF, 0x36, b"\x00" + ack)  # items: id 0x00FA claims 0xFF bytes, 5 remain
    parser = mti_parser()
    assert parser.feed(hiding) == [XbusMessage(0xFF, 0x31, b"")]
    c = parser.counters
    assert (c.malformed, c.packets, c.dropped_bytes) == (1, 1, len(hiding) - len(ack))


def test_a_garbage_stream_full_of_long_false_headers_keeps_the_buffer_bounded() -> None:
    parser = XbusParser()
    chunk = bytes([0xFA, 0xFF, 0x36, 0xFF, 0x07, 0xFF]) * 1000  # each claims 2047 bytes
    for _ in range(100):
        assert parser.feed(chunk) == []
        assert parser.buffered < parser.max_frame_size
    c = parser.counters
    assert c.bytes == c.dropped_bytes + parser.buffered
    assert c.resyncs == 1


@st.composite
def damaged_stream(draw: st.DrawFn) -> bytes:
    """Synthetic MTi frames, some flipped or cut short, with random bytes between some."""
    wire = b""
    for _ in range(draw(st.integers(0, 8))):
        f = frame(0xFF, draw(st.sampled_from([0x36, 0x31, 0x42])), draw(st.sampled_from([IMU_PAYLOAD, b"", b"\x01"])))
        if draw(st.booleans()):
            i = draw(st.integers(0, len(f) - 1))
            f = f[:i] + bytes([draw(st.integers(0, 255))]) + f[i + 1 :]
        if draw(st.booleans()):
            f = f[: draw(st.integers(0, len(f)))]
        wire += draw(st.binary(max_size=30)) + f
    return wire


@settings(max_examples=200, deadline=None)
@given(wire=damaged_stream(), cuts=st.lists(st.integers(0, 2000), max_size=12))
def test_output_and_counters_do_not_depend_on_how_the_stream_is_split(wire: bytes, cuts: list[int]) -> None:
    whole = mti_parser()
    expected = whole.feed(wire)
    split = mti_parser()
    bounds = [0, *sorted(c % (len(wire) + 1) for c in cuts), len(wire)]
    out = [m for a, b in itertools.pairwise(bounds) for m in split.feed(wire[a:b])]
    assert [repr(m) for m in out] == [repr(m) for m in expected]
    assert split.counters == whole.counters
    assert split.buffered == whole.buffered


@settings(max_examples=200, deadline=None)
@given(chunks=st.lists(st.binary(max_size=600), max_size=20))
def test_random_bytes_never_raise_and_every_byte_is_accounted_for(chunks: list[bytes]) -> None:
    parser = XbusParser(max_payload=255)
    out: list[XbusMessage] = []
    for chunk in chunks:
        out += parser.feed(chunk)
        assert parser.buffered < parser.max_frame_size
    framed = sum(len(frame(m.bus_id, m.message_id, m.payload)) for m in out)
    c = parser.counters
    assert c.bytes == sum(map(len, chunks)) == framed + c.dropped_bytes + parser.buffered
    assert c.packets == len(out)
    assert c.resyncs <= c.dropped_bytes


# --- MTData2 items -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (IMU_PAYLOAD + b"\x10", r"only 1 byte\(s\) left, an item header needs 3"),
        (item(0x4020, floats(1, 2, 3))[:-1], r"0x4020 at byte 0 claims 12 data bytes but only 11 remain"),
        (item(0x4020, floats(1, 2)), r"0x4020 \(acceleration_mps2\): 8 data bytes, expected 12 for 3 FLOAT32"),
        (item(0x1020, b"\x00"), r"0x1020 \(packet_counter\): 1 data bytes, expected 2"),
        (item(0x1020, b"\x00\x01") * 2, r"0x1020 at byte 5: packet_counter was already in this message"),
    ],
)
def test_an_inconsistent_item_list_is_a_sensor_error_saying_what_was_wrong(payload: bytes, problem: str) -> None:
    with pytest.raises(SensorError, match=problem):
        decode_mtdata2(payload)


def test_unknown_items_are_kept_raw_and_counted_by_the_decoder() -> None:
    payload = item(0x1020, b"\x00\x09") + item(0x7010, b"\xaa\xbb") + item(0x202C, bytes(16)) + item(0x7010, b"")
    decoder = MtData2Decoder()
    data = decoder(XbusMessage(0xFF, 0x36, payload))
    assert isinstance(data, MtData2)
    assert data.packet_counter == 9
    assert data.unknown == ((0x7010, b"\xaa\xbb"), (0x202C, bytes(16)), (0x7010, b""))  # 0x202C: frame code 3
    assert data.item_ids == (0x1020, 0x7010, 0x202C, 0x7010)
    assert decoder.unknown_items == {0x7010: 2, 0x202C: 1}


def test_fixed_point_12_20_values_match_hand_computed_ones() -> None:
    # 1.5 = 0x0018_0000 / 2**20; -1.0 = 0xFFF0_0000 as int32; 1 count = 2**-20
    data = decode_mtdata2(item(0x4021, bytes.fromhex("00180000 FFF00000 00000001")))
    assert data.acceleration_mps2 is not None
    assert data.acceleration_mps2.number_format is NumberFormat.FP1220
    assert data.acceleration_mps2.values.tolist() == [1.5, -1.0, 2.0**-20]


def test_fixed_point_16_32_values_match_hand_computed_ones() -> None:
    # fraction (uint32) first, then the int16 integer part: value = int + frac / 2**32
    # 1.5 = 1 + 0x8000_0000/2**32; -1.5 = -2 + 0.5; -2**-32 = -1 * 2**32 + 0xFFFF_FFFF counts
    raw = bytes.fromhex("80000000 0001  80000000 FFFE  FFFFFFFF FFFF")
    data = decode_mtdata2(item(0x8022, raw))
    assert data.rate_of_turn_radps is not None
    assert data.rate_of_turn_radps.number_format is NumberFormat.FP1632
    assert data.rate_of_turn_radps.values.tolist() == [1.5, -1.5, -(2.0**-32)]
    big = decode_mtdata2(item(0x0812, bytes.fromhex("00000001 7FFF"))).temperature_c
    assert big is not None
    assert big.values.tolist() == [32767 + 2.0**-32]  # 48 significant bits survive in float64


def test_float64_items_and_their_frame_bits_are_kept() -> None:
    data = decode_mtdata2(item(0x2017, struct.pack(">4d", 0.5, 0.5, 0.5, 0.5)))  # double, NED
    q = data.quaternion_wxyz
    assert q is not None
    assert (q.number_format, q.frame) == (NumberFormat.FLOAT64, EarthFrame.NED)
    assert q.values.tolist() == [0.5] * 4
    assert not q.values.flags.writeable


def rotate_xyzw(q: np.ndarray, v: list[float]) -> np.ndarray:
    u, w = q[:3], q[3]
    a = np.asarray(v, dtype=np.float64)
    return np.asarray(a + 2.0 * np.cross(u, np.cross(u, a) + w * a))


def imu_payload_with_orientation(data_id: int, wxyz: tuple[float, ...]) -> bytes:
    return item(data_id, floats(*wxyz)) + item(0x4020, floats(0, 0, 9.8)) + item(0x8020, floats(0, 0, 0))


def test_an_xsens_quaternion_is_reordered_to_x_y_z_w() -> None:
    imu = to_imu_payload(decode_mtdata2(IMU_PAYLOAD))
    assert imu["orientation"] is not None
    # Xsens (w, x, y, z) = (H, 0, 0, H) is 90 deg about z; w-first storage would give (H, 0, 0, H)
    np.testing.assert_allclose(imu["orientation"], [0.0, 0.0, H, H], atol=1e-7)
    np.testing.assert_allclose(rotate_xyzw(imu["orientation"], [1, 0, 0]), [0, 1, 0], atol=1e-6)
    sample = ImuSample(stream="imu", frame_id="imu", seq=0, stamp_ns=0, recv_ns=0, **imu)
    np.testing.assert_allclose(sample.linear_acceleration, [0.1, 0.2, 9.8], rtol=1e-7)
    np.testing.assert_allclose(sample.angular_velocity, [0.01, -0.02, 0.03], rtol=1e-7)


def test_an_orientation_in_ned_is_turned_into_enu() -> None:
    # identity in NED: sensor x points north, y east, z down. In ENU: x -> (0,1,0),
    # y -> (1,0,0), z -> (0,0,-1): 180 deg about (1,1,0)/sqrt 2, xyzw (H, H, 0, 0).
    q = to_imu_payload(decode_mtdata2(imu_payload_with_orientation(0x2014, (1, 0, 0, 0))))["orientation"]
    assert q is not None
    assert abs(abs(float(q @ np.array([H, H, 0.0, 0.0]))) - 1.0) < 1e-7
    np.testing.assert_allclose(rotate_xyzw(q, [1, 0, 0]), [0, 1, 0], atol=1e-7)
    np.testing.assert_allclose(rotate_xyzw(q, [0, 0, 1]), [0, 0, -1], atol=1e-7)


def test_an_orientation_in_nwu_is_turned_into_enu() -> None:
    # identity in NWU: sensor x points north, y west. In ENU: x -> (0,1,0), y -> (-1,0,0).
    q = to_imu_payload(decode_mtdata2(imu_payload_with_orientation(0x2018, (1, 0, 0, 0))))["orientation"]
    assert q is not None
    np.testing.assert_allclose(rotate_xyzw(q, [1, 0, 0]), [0, 1, 0], atol=1e-7)
    np.testing.assert_allclose(rotate_xyzw(q, [0, 1, 0]), [-1, 0, 0], atol=1e-7)


def test_the_same_attitude_sent_in_enu_and_in_ned_gives_the_same_orientation() -> None:
    # sensor yawed 30 deg left of east and level. NED quaternion = q(ENU->NED) * q_enu, where
    # ENU->NED is the same swap as NED->ENU: (w, x, y, z) = (0, H, H, 0).
    c, s = math.cos(math.radians(15)), math.sin(math.radians(15))
    q_enu = (c, 0.0, 0.0, s)
    w, x, y, z = q_enu
    q_ned = (-H * (x + y), H * (w + z), H * (w - z), H * (y - x))  # (0,H,H,0) * (w,x,y,z) expanded by hand
    a = to_imu_payload(decode_mtdata2(imu_payload_with_orientation(0x2010, q_enu)))["orientation"]
    b = to_imu_payload(decode_mtdata2(imu_payload_with_orientation(0x2014, q_ned)))["orientation"]
    assert a is not None
    assert b is not None
    assert abs(abs(float(a @ b)) - 1.0) < 1e-6


@pytest.mark.parametrize("data_id", [0x8024, 0x8028])
def test_a_rate_of_turn_tagged_ned_or_nwu_is_refused_not_guessed(data_id: int) -> None:
    payload = item(0x4020, floats(0, 0, 9.8)) + item(data_id, floats(0, 0, 1))
    with pytest.raises(SensorError, match=r"RateOfTurn \(0x8020\) arrived tagged N(ED|WU)"):
        to_imu_payload(decode_mtdata2(payload))


def test_an_imu_payload_needs_acceleration_and_a_unit_quaternion() -> None:
    with pytest.raises(SensorError, match=r"no Acceleration \(0x4020\)"):
        to_imu_payload(decode_mtdata2(item(0x8020, floats(0, 0, 0))))
    with pytest.raises(SensorError, match=r"norm 2\.000000"):
        to_imu_payload(decode_mtdata2(imu_payload_with_orientation(0x2010, (2, 0, 0, 0))))
    no_orientation = to_imu_payload(decode_mtdata2(item(0x4020, floats(0, 0, 9.8)) + item(0x8020, floats(0, 0, 0))))
    assert no_orientation["orientation"] is None


# --- SampleTimeFine ----------------------------------------------------------------------


def test_sample_time_fine_keeps_counting_across_the_wrap() -> None:
    unwrap = SampleTimeFineUnwrapper()
    raw = [2**32 - 2, 2**32 - 1, 0, 1, 5]
    ns = [unwrap.unwrap(r) for r in raw]
    # 10 kHz: one tick is 100 us = 100_000 ns
    assert ns == [(2**32 - 2 + i) * 100_000 for i in (0, 1, 2, 3, 7)]


def test_sample_time_fine_survives_several_wraps_and_repeats() -> None:
    unwrap = SampleTimeFineUnwrapper()
    step = 3 * 2**30  # three quarters of the range: four steps wrap three times
    values = [(k * step) % 2**32 for k in range(9)]
    ns = [unwrap.unwrap(v) for v in values]
    assert ns == [k * step * 100_000 for k in range(9)]
    assert unwrap.unwrap(values[-1]) == ns[-1]  # a repeat stays put


def test_sample_time_fine_reset_starts_a_new_count_and_bad_values_are_refused() -> None:
    unwrap = SampleTimeFineUnwrapper()
    unwrap.unwrap(2**32 - 1)
    unwrap.unwrap(10)
    unwrap.reset()
    assert unwrap.unwrap(10) == 1_000_000
    for bad in (-1, 2**32):
        with pytest.raises(ValueError, match="uint32"):
            unwrap.unwrap(bad)
