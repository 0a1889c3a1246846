"""Terrain accuracy of models under Gaussian noise on the camera, on the selection worlds 6000-6019.

A quick look at one noise curve (the full report's `robustness` takes every sensor and 30 min):

    python docs/evaluation/camera_noise.py NAME=PATH [NAME=PATH ...]

Every window of the 20 worlds counts (4,000 windows, each with the sensors it has); the noise is
the report's (``robofuse.evaluate.robustness``: level x the camera's std, fixed seed).
"""

from __future__ import annotations

import sys

import numpy as np

from robofuse.evaluate.data import batches, float_inputs, input_stds, load_eval_windows
from robofuse.evaluate.models import load_model
from robofuse.evaluate.robustness import noise_inputs, unit_noise

LEVELS = (0.0, 0.3, 0.5, 0.7, 0.9)
SEEDS = tuple(range(6000, 6020))


def main(specs: list[str]) -> None:
    """Print each model's accuracy (%) at each noise level."""
    data = load_eval_windows(SEEDS, 200, "")  # the shared window cache
    stds = input_stds(data)
    mask = data["mask"].astype(np.float32)
    print("model " + " ".join(f"{level:>5}" for level in LEVELS))
    for spec in specs:
        name, path = spec.split("=", 1)
        model = load_model(name, path, 2)
        correct = np.zeros(len(LEVELS))
        for index in batches(len(mask), 256):
            inputs = float_inputs(data, index)
            model.begin_batch(inputs)
            z = unit_noise({k: v.shape for k, v in inputs.items()}, 0, int(index[0]))
            for i, level in enumerate(LEVELS):
                noisy = None if level == 0 else noise_inputs(inputs, z, level, stds, "camera")
                out = model.outputs(mask[index], noisy)
                correct[i] += np.sum(out["terrain"].argmax(axis=1) == data["terrain"][index])
        print(name, " ".join(f"{100 * c / len(mask):5.1f}" for c in correct), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
