"""Rig-file settings of a Velodyne LIDAR on its UDP data port (stream ``type: velodyne.udp``)."""

from __future__ import annotations

from dataclasses import dataclass

from robofuse.config.registry import register_stream_type
from robofuse.messages import Modality
from robofuse.schema import require


@dataclass(frozen=True, kw_only=True)
class VelodyneSettings:
    """Where the packets come from and where scans are cut.

    ``host``/``port``: the address to listen on (the sensor sends to port 2368 by default).
    ``cut_azimuth_deg``: where one scan ends and the next begins (0 = straight behind in the
    sensor's azimuth, which is where ROS drivers cut too). ``product_id``: accept only this
    model's packets (0x22 VLP-16, 0x28 VLP-32C, 0x21 HDL-32E), or any known model when unset.
    ``pcap``: a capture file to replay instead (relative paths from the working directory).
    """

    host: str = "0.0.0.0"
    port: int = 2368
    cut_azimuth_deg: float = 0.0
    product_id: int | None = None
    pcap: str | None = None  # replay this capture (its packets to ``port``) instead of listening

    def __post_init__(self) -> None:
        require(0 <= self.port <= 65535, f"port must be 0..65535 (0: any free port), got {self.port}")
        require(0 <= self.cut_azimuth_deg < 360, f"cut_azimuth_deg must be in [0, 360), got {self.cut_azimuth_deg}")


register_stream_type(
    "velodyne.udp", (Modality.LIDAR,), VelodyneSettings, "Velodyne VLP-16 / VLP-32C / HDL-32E over UDP"
)
