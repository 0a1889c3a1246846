"""The fusion model in the demo: the engine, what it predicted, and how often it was right."""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from robofuse.align.buffer import AlignmentBuffer
from robofuse.config import RigConfig
from robofuse.engine.base import Engine, EngineConfig, check_spec, make_engine
from robofuse.errors import EngineError
from robofuse.labels import TERRAIN_NAMES, GroundTruth
from robofuse.messages import MODALITIES, Window

LATENCY_HISTORY = 200


def is_simulated(rig: RigConfig) -> bool:
    """True when every stream of ``rig`` comes from the simulator."""
    return all(s.type.startswith("sim.") for s in rig.streams)


def rig_for_model(rig: RigConfig, spec: dict[str, tuple[int, ...]]) -> tuple[RigConfig, str]:
    """A simulated rig rendered at the model's input size, and a note saying so ('' if unchanged).

    Real rigs are returned as they are: their shapes are checked, not changed.
    """
    from robofuse.dataset.rig import CAMERA_HEIGHT, CAMERA_WIDTH, LIDAR_AZIMUTH_STEPS, training_rig

    if not is_simulated(rig) or AlignmentBuffer(rig).window_shapes() == {k: v for k, v in spec.items() if k != "mask"}:
        return rig, ""
    if spec.get("camera") != (CAMERA_HEIGHT, CAMERA_WIDTH, 3) or spec.get("lidar", (0, 0))[1] != LIDAR_AZIMUTH_STEPS:
        return rig, ""  # not the training resolution: let the shape check say what differs
    adapted = training_rig(rig.world.seed, rig)
    adapted = dataclasses.replace(adapted, name=rig.name)
    note = (
        f"simulated camera rendered at {CAMERA_WIDTH}x{CAMERA_HEIGHT} and LIDAR at {LIDAR_AZIMUTH_STEPS} "
        "columns, the model's input size"
    )
    return adapted, note


def open_engine(model: Path, threads: int = 1) -> Engine:
    """The ONNX Runtime engine for ``model`` (CPU)."""
    return make_engine(EngineConfig(backend="onnxruntime", model=model, threads=threads, cuda=False))


def check_fits(engine: Engine, buffer: AlignmentBuffer, model: Path) -> None:
    """Raise EngineError naming every input whose shape differs between the model and the rig's windows."""
    try:
        check_spec(engine.input_spec, buffer.window_shapes())
    except EngineError as err:
        raise EngineError(f"model {model} does not fit rig {buffer.rig.name!r}: {err}") from None


@dataclass
class Prediction:
    """One window's outputs, as a person reads them."""

    terrain: str
    terrain_p: float
    collision_p: float
    slip_p: float
    gates: np.ndarray
    usable: bool


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits (last axis)."""
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return np.asarray(z / z.sum(axis=-1, keepdims=True))


def read_outputs(out: dict[str, np.ndarray]) -> Prediction:
    """A :class:`Prediction` from an engine's outputs for one window."""
    terrain = softmax(out["terrain"])
    best = int(np.argmax(terrain))
    return Prediction(
        terrain=TERRAIN_NAMES[best],
        terrain_p=float(terrain[best]),
        collision_p=float(softmax(out["collision"])[1]),
        slip_p=float(softmax(out["slip"])[1]),
        gates=np.asarray(out["gates"], dtype=np.float32),
        usable=bool(float(out["usable"]) > 0.5),
    )


@dataclass
class ModelStats:
    """What the model said, how long it took, and (on the simulator) how often its terrain was right."""

    last: Prediction | None = None
    windows: int = 0
    unusable: int = 0
    scored: int = 0
    correct: int = 0
    latencies_s: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_HISTORY))

    def run(self, engine: Engine, window: Window, truth: GroundTruth | None) -> Prediction:
        """Infer one window, time it, and score it against ``truth`` when there is one."""
        start = time.perf_counter()
        prediction = read_outputs(engine.infer(window))
        self.latencies_s.append(time.perf_counter() - start)
        self.windows += 1
        self.last = prediction
        if not prediction.usable:
            self.unusable += 1
        elif truth is not None:
            self.scored += 1
            self.correct += int(prediction.terrain == TERRAIN_NAMES[int(truth.terrain)])
        return prediction

    def accuracy(self) -> float:
        """Terrain accuracy over the scored windows (nan before any)."""
        return self.correct / self.scored if self.scored else float("nan")

    def latency_ms(self, q: float) -> float:
        """The ``q``-th percentile of recent inference time (Window to outputs), in milliseconds."""
        return float(np.percentile(self.latencies_s, q)) * 1e3 if self.latencies_s else float("nan")

    def gates_text(self) -> str:
        """The last window's gate per sensor, e.g. ``camera 0.31 lidar 0.12 ...``."""
        if self.last is None:
            return "-"
        return " ".join(f"{m.value} {g:.2f}" for m, g in zip(MODALITIES, self.last.gates, strict=True))
