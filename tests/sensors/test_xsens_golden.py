"""Recorded MTi-300 messages, read in place from the shared golden file, through the Xsens parser.

The file holds six MTData2 payloads as hex ("Raw Data") with the vendor tool's decoding
("Decoded Info"), and the command and response frames of a configuration session. Every one
of them is used here. What the file says that is not used, and why:

- The per-item hex breakdown under the first packet disagrees with its own raw block (its q3
  is listed as ``41 1D 27 A2``, which is accZ); the raw block and the decoded info agree, so
  those two are the reference.
- The "Size" lines are off in two places (example 4 says 147 bytes, its payload and its
  decoded items make 146; example 6 says "38 - 0x24"): sizes are taken from the items.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

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
    RealItem,
    XbusMessage,
    XbusParser,
    frame,
    to_imu_payload,
)

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
GOLDEN = REAL / "xsens_mti300" / "xsens-mti_mtmanager_packets_MTi-300.md"
pytestmark = pytest.mark.skipif(not GOLDEN.exists(), reason=f"Xsens golden packets not present at {GOLDEN}")

# Vendor item name -> MtData2 field.
FIELDS = {
    "PacketCounter": "packet_counter",
    "SampleTimeFine": "sample_time_fine",
    "Quaternion": "quaternion_wxyz",
    "Acceleration": "acceleration_mps2",
    "DeltaV": "delta_v_mps",
    "FreeAcceleration": "free_acceleration_mps2",
    "RateOfTurn": "rate_of_turn_radps",
    "DeltaQ": "delta_q_wxyz",
    "MagneticField": "magnetic_field_au",
    "Temperature": "temperature_c",
    "BaroPressure": "baro_pressure_pa",
    "StatusWord": "status_word",
}
PRINTED_HALF_ULP = 0.5e-8 + 1e-15  # the tool prints 8 decimals of the exact float32 value
# Recorded frames whose listed checksum does not fit their own bytes, with the evidence.
BAD_CHECKSUMS = {
    ("EMTSData", 0xF0): "its 1320-byte payload with the extended header sums to 0x52, not 0",
    ("AvailableFilterProfiles", 0xD0): "the same payload is listed earlier with 0xF1, which sums to 0",
    ("GotoMeasurementAck", 0x8C): "an empty ack 0x11 on bus 0xFF needs 0xF0",
}
FILTER_VALID = 1 << 1  # StatusWord bit 1: the orientation filter has converged


@dataclass(frozen=True)
class VendorItem:
    name: str
    tags: tuple[str, ...]
    size: int
    numbers: tuple[float, ...]


@dataclass(frozen=True)
class GoldenPacket:
    title: str
    payload: bytes
    items: tuple[VendorItem, ...]


@dataclass(frozen=True)
class RecordedFrame:
    name: str
    message_id: int
    length_field: bytes
    payload: bytes
    checksum: int

    @property
    def wire(self) -> bytes:
        length = self.length_field if len(self.length_field) == 1 else b"\xff" + self.length_field
        return bytes([0xFA, 0xFF, self.message_id]) + length + self.payload + bytes([self.checksum])


def vendor_item(text: str) -> VendorItem:
    m = re.fullmatch(r"\(([\w|]+), (\d+) bytes, (.*)\)", text.strip(), re.S)
    assert m, text
    name, *tags = m[1].split("|")
    value = m[3].strip()
    if re.fullmatch(r"[01]{32}", value):  # StatusWord, printed as bits
        numbers: tuple[float, ...] = (int(value, 2),)
    else:
        numbers = tuple(float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?=\s*(?:,|\)|$))", value))
    return VendorItem(name, tuple(tags), int(m[2]), numbers)


def golden_packets() -> list[GoldenPacket]:
    text = GOLDEN.read_text()
    block = r"## Raw Data\s*```\s*([0-9A-F ]+?)\s*```\s*## Decoded Info\s*```\s*\{(.*?)\}\s*```"
    found = re.finditer(block, text, re.S)
    packets = []
    for m in found:
        title = re.findall(r"^# (.+)$", text[: m.start()], re.M)[-1]
        items = re.findall(r"\([\w|]+, \d+ bytes, (?:\([^()]*\)|[^()]*)\)", m[2])
        packets.append(GoldenPacket(title, bytes.fromhex(m[1]), tuple(vendor_item(i) for i in items)))
    return packets


def recorded_frames() -> list[RecordedFrame]:
    text = GOLDEN.read_text().split("# Configuration Example", 1)[1]
    frames = []
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        heading, *lines = section.splitlines()
        m = re.fullmatch(r"(\w+)(?: -)? 0x([0-9A-F]{2})\s*", heading)
        body = re.sub(r"```.*?```", "", "\n".join(lines), flags=re.S)  # drop the tool's decodings
        hex_lines = [ln.strip() for ln in body.splitlines() if re.fullmatch(r"[0-9A-F]{2}( [0-9A-F]{2})*", ln.strip())]
        if m is None or not hex_lines:
            continue  # prose only (the closing "GotoConfigAck" note)
        length, *payload, checksum = hex_lines
        payload_bytes = bytes.fromhex(" ".join(payload))
        frames.append(RecordedFrame(m[1], int(m[2], 16), bytes.fromhex(length), payload_bytes, int(checksum, 16)))
    return frames


PACKETS = golden_packets() if GOLDEN.exists() else []
TITLES = [p.title for p in PACKETS]


def mti_parser() -> XbusParser[XbusMessage | MtData2]:
    return XbusParser(decode=MtData2Decoder())


def only_mtdata2(out: list[XbusMessage | MtData2]) -> MtData2:
    assert len(out) == 1
    assert isinstance(out[0], MtData2)
    return out[0]


def assert_matches_vendor(data: MtData2, packet: GoldenPacket) -> None:
    assert len(data.item_ids) == len(packet.items), "one decoded item per vendor item"
    assert data.unknown == ()
    for item in packet.items:
        value = getattr(data, FIELDS[item.name])
        assert value is not None, item.name
        if isinstance(value, RealItem):
            assert item.size == 4 * len(value.values), item.name
            assert "Float" in item.tags
            assert value.number_format is NumberFormat.FLOAT32
            if "ENU" in item.tags:
                assert value.frame is EarthFrame.ENU
            np.testing.assert_allclose(value.values, item.numbers, rtol=0, atol=PRINTED_HALF_ULP, err_msg=item.name)
        else:
            assert (value,) == item.numbers, item.name


def test_the_golden_file_holds_six_mtdata2_packets_and_every_one_is_read() -> None:
    assert GOLDEN.read_text().count("## Raw Data") == len(PACKETS) == 6
    assert all(p.items for p in PACKETS)


@pytest.mark.parametrize("packet", PACKETS, ids=TITLES)
def test_a_recorded_packet_decodes_to_the_vendor_tools_values(packet: GoldenPacket) -> None:
    parser = mti_parser()
    data = only_mtdata2(parser.feed(frame(0xFF, MessageId.MT_DATA2, packet.payload)))
    assert_matches_vendor(data, packet)
    assert parser.counters.packets == 1
    assert parser.counters.dropped_bytes == parser.counters.checksum_failures == parser.counters.malformed == 0


@pytest.mark.parametrize("packet", PACKETS, ids=TITLES)
def test_a_recorded_packet_split_at_any_byte_decodes_the_same(packet: GoldenPacket) -> None:
    wire = frame(0xFF, MessageId.MT_DATA2, packet.payload)
    for cut in range(len(wire) + 1):
        parser = mti_parser()
        first = parser.feed(wire[:cut])
        assert first == [] or cut == len(wire)
        assert_matches_vendor(only_mtdata2(first + parser.feed(wire[cut:])), packet)
        assert parser.buffered == 0


def test_all_recorded_packets_in_random_chunks_decode_in_order() -> None:
    wire = b"".join(frame(0xFF, MessageId.MT_DATA2, p.payload) for p in PACKETS) * 3
    rng = np.random.default_rng(7)
    for _ in range(20):
        cuts = [0, *np.sort(rng.integers(0, len(wire) + 1, size=rng.integers(1, 40))), len(wire)]
        parser = mti_parser()
        out = [m for a, b in itertools.pairwise(cuts) for m in parser.feed(wire[a:b])]
        assert len(out) == 3 * len(PACKETS)
        for data, packet in zip(out, PACKETS * 3, strict=True):
            assert isinstance(data, MtData2)
            assert_matches_vendor(data, packet)


@pytest.mark.parametrize("packet", PACKETS, ids=TITLES)
def test_a_recorded_packet_becomes_an_imu_sample_with_the_quaternion_reordered(packet: GoldenPacket) -> None:
    data = only_mtdata2(mti_parser().feed(frame(0xFF, MessageId.MT_DATA2, packet.payload)))
    if data.rate_of_turn_radps is None:  # example 6: orientation only
        with pytest.raises(SensorError, match=r"no RateOfTurn \(0x8020\), which an ImuSample needs"):
            to_imu_payload(data)
        return
    sample = ImuSample(stream="imu", frame_id="imu", seq=0, stamp_ns=0, recv_ns=0, **to_imu_payload(data))
    printed = {i.name: i.numbers for i in packet.items}
    w, x, y, z = printed["Quaternion"]
    assert sample.orientation is not None
    np.testing.assert_allclose(sample.orientation, [x, y, z, w], atol=1e-6)
    np.testing.assert_allclose(sample.angular_velocity, printed["RateOfTurn"], atol=PRINTED_HALF_ULP)
    np.testing.assert_allclose(sample.linear_acceleration, printed["Acceleration"], atol=PRINTED_HALF_ULP)


def rotate_xyzw(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """v rotated by the (x, y, z, w) quaternion q."""
    u, w = q[:3], q[3]
    return np.asarray(v + 2.0 * np.cross(u, np.cross(u, v) + w * v))


def test_the_converted_orientation_turns_measured_acceleration_into_gravity_plus_free_acceleration() -> None:
    """The device's own free acceleration is R(q) acc - g: true only with the quaternion read right."""
    gravity = []
    for packet in PACKETS:
        data = only_mtdata2(mti_parser().feed(frame(0xFF, MessageId.MT_DATA2, packet.payload)))
        if data.free_acceleration_mps2 is None or not (data.status_word or 0) & FILTER_VALID:
            continue  # the shake packet: the file and its StatusWord say the filter was not valid
        imu = to_imu_payload(data)
        assert imu["orientation"] is not None
        residual = rotate_xyzw(imu["orientation"], imu["linear_acceleration"]) - data.free_acceleration_mps2.values
        np.testing.assert_allclose(residual[:2], 0.0, atol=2e-3)
        gravity.append(residual[2])
    assert len(gravity) == 4
    assert 9.78 < min(gravity) <= max(gravity) < min(gravity) + 1e-3 < 9.82


