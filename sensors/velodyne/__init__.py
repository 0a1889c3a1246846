"""Velodyne LIDAR packets: decoding, datagram parsing, scan assembly and pcap replay.

The pieces a Velodyne driver is built from, without sockets or threads:

- :func:`decode_packets` turns a batch of 1206-byte data packets into points (REP-103, metres)
  with intensity, ring, azimuth, return type and per-point time, vectorised with numpy;
- :class:`VelodyneParser` implements the parser contract of :mod:`sensors.parsing` for the
  data port's UDP datagrams (one packet each), counting and dropping what is not a packet;
- :class:`ScanAssembler` cuts the packet stream into 360-degree scans at a cut azimuth and
  returns the fields of a :class:`~robofuse.messages.PointCloud` with the first point's time
  on the sensor clock; :func:`absolute_time_ns` places that on a host clock;
- :mod:`sensors.velodyne.layouts` holds the laser tables (VLP-16; HDL-32E and VLP-32C from
  their documentation, not yet checked against recordings);
- :mod:`sensors.velodyne.pcap` reads the UDP datagrams of classic pcap captures.
"""

from sensors.velodyne.decoder import PACKET_BYTES, DecodedPoints, ReturnMode, ReturnType, decode_packets
from sensors.velodyne.layouts import HDL_32E, LAYOUTS, VLP_16, VLP_32C, LaserLayout, layout_for
from sensors.velodyne.parser import VelodynePacket, VelodyneParser, packet_problem
from sensors.velodyne.pcap import PcapReader, UdpDatagram, read_udp
from sensors.velodyne.scans import Scan, ScanAssembler, absolute_time_ns

__all__ = [
    "HDL_32E",
    "LAYOUTS",
    "PACKET_BYTES",
    "VLP_16",
    "VLP_32C",
    "DecodedPoints",
    "LaserLayout",
    "PcapReader",
    "ReturnMode",
    "ReturnType",
    "Scan",
    "ScanAssembler",
    "UdpDatagram",
    "VelodynePacket",
    "VelodyneParser",
    "absolute_time_ns",
    "decode_packets",
    "layout_for",
    "packet_problem",
    "read_udp",
]
