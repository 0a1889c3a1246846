"""Generate labelled windows from the simulated rig, keep them compactly, save and cache them.

The rig of :func:`~robofuse.dataset.rig.training_rig` runs through an AlignmentBuffer exactly
as at run time (polled on every arrival); each emitted Window's four inputs, its mask and the
ground truth at its tick are kept. Everything depends on the seed alone, so two generations
of one seed are byte-identical.

Storage per window: camera uint8 (48, 64, 3); LIDAR float32 (16, 360) range image (float16
would quantise ranges of 4-8 m to 4 mm steps, the size of the roughness cue itself); IMU
float32 (T, 10); audio **float16** (8000,) (half the memory of float32; about 3 significant
digits, ample for a log-mel front end). About 50 kB a window: 10,000 windows take ~0.5 GB.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from robofuse.align.buffer import AlignmentBuffer
from robofuse.errors import ConfigError
from robofuse.messages import Modality, Window
from robofuse.progress import Bar
from robofuse.sim.rig import SimRig
from robofuse.sim.world import World

from .rig import rig_digest, training_rig

FORMAT = "robofuse-windows/1"  # bump when what generate() keeps changes, so old caches are not reused


@dataclass(frozen=True, eq=False)
class WindowSet:
    """N labelled windows as stacked arrays (first axis: window, in emission order).

    Inputs: ``camera`` uint8 (N, H, W, 3), ``lidar`` float32 (N, rows, cols) metres, ``imu``
    float32 (N, T, 10), ``audio`` float16 (N, S). ``mask`` float32 (N, 4) in MODALITIES order.
    Labels: ``terrain`` int8 (Terrain), ``collision`` and ``slip`` bool. Conditions: ``light``
    int8 (Light), ``wind`` bool, ``body_speed`` and ``wheel_speed`` float32 m/s. ``tick_ns``
    int64 host time of each window. ``seed`` and ``rig_digest`` say where it came from.
    """

    camera: npt.NDArray[np.uint8]
    lidar: npt.NDArray[np.float32]
    imu: npt.NDArray[np.float32]
    audio: npt.NDArray[np.float16]
    mask: npt.NDArray[np.float32]
    terrain: npt.NDArray[np.int8]
    collision: npt.NDArray[np.bool_]
    slip: npt.NDArray[np.bool_]
    light: npt.NDArray[np.int8]
    wind: npt.NDArray[np.bool_]
    body_speed: npt.NDArray[np.float32]
    wheel_speed: npt.NDArray[np.float32]
    tick_ns: npt.NDArray[np.int64]
    seed: int
    rig_digest: str

    def __len__(self) -> int:
        return int(self.tick_ns.shape[0])

    def arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """Every array field by name, in field order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("seed", "rig_digest")}

    def window(self, i: int) -> Window:
        """Window ``i`` rebuilt as the runtime's Window (audio back to float32; no stream quality kept)."""
        inputs = {}
        for name, (modality, _) in _INPUTS.items():
            array = getattr(self, name)[i]
            inputs[modality] = array.astype(np.float32) if array.dtype == np.float16 else array
        return Window(
            seq=i,
            tick_ns=int(self.tick_ns[i]),
            emitted_ns=int(self.tick_ns[i]),
            inputs=inputs,
            mask=self.mask[i],
            quality={},
        )

    def save(self, path: str | Path) -> None:
        """Write to one uncompressed ``.npz`` (no pickled objects)."""
        payload: dict[str, Any] = {
            "format": np.array(FORMAT),
            "seed": np.array(self.seed, np.int64),
            "rig_digest": np.array(self.rig_digest),
            **self.arrays(),
        }
        with open(path, "wb") as f:  # a file object: np.savez would append ".npz" to a bare name
            np.savez(f, **payload)

    @classmethod
    def load(cls, path: str | Path) -> WindowSet:
        """Read what :meth:`save` wrote; fails on another format."""
        with np.load(path, allow_pickle=False) as z:
            fmt = str(z["format"]) if "format" in z.files else "none"
            if fmt != FORMAT:
                raise ConfigError(f"{path}: window file format {fmt!r}, expected {FORMAT!r}")
            names = [f.name for f in dataclasses.fields(cls) if f.name not in ("seed", "rig_digest")]
            arrays = {name: z[name] for name in names}
            return cls(**arrays, seed=int(z["seed"]), rig_digest=str(z["rig_digest"]))