def test_recorded_command_and_response_frames_are_framed_like_the_device_does() -> None:
    frames = recorded_frames()
    assert len(frames) == 28
    good = [f for f in frames if (f.name, f.checksum) not in BAD_CHECKSUMS]
    for f in good:
        assert frame(0xFF, f.message_id, f.payload) == f.wire, f.name
    parser = XbusParser()
    out = parser.feed(b"".join(f.wire for f in good))
    assert [(m.message_id, m.payload) for m in out] == [(f.message_id, f.payload) for f in good]
    assert parser.counters.dropped_bytes == 0


@pytest.mark.parametrize(("name", "checksum"), list(BAD_CHECKSUMS), ids=[n for n, _ in BAD_CHECKSUMS])
def test_a_recorded_frame_with_a_wrong_checksum_is_counted_and_the_next_one_still_read(
    name: str, checksum: int
) -> None:
    (bad,) = [f for f in recorded_frames() if (f.name, f.checksum) == (name, checksum)]
    ack = frame(0xFF, MessageId.GO_TO_CONFIG_ACK)
    parser = XbusParser()
    out = parser.feed(bad.wire + ack)
    assert out == [XbusMessage(0xFF, MessageId.GO_TO_CONFIG_ACK, b"")], BAD_CHECKSUMS[(name, checksum)]
    assert parser.counters.checksum_failures == 1
    assert parser.counters.dropped_bytes == len(bad.wire)


