"""FusionConfig and make_fusion: pick a fusion layer by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from torch import nn

from robofuse.fusion.layers import ConcatFusion, GatedFusion, LateFusion
from robofuse.fusion.tensor import LowRankFusion, TensorFusion

FusionKind = Literal["concat", "late", "tfn", "lmf", "gated"]


@dataclass(frozen=True)
class FusionConfig:
    """Which fusion layer to build and its sizes."""

    kind: FusionKind
    modalities: int = 4  # camera, LIDAR, IMU, audio
    dim: int = 128  # each encoder's output size
    out_dim: int = 128  # what the task heads read
    proj_dim: int = 4  # TFN/LMF: (4+1)^4 = 625 product entries, against 2.8e8 unprojected
    rank: int = 4  # LMF: Liu 2018 found ranks of about 4 enough; the cost grows linearly
    presence_gate: bool = False  # TFN/LMF: a learned per-modality scale that lets a sensor fade toward missing

    def __post_init__(self) -> None:
        if self.kind not in get_args(FusionKind):
            raise ValueError(f"unknown fusion kind {self.kind!r}; expected one of {get_args(FusionKind)}")
        for name in ("modalities", "dim", "out_dim", "proj_dim", "rank"):
            if getattr(self, name) < 1:
                raise ValueError(f"FusionConfig.{name} must be at least 1, got {getattr(self, name)}")


def make_fusion(config: FusionConfig) -> nn.Module:
    """Build the fusion layer ``config`` names."""
    m, d, o = config.modalities, config.dim, config.out_dim
    if config.kind == "concat":
        return ConcatFusion(m, d, o)
    if config.kind == "late":
        return LateFusion(m, d, o)
    if config.kind == "tfn":
        return TensorFusion(m, d, o, config.proj_dim, presence_gate=config.presence_gate)
    if config.kind == "lmf":
        return LowRankFusion(m, d, o, config.proj_dim, config.rank, presence_gate=config.presence_gate)
    return GatedFusion(m, d, o)
