"""What every fusion layer shares: the info it returns, masking and per-modality projections."""

from __future__ import annotations

import math
from typing import TypedDict

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn


class FusionInfo(TypedDict):
    """Side outputs of a fusion layer, for gate statistics and for the "nothing usable" flag.

    Shape:
        - weights: :math:`(B, M)`, each present modality's share of the output, summing to 1
          over the present ones; exactly 0 where masked (and everywhere when none is present).
        - usable: :math:`(B,)` bool, False where every modality was masked.
    """

    weights: Tensor
    usable: Tensor


def present_mask(x: Tensor, mask: Tensor) -> Tensor:
    """Check shapes and turn the float mask into a bool mask.

    Shape:
        - x: :math:`(B, M, D)`; mask: :math:`(B, M)`; output: :math:`(B, M)` bool.
    """
    if x.dim() != 3 or mask.shape != x.shape[:2]:
        raise ValueError(f"expected x (B, M, D) and mask (B, M), got {tuple(x.shape)} and {tuple(mask.shape)}")
    return mask > 0.5


def zero_missing(x: Tensor, present: Tensor) -> Tensor:
    """Replace missing modalities' features with exact zeros.

    ``torch.where`` rather than ``x * mask``: a NaN or inf in a masked slot (a dead sensor's
    garbage) would survive a multiplication by zero, and ``where`` also gives the masked inputs
    an exactly zero gradient. Every layer calls this first, so nothing downstream can see a
    missing modality's input.

    Shape:
        - x: :math:`(B, M, D)`; present: :math:`(B, M)` bool; output: :math:`(B, M, D)`.
    """
    return torch.where(present.unsqueeze(-1), x, torch.zeros((), dtype=x.dtype, device=x.device))


def uniform_info(present: Tensor, dtype: torch.dtype) -> FusionInfo:
    """Equal shares over the present modalities, for layers without learned per-sample weights."""
    weights = present.to(dtype)  # (B, M)
    count = weights.sum(dim=1, keepdim=True).clamp_min(1.0)  # (B, 1); 1 when none present: no 0/0
    return FusionInfo(weights=weights / count, usable=present.any(dim=1))