def test_the_recorded_extended_length_field_is_what_frame_writes() -> None:
    (emts,) = [f for f in recorded_frames() if f.name == "EMTSData"]
    assert emts.length_field == bytes.fromhex("05 28")
    assert len(emts.payload) == 0x528
    assert frame(0xFF, emts.message_id, emts.payload)[3:6] == bytes.fromhex("FF 05 28")


def checked(message: XbusMessage) -> XbusMessage:
    """The MTi decode hook's verdict (nonsense is rejected) with the raw message kept for comparison."""
    MtData2Decoder()(message)
    return message


@st.composite
def corrupted_golden_stream(draw: st.DrawFn) -> tuple[bytes, dict[int, bytes]]:
    """Golden frames, some flipped, cut short or preceded by random bytes; and the intact ones by offset."""
    wire, intact = b"", {}
    for _ in range(draw(st.integers(1, 8))):
        f = frame(0xFF, MessageId.MT_DATA2, draw(st.sampled_from(PACKETS)).payload)
        wire += draw(st.binary(max_size=40)) if draw(st.booleans()) else b""
        damage = draw(st.sampled_from(["none", "flip", "cut", "insert"]))
        if damage == "none":
            intact[len(wire)] = f
        elif damage == "flip":
            i = draw(st.integers(0, len(f) - 1))
            f = f[:i] + bytes([f[i] ^ draw(st.integers(1, 255))]) + f[i + 1 :]
        elif damage == "cut":
            f = f[: draw(st.integers(0, len(f) - 1))]
        else:
            i = draw(st.integers(1, len(f) - 1))
            f = f[:i] + draw(st.binary(min_size=1, max_size=10)) + f[i:]
        wire += f
    return wire, intact


