"""EMAP, the empirical multimodally-additive function projection (Hessel & Lee 2020), for M sensors.

Hessel & Lee (EMNLP 2020, "Does my multimodal model learn cross-modal interactions? It's harder
to tell than you might think!") project a model's logits for two modalities onto the additive
functions: ``f^(t_i, v_i) = 1/N sum_j f(t_i, v_j) + 1/N sum_j f(t_j, v_i) - 1/N^2 sum_{j,k} f(t_j, v_k)``.
If the projection scores as well as the model, the model gains nothing measurable from
cross-modal interactions. With M sensors, modality m of window i is paired with the other
sensors of window j, all taken jointly:

    f^(x_i) = sum_m mean_j f(x_{i,m}, x_{j,-m}) - (M - 1) * c,

where ``c`` is the mean of ``f`` over all the mixed pairs (i, j, m); for M = 2 and j over all
windows this is exactly Hessel & Lee's formula, and for a model additive across sensors
(``f = sum_m g_m(x_m)``) ``f^ = f`` exactly. Partners are ``j = (i + o) mod N`` for K random
offsets ``o`` (every offset when K >= N): each offset is a permutation of the windows, so every
sensor's marginal stays the empirical one.

It runs on cached per-modality features (``FusionModel.encode``) through ``FusionModel.classify``:
mixing features is mixing inputs, since each encoder sees only its own sensor. Only windows
with all four sensors present are used, so every mixed window has every sensor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from robofuse.evaluate.data import HEADS
from robofuse.evaluate.subsets import head_metrics

Classify = Callable[[Any, npt.NDArray[np.float32]], dict[str, npt.NDArray[Any]]]


def partner_offsets(n: int, samples: int, seed: int = 0) -> npt.NDArray[np.int64]:
    """Every offset ``0..n-1`` when ``samples >= n``, else ``samples`` distinct random offsets in ``1..n-1``."""
    if samples >= n:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(np.arange(1, n), size=samples, replace=False)).astype(np.int64)


def emap_logits(
    classify: Classify, feats: Any, samples: int = 64, seed: int = 0, rows_per_call: int = 32768
) -> dict[str, npt.NDArray[np.float64]]:
    """The EMAP projection of each head's logits for windows ``feats`` :math:`(N, M, D)` (all sensors present).

    ``classify(feats, mask)`` is the model's fusion and heads, returning numpy logits per head.
    """
    import torch

    n, m = int(feats.shape[0]), int(feats.shape[1])
    offsets = partner_offsets(n, samples, seed)
    k = len(offsets)
    chunk = max(1, rows_per_call // (k * m))
    terms: dict[str, npt.NDArray[np.float64]] = {}
    for start in range(0, n, chunk):
        i = np.arange(start, min(start + chunk, n))  # (c,)
        j = (i[:, None] + offsets[None, :]) % n  # (c, K)
        mixed = feats[torch.from_numpy(j)].unsqueeze(2).repeat(1, 1, m, 1, 1)  # (c, K, m, M, D): window j
        own = feats[torch.from_numpy(i)]  # (c, M, D)
        for mm in range(m):
            mixed[:, :, mm, mm] = own[:, None, mm]  # modality mm from window i
        rows = mixed.reshape(-1, m, feats.shape[2])
        out = classify(rows, np.ones((rows.shape[0], m), np.float32))
        for head in HEADS:
            logits = out[head].astype(np.float64).reshape(len(i), k, m, -1)
            term = logits.mean(axis=1)  # (c, m, classes): mean over partners j
            terms.setdefault(head, np.zeros((n, m, term.shape[-1])))[i] = term
    projected = {}
    for head, term in terms.items():
        c = term.mean(axis=(0, 1))  # mean over every mixed pair (i, j, m)
        projected[head] = term.sum(axis=1) - (m - 1) * c
    return projected


def emap_report(
    classify: Classify, feats: Any, labels: dict[str, npt.NDArray[Any]], samples: int = 64, seed: int = 0
) -> dict[str, Any]:
    """Metrics of the model and of its EMAP projection on the same windows, and the gap (model minus EMAP)."""
    n = int(feats.shape[0])
    model_out = classify(feats, np.ones((n, int(feats.shape[1])), np.float32))
    projected = emap_logits(classify, feats, samples, seed)
    rows = np.ones(n, dtype=bool)
    model_m = head_metrics({h: model_out[h].argmax(axis=1) for h in HEADS}, labels, rows)
    emap_m = head_metrics({h: projected[h].argmax(axis=1) for h in HEADS}, labels, rows)
    return {
        "windows": n,
        "samples": min(samples, n),
        "model": model_m,
        "emap": emap_m,
        "gap": {k: model_m[k] - emap_m[k] for k in model_m if k != "windows"},
    }
