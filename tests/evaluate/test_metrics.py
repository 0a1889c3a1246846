"""Subsets, per-subset metrics, noise and the robustness measures on hand-made data."""

from __future__ import annotations

import numpy as np
import pytest
from evaltools import MaskCounter, fake_data

from robofuse.errors import ConfigError
from robofuse.evaluate.data import SENSORS, input_stds
from robofuse.evaluate.robustness import (
    LEVELS,
    effective_robustness,
    noise_inputs,
    relative_robustness,
    unit_noise,
)
from robofuse.evaluate.runner import run_model
from robofuse.evaluate.subsets import all_subsets, parse_subset, subset_name


def test_there_are_15_subsets_with_canonical_names() -> None:
    subsets = all_subsets()
    assert len(subsets) == 15
    assert len(set(subsets)) == 15
    names = [subset_name(s) for s in subsets]
    assert names[:4] == list(SENSORS)
    assert "camera+imu" in names
    assert "imu+camera" not in names
    assert names[-1] == "camera+lidar+imu+audio"
    assert all(parse_subset(n) == s for n, s in zip(names, subsets, strict=True))
    assert parse_subset("audio,camera") == ("camera", "audio")
    with pytest.raises(ConfigError, match="sonar"):
        parse_subset("camera+sonar")


def test_subset_accuracy_equals_a_hand_computation() -> None:
    data = fake_data()
    run = run_model(MaskCounter(), data, noise=False, batch_size=16)
    bright = data["camera"].astype(np.float32).mean(axis=(1, 2, 3)) > 127
    for subset in all_subsets():
        keep = np.array([s in subset for s in SENSORS], np.float32)
        m = data["mask"] * keep
        rows = m.max(axis=1) > 0.5  # at least one of the subset's sensors delivered
        pred = (m.sum(axis=1) - 1 + bright).astype(int) % 6
        got = run.subsets[subset_name(subset)]
        assert got["terrain_acc"] == pytest.approx(np.mean(pred[rows] == data["terrain"][rows]))
        assert got["windows"] == np.count_nonzero(rows)
        coll = (m[rows, 0] > 0.5).astype(int)
        target = data["collision"][rows]
        recalls = [np.mean(coll[target == c] == c) for c in np.unique(target)]
        assert got["collision_bacc"] == pytest.approx(np.mean(recalls))


def test_noise_at_level_zero_changes_nothing_and_noise_touches_only_its_sensor() -> None:
    data = fake_data()
    model = MaskCounter()
    run = run_model(model, data, noise=True, stds=input_stds(data), batch_size=16)
    assert set(run.curves) == {*SENSORS, "all"}
    full = run.subsets["camera+lidar+imu+audio"]["terrain_acc"]
    assert all(curve[0] == full for curve in run.curves.values())
    assert {r for r in model.replaced if r} == {(s,) for s in SENSORS} | {tuple(sorted(SENSORS))}
    assert run.curves["lidar"] == [full] * len(LEVELS)  # the model ignores lidar's values
    assert run.curves["camera"][-1] != full  # heavy camera noise moves the mean pixel
    inputs = {k: data[k][:4].astype(np.float32) for k in SENSORS}
    z = unit_noise({k: v.shape for k, v in inputs.items()}, 0, 0)
    stds = input_stds(data)
    assert noise_inputs(inputs, z, 0.0, stds, "imu")["imu"] == pytest.approx(inputs["imu"])
    out = noise_inputs(inputs, z, 0.9, stds, "camera")
    assert set(out) == {"camera"}
    assert out["camera"].min() >= 0
    assert out["camera"].max() <= 255
    assert noise_inputs(inputs, z, 0.9, stds, "lidar")["lidar"].min() >= 0
    assert set(noise_inputs(inputs, z, 0.5, stds, "all")) == set(SENSORS)


def test_relative_and_effective_robustness_match_hand_computed_values() -> None:
    f = [0.9, 0.8, 0.6]
    lf = [0.8, 0.6, 0.3]
    assert relative_robustness(f) == pytest.approx((0.9 + 0.8) * 0.05 + (0.8 + 0.6) * 0.05)
    # beta = lf + (0.9 - 0.8) = [0.9, 0.7, 0.4]; f - beta = [0, 0.1, 0.2]
    assert effective_robustness(f, lf) == pytest.approx(0.3)
    assert effective_robustness(lf, lf) == pytest.approx(0.0)
    # beta = lf - 0.3 = [0.5, 0.3, 0.0]; f - beta = [0, -0.2, 0]
    assert effective_robustness([0.5, 0.1, 0.0], lf) == pytest.approx(-0.2)
    with pytest.raises(ValueError, match="length"):
        effective_robustness(f, lf[:2])
