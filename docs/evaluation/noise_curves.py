"""Terrain accuracy of models under Gaussian noise on one sensor at a time, on the selection worlds 6000-6019.

A quick look at the noise curves that the full report's ``robustness`` draws on the evaluation
worlds (that one takes every level 0-0.9 and 30 min), used to choose among fused candidates:

    python docs/evaluation/noise_curves.py [--sensors camera,imu] [--late PATH ...] NAME=PATH [NAME=PATH ...]

Every window of the 20 worlds counts (4,000 windows, each with the sensors it has); the noise is
the report's (``robofuse.evaluate.robustness``: level x the sensor's std, fixed seed, the same
draws for every model). With ``--late`` (repeatable: several seeds are averaged), each model's
effective robustness against that late-fusion curve is printed too, as ``sum(f - lf - (f[0] - lf[0]))``
over the levels here (0, 0.3, 0.5, 0.7, 0.9): negative means it keeps less accuracy than late
fusion once both start from the same clean accuracy.
"""

from __future__ import annotations

import argparse

import numpy as np

from robofuse.evaluate.data import SENSORS, Arrays, batches, float_inputs, input_stds, load_eval_windows
from robofuse.evaluate.models import load_model
from robofuse.evaluate.robustness import effective_robustness, noise_inputs, unit_noise

LEVELS = (0.0, 0.3, 0.5, 0.7, 0.9)
SEEDS = tuple(range(6000, 6020))


def curves(path: str, sensors: list[str], data: Arrays) -> dict[str, list[float]]:
    """Accuracy (%) of the model at ``path`` at each level, for noise on each sensor in turn."""
    stds = input_stds(data)
    mask = data["mask"].astype(np.float32)
    model = load_model("model", path, 2)
    correct = {sensor: np.zeros(len(LEVELS)) for sensor in sensors}
    for index in batches(len(mask), 256):
        inputs = float_inputs(data, index)
        model.begin_batch(inputs)
        z = unit_noise({k: v.shape for k, v in inputs.items()}, 0, int(index[0]))
        clean = np.sum(model.outputs(mask[index])["terrain"].argmax(axis=1) == data["terrain"][index])
        for sensor in sensors:
            correct[sensor][0] += clean
            for i, level in enumerate(LEVELS[1:], start=1):
                out = model.outputs(mask[index], noise_inputs(inputs, z, level, stds, sensor))
                correct[sensor][i] += np.sum(out["terrain"].argmax(axis=1) == data["terrain"][index])
    return {sensor: list(100 * c / len(mask)) for sensor, c in correct.items()}


def main() -> None:
    """Print each model's curve per sensor, and its effective robustness against ``--late``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sensors", default="camera", help=f"comma-separated, of {','.join(SENSORS)}")
    parser.add_argument("--late", action="append", default=[], help="late-fusion checkpoint (repeat: seeds averaged)")
    parser.add_argument("models", nargs="+", metavar="NAME=PATH")
    args = parser.parse_args()
    sensors = args.sensors.split(",")
    unknown = sorted(set(sensors) - set(SENSORS))
    if unknown:
        parser.error(f"unknown sensor(s) {unknown}: use {', '.join(SENSORS)}")
    data = load_eval_windows(SEEDS, 200, "")  # the shared window cache
    late: dict[str, list[float]] = {}
    if args.late:
        runs = [curves(path, sensors, data) for path in args.late]
        late = {s: list(np.mean([run[s] for run in runs], axis=0)) for s in sensors}
        for sensor in sensors:
            print(f"late (mean of {len(runs)}) {sensor:6} " + " ".join(f"{a:5.1f}" for a in late[sensor]), flush=True)
    for spec in args.models:
        name, path = spec.split("=", 1)
        result = curves(path, sensors, data)
        for sensor in sensors:
            line = f"{name} {sensor:6} " + " ".join(f"{a:5.1f}" for a in result[sensor])
            if late:
                line += f"  ER {effective_robustness(result[sensor], late[sensor]) / 100:+.2f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