_INPUTS: dict[str, tuple[Modality, type[np.generic]]] = {
    "camera": (Modality.CAMERA, np.uint8),
    "lidar": (Modality.LIDAR, np.float32),
    "imu": (Modality.IMU, np.float32),
    "audio": (Modality.AUDIO, np.float16),
}
_SCALARS: dict[str, type[np.generic]] = {
    "terrain": np.int8,
    "collision": np.bool_,
    "slip": np.bool_,
    "light": np.int8,
    "wind": np.bool_,
    "body_speed": np.float32,
    "wheel_speed": np.float32,
    "tick_ns": np.int64,
}


class _Columns:
    """Per-window rows gathered during generation, stacked at the end."""

    def __init__(self) -> None:
        self.arrays: dict[str, list[npt.NDArray[Any]]] = {name: [] for name in (*_INPUTS, "mask")}
        self.scalars: dict[str, list[float | int | bool]] = {name: [] for name in _SCALARS}

    def add(self, window: Window, world: World) -> None:
        for name, (modality, dtype) in _INPUTS.items():
            self.arrays[name].append(np.asarray(window.inputs[modality]).astype(dtype))  # astype copies
        self.arrays["mask"].append(window.mask.astype(np.float32))
        truth = world.truth(window.tick_ns)
        row: dict[str, float | int | bool] = {
            "terrain": int(truth.terrain),
            "collision": truth.collision,
            "slip": truth.slip,
            "light": int(truth.light),
            "wind": truth.wind,
            "body_speed": truth.body_speed_mps,
            "wheel_speed": truth.wheel_speed_mps,
            "tick_ns": window.tick_ns,
        }
        for name, value in row.items():
            self.scalars[name].append(value)

    def stack(self, seed: int, digest: str) -> WindowSet:
        stacked: dict[str, Any] = {name: np.stack(rows) for name, rows in self.arrays.items()}
        stacked.update({name: np.array(rows, _SCALARS[name]) for name, rows in self.scalars.items()})
        return WindowSet(**stacked, seed=seed, rig_digest=digest)


def generate(seed: int, windows: int, *, progress: bool = False) -> WindowSet:
    """The first ``windows`` windows of ``training_rig(seed)``, aligned, with their ground truth.

    Deterministic for ``seed``. ``progress`` shows a rich progress bar (windows and rate).
    """
    if windows < 1:
        raise ConfigError(f"windows must be >= 1, got {windows}")
    rig = training_rig(seed)
    cols = _Columns()
    buf = AlignmentBuffer(rig)
    sim = SimRig(rig)
    with Bar(f"seed {seed}", windows, progress, unit="windows") as bar, sim:
        done = 0
        for item in sim:
            buf.push(item)
            for window in buf.poll(item.recv_ns):
                cols.add(window, sim.world)
                done += 1
                bar.advance()
                if done == windows:
                    return cols.stack(seed, rig_digest(rig))
    raise RuntimeError("robofuse bug: the simulated rig ended before enough windows")  # SimRig runs forever


def window_cache(cache_dir: str | Path = "") -> Path:
    """``cache_dir``, or the cache that training, evaluation and sweeps share: ``~/.cache/robofuse/windows``."""
    return Path(cache_dir) if cache_dir else Path.home() / ".cache" / "robofuse" / "windows"


def cache_path(seed: int, windows: int, cache_dir: str | Path) -> Path:
    """Where :func:`cached` keeps ``windows`` windows of ``seed`` for the current training rig."""
    digest = rig_digest(training_rig(seed))[:16]
    return Path(cache_dir) / f"windows-s{seed}-n{windows}-{digest}.npz"


def cached(seed: int, windows: int, cache_dir: str | Path, *, progress: bool = False) -> WindowSet:
    """``generate(seed, windows)``, read from ``cache_dir`` when there, else generated and stored.

    The file name holds the seed, the count and a hash of the training rig's configuration, and
    the file holds the full hash and the format: a changed rig or format is generated afresh.
    """
    path = cache_path(seed, windows, cache_dir)
    digest = rig_digest(training_rig(seed))
    if path.exists():
        try:
            data = WindowSet.load(path)
        except (ConfigError, OSError, KeyError, ValueError):
            data = None
        if data is not None and data.rig_digest == digest and data.seed == seed and len(data) == windows:
            return data
    data = generate(seed, windows, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # parallel trainings may fill one cache
    data.save(tmp)
    tmp.replace(path)  # atomic: a crash never leaves a half-written cache entry under the real name
    return data
