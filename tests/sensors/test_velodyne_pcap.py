"""The pcap reader finds the UDP datagrams of classic captures in every variant, and fails cleanly."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from robofuse.errors import SensorError
from sensors.velodyne.pcap import LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_RAW, PcapReader, read_udp

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
VLP16_PCAP = REAL / "velodyne_vlp16" / "mrpt_sample_velodyne_vlp16_gps.pcap"


def ipv4_udp(payload: bytes, src_port: int, dst_port: int, proto: int = 17, fragment: int = 0) -> bytes:
    """An IPv4 packet carrying ``payload`` in UDP (checksums zero, which receivers accept)."""
    udp = struct.pack("!HHHH", src_port, dst_port, 8 + len(payload), 0) + payload
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, fragment, 64, proto, 0, bytes([192, 168, 1, 201]), bytes(4)
    )
    return header + udp


def ethernet(ip: bytes, ethertype: int = 0x0800, vlan: bool = False) -> bytes:
    tag = struct.pack("!HH", 0x8100, 5) if vlan else b""
    frame = bytes(12) + tag + struct.pack("!H", ethertype) + ip
    return frame + bytes(max(0, 60 - len(frame)))  # Ethernet pads short frames to 60 bytes


def write_pcap(
    path: Path, frames: list[bytes], *, endian: str = "<", nanoseconds: bool = False, link_type: int = 1
) -> Path:
    """A classic pcap of ``frames``, record i stamped 1.5 s + i ms (+ 7 ns if nanosecond)."""
    magic = 0xA1B23C4D if nanoseconds else 0xA1B2C3D4
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, link_type)]
    for i, frame in enumerate(frames):
        frac = 500_000_000 + i * 1_000_000 + 7 if nanoseconds else 500_000 + i * 1000
        out.append(struct.pack(endian + "IIII", 1, frac, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nanoseconds", [False, True])
def test_both_byte_orders_and_both_resolutions_give_the_same_datagrams(
    tmp_path: Path, endian: str, nanoseconds: bool
) -> None:
    frames = [ethernet(ipv4_udp(bytes([i]) * 1206, 2368, 2368)) for i in range(3)]
    path = write_pcap(tmp_path / "cap.pcap", frames, endian=endian, nanoseconds=nanoseconds)
    with PcapReader(path) as reader:
        assert reader.nanoseconds is nanoseconds
        assert reader.link_type == LINKTYPE_ETHERNET
        datagrams = list(reader)
    assert [d.payload for d in datagrams] == [bytes([i]) * 1206 for i in range(3)]
    assert [(d.src_port, d.dst_port) for d in datagrams] == [(2368, 2368)] * 3
    extra_ns = 7 if nanoseconds else 0
    assert [d.timestamp_ns for d in datagrams] == [1_500_000_000 + i * 1_000_000 + extra_ns for i in range(3)]
    assert datagrams[0].offset == 24


def test_frames_that_are_not_ipv4_udp_are_skipped_and_vlan_tags_are_understood(tmp_path: Path) -> None:
    frames = [
        ethernet(bytes(28), ethertype=0x0806),  # ARP
        ethernet(ipv4_udp(b"tcp!", 1, 2, proto=6)),  # TCP
        ethernet(ipv4_udp(b"frag", 1, 2, fragment=0x2000)),  # first fragment of a larger datagram
        ethernet(bytes(40), ethertype=0x86DD),  # IPv6
        ethernet(ipv4_udp(b"abc", 8308, 8308)),  # a short payload, padded by Ethernet
        ethernet(ipv4_udp(b"tagged", 2368, 2368), vlan=True),
    ]
    datagrams = list(read_udp(write_pcap(tmp_path / "mixed.pcap", frames)))
    assert [(d.dst_port, d.payload) for d in datagrams] == [(8308, b"abc"), (2368, b"tagged")]
    assert [d.payload for d in read_udp(tmp_path / "mixed.pcap", port=2368)] == [b"tagged"]


def test_linux_cooked_and_raw_ip_captures_are_read(tmp_path: Path) -> None:
    ip = ipv4_udp(b"payload", 2368, 2368)
    sll = bytes(14) + struct.pack("!H", 0x0800) + ip
    assert [d.payload for d in read_udp(write_pcap(tmp_path / "sll.pcap", [sll], link_type=LINKTYPE_LINUX_SLL))] == [
        b"payload"
    ]
    assert [d.payload for d in read_udp(write_pcap(tmp_path / "raw.pcap", [ip], link_type=LINKTYPE_RAW))] == [
        b"payload"
    ]


@pytest.mark.parametrize("cut", [5, 16 + 60, 16 + 200])  # in the second record's header, in its frame
def test_a_truncated_file_stops_with_a_sensor_error_naming_the_byte_offset(tmp_path: Path, cut: int) -> None:
    frames = [ethernet(ipv4_udp(b"x" * 200, 2368, 2368)) for _ in range(2)]
    whole = write_pcap(tmp_path / "whole.pcap", frames).read_bytes()
    record = 16 + len(frames[0])
    truncated = tmp_path / "cut.pcap"
    truncated.write_bytes(whole[: 24 + record + cut])
    datagrams = read_udp(truncated)
    assert next(datagrams).payload == b"x" * 200  # the whole record before the cut still comes through
    with pytest.raises(SensorError, match=rf"truncated .*byte offset {24 + record}\b"):
        next(datagrams)


def test_a_truncated_global_header_names_offset_zero(tmp_path: Path) -> None:
    path = tmp_path / "short.pcap"
    path.write_bytes(struct.pack("<I", 0xA1B2C3D4) + bytes(10))
    with pytest.raises(SensorError, match="byte offset 0"):
        list(read_udp(path))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x0a\x0d\x0d\x0a" + bytes(40), "pcapng"),
        (b"GIF89a" + bytes(40), "not a pcap file"),
        (b"", "not a pcap file"),
    ],
)
def test_files_that_are_not_classic_pcap_are_refused_with_a_reason(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "other.bin"
    path.write_bytes(content)
    with pytest.raises(SensorError, match=message):
        list(read_udp(path))


def test_a_corrupt_record_length_is_refused_rather_than_swallowing_the_file(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "cap.pcap", [ethernet(ipv4_udp(b"ok", 1, 2))])
    data = bytearray(path.read_bytes())
    data[24 + 8 : 24 + 12] = struct.pack("<I", 0x7FFFFFFF)
    path.write_bytes(bytes(data))
    with pytest.raises(SensorError, match="byte offset 24 claims"):
        list(read_udp(path))


def test_unknown_link_types_and_missing_files_are_sensor_errors(tmp_path: Path) -> None:
    with pytest.raises(SensorError, match="link type 147"):
        list(read_udp(write_pcap(tmp_path / "usb.pcap", [], link_type=147)))
    with pytest.raises(SensorError, match="cannot open"):
        list(read_udp(tmp_path / "absent.pcap"))
    with pytest.raises(SensorError, match="not open"):
        list(PcapReader(tmp_path / "usb.pcap"))


def test_closing_the_reader_under_an_iteration_ends_it_with_a_sensor_error(tmp_path: Path) -> None:
    reader = PcapReader(write_pcap(tmp_path / "cap.pcap", [ethernet(ipv4_udp(b"a", 1, 2))] * 3))
    reader.open()
    reader.open()  # a no-op: still one file
    datagrams = iter(reader)
    assert next(datagrams).payload == b"a"
    reader.close()
    with pytest.raises(SensorError, match="cannot read"):
        next(datagrams)


@pytest.mark.skipif(not VLP16_PCAP.exists(), reason=f"real data missing: {VLP16_PCAP}")
def test_the_real_vlp16_capture_holds_293_data_and_57_position_packets() -> None:
    datagrams = list(read_udp(VLP16_PCAP))
    data = [d for d in datagrams if d.dst_port == 2368]
    position = [d for d in datagrams if d.dst_port == 8308]
    assert len(data) == 293
    assert {len(d.payload) for d in data} == {1206}
    assert len(position) == 57
    assert {len(d.payload) for d in position} == {512}
    stamps = [d.timestamp_ns for d in datagrams]
    assert stamps == sorted(stamps)
    assert 0.38e9 < stamps[-1] - stamps[0] < 0.40e9  # 0.39 s of capture, as its provenance says