class ModalityLinear(nn.Module):
    """One independent ``nn.Linear`` per modality, run as a single batched einsum.

    Each modality's output depends only on its own features, which is what lets the layers
    above promise that one modality's input cannot move another's projection or gate.

    Args:
        modalities: number of modalities M.
        in_dim: per-modality input size D.
        out_dim: per-modality output size.

    Shape:
        - Input: :math:`(B, M, D)`.
        - Output: :math:`(B, M, \\text{out\\_dim})`.
    """

    def __init__(self, modalities: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)  # nn.Linear's default init, per modality
        self.weight = nn.Parameter(torch.empty(modalities, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(modalities, out_dim).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> Tensor:
        """Project each modality with its own weights."""
        # baddbmm over the modality axis: about twice as fast as the equivalent einsum at batch 1
        y = torch.baddbmm(self.bias.unsqueeze(1), x.transpose(0, 1), self.weight)  # (M, B, out_dim)
        return y.transpose(0, 1)  # (B, M, out_dim)


class FactorInputs(nn.Module):
    """The per-modality vectors TFN and LMF multiply: ``[s_m norm(W_m x_m), 1]``, or ``[0, ..., 0, 1]`` if missing.

    Projecting to ``proj_dim`` keeps the outer product small ((p+1)^M entries instead of
    (D+1)^M). Normalizing (LayerNorm without affine: zero mean, unit variance, so every present
    vector has norm sqrt(p)) bounds each factor, so a product of M factors cannot grow like
    |x|^M and amplify input noise: MultiBench's unnormalized products are what make its tensor
    fusions so fragile under noise. A missing modality becomes the pure constant vector, which
    selects the slice of the product that is exactly the fusion of the present modalities.

    With ``presence_gate`` each present vector is scaled by ``s_m = sigmoid(a_m . x_m + b_m)``,
    computed from that modality's own features only. Normalization alone pins every present
    vector to norm sqrt(p), so a sensor the model should not trust (a noisy one) still enters
    every product at full strength; the scale lets it fade continuously toward the missing
    vector, the case modality dropout already trains. ``s_m <= 1`` keeps the bound above.

    Args:
        modalities: number of modalities M.
        dim: per-modality feature size D.
        proj_dim: projected size p.
        normalize: LayerNorm the projections; False only to measure what normalization buys.
        presence_gate: scale each present vector by a learned gate in (0, 1).

    Shape:
        - x: :math:`(B, M, D)` with missing modalities already zeroed; present: :math:`(B, M)` bool.
        - Output: :math:`(B, M, p + 1)` and a :class:`FusionInfo` whose weights are the gates
          renormalized over the present modalities (equal shares without ``presence_gate``).
    """

    def __init__(
        self, modalities: int, dim: int, proj_dim: int, normalize: bool = True, presence_gate: bool = False
    ) -> None:
        super().__init__()
        self.proj = ModalityLinear(modalities, dim, proj_dim)
        self.proj_dim = proj_dim
        self.normalize = normalize
        self.gate: ModalityLinear | None = None
        if presence_gate:
            self.gate = ModalityLinear(modalities, dim, 1)
            with torch.no_grad():  # start near 1 (sigmoid(3) = 0.95): the ungated layer, then learn to fade
                self.gate.weight.mul_(0.1)
                self.gate.bias.fill_(3.0)

    def forward(self, x: Tensor, present: Tensor) -> tuple[Tensor, FusionInfo]:
        """Project, normalize, scale by the gate, zero the missing, append the constant 1."""
        h = self.proj(x)  # (B, M, p)
        if self.normalize:
            h = F.layer_norm(h, (self.proj_dim,))
        zero = torch.zeros((), dtype=h.dtype, device=h.device)
        if self.gate is None:
            info = uniform_info(present, x.dtype)
        else:
            logit = self.gate(x).squeeze(-1)  # (B, M)
            h = h * torch.sigmoid(logit).unsqueeze(-1)
            info = masked_softmax_info(_log_sigmoid(logit), present)
        h = torch.where(present.unsqueeze(-1), h, zero)
        return F.pad(h, (0, 1), value=1.0), info  # (B, M, p + 1)


def _log_sigmoid(x: Tensor) -> Tensor:
    """``log(sigmoid(x))`` written so no runtime overflows: ``min(x, 0) - log1p(exp(-|x|))``.

    ``F.logsigmoid`` exports to ONNX as ``-softplus(-x)``, whose ``exp`` overflows to inf at
    x < -88 in float32; this form is exact for every finite x in torch and ONNX Runtime alike.
    """
    magnitude = x.abs()
    return 0.5 * (x - magnitude) - torch.log1p(torch.exp(-magnitude))  # min(x, 0), gradient 1/2 at 0 as it should


def masked_softmax_info(logits: Tensor, present: Tensor) -> FusionInfo:
    """Softmax of ``logits`` over the present modalities: exactly 0 where masked, and all 0 (not NaN) when none is.

    Gated fusion's gates, and the presence gates' shares (from log sigmoids: the same numbers as
    ``s / s.sum()``, but exact when every present gate underflows, where the division is 0/0).

    Shape:
        - logits: :math:`(B, M)`; present: :math:`(B, M)` bool.
    """
    usable = present.any(dim=1)  # (B,)
    zero = torch.zeros((), dtype=logits.dtype, device=logits.device)
    logits = logits.masked_fill(~present, float("-inf"))
    logits = torch.where(usable.unsqueeze(-1), logits, zero)  # nothing present: softmax of all -inf is NaN
    return FusionInfo(weights=torch.where(present, logits.softmax(dim=1), zero), usable=usable)
