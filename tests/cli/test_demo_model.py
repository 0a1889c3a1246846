"""The demo runs the shipped model on every window, keeps going when a sensor dies, refuses a misfit model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the demo runs the model with onnxruntime")

import robofuse
from robofuse.align.buffer import AlignmentBuffer
from robofuse.cli.demo_model import ModelStats, read_outputs, rig_for_model
from robofuse.cli.main import main
from robofuse.config import load_rig
from robofuse.engine.base import EngineConfig, make_engine
from robofuse.messages import MODALITIES, Window


def summary(out: str) -> str:
    return next(line for line in out.splitlines() if line.startswith("fusion model:"))


def test_the_demo_runs_the_shipped_model_and_scores_its_terrain_against_the_truth(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--seconds", "4", "--speed", "0", "--plain"]) == 0
    out = capsys.readouterr().out
    assert "rendered at 64x48" in out  # the bundled rig is adapted to the model's input size
    status = [line for line in out.splitlines() if line.startswith("t=")]
    assert "| model: " in status[-1]
    line = summary(out)
    scored = int(line.split(" of ")[1].split()[0])
    accuracy = float(line.split("terrain right in ")[1].split("%")[0])
    assert scored >= 60  # 20 windows/s from about 0.5 s on
    assert accuracy >= 80.0  # 95.8% on validation; a few seconds of one world vary


def test_with_the_imu_dead_the_model_keeps_answering_without_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--seconds", "4", "--speed", "0", "--plain", "--fault", "imu:dead@1"]) == 0
    line = summary(capsys.readouterr().out)
    assert "imu 0.00" in line  # its gate is exactly zero once it is masked
    assert "unusable" not in line


def test_no_model_runs_alignment_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--seconds", "1", "--speed", "0", "--plain", "--no-model"]) == 0
    out = capsys.readouterr().out
    assert "fusion model:" not in out
    assert "| model: " not in out


def test_a_model_that_does_not_fit_the_rig_is_refused_naming_each_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch = pytest.importorskip("torch", reason="building a differently shaped model needs torch")
    from robofuse.model.fusion_model import FusionModel, FusionModelConfig
    from robofuse.train.config import TrainConfig
    from robofuse.train.export import export_onnx

    torch.manual_seed(0)
    config = TrainConfig(model=FusionModelConfig(camera_shape=(32, 32, 3), audio_shape=(4000,)))
    export_onnx(FusionModel(config.model).eval(), config, tmp_path / "small.onnx", {})
    assert main(["demo", "--seconds", "1", "--speed", "0", "--plain", "--model", str(tmp_path / "small.onnx")]) == 1
    err = capsys.readouterr().err
    assert "does not fit rig" in err
    assert "camera: the model expects (32, 32, 3), the rig gives (480, 640, 3)" in err
    assert "audio: the model expects (4000,), the rig gives (8000,)" in err


def test_a_real_rig_is_never_changed_to_fit_the_model() -> None:
    rig = load_rig(Path(__file__).resolve().parents[2] / "docs" / "rigs" / "ground_robot.yaml")
    spec = {"camera": (48, 64, 3), "lidar": (16, 360), "imu": (200, 10), "audio": (8000,), "mask": (4,)}
    assert rig_for_model(rig, spec) == (rig, "")


def test_model_stats_count_unusable_windows_and_score_only_usable_ones() -> None:
    engine = make_engine(EngineConfig(backend="onnxruntime", model=robofuse.default_model_path()))
    rig, _ = rig_for_model(load_rig(robofuse.default_rig_path()), dict(engine.input_spec))
    shapes = AlignmentBuffer(rig).window_shapes()
    inputs = {m: np.zeros(shapes[m.value], np.uint8 if m.value == "camera" else np.float32) for m in MODALITIES}
    dead = Window(seq=0, tick_ns=0, emitted_ns=0, inputs=inputs, mask=np.zeros(4, np.float32), quality={})
    stats = ModelStats()
    prediction = stats.run(engine, dead, truth=None)
    assert not prediction.usable
    assert (stats.unusable, stats.scored) == (1, 0)
    assert np.isnan(stats.accuracy())
    assert read_outputs(engine.infer(dead)).gates.sum() == 0.0
