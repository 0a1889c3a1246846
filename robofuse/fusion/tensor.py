"""Tensor fusion (TFN, Zadeh 2017) and its low-rank form (LMF, Liu 2018), safe for missing modalities."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from robofuse.fusion.base import FactorInputs, FusionInfo, present_mask, zero_missing


class TensorFusion(nn.Module):
    """Tensor fusion: a linear layer on the outer product of the modalities' ``[z_m, 1]`` vectors.

    Each modality is first projected to ``proj_dim`` and normalized (see :class:`FactorInputs`):
    at 4 modalities x 128 features the raw outer product would hold 2.8e8 entries, and without
    normalization it amplifies input noise like ``|x|^(M-1)``. The appended constant 1 keeps
    every lower-order interaction (including each modality alone) in the product, and a missing
    modality's vector is ``[0, ..., 0, 1]``, so the output is exactly the tensor fusion of the
    present modalities.

    Args:
        modalities: number of modalities M.
        dim: per-modality feature size D.
        out_dim: fused feature size.
        proj_dim: projected size p; the product has (p+1)^M entries.
        normalize: LayerNorm the projections (leave True; False exists to measure why).
        presence_gate: let each modality fade toward "missing" by a learned gate (see :class:`FactorInputs`).

    Shape:
        - x: :math:`(B, M, D)`; mask: :math:`(B, M)` float, 1 present, 0 missing.
        - Output: :math:`(B, \\text{out\\_dim})` and a :class:`FusionInfo` with equal weights
          over the present modalities (the renormalized gates with ``presence_gate``).
    """

    def __init__(
        self,
        modalities: int,
        dim: int,
        out_dim: int,
        proj_dim: int = 4,
        normalize: bool = True,
        presence_gate: bool = False,
    ) -> None:
        super().__init__()
        self.factors = FactorInputs(modalities, dim, proj_dim, normalize, presence_gate)
        self.out = nn.Linear((proj_dim + 1) ** modalities, out_dim)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, FusionInfo]:
        """Fuse through the full outer product."""
        present = present_mask(x, mask)
        z, info = self.factors(guard_missing(x, present), present)  # (B, M, P) with P = p + 1
        t = z[:, 0]  # (B, P)
        for m in range(1, z.shape[1]):
            t = (t.unsqueeze(-1) * z[:, m].unsqueeze(1)).flatten(1)  # (B, P^(m+1)), row-major
        return self.out(t), info  # (B, out_dim)


class LowRankFusion(nn.Module):
    """Low-rank tensor fusion: the TFN weight written as a sum of ``rank`` products of per-modality factors.

    ``y = sum_r w_r * prod_m (z_m @ factors[m, r]) + bias``, which equals a :class:`TensorFusion`
    whose weight is :meth:`reconstruct_tensor_weight` without ever forming the outer product.
    The factors are one registered ``nn.Parameter`` of shape (M, rank, p+1, D_out), so they
    train: MultiBench keeps them in a plain Python list, where they never reach the optimizer.
    Inputs are projected, normalized and padded as in TFN (see :class:`FactorInputs`).

    Args:
        modalities: number of modalities M.
        dim: per-modality feature size D.
        out_dim: fused feature size.
        proj_dim: projected size p.
        rank: number of rank-one terms.
        normalize: LayerNorm the projections (leave True; False exists to measure why).
        presence_gate: let each modality fade toward "missing" by a learned gate (see :class:`FactorInputs`).

    Shape:
        - x: :math:`(B, M, D)`; mask: :math:`(B, M)` float, 1 present, 0 missing.
        - Output: :math:`(B, \\text{out\\_dim})` and a :class:`FusionInfo` with equal weights
          over the present modalities (the renormalized gates with ``presence_gate``).
    """

    def __init__(
        self,
        modalities: int,
        dim: int,
        out_dim: int,
        proj_dim: int = 4,
        rank: int = 4,
        normalize: bool = True,
        presence_gate: bool = False,
    ) -> None:
        super().__init__()
        self.factors_in = FactorInputs(modalities, dim, proj_dim, normalize, presence_gate)
        # each z_m has norm ~sqrt(p + 1), so std 1/sqrt(p + 1) makes every z_m @ factor ~N(0, 1) and
        # their product O(1); the xavier init MultiBench uses shrinks it like 0.27^M instead
        self.factors = nn.Parameter(torch.randn(modalities, rank, proj_dim + 1, out_dim) / math.sqrt(proj_dim + 1))
        self.fusion_weights = nn.Parameter(torch.full((rank,), 1.0 / rank))  # start as the mean of the terms
        self.bias = nn.Parameter(torch.zeros(out_dim))

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, FusionInfo]:
        """Fuse through the rank-``rank`` factorization."""
        present = present_mask(x, mask)
        z, info = self.factors_in(guard_missing(x, present), present)  # (B, M, P)
        m, rank, p1, out_dim = self.factors.shape
        factors = self.factors.permute(0, 2, 1, 3).reshape(m, p1, rank * out_dim)  # (M, P, rank * O)
        per_modality = torch.bmm(z.transpose(0, 1), factors)  # (M, B, rank * O); bmm: einsum is ~2x slower
        product = per_modality.prod(dim=0).view(-1, rank, out_dim)  # (B, rank, O)
        return torch.matmul(self.fusion_weights, product) + self.bias, info  # (B, O)

    def reconstruct_tensor_weight(self) -> Tensor:
        """The full TFN weight this layer is equivalent to, in :class:`TensorFusion`'s layout.

        Shape:
            - Output: :math:`(\\text{out\\_dim}, (p+1)^M)`, indexed like TFN's row-major outer product.
        """
        w = self.factors[0]  # (rank, P, O)
        for m in range(1, self.factors.shape[0]):
            w = (w.unsqueeze(2) * self.factors[m].unsqueeze(1)).flatten(1, 2)  # (rank, P^(m+1), O)
        return torch.einsum("r,rko->ok", self.fusion_weights, w)  # (O, P^M)


def guard_missing(x: Tensor, present: Tensor) -> Tensor:
    """``x`` with missing modalities zeroed when gradients are recorded, ``x`` itself otherwise.

    :class:`FactorInputs` already puts the constant vector in a missing modality's place, so
    the forward value never depends on that slot; the zeroing only keeps a NaN there from
    turning the projection's gradient into NaN. Without autograd (inference, and graphs
    exported under ``torch.no_grad()``) it is one node of work for nothing.
    """
    return zero_missing(x, present) if torch.is_grad_enabled() else x
