"""The RPLIDAR protocol: requests, descriptors, nodes, the resyncing parser and scan building."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robofuse.errors import SensorError
from sensors.rplidar.protocol import (
    Command,
    DeviceHealth,
    DeviceInfo,
    Node,
    RplidarParser,
    decode_health,
    decode_info,
    decode_node,
    encode_descriptor,
    encode_health,
    encode_info,
    encode_node,
    parse_descriptor,
    request,
)
from sensors.rplidar.scans import ScanBuilder, beam_times_ns, bin_angles_rad

nodes_st = st.lists(
    st.tuples(
        st.integers(0, 360 * 64 - 1),  # angle_q6
        st.integers(0, 0xFFFF),  # distance_q2
        st.integers(0, 63),  # quality
        st.booleans(),  # start flag
    ),
    min_size=0,
    max_size=40,
)


def node_bytes(angle_q6: int, dist_q2: int, quality: int, start: bool) -> bytes:
    return encode_node(angle_q6 / 64, dist_q2 / 4000, quality, start)


def test_requests_without_payload_are_two_bytes_and_with_payload_carry_an_xor_checksum() -> None:
    assert request(Command.STOP) == b"\xa5\x25"
    assert request(Command.GET_HEALTH) == b"\xa5\x52"
    assert request(0xF0, b"\x94\x02") == bytes((0xA5, 0xF0, 0x02, 0x94, 0x02, 0xA5 ^ 0xF0 ^ 0x02 ^ 0x94 ^ 0x02))


def test_a_descriptor_round_trips_and_a_wrong_one_says_to_check_the_baudrate() -> None:
    raw = encode_descriptor(5, 1, 0x81)
    assert raw == bytes((0xA5, 0x5A, 0x05, 0x00, 0x00, 0x40, 0x81))
    desc = parse_descriptor(raw)
    assert (desc.length, desc.send_mode, desc.data_type) == (5, 1, 0x81)
    with pytest.raises(SensorError, match="baudrate"):
        parse_descriptor(b"\x00" * 7)


def test_info_and_health_round_trip() -> None:
    info = DeviceInfo(model=0x18, firmware=(1, 29), hardware=7, serial_number="00112233445566778899aabbccddeeff")
    raw = encode_info(info)
    assert raw[:4] == bytes((0x18, 29, 1, 7))  # minor before major on the wire
    assert decode_info(raw) == info
    assert decode_info(raw).firmware_version == "1.29"
    assert decode_health(encode_health(DeviceHealth(2, 0x8001))) == DeviceHealth(2, 0x8001)
    assert decode_health(b"\x01\x34\x12").error_code == 0x1234


@given(nodes_st)
def test_nodes_round_trip_exactly(nodes: list[tuple[int, int, int, bool]]) -> None:
    for angle_q6, dist_q2, quality, start in nodes:
        node = decode_node(node_bytes(angle_q6, dist_q2, quality, start))
        assert node == Node(angle_q6 / 64, dist_q2 / 4000, quality, start)


def test_a_node_with_broken_check_bits_or_an_angle_past_360_is_rejected() -> None:
    good = bytearray(encode_node(90.0, 2.0, 10, start=True))
    assert decode_node(good) is not None
    for broken in (good[0] ^ 0x02, good[0] ^ 0x01):  # S and !S equal
        assert decode_node(bytes((broken,)) + good[1:]) is None
    assert decode_node(good[:1] + bytes((good[1] & 0xFE,)) + good[2:]) is None  # C = 0
    past = (400 * 64).to_bytes(2, "little")
    assert decode_node(bytes((good[0], (past[0] & 0x7F) << 1 | 1, (400 * 64) >> 7)) + good[3:]) is None


def test_the_parser_resyncs_after_garbage_and_counts_it() -> None:
    nodes = [encode_node(a, 1.0 + a / 100) for a in range(0, 50, 5)]
    stream = b"".join(nodes[:5]) + b"\x00\x00\xff" + b"".join(nodes[5:])
    parser = RplidarParser()
    got = parser.feed(stream)
    assert [n.angle_deg for n in got] == list(range(0, 50, 5))
    c = parser.counters
    assert c.checksum_failures == 1
    assert c.resyncs == 1
    assert c.dropped_bytes == 3
    assert c.bytes == 5 * c.packets + c.dropped_bytes + parser.pending


def test_the_parser_gives_the_same_nodes_however_the_bytes_are_split() -> None:
    rnd = random.Random(3)
    stream = b"".join(encode_node(rnd.uniform(0, 359), rnd.uniform(0.2, 8), start=i % 50 == 0) for i in range(200))
    whole = RplidarParser().feed(stream)
    parser = RplidarParser()
    pieces: list[Node] = []
    i = 0
    while i < len(stream):
        step = rnd.randint(1, 13)
        pieces += parser.feed(stream[i : i + step])
        i += step
    assert pieces == whole
    assert len(whole) == 200


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(1, 64), max_size=20))
def test_random_bytes_never_raise_and_the_counters_add_up(data: bytes, splits: list[int]) -> None:
    parser = RplidarParser()
    got: list[Node] = []
    i = 0
    for step in [*splits, len(data)]:
        got += parser.feed(data[i : i + step])
        i += step
    c = parser.counters
    assert c.bytes == len(data)
    assert c.packets == len(got)
    assert c.bytes == 5 * c.packets + c.dropped_bytes + parser.pending
    assert all(0 <= n.angle_deg < 360 and n.distance_m >= 0 for n in got)


# Garbage whose bytes have S == !S can never pose as a node start: the parser must skip all of it.
noise_st = st.lists(st.sampled_from([b for b in range(256) if (b & 1) == (b >> 1) & 1]), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(nodes_st, noise_st, nodes_st.filter(lambda n: len(n) >= 2))
def test_valid_nodes_around_garbage_are_all_decoded(
    before: list[tuple[int, int, int, bool]], noise: list[int], after: list[tuple[int, int, int, bool]]
) -> None:
    stream = b"".join(node_bytes(*n) for n in before) + bytes(noise) + b"".join(node_bytes(*n) for n in after)
    parser = RplidarParser()
    got = parser.feed(stream)
    expected = [Node(a / 64, d / 4000, q, s) for a, d, q, s in [*before, *after]]
    assert got == expected
    assert parser.counters.dropped_bytes == len(noise)
    assert parser.counters.resyncs == 1


def revolution(distance_of: dict[int, float], start_deg: float = 0.0, step_deg: float = 1.0) -> list[Node]:
    """One revolution of clockwise nodes; angles not in ``distance_of`` have no return."""
    out = []
    for k in range(round(360 / step_deg)):
        a = (start_deg + k * step_deg) % 360
        out.append(Node(a, distance_of.get(round(a), 0.0), 40, k == 0))
    return out


def test_scans_close_on_the_start_flag_with_rep103_angles_and_inf_gaps() -> None:
    builder = ScanBuilder(bins=360)
    # clockwise 90 degrees is the sensor's right: REP-103's -pi/2
    distances = {0: 1.0, 90: 2.0, 270: 3.0}
    assert builder.add(revolution(distances)[100:], recv_ns=0) == []  # half a revolution: dropped
    assert builder.dropped_nodes == 260
    assert builder.add(revolution(distances), recv_ns=1_000_000_000) == []
    scans = builder.add(revolution(distances), recv_ns=1_180_000_000)
    assert len(scans) == 1
    scan = scans[0]
    angles = bin_angles_rad(360)
    assert scan.angle_min_rad == 0.0  # beams in sweep order: straight ahead, then clockwise
    assert scan.angle_increment_rad == pytest.approx(-2 * math.pi / 360)
    finite = np.flatnonzero(np.isfinite(scan.ranges_m))
    assert len(finite) == 3
    by_angle = {round(math.degrees(math.remainder(angles[i], 2 * math.pi))): float(scan.ranges_m[i]) for i in finite}
    assert by_angle == {0: 1.0, -90: 2.0, 90: 3.0}
    assert scan.stamp_ns == 1_000_000_000
    assert scan.recv_ns == 1_180_000_000
    assert scan.time_increment_ns == 180_000_000 // 360
    assert scan.nodes == 360
    assert scan.ranges_m.dtype == np.float32


def test_the_nearest_node_of_a_beam_wins_and_out_of_range_is_no_return() -> None:
    builder = ScanBuilder(bins=4, range_min_m=0.2, range_max_m=5.0)
    nodes = [Node(0.0, 3.0, 10, True), Node(10.0, 2.0, 20, False), Node(90.0, 9.0, 5, False), Node(180, 0.1, 5, False)]
    builder.add(nodes, recv_ns=0)
    (scan,) = builder.add([Node(0.0, 1.0, 1, True)], recv_ns=400)
    assert scan.ranges_m.tolist() == [2.0, math.inf, math.inf, math.inf]  # beams at 0, -pi/2, -pi, -3pi/2
    assert scan.intensities.tolist() == [20.0, 0.0, 0.0, 0.0]


def test_beam_i_is_measured_at_stamp_plus_i_time_increments_as_laser_scan_promises() -> None:
    times = beam_times_ns(8, stamp_ns=1000, time_increment_ns=10)
    angles = bin_angles_rad(8)
    assert times[0] == 1000  # straight ahead, where the revolution starts
    assert angles[0] == 0.0
    assert times[1] == 1010  # next clockwise beam: to the right, a lower REP-103 angle
    assert angles[1] == pytest.approx(-math.pi / 4)
    assert times[7] == 1070
