"""Loading and running the models under evaluation: ONNX files through the engine, checkpoints through torch.

Both give the same interface: :meth:`EvalModel.begin_batch` with a batch's clean inputs, then
any number of :meth:`EvalModel.outputs` calls with a mask and optionally some inputs replaced
(noised). A checkpoint keeps each modality's clean features for the batch, so the 15 subsets
cost one encoder pass and noising one sensor re-runs only that sensor's encoder: each encoder
sees only its own input and a masked modality cannot move any output (see FusionModel), so
this is exactly the full forward pass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from robofuse.errors import ConfigError, EngineError
from robofuse.evaluate.data import SENSORS, Arrays


@dataclass(frozen=True)
class ModelSpec:
    """A named model under evaluation: one file, or several (training seeds) summarised by mean and spread."""

    name: str
    paths: tuple[Path, ...]


@dataclass
class EvalModel:
    """A loaded model: ``fusion`` its fusion kind (``"?"`` if unknown), ``modalities`` the sensors it was trained on."""

    name: str
    path: Path
    fusion: str = "?"
    modalities: tuple[str, ...] = SENSORS
    seen_seeds: tuple[int, ...] = ()  # training and validation seeds (checkpoints only)
    _inputs: Arrays = field(default_factory=dict, repr=False)

    @property
    def has_features(self) -> bool:
        """Whether the model exposes per-modality features (needed by EMAP)."""
        return False

    def begin_batch(self, inputs: Arrays) -> None:
        """The clean float32 inputs of the next batch."""
        self._inputs = inputs

    def outputs(self, mask: npt.NDArray[np.float32], replace: Arrays | None = None) -> Arrays:
        """Outputs (terrain, collision, slip logits, gates, usable) for the batch under ``mask``."""
        raise NotImplementedError


@dataclass
class OnnxModel(EvalModel):
    """An exported model run by the onnxruntime engine."""

    engine: Any = None

    def outputs(self, mask: npt.NDArray[np.float32], replace: Arrays | None = None) -> Arrays:
        """One engine call on the batch with ``replace`` swapped in."""
        inputs = {**self._inputs, **(replace or {}), "mask": mask}
        return dict(self.engine.infer_batch(inputs))


@dataclass
class TorchModel(EvalModel):
    """A training checkpoint (a FusionModel in eval mode) run with torch's inference mode."""

    model: Any = None
    _clean: dict[int, Any] = field(default_factory=dict, repr=False)

    @property
    def has_features(self) -> bool:
        """Checkpoints expose ``encode`` and ``classify``."""
        return True

    def begin_batch(self, inputs: Arrays) -> None:
        """New batch: forget the previous batch's features."""
        super().begin_batch(inputs)
        self._clean = {}

    def _encode_one(self, i: int, x: npt.NDArray[np.float32]) -> Any:
        """Features ``(B, D)`` of modality ``i`` through ``FusionModel.encode`` (the others skipped)."""
        import torch

        only = np.zeros((len(x), len(SENSORS)), dtype=np.float32)
        only[:, i] = 1.0
        args = [torch.from_numpy(np.ascontiguousarray(self._inputs[name])) for name in SENSORS]
        args[i] = torch.from_numpy(np.ascontiguousarray(x))
        with torch.inference_mode():
            return self.model.encode(*args, torch.from_numpy(only))[:, i]

    def features(self, mask: npt.NDArray[np.float32], replace: Arrays | None = None) -> Any:
        """Per-modality features ``(B, M, D)``; modalities absent from the whole of ``mask`` are zeros."""
        import torch

        replace = replace or {}
        cols = []
        for i, name in enumerate(SENSORS):
            if name in replace:
                cols.append(self._encode_one(i, self._masked(i, replace[name])))
            elif bool((mask[:, i] > 0.5).any()):
                if i not in self._clean:
                    self._clean[i] = self._encode_one(i, self._masked(i, self._inputs[name]))
                cols.append(self._clean[i])
            else:
                cols.append(torch.zeros(len(mask), self.model.config.dim))
        return torch.stack(cols, dim=1)

    def _masked(self, i: int, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        # the encoder must not see NaN from a dropped stream; its features are ignored anyway
        return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)

    def classify(self, feats: Any, mask: npt.NDArray[np.float32]) -> Arrays:
        """Fusion and heads on features ``(B, M, D)`` under ``mask``, as numpy arrays."""
        import torch

        with torch.inference_mode():
            out = self.model.classify(feats, torch.from_numpy(np.ascontiguousarray(mask)))
        return {k: v.numpy() for k, v in out.items()}

    def outputs(self, mask: npt.NDArray[np.float32], replace: Arrays | None = None) -> Arrays:
        """Cached clean features where possible, fresh ones for replaced inputs."""
        return self.classify(self.features(mask, replace), mask)


def load_model(name: str, path: str | Path, threads: int = 1) -> EvalModel:
    """An ONNX file (``.onnx``, through the onnxruntime engine) or a training checkpoint (``.pt``).

    Raises:
        EngineError: the file is missing or cannot be read as a model.
        ConfigError: the file is neither ``.onnx`` nor ``.pt``.
    """
    path = Path(path)
    if not path.is_file():
        raise EngineError(
            f"model {name}: {path} does not exist; pass --model NAME=PATH with a model.onnx or a best.pt "
            "from robofuse train"
        )
    if path.suffix == ".onnx":
        from robofuse.engine.base import EngineConfig, make_engine

        engine = make_engine(EngineConfig(backend="onnxruntime", model=path, threads=threads))
        training = _sidecar_training(path)
        model_cfg = training.get("model", {})
        return OnnxModel(
            name=name,
            path=path,
            fusion=str(model_cfg.get("fusion", "?")) if isinstance(model_cfg, dict) else "?",
            modalities=tuple(s for s in SENSORS if s in training.get("modalities", SENSORS)),
            seen_seeds=(*training.get("train_seeds", ()), *training.get("val_seeds", ())),
            engine=engine,
        )
    if path.suffix == ".pt":
        try:
            import torch

            from robofuse.train.checkpoint import load_checkpoint
        except ImportError as err:
            raise EngineError(f"model {name}: a checkpoint needs torch (pip install robofuse[train]): {err}") from None
        torch.set_num_threads(threads)
        model, config, _ = load_checkpoint(path)
        return TorchModel(
            name=name,
            path=path,
            fusion=config.model.fusion,
            modalities=tuple(s for s in SENSORS if s in config.modalities),
            seen_seeds=(*config.train_seeds, *config.val_seeds),
            model=model,
        )
    raise ConfigError(f"model {name}: {path} is neither an ONNX file (.onnx) nor a training checkpoint (.pt)")


def _sidecar_training(path: Path) -> dict[str, Any]:
    """The TrainConfig the sidecar beside ``path`` records (empty when there is none)."""
    try:
        meta = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return {}
    training = meta.get("training") if isinstance(meta, dict) else None
    return training if isinstance(training, dict) else {}
