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


def _read(path: Path, needs: tuple[str, ...], missing: str) -> dict[str, Any]:
    """The dictionary ``robofuse train`` saved at ``path``, on the CPU, holding ``needs``; else ``missing`` says why."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
        raise EngineError(
            f"cannot read checkpoint {path}: {err}; pass a checkpoint.pt or best.pt from robofuse train"
        ) from None
    if not isinstance(payload, dict) or not set(needs) <= set(payload):
        raise EngineError(f"{path} is not a robofuse training checkpoint ({missing})")
    return payload


def load_checkpoint(path: str | Path) -> tuple[FusionModel, TrainConfig, dict[str, float]]:
    """The model (in eval mode), its TrainConfig and the metrics saved in ``path``."""
    path = Path(path)
    payload = _read(path, ("model", "config", "metrics"), "needs model, config and metrics")
    config = build(TrainConfig, payload["config"], str(path))
    model = FusionModel(config.model)
    model.load_state_dict(payload["model"])
    model.eval()
    return model, config, {k: float(v) for k, v in payload["metrics"].items()}


def differing_tensors(a: str | Path, b: str | Path) -> tuple[list[str], int]:
    """The weight names whose tensors differ between checkpoints ``a`` and ``b``, and how many there are in all.

    Bit for bit: a name counts as differing if it is in only one of the two, or its shape, dtype or
    the bytes of any element differ (so -0.0 differs from 0.0, and a NaN equals only the same NaN).
    This is the test that a rebuild reproduced a run, which "close" or even ``==`` would not show.
    """
    first, second = (_read(Path(p), ("model",), "no model weights")["model"] for p in (a, b))
    names = sorted(set(first) | set(second))
    differ = [n for n in names if n not in first or n not in second or not _same_bits(first[n], second[n])]
    return differ, len(names)


def _same_bits(x: torch.Tensor, y: torch.Tensor) -> bool:
    """Same shape, dtype and bytes."""
    if x.shape != y.shape or x.dtype != y.dtype:
        return False
    as_bytes = [t.contiguous().reshape(-1).view(torch.uint8) for t in (x, y)]  # loaded on the CPU
    return torch.equal(*as_bytes)
