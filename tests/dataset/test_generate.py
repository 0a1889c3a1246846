"""Training windows from the simulated rig: shapes, labels, determinism, files and the cache."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import pytest

import robofuse
import robofuse.dataset.generate as gen
from robofuse.align.buffer import AlignmentBuffer
from robofuse.cli import dataset as dataset_cli
from robofuse.config import RigConfig, load_rig
from robofuse.dataset.generate import FORMAT, WindowSet, cache_path, cached, generate
from robofuse.dataset.rig import rig_digest, training_rig
from robofuse.errors import ConfigError
from robofuse.messages import Modality, Window
from robofuse.sim.rig import SimRig
from robofuse.sim.world import World

N = 60


@pytest.fixture(scope="module")
def data() -> WindowSet:
    return generate(0, N)


def test_the_training_rig_renders_small_and_keeps_the_bundled_clocks_and_world() -> None:
    rig = training_rig(7)
    cam, lidar = rig.stream("camera").settings, rig.stream("lidar").settings
    assert (cam.width, cam.height) == (64, 48)
    assert lidar.azimuth_steps == 360
    assert rig.alignment.lidar_cols == 360
    assert rig.world.seed == 7
    bundled = load_rig(robofuse.default_rig_path())
    assert [s.settings.clock for s in rig.streams] == [s.settings.clock for s in bundled.streams]
    assert rig.world == dataclasses.replace(bundled.world, seed=7)
    assert rig.alignment == dataclasses.replace(bundled.alignment, lidar_cols=360)
    assert rig_digest(rig) != rig_digest(training_rig(8))


def test_every_window_has_the_training_shapes_and_compact_dtypes(data: WindowSet) -> None:
    assert len(data) == N
    assert data.camera.shape == (N, 48, 64, 3)
    assert data.camera.dtype == np.uint8
    assert data.lidar.shape == (N, 16, 360)
    assert data.lidar.dtype == np.float32
    assert data.imu.shape == (N, 200, 10)  # 0.5 s on the 400 Hz IMU grid
    assert data.imu.dtype == np.float32
    assert data.audio.shape == (N, 8000)
    assert data.audio.dtype == np.float16
    assert data.mask.shape == (N, 4)
    assert data.mask.dtype == np.float32
    for name in ("terrain", "light"):
        assert getattr(data, name).dtype == np.int8
    for name in ("collision", "slip", "wind"):
        assert getattr(data, name).dtype == np.bool_
    assert np.all(np.isfinite(data.lidar))
    assert np.all(np.isfinite(data.audio.astype(np.float32)))


def test_windows_are_consecutive_ticks_at_the_fusion_rate(data: WindowSet) -> None:
    assert np.all(np.diff(data.tick_ns) == 50_000_000)


def test_labels_and_conditions_are_the_world_truth_at_each_tick(data: WindowSet) -> None:
    world = World(training_rig(0).world)
    for i, tick in enumerate(data.tick_ns):
        truth = world.truth(int(tick))
        assert data.terrain[i] == int(truth.terrain)
        assert data.collision[i] == truth.collision
        assert data.slip[i] == truth.slip
        assert data.light[i] == int(truth.light)
        assert data.wind[i] == truth.wind
        assert data.body_speed[i] == np.float32(truth.body_speed_mps)


def test_inputs_are_the_alignment_buffers_windows_with_audio_in_half_precision(data: WindowSet) -> None:
    rig = training_rig(0)
    buf = AlignmentBuffer(rig)
    windows: list[Window] = []
    with SimRig(rig) as sim:
        for item in sim:
            buf.push(item)
            windows += buf.poll(item.recv_ns)
            if len(windows) >= 3:
                break
    for i, w in enumerate(windows[:3]):
        assert w.tick_ns == data.tick_ns[i]
        np.testing.assert_array_equal(data.camera[i], w.inputs[Modality.CAMERA])
        np.testing.assert_array_equal(data.lidar[i], w.inputs[Modality.LIDAR])
        np.testing.assert_array_equal(data.imu[i], w.inputs[Modality.IMU])
        np.testing.assert_array_equal(data.audio[i], np.asarray(w.inputs[Modality.AUDIO]).astype(np.float16))
        np.testing.assert_array_equal(data.mask[i], w.mask)


def test_one_seed_always_gives_byte_identical_data_and_another_seed_differs(data: WindowSet) -> None:
    again = generate(0, N)
    for name, array in data.arrays().items():
        assert array.tobytes() == again.arrays()[name].tobytes(), name
    other = generate(1, N)
    assert other.camera.tobytes() != data.camera.tobytes()
    assert other.audio.tobytes() != data.audio.tobytes()
    assert other.rig_digest != data.rig_digest


def test_saving_and_loading_round_trips_every_array_exactly(data: WindowSet, tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    data.save(path)
    back = WindowSet.load(path)
    assert (back.seed, back.rig_digest, len(back)) == (0, data.rig_digest, N)
    for name, array in data.arrays().items():
        loaded = back.arrays()[name]
        assert loaded.dtype == array.dtype, name
        assert loaded.tobytes() == array.tobytes(), name


def test_loading_a_file_of_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.npz"
    np.savez(path, format=np.array("robofuse-windows/0"))
    with pytest.raises(ConfigError, match=FORMAT):
        WindowSet.load(path)


def test_asking_for_no_windows_is_refused() -> None:
    with pytest.raises(ConfigError, match="windows"):
        generate(0, 0)


def test_the_progress_bar_changes_nothing_in_the_data(data: WindowSet) -> None:
    shown = generate(0, 20, progress=True)
    assert shown.camera.tobytes() == data.camera[:20].tobytes()
    assert shown.terrain.tobytes() == data.terrain[:20].tobytes()


def test_the_cache_is_reused_until_the_training_rig_changes(
    data: WindowSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = cached(0, N, tmp_path)
    assert cache_path(0, N, tmp_path).exists()
    assert first.camera.tobytes() == data.camera.tobytes()

    def no_generation(seed: int, windows: int, *, progress: bool = False) -> WindowSet:
        raise AssertionError("generated although the cache holds this data")

    monkeypatch.setattr(gen, "generate", no_generation)
    assert cached(0, N, tmp_path).camera.tobytes() == data.camera.tobytes()

    def changed_rig(seed: int, base: RigConfig | None = None) -> RigConfig:
        rig = training_rig(seed, base)
        return dataclasses.replace(rig, world=dataclasses.replace(rig.world, collision_prob=0.0))

    monkeypatch.setattr("robofuse.dataset.generate.training_rig", changed_rig)
    with pytest.raises(AssertionError, match="generated although"):
        cached(0, N, tmp_path)


def test_a_cache_file_of_a_different_rig_under_the_same_name_is_regenerated(data: WindowSet, tmp_path: Path) -> None:
    path = cache_path(0, N, tmp_path)
    dataclasses.replace(data, rig_digest="stale").save(path)
    fresh = cached(0, N, tmp_path)
    assert fresh.rig_digest == data.rig_digest
    assert WindowSet.load(path).rig_digest == data.rig_digest


def test_the_dataset_command_writes_a_loadable_file_and_rejects_a_bad_count(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    dataset_cli.add_parser(parser.add_subparsers())
    out = tmp_path / "sub" / "d.npz"
    args = parser.parse_args(["dataset", "--seed", "2", "--windows", "10", "--out", str(out), "--quiet"])
    assert args.run(args) == 0
    back = WindowSet.load(out)
    assert (len(back), back.seed) == (10, 2)
    bad = parser.parse_args(["dataset", "--windows", "0", "--out", str(out)])
    with pytest.raises(ConfigError, match="--windows"):
        bad.run(bad)
