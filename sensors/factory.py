"""Sources for a rig file's streams: the ``type`` of each stream selects its driver.

``open_rig(rig)`` gives one Source for the whole rig: the simulator for ``sim.*`` streams, a
driver per hardware stream, a recording where the settings name a file. Drivers are imported
only when a rig uses them, so a rig without cameras never imports OpenCV.
"""

from __future__ import annotations

from robofuse.config.rig import RigConfig, StreamConfig
from robofuse.errors import ConfigError
from robofuse.merge import MergedSource
from robofuse.source import Source


def source_for(stream: StreamConfig) -> Source:
    """The Source of one hardware or recorded stream."""
    s = stream.settings
    if stream.type == "xsens.mti":
        from sensors.xsens.driver import XsensDriver

        return XsensDriver(stream.name, stream.frame_id, s)
    if stream.type == "velodyne.udp":
        from sensors.velodyne.driver import VelodynePcapSource, VelodyneUdpDriver

        if s.pcap:
            return VelodynePcapSource(s.pcap, stream.name, stream.frame_id, s)
        return VelodyneUdpDriver(stream.name, stream.frame_id, s)
    if stream.type == "rplidar.serial":
        from sensors.rplidar.driver import RplidarDriver

        return RplidarDriver(stream.name, stream.frame_id, s)
    if stream.type == "camera.opencv":
        from sensors.camera.driver import OpenCVCameraDriver

        return OpenCVCameraDriver(stream.name, stream.frame_id, s)
    if stream.type == "audio.wav":
        from sensors.audio.wav import WavSource

        return WavSource(stream.name, stream.frame_id, s)
    if stream.type == "audio.sounddevice":
        from sensors.audio.driver import SoundDeviceDriver

        return SoundDeviceDriver(stream.name, stream.frame_id, s)
    raise ConfigError(f"stream {stream.name!r}: no driver for type {stream.type!r}")


def open_rig(rig: RigConfig, *, live: bool | None = None) -> Source:
    """One Source for every stream of ``rig`` (not yet opened).

    ``live``: merge by threads (devices) or by arrival time (recordings, the simulator);
    by default live exactly when some stream is a device rather than a file.
    """
    if any(s.type.startswith("sim.") for s in rig.streams):
        from robofuse.sim.rig import SimRig

        if not all(s.type.startswith("sim.") for s in rig.streams):
            raise ConfigError(f"rig {rig.name!r} mixes simulated and real streams; the simulator runs whole rigs only")
        return SimRig(rig)
    sources = [source_for(s) for s in rig.streams]
    if live is None:
        live = any(not _is_recording(s) for s in rig.streams)
    return sources[0] if len(sources) == 1 else MergedSource(sources, live=live)


def _is_recording(stream: StreamConfig) -> bool:
    s = stream.settings
    if stream.type == "audio.wav" or (stream.type == "velodyne.udp" and s.pcap):
        return True
    return stream.type == "camera.opencv" and not s.is_live
