"""Distillation from subset specialists: the teachers' checks, the loss, and a run that uses it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training needs torch (pip install robofuse[train])")

from robofuse.errors import ConfigError  # noqa: E402
from robofuse.model.fusion_model import FusionModel, FusionModelConfig  # noqa: E402
from robofuse.schema import build  # noqa: E402
from robofuse.train.checkpoint import load_checkpoint  # noqa: E402
from robofuse.train.config import TrainConfig  # noqa: E402
from robofuse.train.distill import Teachers  # noqa: E402
from robofuse.train.loop import (  # noqa: E402
    class_weights,
    load_windows,
    make_batch,
    save_checkpoint,
    step_loss,
    to_tensors,
    train,
)

SMALL_MODEL = FusionModelConfig(dim=16, fused_dim=16)
IMU_AUDIO = np.array([0, 0, 1, 1], np.float32)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("windows")


def tiny(cache: Path, **changes: object) -> TrainConfig:
    """TrainConfig.quick() on a small model, 30 windows per world, with ``changes``."""
    small = {"windows_per_seed": 30, "val_windows_per_seed": 30, "batch_size": 16, "model": SMALL_MODEL}
    return dataclasses.replace(TrainConfig.quick(), threads=1, cache_dir=str(cache), **small, **changes)  # type: ignore[arg-type]


def teacher_file(folder: Path, model: FusionModel, modalities: tuple[str, ...], config: TrainConfig) -> Path:
    """``model``'s weights saved as a specialist of ``modalities`` would be."""
    path = folder / f"{'+'.join(modalities)}-{len(list(folder.iterdir()))}.pt"
    save_checkpoint(path, model, dataclasses.replace(config, modalities=modalities), 1, {"terrain_acc": 0.5})
    return path


def a_batch(config: TrainConfig) -> dict[str, np.ndarray]:
    data = load_windows(config.train_seeds, config.windows_per_seed, config.cache_dir)
    batch = make_batch(data, np.arange(0, 60, 3))  # 20 windows
    batch["mask"][:] = 1.0
    batch["mask"][:4, 3] = 0.0  # 4 windows without audio: IMU+audio cannot teach them
    batch["mask"][4:6, 0] = 0.0  # 2 without the camera: still IMU+audio windows
    return batch


def distill_term(model: FusionModel, teachers: Teachers, batch: dict[str, np.ndarray]) -> Any:
    camera, lidar, imu, audio, mask = to_tensors(batch)
    feats = model.encode(camera, lidar, imu, audio, mask)
    return teachers.loss(model, feats, (camera, lidar, imu, audio), mask)


def test_a_teacher_with_the_students_own_weights_teaches_nothing_and_another_does(cache: Path, tmp_path: Path) -> None:
    config = tiny(cache)
    torch.manual_seed(0)
    student = FusionModel(SMALL_MODEL).eval()  # eval: BatchNorm reads the same statistics in both
    same = teacher_file(tmp_path, student, ("imu", "audio"), config)
    torch.manual_seed(1)
    other = teacher_file(tmp_path, FusionModel(SMALL_MODEL).eval(), ("imu", "audio"), config)
    batch = a_batch(config)

    # the student's IMU+audio output is the teacher's own: KL 0, whatever the temperature
    for t in (1.0, 4.0):
        alike = Teachers.load(
            tiny(cache, distill_from={"imu+audio": (str(same),)}, distill_loss=1.0, distill_temperature=t)
        )
        assert alike is not None
        assert distill_term(student, alike, batch).item() == pytest.approx(0.0, abs=1e-6)

    unlike = Teachers.load(tiny(cache, distill_from={"imu+audio": (str(other),)}, distill_loss=1.0))
    assert unlike is not None
    term = distill_term(student, unlike, batch).item()
    assert term > 1e-3

    # by hand: T^2 KL(teacher || student) averaged over the 16 windows with IMU and audio, each
    # seen by both with only those two sensors
    teacher, _, _ = load_checkpoint(other)
    rows = batch["mask"][:, 2:].min(axis=1) > 0.5
    assert rows.sum() == 16
    sub = {**{k: v[rows] for k, v in batch.items()}, "mask": batch["mask"][rows] * IMU_AUDIO}
    with torch.no_grad():
        p = torch.softmax(teacher(*to_tensors(sub))["terrain"] / 2.0, dim=1)
        q = torch.log_softmax(student(*to_tensors(sub))["terrain"] / 2.0, dim=1)
    expected = 4.0 * float((p * (p.log() - q)).sum(1).mean())
    assert term == pytest.approx(expected, rel=1e-5)


