"""Knowledge distillation: teachers per sensor subset, and the loss that matches them.

A model trained on all 15 sensor subsets shares one IMU encoder and one audio encoder among
them; a specialist for IMU+audio shapes both for that pair alone and scores higher on it. Its
softened terrain probabilities (Hinton et al. 2015, "Distilling the Knowledge in a Neural
Network") say more than the hard label: which terrains that pair confuses, and how sure it is.
The fused model learns to match them on that subset, on the same augmented windows.

A teacher may also be a model trained on more sensors than the subset it teaches (the shipped
model, say, seen with the IMU alone): that keeps what it had on those subsets while another
teacher pulls the shared encoders elsewhere (docs/evaluation/candidates, round 13).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor

from robofuse.errors import ConfigError, EngineError
from robofuse.model.fusion_model import FusionModel
from robofuse.train.checkpoint import load_checkpoint
from robofuse.train.config import TrainConfig, subset_key, subset_row


def bits_mask(bits: int, like: Tensor) -> Tensor:
    """The 0/1 row ``(M,)`` of a subset's sensors, with ``like``'s dtype and device."""
    return torch.tensor(subset_row(bits), dtype=like.dtype, device=like.device)


@dataclass
class Teachers:
    """Frozen teacher models, and which of them teach each sensor subset (keyed by the subset's bits).

    ``models[i]`` is encoded once per batch with only the sensors of ``reads[i]`` (the union of the
    subsets it teaches), so a specialist never runs an encoder it did not train and a model that
    teaches several subsets runs each encoder once.
    """

    models: list[FusionModel]
    reads: list[int]  # per model: the bits of every sensor it is asked about
    subsets: dict[int, list[int]]  # subset bits -> indices into models
    temperature: float
    weights: dict[int, float] = field(default_factory=dict)  # subset bits -> its term's weight (default 1)

    @classmethod
    def load(cls, config: TrainConfig) -> Teachers | None:
        """The teachers ``config.distill_from`` names, on ``config.device``; None when distillation is off.

        Each must have been trained with every sensor of the subset it teaches, with the terrain
        classes and input shapes of the model being trained: anything else would teach the wrong
        task. A checkpoint named for several subsets is loaded once.
        """
        if config.distill_loss == 0:
            return None
        models: list[FusionModel] = []
        reads: list[int] = []
        index: dict[Path, int] = {}
        trained_on: list[tuple[str, ...]] = []
        subsets: dict[int, list[int]] = {}
        for name, paths in config.distill_from.items():
            bits = subset_key(name)
            assert bits is not None  # TrainConfig checked every name
            subsets[bits] = []
            for p in paths:
                path = Path(p)
                key = path.resolve()
                if key not in index:
                    index[key] = len(models)
                    model, modalities = _teacher(path, name, config)
                    models.append(model)
                    trained_on.append(modalities)
                    reads.append(0)
                _teacher_covers(trained_on[index[key]], path, name)
                subsets[bits].append(index[key])
                reads[index[key]] |= bits
        weights = {b: w for name, w in config.distill_weights.items() if (b := subset_key(name)) is not None}
        return cls(models, reads, subsets, config.distill_temperature, weights)

    def loss(self, model: FusionModel, feats: Tensor, inputs: tuple[Tensor, ...], mask: Tensor) -> Tensor:
        """Sum over the subsets of ``weight x T^2 KL(teachers || model)`` on the terrain head, per window.

        ``feats`` are the model's encoder features of ``inputs`` (camera, lidar, imu, audio), which
        the training step already computed; ``mask`` is the batch's augmented mask. Only windows
        where every sensor of a subset is present count for it, each seen with that subset alone
        by teachers and model; a subset's teachers' softened probabilities are averaged. A subset
        with no such window adds 0. With one subset this is round 12's loss.
        """
        total = feats.new_zeros(())
        t = self.temperature
        camera, lidar, imu, audio = inputs
        with torch.no_grad():  # each teacher's features, once: (B, M, D)
            encoded = [
                m.encode(camera, lidar, imu, audio, mask * bits_mask(r, mask))
                for m, r in zip(self.models, self.reads, strict=True)
            ]
        for bits, teachers in self.subsets.items():
            keep = bits_mask(bits, mask)
            rows = ((mask > 0.5) | (keep < 0.5)).all(dim=1)  # (B,): all the subset's sensors present
            if not bool(rows.any()):
                continue
            sub = mask[rows] * keep  # (R, M): that subset alone
            with torch.no_grad():
                probs = torch.stack(
                    [F.softmax(self.models[i].classify(encoded[i][rows], sub)["terrain"] / t, dim=1) for i in teachers]
                ).mean(0)  # (R, classes): the teachers' mean softened probabilities
            logits = model.classify(feats[rows], sub)["terrain"]  # (R, classes)
            kl = F.kl_div(F.log_softmax(logits / t, dim=1), probs, reduction="batchmean")
            # T^2 keeps the gradient's scale independent of T
            total = total + self.weights.get(bits, 1.0) * t * t * kl
        return total


def _teacher_covers(modalities: tuple[str, ...], path: Path, subset: str) -> None:
    """Refuse a teacher that never trained with some sensor of ``subset``."""
    if not set(subset.split("+")) <= set(modalities):
        raise ConfigError(
            f"distill_from.{subset}: {path} was trained on {'+'.join(modalities)}, which lacks some "
            f"sensor of {subset}; a teacher must have trained with every sensor of the subset it teaches"
        )


def _teacher(path: Path, subset: str, config: TrainConfig) -> tuple[FusionModel, tuple[str, ...]]:
    """The model at ``path`` (frozen, on the config's device) and the sensors it trained on.

    Checked against the model ``config`` trains; which subsets it may teach is :func:`_teacher_covers`'s.
    """
    if not path.is_file():
        raise ConfigError(
            f"distill_from.{subset}: no checkpoint at {path}; train the teacher first "
            f"(a specialist: robofuse train --modalities {subset.replace('+', ',')} ...) and list its best.pt"
        )
    try:
        model, teacher_config, _ = load_checkpoint(path)
    except EngineError as err:
        raise ConfigError(f"distill_from.{subset}: {err}") from None
    mine, theirs = config.model, teacher_config.model
    if theirs.terrain_classes != mine.terrain_classes or theirs.input_shapes() != mine.input_shapes():
        raise ConfigError(
            f"distill_from.{subset}: {path} has terrain classes {list(theirs.terrain_classes)} and inputs "
            f"{theirs.input_shapes()}, the model being trained {list(mine.terrain_classes)} and "
            f"{mine.input_shapes()}; train the teacher on the same recipe"
        )
    for p in model.parameters():
        p.requires_grad_(False)
    return model.to(config.device).eval(), teacher_config.modalities
