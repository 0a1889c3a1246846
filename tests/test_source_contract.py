"""The Source contract, run against every Source implementation that can run here.

The simulator, the recorded sources (WAV, pcap, a video file) and a merge of them. Live
drivers (serial, UDP) are exercised against real ptys and sockets in tests/sensors; bag
readers and ROS 2 subscriptions join the parametrization as they arrive.
"""

from __future__ import annotations

import dataclasses
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import robofuse
from robofuse.config import load_rig
from robofuse.errors import SensorError
from robofuse.merge import MergedSource
from robofuse.messages import RejectedSample, SampleHeader
from robofuse.sim import SimRig
from robofuse.source import Source
from sensors.audio.settings import AudioSettings
from sensors.audio.wav import WavSource
from sensors.velodyne.driver import VelodynePcapSource


def small_sim() -> Source:
    rig = load_rig(robofuse.default_rig_path())
    streams = tuple(
        dataclasses.replace(s, settings=dataclasses.replace(s.settings, width=32, height=24))
        if s.type == "sim.camera"
        else s
        for s in rig.streams
    )
    return SimRig(dataclasses.replace(rig, streams=streams), duration_s=0.5)


REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
PCAP = REAL / "velodyne_vlp16" / "mrpt_sample_velodyne_vlp16_gps.pcap"


def wav_file(folder: Path) -> WavSource:
    path = folder / "tone.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((np.sin(np.arange(8000) * 0.17) * 9000).astype("<i2").tobytes())
    return WavSource("mic", "mic", AudioSettings(wav=str(path), chunk_samples=320))


def video_file(folder: Path) -> Source:
    cv2 = pytest.importorskip("cv2", reason="OpenCV is not installed (pip install 'robofuse[drivers]')")
    from sensors.camera.driver import OpenCVCameraDriver
    from sensors.camera.settings import CameraSettings

    path = folder / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (32, 24))
    for k in range(10):
        writer.write(np.full((24, 32, 3), 20 * k, np.uint8))
    writer.release()
    return OpenCVCameraDriver("camera", "cam", CameraSettings(source=str(path)))


def pcap_file(_: Path) -> Source:
    if not PCAP.exists():
        pytest.skip(f"the real VLP-16 capture is not at {PCAP}")
    return VelodynePcapSource(PCAP, "lidar", "velodyne")


def merged(folder: Path) -> Source:
    return MergedSource([wav_file(folder), video_file(folder)], live=False)


SOURCES: dict[str, Callable[[Path], Source]] = {
    "sim": lambda _: small_sim(),
    "wav": wav_file,
    "video": video_file,
    "pcap": pcap_file,
    "merged": merged,
}


@pytest.fixture(params=sorted(SOURCES))
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Source:
    return SOURCES[request.param](tmp_path)


def test_a_source_must_be_opened_before_iterating(source: Source) -> None:
    assert not source.is_open
    with pytest.raises(SensorError, match="not open"):
        iter(source)


def test_a_source_yields_samples_of_its_declared_streams_in_arrival_order(source: Source) -> None:
    with source:
        items = list(source)
    assert items
    assert {i.stream for i in items} <= set(source.streams)
    assert [i.recv_ns for i in items] == sorted(i.recv_ns for i in items)
    for item in items:
        assert isinstance(item, (SampleHeader, RejectedSample))
        if isinstance(item, SampleHeader):
            assert item.modality is source.streams[item.stream]


def test_open_and_close_are_idempotent_and_close_ends_iteration(source: Source) -> None:
    source.open()
    source.open()
    it = iter(source)
    next(it)
    source.close()
    source.close()
    assert not source.is_open
    assert list(it) == []