def test_the_teachers_mean_probabilities_are_the_target(cache: Path, tmp_path: Path) -> None:
    config = tiny(cache)
    torch.manual_seed(0)
    student = FusionModel(SMALL_MODEL).eval()
    paths = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        paths.append(str(teacher_file(tmp_path, FusionModel(SMALL_MODEL).eval(), ("imu", "audio"), config)))
    batch = a_batch(config)
    both = Teachers.load(tiny(cache, distill_from={"imu+audio": tuple(paths)}, distill_loss=1.0))
    assert both is not None
    rows = batch["mask"][:, 2:].min(axis=1) > 0.5
    sub = {**{k: v[rows] for k, v in batch.items()}, "mask": batch["mask"][rows] * IMU_AUDIO}
    with torch.no_grad():
        p = torch.stack([torch.softmax(m(*to_tensors(sub))["terrain"] / 2.0, dim=1) for m in both.models]).mean(0)
        q = torch.log_softmax(student(*to_tensors(sub))["terrain"] / 2.0, dim=1)
    expected = 4.0 * float((p * (p.log() - q)).sum(1).mean())
    assert distill_term(student, both, batch).item() == pytest.approx(expected, rel=1e-5)


def test_distillation_trains_only_the_subsets_encoders_and_adds_its_weighted_term(cache: Path, tmp_path: Path) -> None:
    config = tiny(cache)
    torch.manual_seed(1)
    path = teacher_file(tmp_path, FusionModel(SMALL_MODEL).eval(), ("imu", "audio"), config)
    distilling = tiny(cache, distill_from={"imu+audio": (str(path),)}, distill_loss=0.7)
    teachers = Teachers.load(distilling)
    assert teachers is not None
    torch.manual_seed(0)
    student = FusionModel(SMALL_MODEL).eval()
    batch = a_batch(config)
    data = load_windows(config.train_seeds, config.windows_per_seed, config.cache_dir)
    weights = {h: class_weights(data[h], len(SMALL_MODEL.heads[h]), 20.0) for h in ("terrain", "collision", "slip")}
    plain = step_loss(student, batch, weights, config).item()
    total = step_loss(student, batch, weights, distilling, teachers).item()
    assert total == pytest.approx(plain + 0.7 * distill_term(student, teachers, batch).item(), rel=1e-5)

    # the term alone moves the IMU and audio encoders and not the camera's or the LIDAR's: a
    # masked sensor's features cannot move a gated fusion's output
    student.zero_grad()
    distill_term(student, teachers, batch).backward()
    grads = {
        name: sum(float(p.grad.abs().sum()) for p in enc.parameters() if p.grad is not None)
        for name, enc in zip(("camera", "lidar", "imu", "audio"), student.encoders, strict=True)
    }
    assert grads["camera"] == 0.0
    assert grads["lidar"] == 0.0
    assert grads["imu"] > 0.0
    assert grads["audio"] > 0.0
    teacher = teachers.models[0]
    assert all(p.grad is None for p in teacher.parameters())


def test_a_run_with_a_teacher_trains_deterministically_and_differs_from_one_without(
    cache: Path, tmp_path: Path
) -> None:
    specialist = train(tiny(cache, modalities=("imu", "audio")), tmp_path / "teacher", progress=False)
    assert specialist.checkpoint.is_file()
    distilling = tiny(cache, distill_from={"imu+audio": (str(specialist.checkpoint),)}, distill_loss=1.0)
    first = train(distilling, tmp_path / "a", progress=False)
    second = train(distilling, tmp_path / "b", progress=False)
    plain = train(tiny(cache), tmp_path / "c", progress=False)
    a, b, c = (r.model.state_dict() for r in (first, second, plain))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    # the checkpoint records its teachers, and loads back
    _, recorded, _ = load_checkpoint(first.checkpoint)
    assert recorded.distill_from == {"imu+audio": (str(specialist.checkpoint),)}
    assert recorded.distill_loss == 1.0


