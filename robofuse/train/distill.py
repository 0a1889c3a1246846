"""Knowledge distillation from subset specialists: the teachers, and the loss that matches them.

A model trained on all 15 sensor subsets shares one IMU encoder and one audio encoder among
them; a specialist for IMU+audio shapes both for that pair alone and scores higher on it. Its
softened terrain probabilities (Hinton et al. 2015, "Distilling the Knowledge in a Neural
Network") say more than the hard label: which terrains that pair confuses, and how sure it is.
The fused model learns to match them on that subset, on the same augmented windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor

from robofuse.errors import ConfigError, EngineError
from robofuse.model.fusion_model import FusionModel
from robofuse.train.checkpoint import load_checkpoint
from robofuse.train.config import SENSORS, TrainConfig, subset_key


@dataclass
class Teachers:
    """Frozen specialists per sensor subset, keyed by the subset's bits (bit i: ``SENSORS[i]``)."""

    models: dict[int, list[FusionModel]]
    temperature: float

    @classmethod
    def load(cls, config: TrainConfig) -> Teachers | None:
        """The teachers ``config.distill_from`` names, on ``config.device``; None when distillation is off.

        Each must be a specialist of exactly its subset, with the terrain classes and input
        shapes of the model being trained: anything else would teach the wrong task.
        """
        if config.distill_loss == 0:
            return None
        models: dict[int, list[FusionModel]] = {}
        for name, paths in config.distill_from.items():
            bits = subset_key(name)
            assert bits is not None  # TrainConfig checked every name
            models[bits] = [_teacher(Path(p), name, config) for p in paths]
        return cls(models, config.distill_temperature)

    def loss(self, model: FusionModel, feats: Tensor, inputs: tuple[Tensor, ...], mask: Tensor) -> Tensor:
        """Mean over the subsets of ``T^2 KL(teachers || model)`` on the terrain head, per window.

        ``feats`` are the model's encoder features of ``inputs`` (camera, lidar, imu, audio), which
        the training step already computed; ``mask`` is the batch's augmented mask. Only windows
        where every sensor of a subset is present count for it, each seen with that subset alone
        by teachers and model. A subset with no such window adds 0.
        """
        total = feats.new_zeros(())
        t = self.temperature
        for bits, teachers in self.models.items():
            keep = torch.tensor([(bits >> i) & 1 for i in range(len(SENSORS))], dtype=mask.dtype, device=mask.device)
            rows = ((mask > 0.5) | (keep < 0.5)).all(dim=1)  # (B,): all the subset's sensors present
            if not bool(rows.any()):
                continue
            sub = mask[rows] * keep  # (R, M): that subset alone
            with torch.no_grad():
                probs = torch.stack(
                    [F.softmax(m(*(x[rows] for x in inputs), sub)["terrain"] / t, dim=1) for m in teachers]
                ).mean(0)  # (R, classes): the teachers' mean softened probabilities
            logits = model.classify(feats[rows], sub)["terrain"]  # (R, classes)
            kl = F.kl_div(F.log_softmax(logits / t, dim=1), probs, reduction="batchmean")
            total = total + t * t * kl  # T^2 keeps the gradient's scale independent of T
        return total / len(self.models)


def _teacher(path: Path, subset: str, config: TrainConfig) -> FusionModel:
    """The specialist at ``path`` for ``subset``, checked against the model ``config`` trains."""
    if not path.is_file():
        raise ConfigError(
            f"distill_from.{subset}: no checkpoint at {path}; train the specialist first "
            f"(robofuse train --modalities {subset.replace('+', ',')} ...) and list its best.pt"
        )
    try:
        model, teacher_config, _ = load_checkpoint(path)
    except EngineError as err:
        raise ConfigError(f"distill_from.{subset}: {err}") from None
    if set(teacher_config.modalities) != set(subset.split("+")):
        raise ConfigError(
            f"distill_from.{subset}: {path} was trained on {'+'.join(teacher_config.modalities)}, "
            f"not {subset}; a teacher must be a specialist of exactly the subset it teaches"
        )
    mine, theirs = config.model, teacher_config.model
    if theirs.terrain_classes != mine.terrain_classes or theirs.input_shapes() != mine.input_shapes():
        raise ConfigError(
            f"distill_from.{subset}: {path} has terrain classes {list(theirs.terrain_classes)} and inputs "
            f"{theirs.input_shapes()}, the model being trained {list(mine.terrain_classes)} and "
            f"{mine.input_shapes()}; train the teacher on the same recipe"
        )
    for p in model.parameters():
        p.requires_grad_(False)
    return model.to(config.device).eval()
