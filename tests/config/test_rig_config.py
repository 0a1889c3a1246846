"""Rig files: the bundled rig loads; every mistake names the file, the key and what is allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import robofuse
from robofuse.config import load_rig
from robofuse.errors import ConfigError
from robofuse.messages import Modality
from robofuse.sim.settings import SimCameraSettings


def bundled() -> dict[str, Any]:
    raw = yaml.safe_load(robofuse.default_rig_path().read_text())
    assert isinstance(raw, dict)
    raw.pop("calibration")  # written into tmp_path without its calibration file
    return raw


def write(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / "rig.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_the_bundled_rig_loads_with_four_streams_and_its_calibration() -> None:
    rig = load_rig(robofuse.default_rig_path())
    assert [s.modality for s in rig.streams] == [Modality.CAMERA, Modality.LIDAR, Modality.IMU, Modality.AUDIO]
    camera = rig.stream("camera")
    assert isinstance(camera.settings, SimCameraSettings)
    assert (camera.settings.width, camera.settings.height, camera.rate_hz) == (640, 480, 30.0)
    assert rig.calibration is not None
    intr = rig.calibration.of("camera").intrinsics
    assert intr is not None
    assert (intr.width, intr.height) == (640, 480)


def test_the_calibrated_minimum_latency_matches_the_simulated_transport() -> None:
    rig = load_rig(robofuse.default_rig_path())
    assert rig.calibration is not None
    for stream in rig.streams:
        cal = rig.calibration.of(stream.name).latency_min_s
        assert cal == pytest.approx(stream.settings.clock.latency_min_ms / 1e3), stream.name


def test_a_misspelt_key_is_named_with_a_suggestion_and_the_allowed_keys(tmp_path: Path) -> None:
    raw = bundled()
    raw["streams"][2]["rate_hx"] = raw["streams"][2].pop("rate_hz")
    with pytest.raises(ConfigError) as info:
        load_rig(write(tmp_path, raw))
    text = str(info.value)
    assert str(tmp_path / "rig.yaml") in text
    assert "streams[2].rate_hx: unknown key (did you mean 'rate_hz'?)" in text
    assert "allowed keys: name, modality, type, rate_hz" in text


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda r: r["streams"][0].update(rate_hz="fast"), "streams[0].rate_hz: expected a number, got str 'fast'"),
        (lambda r: r["streams"][0].update(rate_hz=-30), "rate_hz must be in (0, 100000], got -30"),
        (
            lambda r: r["streams"][0].update(modality="sonar"),
            "streams[0].modality: str 'sonar' is not allowed; use one of",
        ),
        (
            lambda r: r["streams"][0].update(type="sim.radar"),
            "unknown stream type 'sim.radar'; use one of ['audio.sounddevice', 'audio.wav', 'camera.opencv'",
        ),
        (lambda r: r["streams"][0].update(modality="imu"), "type 'sim.camera' produces ['camera'], not 'imu'"),
        (
            lambda r: r["streams"][1].update(clock_domain="gps"),
            "clock_domain: str 'gps' is not allowed; use one of ['sensor', 'host']",
        ),
        (
            lambda r: r["streams"][0]["settings"].update(width=True),
            "streams[0].settings.width: expected an integer, got bool True",
        ),
        (lambda r: r["streams"][0]["settings"]["clock"].update(drop_prob=2), "drop_prob must be in [0, 1), got 2"),
        (lambda r: r["streams"][3].update(name="imu"), "stream names must be unique; repeated: ['imu']"),
        (lambda r: r["streams"][3].update(name="Mic 1"), "name 'Mic 1' must be lower_snake_case"),
        (lambda r: r["world"].update(seed=1.5), "world.seed: expected an integer, got float 1.5"),
        (
            lambda r: r.update(sensors=[]),
            "sensors: unknown key; allowed keys: alignment, calibration, description, name, streams, world",
        ),
        (lambda r: r.update(alignment={"master": "sonar"}), "alignment.master: no stream 'sonar'"),
        (lambda r: r.update(alignment={"window_s": 0}), "alignment: window_s must be in [0.01, 10] s, got 0"),
        (
            lambda r: r.update(alignment={"clock": {"bin_s": 20}}),
            "alignment.clock: bin_s must be in [0.01, 10] s, got 20",
        ),
        (lambda r: r.pop("streams"), "streams: required, a list of stream mappings"),
        (lambda r: r["streams"][0].pop("frame_id"), "streams[0]: missing required key 'frame_id' (a string)"),
    ],
)
def test_a_wrong_value_is_a_clear_error(tmp_path: Path, edit: Any, expected: str) -> None:
    raw = bundled()
    edit(raw)
    with pytest.raises(ConfigError) as info:
        load_rig(write(tmp_path, raw))
    assert expected in str(info.value)
    assert str(info.value).startswith(str(tmp_path / "rig.yaml"))


def test_a_missing_or_broken_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read rig file"):
        load_rig(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("streams: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_rig(bad)


def test_the_default_timeout_is_five_periods_but_at_least_a_tenth_of_a_second(tmp_path: Path) -> None:
    raw = bundled()
    for stream in raw["streams"]:
        stream.pop("timeout_s")
    rig = load_rig(write(tmp_path, raw))
    assert rig.stream("imu").timeout_s == pytest.approx(0.1)
    assert rig.stream("lidar").timeout_s == pytest.approx(0.5)


def test_with_seed_changes_only_the_world_seed() -> None:
    rig = load_rig(robofuse.default_rig_path())
    seeded = rig.with_seed(42)
    assert seeded.world.seed == 42
    assert rig.world.seed == 0
    assert seeded.streams == rig.streams