def test_a_teacher_of_another_subset_or_a_missing_file_is_a_clear_error(cache: Path, tmp_path: Path) -> None:
    config = tiny(cache)
    torch.manual_seed(0)
    imu_only = teacher_file(tmp_path, FusionModel(SMALL_MODEL).eval(), ("imu",), config)
    with pytest.raises(ConfigError, match=r"trained on imu, which lacks some sensor of imu\+audio.*every sensor"):
        Teachers.load(tiny(cache, distill_from={"imu+audio": (str(imu_only),)}, distill_loss=1.0))
    with pytest.raises(ConfigError, match=r"no checkpoint at .*nowhere.pt; train the teacher first"):
        Teachers.load(tiny(cache, distill_from={"imu+audio": (str(tmp_path / "nowhere.pt"),)}, distill_loss=1.0))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match=r"distill_from.imu\+audio: cannot read checkpoint"):
        Teachers.load(tiny(cache, distill_from={"imu+audio": (str(junk),)}, distill_loss=1.0))
    wide = dataclasses.replace(config, model=dataclasses.replace(SMALL_MODEL, terrain_classes=("a", "b")))
    torch.manual_seed(0)
    other_classes = teacher_file(tmp_path, FusionModel(wide.model).eval(), ("imu", "audio"), wide)
    with pytest.raises(ConfigError, match=r"terrain classes \['a', 'b'\].*same recipe"):
        Teachers.load(tiny(cache, distill_from={"imu+audio": (str(other_classes),)}, distill_loss=1.0))
    # off: nothing is loaded, not even a missing file
    assert Teachers.load(tiny(cache, distill_from={"imu+audio": ("nowhere.pt",)}, distill_loss=0.0)) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"distill_from": {"audio+imu": ["t.pt"]}, "distill_loss": 1.0}, r"'audio\+imu' is not a sensor subset"),
        ({"distill_from": {"imu+audio": []}, "distill_loss": 1.0}, r"'imu\+audio' lists no teacher checkpoint"),
        ({"distill_loss": 1.0}, r"distill_from names no teachers"),
        ({"distill_loss": -1.0}, r"distill_loss must be >= 0"),
        ({"distill_temperature": 0.0}, r"distill_temperature must be > 0"),
        (
            {"distill_from": {"imu": ["t.pt"]}, "distill_loss": 1.0, "distill_weights": {"audio": 2.0}},
            r"distill_weights: 'audio' is not a subset of distill_from \(\['imu'\]\)",
        ),
        (
            {"distill_from": {"imu": ["t.pt"]}, "distill_loss": 1.0, "distill_weights": {"imu": -2.0}},
            r"the weight of 'imu' must be >= 0",
        ),
        ({"distill_from": {"imu+audio": "t.pt"}, "distill_loss": 1.0}, r"distill_from.imu\+audio: expected a list"),
    ],
)
def test_bad_distillation_settings_are_clear_errors(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(TrainConfig, data, "train.yaml")


def test_distillation_settings_come_from_yaml() -> None:
    config = build(
        TrainConfig,
        {"distill_from": {"imu+audio": ["a/best.pt", "b/best.pt"]}, "distill_loss": 2, "distill_temperature": 3},
        "train.yaml",
    )
    assert config.distill_from == {"imu+audio": ("a/best.pt", "b/best.pt")}
    assert (config.distill_loss, config.distill_temperature) == (2.0, 3.0)


def test_a_full_model_teaches_several_subsets_each_with_its_own_sensors_and_the_terms_add(
    cache: Path, tmp_path: Path
) -> None:
    """The shipped-model case: one all-sensor teacher for IMU and LIDAR+IMU, loaded and encoded once."""
    config = tiny(cache)
    torch.manual_seed(3)
    full = teacher_file(tmp_path, FusionModel(SMALL_MODEL).eval(), ("camera", "lidar", "imu", "audio"), config)
    torch.manual_seed(0)
    student = FusionModel(SMALL_MODEL).eval()
    batch = a_batch(config)
    batch["mask"][6:9, 1] = 0.0  # 3 windows without LIDAR: IMU teaches them, LIDAR+IMU does not
    both = Teachers.load(tiny(cache, distill_from={"imu": (str(full),), "lidar+imu": (str(full),)}, distill_loss=1.0))
    assert both is not None
    assert len(both.models) == 1
    assert both.reads == [2 + 4]  # LIDAR and IMU: the camera's and audio's encoders never run

    teacher, _, _ = load_checkpoint(full)
    expected = 0.0
    for keep, rows in ((np.array([0, 0, 1, 0], np.float32), 20), (np.array([0, 1, 1, 0], np.float32), 17)):
        present = (batch["mask"] * keep).sum(axis=1) == keep.sum()
        assert present.sum() == rows
        sub = {**{k: v[present] for k, v in batch.items()}, "mask": batch["mask"][present] * keep}
        with torch.no_grad():
            p = torch.softmax(teacher(*to_tensors(sub))["terrain"] / 2.0, dim=1)
            q = torch.log_softmax(student(*to_tensors(sub))["terrain"] / 2.0, dim=1)
        expected += 4.0 * float((p * (p.log() - q)).sum(1).mean())
    assert distill_term(student, both, batch).item() == pytest.approx(expected, rel=1e-5)
    # a weight per subset scales its term: IMU alone at 0 leaves LIDAR+IMU's
    lidar_imu = Teachers.load(tiny(cache, distill_from={"lidar+imu": (str(full),)}, distill_loss=1.0))
    weighted = Teachers.load(
        tiny(
            cache,
            distill_from={"imu": (str(full),), "lidar+imu": (str(full),)},
            distill_loss=1.0,
            distill_weights={"imu": 0.0, "lidar+imu": 3.0},
        )
    )
    assert lidar_imu is not None
    assert weighted is not None
    assert distill_term(student, weighted, batch).item() == pytest.approx(
        3.0 * distill_term(student, lidar_imu, batch).item(), rel=1e-5
    )

    # a specialist cannot teach a subset with a sensor it never saw, even beside one it can
    imu_audio = teacher_file(tmp_path, FusionModel(SMALL_MODEL).eval(), ("imu", "audio"), config)
    with pytest.raises(ConfigError, match=r"lacks some sensor of lidar\+imu"):
        Teachers.load(
            tiny(cache, distill_from={"imu": (str(imu_audio),), "lidar+imu": (str(imu_audio),)}, distill_loss=1.0)
        )
