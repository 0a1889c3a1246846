"""Concatenation, late (additive) and gated fusion, each correct for any subset of present modalities."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from robofuse.fusion.base import (
    FusionInfo,
    ModalityLinear,
    masked_softmax_info,
    present_mask,
    uniform_info,
    zero_missing,
)


class ConcatFusion(nn.Module):
    """Early fusion: concatenate the modalities' features and apply one linear layer.

    A missing modality's features are replaced by a learned per-modality "missing" embedding
    rather than left at zero: all-zero features are a legitimate reading (a dark image, a still
    IMU), and with zero-filling the layer could not tell "sensor says nothing" from "sensor gone".

    Args:
        modalities: number of modalities M.
        dim: per-modality feature size D.
        out_dim: fused feature size.

    Shape:
        - x: :math:`(B, M, D)`; mask: :math:`(B, M)` float, 1 present, 0 missing.
        - Output: :math:`(B, \\text{out\\_dim})` and a :class:`FusionInfo` with equal weights
          over the present modalities.
    """

    def __init__(self, modalities: int, dim: int, out_dim: int) -> None:
        super().__init__()
        self.missing = nn.Parameter(torch.randn(modalities, dim) * 0.02)  # small: starts near zero-filling
        self.out = nn.Linear(modalities * dim, out_dim)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, FusionInfo]:
        """Fuse the present modalities; missing ones contribute only their learned embedding."""
        present = present_mask(x, mask)
        h = torch.where(present.unsqueeze(-1), x, self.missing.to(x.dtype))  # (B, M, D)
        return self.out(h.flatten(1)), uniform_info(present, x.dtype)  # (B, out_dim)


class LateFusion(nn.Module):
    """Late (additive) fusion: one linear head per modality, averaged over the present ones.

    Averaging rather than summing keeps the output's scale the same whatever the number of
    present modalities; with none present the output is exactly zero.

    Args:
        modalities: number of modalities M.
        dim: per-modality feature size D.
        out_dim: fused feature size.

    Shape:
        - x: :math:`(B, M, D)`; mask: :math:`(B, M)` float, 1 present, 0 missing.
        - Output: :math:`(B, \\text{out\\_dim})` and a :class:`FusionInfo` whose weights are the
          averaging weights.
    """

    def __init__(self, modalities: int, dim: int, out_dim: int) -> None:
        super().__init__()
        self.heads = ModalityLinear(modalities, dim, out_dim)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, FusionInfo]:
        """Average the present modalities' heads."""
        present = present_mask(x, mask)
        info = uniform_info(present, x.dtype)
        y = self.heads(zero_missing(x, present))  # (B, M, out_dim)
        # where, not a bare weighted sum: a masked head's output is dropped even if it were inf
        y = torch.where(present.unsqueeze(-1), y, torch.zeros((), dtype=y.dtype, device=y.device))
        return torch.bmm(info["weights"].unsqueeze(1), y).squeeze(1), info  # (B, out_dim)


class GatedFusion(nn.Module):
    """Gated fusion (GMU-style, Arevalo 2017): ``sum_i gate_i * tanh(W_i x_i)`` over present modalities.

    Unlike the GMU, whose gates read the concatenation of all inputs, each modality's gate logit
    is computed only from its own features, and the softmax runs over the present modalities
    only (masked logits are -inf). So a missing modality's input can move no gate: zero-filling
    a GMU's input, as MultiBench does, still shifts the other gates. With nothing present the
    gates are all zero and so is the output, without a 0/0 anywhere.

    Args:
        modalities: number of modalities M.
        dim: per-modality feature size D.
        out_dim: fused feature size.

    Shape:
        - x: :math:`(B, M, D)`; mask: :math:`(B, M)` float, 1 present, 0 missing.
        - Output: :math:`(B, \\text{out\\_dim})` and a :class:`FusionInfo` whose weights are the gates.
    """

    def __init__(self, modalities: int, dim: int, out_dim: int) -> None:
        super().__init__()
        self.values = ModalityLinear(modalities, dim, out_dim)
        self.gate = ModalityLinear(modalities, dim, 1)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, FusionInfo]:
        """Gate each present modality by its own features and sum."""
        present = present_mask(x, mask)
        x = zero_missing(x, present)
        info = masked_softmax_info(self.gate(x).squeeze(-1), present)  # gates (B, M)
        y = torch.tanh(self.values(x))  # (B, M, out_dim)
        return torch.bmm(info["weights"].unsqueeze(1), y).squeeze(1), info  # (B, out_dim)
