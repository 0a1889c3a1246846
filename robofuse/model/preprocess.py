"""Fixed input preprocessing, in torch so it is part of the exported graph.

The exported model and the torch reference both run these modules, so no engine can disagree
with another on normalization. Everything here is a constant: registered buffers, no
parameters, nothing learned. The audio log-mel avoids ``torch.stft`` (which does not export
cleanly to ONNX): its STFT is a ``conv1d`` with fixed windowed DFT kernels.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn

# Camera: ImageNet's per-channel statistics. Any fixed choice works (the first conv adapts);
# these keep pretrained-style inputs near zero mean and unit variance on natural images.
CAMERA_MEAN = (0.485, 0.456, 0.406)
CAMERA_STD = (0.229, 0.224, 0.225)

# LIDAR: the simulated rig's maximum range; log1p compresses 0-100 m into [0, 1] with more
# resolution near the robot, where obstacles matter.
LIDAR_MAX_RANGE_M = 100.0

# IMU: gravity scale. Accelerations in units of g (1 at rest), angular rates in units of
# pi rad/s (a ground robot rarely turns faster than 180 deg/s), quaternions already unit.
STANDARD_GRAVITY_MPS2 = 9.80665
GYRO_SCALE_RADPS = math.pi
# Below this norm a quaternion is no orientation (a zero-filled row): the heading-free gravity
# direction then stays finite, and that row's IMU is masked anyway.
QUATERNION_MIN_NORM = 1e-6

# Audio log-mel at 16 kHz: 25 ms window, 10 ms hop, 40 mel bands over 50 Hz-8 kHz.
AUDIO_RATE_HZ = 16_000
N_FFT = 400  # 25 ms at 16 kHz
HOP = 160  # 10 ms at 16 kHz
N_MELS = 40
MEL_FMIN_HZ = 50.0
MEL_FMAX_HZ = 8_000.0
LOG_FLOOR = 1e-6  # log(1e-6 + x): silence maps to about -13.8, never -inf


def hz_to_mel(f: np.ndarray) -> np.ndarray:
    """HTK mel scale."""
    return 2595.0 * np.log10(1.0 + f / 700.0)


def mel_to_hz(m: np.ndarray) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(
    n_mels: int = N_MELS,
    n_fft: int = N_FFT,
    rate_hz: int = AUDIO_RATE_HZ,
    fmin_hz: float = MEL_FMIN_HZ,
    fmax_hz: float = MEL_FMAX_HZ,
) -> np.ndarray:
    """Triangular mel filters (peak 1) on the rFFT bins, as a ``(n_mels, n_fft // 2 + 1)`` float32 matrix.

    Band ``j`` rises from edge ``j`` to its centre ``j + 1`` and falls to edge ``j + 2``, the
    ``n_mels + 2`` edges spaced evenly on the mel scale from ``fmin_hz`` to ``fmax_hz``.
    """
    edges = mel_to_hz(np.linspace(hz_to_mel(np.array(fmin_hz)), hz_to_mel(np.array(fmax_hz)), n_mels + 2))
    bins = np.arange(n_fft // 2 + 1) * rate_hz / n_fft  # (F,) bin frequencies in Hz
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]  # (n_mels, 1) each
    rising = (bins - lo) / (mid - lo)
    falling = (hi - bins) / (hi - mid)
    weights: np.ndarray = np.clip(np.minimum(rising, falling), 0.0, None).astype(np.float32)
    return weights  # (n_mels, F)


def dft_kernels(n_fft: int = N_FFT) -> np.ndarray:
    """Hann-windowed real DFT as conv1d weights: cosines then sines, ``(2 * (n_fft // 2 + 1), 1, n_fft)``."""
    n = np.arange(n_fft)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / n_fft)  # periodic Hann, as torch.hann_window
    k = np.arange(n_fft // 2 + 1)[:, None]  # (F, 1)
    phase = 2.0 * np.pi * k * n / n_fft  # (F, n_fft)
    kernels = np.concatenate([np.cos(phase) * window, -np.sin(phase) * window])  # (2F, n_fft)
    return kernels[:, None, :].astype(np.float32)


class CameraPreprocess(nn.Module):
    """Camera pixel values (0-255, HWC, as float32) to normalized CHW.

    Shape:
        - Input: :math:`(B, H, W, 3)` float32 holding uint8 values.
        - Output: :math:`(B, 3, H, W)`.
    """

    mean: Tensor
    std: Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(CAMERA_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(CAMERA_STD).view(1, 3, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        """Scale to [0, 1], move channels first, normalize per channel."""
        x = x.permute(0, 3, 1, 2) / 255.0  # (B, 3, H, W)
        return (x - self.mean) / self.std


class LidarPreprocess(nn.Module):
    """Range image in metres to ``[log1p(range) / log1p(max), valid]`` channels.

    A range of 0 means "no return"; it stays 0 in the range channel (log1p(0) = 0) and the
    validity channel tells it apart from a very near return.

    Shape:
        - Input: :math:`(B, R, C)` ranges in metres (rows, azimuth columns).
        - Output: :math:`(B, 2, R, C)`.
    """

    def __init__(self, residual: bool = False) -> None:
        super().__init__()
        self.residual = residual
        self.channels = 3 if residual else 2

    def forward(self, x: Tensor) -> Tensor:
        """Compress the ranges and add the validity channel (and the roughness residual if asked)."""
        r = x.clamp(0.0, LIDAR_MAX_RANGE_M)
        scaled = torch.log1p(r) / math.log1p(LIDAR_MAX_RANGE_M)  # (B, R, C) in [0, 1]
        valid = (r > 0).to(x.dtype)  # (B, R, C)
        if not self.residual:
            return torch.stack([scaled, valid], dim=1)  # (B, 2, R, C)
        return torch.stack([scaled, valid, azimuth_residual(r, valid)], dim=1)  # (B, 3, R, C)


# Relative second difference along azimuth, scaled so ground roughness of 1-3 cm at 2-10 m
# (a 1-10% range change on a grazing ring) spans about [-1, 1]; clipped so edges do not dominate.
RESIDUAL_SCALE = 20.0


def azimuth_residual(r: Tensor, valid: Tensor) -> Tensor:
    """``(r - mean of its azimuth neighbours) / r``, scaled and clipped; 0 where any of the three has no return.

    The log-compressed range channel keeps the metre-scale layout; ground roughness moves a
    grazing ring's range by centimetres, 0.4% of that channel. This high-pass channel isolates it.
    """
    left, right = torch.roll(r, 1, dims=-1), torch.roll(r, -1, dims=-1)  # azimuth wraps
    ok = valid * torch.roll(valid, 1, dims=-1) * torch.roll(valid, -1, dims=-1)
    rel = (r - 0.5 * (left + right)) / r.clamp(min=0.5)
    return (rel * RESIDUAL_SCALE).clamp(-1.0, 1.0) * ok


class ImuPreprocess(nn.Module):
    """IMU rows (gyro xyz rad/s, accel xyz m/s^2, quaternion xyzw) to gravity-scaled channels.

    With ``heading_free`` the orientation quaternion (body to world) becomes the gravity direction
    in the body frame, ``R(q)^T e_z``: the robot's tilt without its heading. The heading is where
    the robot happens to point, which says nothing about the ground under it, yet a model can
    memorise it per training world (docs/evaluation/candidates, round 5: noising only the
    quaternion raises the shipped model's accuracy on unseen worlds).

    Shape:
        - Input: :math:`(B, T, 10)`.
        - Output: :math:`(B, C, T)`, channels first for ``conv1d``; C = 10, or 9 with ``heading_free``.
    """

    scale: Tensor

    def __init__(self, heading_free: bool = False) -> None:
        super().__init__()
        self.heading_free = heading_free
        scale = [GYRO_SCALE_RADPS] * 3 + [STANDARD_GRAVITY_MPS2] * 3 + [1.0] * 4
        self.register_buffer("scale", torch.tensor(scale).view(1, 10, 1))

    @property
    def channels(self) -> int:
        """How many channels :meth:`forward` returns."""
        return 9 if self.heading_free else 10

    def forward(self, x: Tensor) -> Tensor:
        """Divide each channel by its scale (and swap the quaternion for the body-frame gravity direction)."""
        scaled = x.transpose(1, 2) / self.scale  # (B, 10, T)
        if not self.heading_free:
            return scaled
        # noise augmentation and a driver's rounding leave the quaternion off unit length, and R(q)'s
        # formula is a rotation only for unit q: normalize, or the "direction" grows with |q|^2
        quat = scaled[:, 6:10]  # (B, 4, T)
        # clamp before the sqrt: a zero-filled row then has a finite gradient, not inf * 0
        quat = quat / quat.square().sum(dim=1, keepdim=True).clamp(min=QUATERNION_MIN_NORM**2).sqrt()
        qx, qy, qz, qw = quat[:, 0], quat[:, 1], quat[:, 2], quat[:, 3]  # (B, T) each
        gravity = torch.stack(  # the third row of R(q): invariant to any rotation about the world's z
            [2 * (qx * qz - qw * qy), 2 * (qy * qz + qw * qx), 1 - 2 * (qx * qx + qy * qy)], dim=1
        )
        return torch.cat([scaled[:, :6], gravity], dim=1)  # (B, 9, T)


class LogMel(nn.Module):
    """Audio samples to a log-mel spectrogram: framed DFT as conv1d, power, mel matrix, log.

    No centering or padding: ``frames = 1 + (N - n_fft) // hop`` (48 for 0.5 s at 16 kHz).

    Shape:
        - Input: :math:`(B, N)` samples at 16 kHz.
        - Output: :math:`(B, 1, \\text{n\\_mels}, \\text{frames})`.
    """

    dft: Tensor
    mel: Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("dft", torch.from_numpy(dft_kernels()))
        self.register_buffer("mel", torch.from_numpy(mel_filterbank()))
        self.n_bins = N_FFT // 2 + 1

    def forward(self, x: Tensor) -> Tensor:
        """Compute the log-mel spectrogram."""
        spec = F.conv1d(x.unsqueeze(1), self.dft, stride=HOP)  # (B, 2F, frames)
        re, im = spec[:, : self.n_bins], spec[:, self.n_bins :]  # (B, F, frames) each
        power = re * re + im * im  # (B, F, frames)
        mel = torch.matmul(self.mel, power)  # (B, n_mels, frames)
        return torch.log(LOG_FLOOR + mel).unsqueeze(1)  # (B, 1, n_mels, frames)