@settings(max_examples=150, deadline=None)
@given(stream=corrupted_golden_stream(), chunk=st.integers(1, 200))
def test_damaged_golden_streams_never_raise_and_every_intact_packet_survives(
    stream: tuple[bytes, dict[int, bytes]], chunk: int
) -> None:
    wire, intact = stream
    parser = XbusParser(decode=checked)
    out = []
    for i in range(0, len(wire), chunk):
        out += parser.feed(wire[i : i + chunk])
        assert parser.buffered < parser.max_frame_size
    # A false header may claim more bytes than the stream has left, and its verdict waits for
    # them: preamble-free bytes after the end settle every pending verdict.
    tail = bytes(parser.max_frame_size)
    out += parser.feed(tail)
    assert parser.buffered == 0
    c = parser.counters
    assert c.packets == len(out)
    # Where each output lay: outputs are disjoint runs of the stream, in order.
    spans, cursor, stream_bytes = {}, 0, wire + tail
    for m in out:
        f = frame(m.bus_id, m.message_id, m.payload)
        cursor = stream_bytes.index(f, cursor)
        spans[cursor] = f
        cursor += len(f)
    assert c.bytes == len(stream_bytes) == sum(map(len, spans.values())) + c.dropped_bytes
    # Every intact frame is an output, unless a false frame claimed its bytes first: one whose
    # 8-bit checksum matched by chance (1 in 256) and whose items happened to be consistent.
    false_frames = [(at, at + len(f)) for at, f in spans.items() if intact.get(at) != f]
    for at, f in intact.items():
        hidden = any(a < at + len(f) and at < b for a, b in false_frames)
        assert spans.get(at) == f or hidden, f"intact frame at byte {at} lost"
