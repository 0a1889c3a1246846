"""Hand-made evaluation data and a model whose every prediction can be computed by hand (shared by tests/evaluate)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from robofuse.evaluate.models import EvalModel


def fake_data(n: int = 40, seed: int = 0) -> dict[str, npt.NDArray[Any]]:
    """Random inputs of the real shapes, a mask with some sensors dropped, random labels."""
    rng = np.random.default_rng(seed)
    mask = np.ones((n, 4), np.float32)
    mask[rng.random((n, 4)) < 0.15] = 0.0
    return {
        "camera": rng.integers(0, 256, (n, 48, 64, 3)).astype(np.uint8),
        "lidar": (rng.random((n, 16, 360)) * 20).astype(np.float32),
        "imu": rng.standard_normal((n, 200, 10)).astype(np.float32),
        "audio": (rng.standard_normal((n, 8000)) * 0.1).astype(np.float16),
        "mask": mask,
        "terrain": rng.integers(0, 6, n).astype(np.int64),
        "collision": rng.integers(0, 2, n).astype(np.int64),
        "slip": rng.integers(0, 2, n).astype(np.int64),
    }


class MaskCounter(EvalModel):
    """Predicts terrain = (number of present sensors) - 1 + (mean camera pixel > 127); records replaced inputs."""

    def __init__(self) -> None:
        super().__init__(name="counter", path=Path("counter"))
        self.replaced: list[tuple[str, ...]] = []

    def outputs(self, mask: npt.NDArray[np.float32], replace: dict[str, Any] | None = None) -> dict[str, Any]:
        self.replaced.append(tuple(sorted(replace or {})))
        camera = {**self._inputs, **(replace or {})}["camera"]
        cls = (mask.sum(axis=1) - 1 + (camera.mean(axis=(1, 2, 3)) > 127)).astype(int) % 6
        terrain = np.eye(6, dtype=np.float32)[cls]
        two = np.eye(2, dtype=np.float32)[(mask[:, 0] > 0.5).astype(int)]
        gates = mask / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        return {"terrain": terrain, "collision": two, "slip": two[:, ::-1], "gates": gates, "usable": mask.max(axis=1)}
