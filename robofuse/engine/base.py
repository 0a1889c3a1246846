"""The engine contract: config, the Engine base class, Window to model inputs, and the factory."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from robofuse.errors import EngineError
from robofuse.messages import MODALITIES, Window

Backend = Literal["torch", "onnxruntime", "tensorrt"]
Precision = Literal["fp32", "fp16"]
InputSpec = Mapping[str, tuple[int, ...]]  # input name -> shape without the batch axis
Arrays = dict[str, npt.NDArray[np.float32]]

# What to do when a modality's shape differs from the model's, per input name.
_FIX: dict[str, str] = {
    "camera": "render the rig at the model's resolution or retrain",
    "lidar": "configure the rig's LIDAR range image to the model's rows and columns or retrain",
    "imu": "configure the rig's IMU window (rate x seconds) to the model's rows or retrain",
    "audio": "configure the rig's audio window (rate x seconds) to the model's length or retrain",
    "mask": "pass one mask entry per modality",
}


@dataclass(frozen=True)
class EngineConfig:
    """How to build an engine.

    ``model``: an ONNX file for ``onnxruntime``, a training checkpoint (``.pt``) for ``torch``.
    ``threads``: intra-op threads (1 keeps batch-1 latency steady on a busy robot computer).
    ``inter_op_threads``: parallel operator threads (onnxruntime; 1 = sequential execution).
    ``cuda``: use the CUDA provider when onnxruntime offers it.
    ``precision``, ``plan_cache``, ``max_batch``: ``tensorrt`` only: FP32 or FP16 kernels, where
    built plans are cached (None: ``~/.cache/robofuse/tensorrt``), the largest batch the plan's
    optimization profile accepts.
    """

    backend: Backend
    model: Path
    threads: int = 1
    inter_op_threads: int = 1
    cuda: bool = True
    precision: Precision = "fp32"
    plan_cache: Path | None = None
    max_batch: int = 8

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", Path(self.model))
        if self.plan_cache is not None:
            object.__setattr__(self, "plan_cache", Path(self.plan_cache).expanduser())
        if self.precision not in get_args(Precision):
            raise EngineError(f"precision must be one of {list(get_args(Precision))}, got {self.precision!r}")
        if isinstance(self.max_batch, bool) or not isinstance(self.max_batch, int) or self.max_batch < 1:
            raise EngineError(f"max_batch must be a whole number of at least 1, got {self.max_batch!r}")
        if self.threads < 1 or self.inter_op_threads < 1:
            raise EngineError(
                f"threads must be at least 1, got threads={self.threads}, inter_op_threads={self.inter_op_threads}"
            )


class Engine(ABC):
    """A loaded model. ``input_spec`` and ``output_names`` say what it takes and gives."""

    input_spec: InputSpec
    output_names: tuple[str, ...]

    @abstractmethod
    def infer_batch(self, inputs: Mapping[str, npt.NDArray[Any]]) -> Arrays:
        """Run a batch: named float32 arrays with a leading batch axis -> named outputs with it."""

    def infer(self, window: Window) -> Arrays:
        """Run one window: outputs without the batch axis (``usable`` becomes a 0-d array)."""
        out = self.infer_batch(window_to_inputs(window, self.input_spec))
        return {name: value[0] for name, value in out.items()}

    def check_batch(self, inputs: Mapping[str, npt.NDArray[Any]]) -> None:
        """Raise EngineError unless ``inputs`` holds every model input with one common batch size."""
        missing = [name for name in self.input_spec if name not in inputs]
        if missing:
            raise EngineError(f"inputs {missing} missing; the model takes {list(self.input_spec)}")
        batches = {inputs[name].shape[0] if inputs[name].ndim else -1 for name in self.input_spec}
        if len(batches) != 1:
            raise EngineError(f"inputs disagree on the batch size: {sorted(batches)}")
        for name, shape in self.input_spec.items():
            check_shape(name, shape, tuple(inputs[name].shape[1:]), "the inputs have")


def check_shape(name: str, expected: tuple[int, ...], got: tuple[int, ...], where: str = "the window has") -> None:
    """Raise EngineError naming ``name``, both shapes and the fix, unless they are equal."""
    if tuple(expected) != tuple(got):
        fix = _FIX.get(name, "match the model's input or retrain")
        raise EngineError(f"{name}: the model expects {tuple(expected)}, {where} {tuple(got)}: {fix}")


def check_spec(spec: InputSpec, shapes: Mapping[str, tuple[int, ...]]) -> None:
    """At start: the rig's per-modality shapes (``shapes``) against the model's spec; names every difference."""
    problems = []
    for name, expected in spec.items():
        if name == "mask":
            continue
        if name not in shapes:
            problems.append(f"{name}: the model takes it but the rig has no such stream")
            continue
        try:
            check_shape(name, expected, tuple(shapes[name]), "the rig gives")
        except EngineError as err:
            problems.append(str(err))
    if problems:
        raise EngineError("; ".join(problems))


def window_to_inputs(window: Window, spec: InputSpec) -> Arrays:
    """The model's named float32 inputs for ``window``, each with a leading batch axis of 1.

    Camera uint8 and audio float16 become float32. A modality the rig has no stream for (an
    empty array, always masked) becomes zeros of the model's shape.

    Raises:
        EngineError: an array's shape differs from the model's; the message names the input.
    """
    out: Arrays = {}
    for i, modality in enumerate(MODALITIES):
        name = modality.value
        if name not in spec:
            continue
        expected = spec[name]
        arr = window.inputs[modality]
        if arr.size == 0 and window.mask[i] <= 0.5:
            out[name] = np.zeros((1, *expected), dtype=np.float32)
            continue
        check_shape(name, expected, tuple(arr.shape))
        out[name] = np.asarray(arr, dtype=np.float32).reshape(1, *expected)
    if "mask" in spec:
        check_shape("mask", spec["mask"], tuple(window.mask.shape))
        out["mask"] = np.asarray(window.mask, dtype=np.float32).reshape(1, -1)
    return out


def make_engine(config: EngineConfig) -> Engine:
    """Build the engine ``config.backend`` names, importing that backend only now.

    Raises:
        EngineError: unknown backend, backend library not installed, or model unreadable.
    """
    if config.backend == "onnxruntime":
        from robofuse.engine.onnx_runtime import OrtEngine

        return OrtEngine(config)
    if config.backend == "torch":
        from robofuse.engine.torch_backend import TorchEngine

        return TorchEngine(config)
    if config.backend == "tensorrt":
        from robofuse.engine.tensorrt_backend import TrtEngine

        return TrtEngine(config)
    raise EngineError(f"unknown engine backend {config.backend!r}; choose one of {list(get_args(Backend))}")
