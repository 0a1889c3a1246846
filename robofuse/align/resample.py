"""Resampling kernels: linear for rates and accelerations, slerp for orientations, and
fractional-index interpolation for audio. Gaps are marked invalid, never papered over.

Times are float64 nanoseconds relative to a reference chosen by the caller (absolute epoch
nanoseconds would lose precision in float64).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]


def _bracket(t: F64, grid: F64, max_gap: float) -> tuple[npt.NDArray[np.intp], F64, B]:
    """Left neighbour index, weight of the right neighbour, and validity of each grid point."""
    n = t.shape[0]
    if n < 2:
        return np.zeros(grid.shape, np.intp), np.zeros(grid.shape), np.zeros(grid.shape, bool)
    i = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, n - 2)
    span = t[i + 1] - t[i]
    w = (grid - t[i]) / np.where(span > 0, span, 1.0)
    valid = (grid >= t[0]) & (grid <= t[-1]) & (span <= max_gap)
    return i, np.clip(w, 0.0, 1.0), valid


def interp_linear(t: F64, values: F64, grid: F64, max_gap: float) -> tuple[F64, B]:
    """Values (N, C) sampled at increasing times ``t`` (N,), linearly interpolated at ``grid`` (G,).

    A grid point outside the samples, or between two samples more than ``max_gap`` apart, is
    invalid and holds 0.
    """
    i, w, valid = _bracket(t, grid, max_gap)
    if t.shape[0] < 2:
        return np.zeros((grid.shape[0], values.shape[1])), valid
    out = values[i] * (1.0 - w)[:, None] + values[i + 1] * w[:, None]
    out[~valid] = 0.0
    return out, valid


def slerp(t: F64, quats: F64, grid: F64, max_gap: float) -> tuple[F64, B]:
    """Unit quaternions (N, 4) stored (x, y, z, w) at times ``t``, spherically interpolated at ``grid``.

    Takes the short way round (q and -q are one rotation). Invalid grid points hold the
    identity (0, 0, 0, 1).
    """
    i, w, valid = _bracket(t, grid, max_gap)
    out = np.zeros((grid.shape[0], 4))
    out[:, 3] = 1.0
    if t.shape[0] < 2:
        return out, valid
    q0, q1 = quats[i], quats[i + 1]
    dot = np.einsum("ij,ij->i", q0, q1)
    q1 = np.where((dot < 0)[:, None], -q1, q1)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_theta = np.sin(theta)
    near = sin_theta < 1e-6  # nearly equal: linear blend is exact enough and avoids 0/0
    safe = np.where(near, 1.0, sin_theta)
    a = np.where(near, 1.0 - w, np.sin((1.0 - w) * theta) / safe)
    b = np.where(near, w, np.sin(w * theta) / safe)
    q = q0 * a[:, None] + q1 * b[:, None]
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    out[valid] = q[valid]
    return out, valid


def interp_index(values: npt.NDArray[np.float32], present: B, index: F64) -> tuple[npt.NDArray[np.float32], B]:
    """``values`` (N,) at fractional sample positions ``index`` (G,), linearly.

    Invalid (and 0) where a neighbour is missing (``present`` False) or outside ``[0, N-1]``.
    """
    n = values.shape[0]
    if n < 2:
        return np.zeros(index.shape, np.float32), np.zeros(index.shape, bool)
    i = np.clip(np.floor(index).astype(np.intp), 0, n - 2)
    w = (index - i).astype(np.float32)
    valid = (index >= 0) & (index <= n - 1) & present[i] & present[i + 1]
    out = values[i] * (1.0 - w) + values[i + 1] * w
    out[~valid] = 0.0
    return out.astype(np.float32, copy=False), valid
