"""Reading a training checkpoint back: the model, the config it was trained with, its metrics."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from robofuse.errors import EngineError
from robofuse.model.fusion_model import FusionModel
from robofuse.schema import build
from robofuse.train.config import TrainConfig


def load_checkpoint(path: str | Path) -> tuple[FusionModel, TrainConfig, dict[str, float]]:
    """The model (in eval mode), its TrainConfig and the metrics saved in ``path``."""
    path = Path(path)
    try:
        payload: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
        raise EngineError(
            f"cannot read checkpoint {path}: {err}; pass a checkpoint.pt or best.pt from robofuse train"
        ) from None
    if not isinstance(payload, dict) or not {"model", "config", "metrics"} <= set(payload):
        raise EngineError(f"{path} is not a robofuse training checkpoint (needs model, config and metrics)")
    config = build(TrainConfig, payload["config"], str(path))
    model = FusionModel(config.model)
    model.load_state_dict(payload["model"])
    model.eval()
    return model, config, {k: float(v) for k, v in payload["metrics"].items()}
