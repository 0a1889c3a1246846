"""Rig files select drivers: a rig of recordings opens as one merged Source."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
import yaml

from robofuse.config import load_rig
from robofuse.errors import ConfigError, SensorError
from robofuse.merge import MergedSource
from robofuse.messages import AudioChunk, CameraFrame, PointCloud
from sensors.audio.settings import AudioSettings
from sensors.audio.wav import WavSource
from sensors.factory import open_rig

cv2 = pytest.importorskip("cv2", reason="OpenCV is not installed (pip install 'robofuse[drivers]')")
PCAP = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real" / "velodyne_vlp16"
PCAP = PCAP / "mrpt_sample_velodyne_vlp16_gps.pcap"


def write_wav(path: Path, seconds: float, rate: int = 16000) -> None:
    t = np.arange(round(seconds * rate)) / rate
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes())


def write_video(path: Path, frames: int) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    for k in range(frames):
        writer.write(np.full((48, 64, 3), k * 8 % 256, np.uint8))
    writer.release()


def rig_file(tmp_path: Path, streams: list[dict[str, object]]) -> Path:
    path = tmp_path / "rig.yaml"
    path.write_text(yaml.safe_dump({"name": "bench-rig", "streams": streams}))
    return path


@pytest.mark.skipif(not PCAP.exists(), reason=f"the real VLP-16 capture is not at {PCAP}")
def test_a_rig_of_recordings_opens_as_one_source_with_every_stream(tmp_path: Path) -> None:
    write_wav(tmp_path / "mic.wav", 1.0)
    write_video(tmp_path / "cam.avi", 20)
    rig = load_rig(
        rig_file(
            tmp_path,
            [
                {
                    "name": "front_camera",
                    "modality": "camera",
                    "type": "camera.opencv",
                    "rate_hz": 30,
                    "frame_id": "cam",
                    "clock_domain": "host",
                    "settings": {"source": str(tmp_path / "cam.avi"), "width": 64, "height": 48},
                },
                {
                    "name": "mic",
                    "modality": "audio",
                    "type": "audio.wav",
                    "rate_hz": 50,
                    "frame_id": "mic",
                    "settings": {"wav": str(tmp_path / "mic.wav"), "chunk_samples": 320},
                },
                {
                    "name": "lidar",
                    "modality": "lidar",
                    "type": "velodyne.udp",
                    "rate_hz": 10,
                    "frame_id": "velodyne",
                    "settings": {"pcap": str(PCAP)},
                },
            ],
        )
    )
    source = open_rig(rig)
    assert isinstance(source, MergedSource)
    assert not source.live  # all recordings: merged by arrival time, deterministically
    with source:
        items = list(source)
    by_stream = {name: [i for i in items if i.stream == name] for name in ("front_camera", "mic", "lidar")}
    assert len(by_stream["front_camera"]) == 20
    assert all(isinstance(i, CameraFrame) for i in by_stream["front_camera"])
    assert len(by_stream["mic"]) == 50
    assert all(isinstance(i, AudioChunk) for i in by_stream["mic"])
    assert len(by_stream["lidar"]) == 3
    assert all(isinstance(i, PointCloud) for i in by_stream["lidar"])
    assert [i.recv_ns for i in items] == sorted(i.recv_ns for i in items)


def test_devices_are_merged_by_threads_and_every_item_comes_through(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav", 0.5)
    write_wav(tmp_path / "b.wav", 0.3)
    merged = MergedSource(
        [
            WavSource("a", "mic_a", AudioSettings(wav=str(tmp_path / "a.wav"), chunk_samples=160)),
            WavSource("b", "mic_b", AudioSettings(wav=str(tmp_path / "b.wav"), chunk_samples=160)),
        ],
        live=True,
    )
    with merged:
        items = list(merged)
    assert sum(i.stream == "a" for i in items) == 50
    assert sum(i.stream == "b" for i in items) == 30


def test_two_sources_with_one_stream_name_are_refused(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav", 0.1)
    settings = AudioSettings(wav=str(tmp_path / "a.wav"), chunk_samples=160)
    with pytest.raises(SensorError, match=r"same streams \['mic'\]"):
        MergedSource([WavSource("mic", "m", settings), WavSource("mic", "m", settings)], live=False)


def test_a_rig_mixing_simulated_and_real_streams_is_refused(tmp_path: Path) -> None:
    write_wav(tmp_path / "mic.wav", 0.1)
    rig = load_rig(
        rig_file(
            tmp_path,
            [
                {"name": "imu", "modality": "imu", "type": "sim.imu", "rate_hz": 400, "frame_id": "imu"},
                {
                    "name": "mic",
                    "modality": "audio",
                    "type": "audio.wav",
                    "rate_hz": 50,
                    "frame_id": "mic",
                    "settings": {"wav": str(tmp_path / "mic.wav")},
                },
            ],
        )
    )
    with pytest.raises(ConfigError, match="mixes simulated and real streams"):
        open_rig(rig)


def test_the_documented_hardware_rig_loads_and_selects_a_driver_per_stream() -> None:
    from sensors.audio.driver import SoundDeviceDriver
    from sensors.camera.driver import OpenCVCameraDriver
    from sensors.factory import source_for
    from sensors.velodyne.driver import VelodyneUdpDriver
    from sensors.xsens.driver import XsensDriver

    rig = load_rig(Path(__file__).resolve().parents[2] / "docs" / "rigs" / "ground_robot.yaml")
    kinds = {s.name: type(source_for(s)) for s in rig.streams}  # constructing opens nothing
    assert kinds == {
        "camera": OpenCVCameraDriver,
        "lidar": VelodyneUdpDriver,
        "imu": XsensDriver,
        "audio": SoundDeviceDriver,
    }
    assert open_rig(rig).live  # devices: one thread each
