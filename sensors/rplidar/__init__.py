"""Slamtec RPLIDAR A1/A2 2-D LIDARs over a serial port (standard scan protocol).

``protocol`` builds requests and decodes responses and the 5-byte measurement nodes;
``scans`` resamples each revolution onto a fixed grid in REP-103 angles; ``driver`` runs it::

    parser, builder = RplidarParser(), ScanBuilder(bins=360)
    for scan in builder.add(parser.feed(port.read(4096)), recv_ns):
        ...
"""

from sensors.rplidar.protocol import (
    Command,
    DataType,
    Descriptor,
    DeviceHealth,
    DeviceInfo,
    HealthStatus,
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
from sensors.rplidar.scans import ScanBuilder, ScanPayload, beam_times_ns, bin_angles_rad

__all__ = [
    "Command",
    "DataType",
    "Descriptor",
    "DeviceHealth",
    "DeviceInfo",
    "HealthStatus",
    "Node",
    "RplidarParser",
    "ScanBuilder",
    "ScanPayload",
    "beam_times_ns",
    "bin_angles_rad",
    "decode_health",
    "decode_info",
    "decode_node",
    "encode_descriptor",
    "encode_health",
    "encode_info",
    "encode_node",
    "parse_descriptor",
    "request",
]
