"""Which IMU channels a model's accuracy rests on, on the selection worlds 6000-6019.

    python docs/evaluation/imu_channels.py NAME=PATH [NAME=PATH ...]

Terrain accuracy (%) over the 4,000 windows of the 20 worlds (each with the sensors it has), with
the IMU window changed in one way at a time, every other input as recorded:

- ``clean``: nothing changed.
- ``quat noise``: Gaussian noise of 0.9 x each channel's std on the orientation quaternion only
  (the report's noise level 0.9, on channels 6-9).
- ``quat shuffled``: each window gets another window's quaternion (the same distribution, no
  link to the window's ground).
- ``gyro+accel noise``: the same noise on the six inertial channels only.
- ``heading turned``: every quaternion turned about the world's z by a random angle, so only
  the heading changes (a new place or a new lap would do the same).

The simulated ground is flat, so the quaternion holds nothing but the heading: a model whose
accuracy rises when it is noised, or falls when the heading turns, has learnt where the training
worlds' robots pointed, not what they drove on. Fixed seed; the same draws for every model.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from robofuse.evaluate.data import batches, float_inputs, load_eval_windows
from robofuse.evaluate.heading import QUATERNION as QUAT
from robofuse.evaluate.heading import turn_heading
from robofuse.evaluate.models import load_model

SEEDS = tuple(range(6000, 6020))
Imu = np.ndarray[Any, np.dtype[np.float32]]


def variants(imu: Imu, rng: np.random.Generator) -> dict[str, Imu]:
    """The changed IMU windows, by name (see the module docstring)."""
    std = imu.reshape(-1, imu.shape[-1]).std(axis=0)
    quat_noise, inertial_noise, shuffled = imu.copy(), imu.copy(), imu.copy()
    quat_noise[..., QUAT] += 0.9 * std[QUAT] * rng.standard_normal(imu[..., QUAT].shape)
    inertial_noise[..., :6] += 0.9 * std[:6] * rng.standard_normal(imu[..., :6].shape)
    shuffled[..., QUAT] = imu[rng.permutation(len(imu))][..., QUAT]
    turned = turn_heading(imu, rng.uniform(0.0, 2 * np.pi, len(imu)))
    return {
        "quat noise": quat_noise.astype(np.float32),
        "quat shuffled": shuffled,
        "gyro+accel noise": inertial_noise.astype(np.float32),
        "heading turned": turned,
    }


def hits(outputs: dict[str, Any], truth: np.ndarray[Any, Any]) -> int:
    """How many windows' terrain the outputs get right."""
    return int(np.sum(outputs["terrain"].argmax(axis=1) == truth))


def accuracies(path: str, data: dict[str, Any]) -> dict[str, float]:
    """Accuracy (%) of the model at ``path``, clean and under each change."""
    model = load_model("model", path, 1)
    mask = data["mask"].astype(np.float32)
    rng = np.random.default_rng(0)
    correct: dict[str, int] = {}
    for index in batches(len(mask), 256):
        inputs = float_inputs(data, index)
        model.begin_batch(inputs)
        truth = data["terrain"][index]
        correct["clean"] = correct.get("clean", 0) + hits(model.outputs(mask[index]), truth)
        for name, imu in variants(inputs["imu"], rng).items():
            correct[name] = correct.get(name, 0) + hits(model.outputs(mask[index], {"imu": imu}), truth)
    return {name: 100.0 * n / len(mask) for name, n in correct.items()}


def main() -> None:
    """Print one row per model."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", metavar="NAME=PATH")
    args = parser.parse_args()
    data = load_eval_windows(SEEDS, 200, "")  # the shared window cache
    names = ("clean", "quat noise", "quat shuffled", "gyro+accel noise", "heading turned")
    print(f"{'model':12s} " + " ".join(f"{n:>16s}" for n in names))
    for spec in args.models:
        name, path = spec.split("=", 1)
        result = accuracies(path, data)
        print(f"{name:12s} " + " ".join(f"{result[n]:16.2f}" for n in names), flush=True)


if __name__ == "__main__":
    main()
