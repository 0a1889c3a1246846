"""The evaluation windows: simulated from seeds no model was trained or validated on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from robofuse.dataset.generate import cached, window_cache
from robofuse.errors import ConfigError

SENSORS: tuple[str, ...] = ("camera", "lidar", "imu", "audio")  # the mask's column order
HEADS: tuple[str, ...] = ("terrain", "collision", "slip")
DEFAULT_SEEDS: tuple[int, ...] = tuple(range(5000, 5050))  # 50 x 200 = 10,000 windows; training uses 100-199
DEFAULT_WINDOWS = 200
Arrays = dict[str, npt.NDArray[Any]]


def load_eval_windows(
    seeds: tuple[int, ...], windows: int, cache_dir: str | Path = "", *, progress: bool = False
) -> Arrays:
    """Inputs (camera uint8, audio float16 kept compact), mask and labels of every seed, concatenated.

    Windows are generated once into ``cache_dir`` (default: ``~/.cache/robofuse/windows``).
    """
    if not seeds or windows < 1:
        raise ConfigError(f"evaluation needs at least one seed and one window per seed, got {seeds} x {windows}")
    directory = window_cache(cache_dir)
    sets = [cached(seed, windows, directory, progress=progress) for seed in seeds]
    data: Arrays = {key: np.concatenate([getattr(s, key) for s in sets]) for key in (*SENSORS, "mask", *HEADS)}
    data["mask"] = data["mask"].astype(np.float32)
    for head in HEADS:
        data[head] = data[head].astype(np.int64)
    return data


def check_unseen(seeds: tuple[int, ...], used: dict[str, tuple[int, ...]]) -> None:
    """Raise ConfigError if an evaluation seed was one a model trained or validated on.

    ``used`` maps a model's name to its training and validation seeds.
    """
    for name, model_seeds in used.items():
        overlap = sorted(set(seeds) & set(model_seeds))
        if overlap:
            raise ConfigError(
                f"evaluation seeds {overlap[:5]} were used to train or validate {name}; "
                "pick other --seeds (the default 5000-5049 is never used for training)"
            )


def batches(n: int, size: int) -> Iterator[npt.NDArray[np.int64]]:
    """Consecutive index blocks of at most ``size`` windows covering ``range(n)``."""
    for start in range(0, n, size):
        yield np.arange(start, min(start + size, n), dtype=np.int64)


def float_inputs(data: Arrays, index: npt.NDArray[np.int64]) -> Arrays:
    """Float32 copies of the four inputs of the windows at ``index``."""
    return {name: data[name][index].astype(np.float32) for name in SENSORS}


def input_stds(data: Arrays, limit: int = 2048) -> dict[str, npt.NDArray[np.float32]]:
    """Each input's standard deviation over present windows (per channel for camera and IMU).

    The same quantity as :func:`robofuse.train.loop.input_stds` (there from 512 training
    windows), without importing torch; the noise levels are fractions of it.
    """
    stds = {}
    for i, name in enumerate(SENSORS):
        x = data[name][data["mask"][:, i] > 0.5][:limit].astype(np.float32)
        axes = tuple(range(x.ndim - 1)) if name in ("camera", "imu") else None
        std = np.nanstd(x, axis=axes) if len(x) else np.ones(())
        stds[name] = np.maximum(np.nan_to_num(std, nan=1.0), 1e-6).astype(np.float32)
    return stds
