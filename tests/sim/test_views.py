"""Sensor pictures: the bird's-eye view puts points where they are, the spectrogram shows a tone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from robofuse.cli.main import main
from robofuse.sim.views import lidar_birds_eye, spectrogram


def test_a_point_ahead_and_left_lands_up_and_left_of_the_centre() -> None:
    img = lidar_birds_eye(np.array([[5.0, 2.0, 1.0]], np.float32), range_m=10.0, pixels=200)
    lit = np.argwhere(np.any(img != img[0, 0], axis=2) & (img[..., 0] != 45) & (img[..., 0] != 255))
    assert [50, 80] in lit.tolist()  # 10 px per metre: 5 m forward is 50 px up, 2 m left 20 px left


def test_a_tone_is_the_brightest_row_of_its_spectrogram() -> None:
    rate = 16000
    t = np.arange(rate) / rate
    img = spectrogram(np.sin(2 * np.pi * 3000 * t), rate, window=512)
    brightness = img.astype(np.float64).sum(axis=(1, 2))
    row = int(np.argmax(brightness))
    freq = (img.shape[0] - 1 - row) * rate / 512
    assert abs(freq - 3000) <= rate / 512


def test_snapshot_writes_the_three_pictures(tmp_path: Path, capsys: object) -> None:
    assert main(["snapshot", "--at", "3", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audio.png", "camera.png", "lidar.png"]
    assert (tmp_path / "camera.png").read_bytes()[:4] == b"\x89PNG"


def test_snapshot_needs_audio_history(capsys: object) -> None:
    assert main(["snapshot", "--at", "1"]) == 1
