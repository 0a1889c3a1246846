"""One small CNN per modality, each mapping its preprocessed input to a ``(B, D)`` feature.

Sized for an edge GPU and a fast CPU forward: three or four strided convolutions with
BatchNorm (folded into the convolution at export) and ReLU, then global average pooling and a
linear projection to D. Each stays well under 100k parameters at D = 64.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from robofuse.model.preprocess import CameraPreprocess, ImuPreprocess, LidarPreprocess, LogMel


def conv2d_block(
    in_ch: int, out_ch: int, stride: int | tuple[int, int], padding: int | tuple[int, int] = 1
) -> nn.Sequential:
    """3x3 convolution (no bias: BatchNorm has one), BatchNorm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=padding, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


def conv1d_block(in_ch: int, out_ch: int, stride: int) -> nn.Sequential:
    """Width-5 temporal convolution, BatchNorm, ReLU."""
    return nn.Sequential(
        nn.Conv1d(in_ch, out_ch, 5, stride=stride, padding=2, bias=False),
        nn.BatchNorm1d(out_ch),
        nn.ReLU(inplace=True),
    )


class CameraEncoder(nn.Module):
    """Camera CNN: four stride-2 blocks, global average pool, linear.

    Shape:
        - Input: :math:`(B, H, W, 3)` float32 pixel values 0-255 (48 x 64 at training resolution).
        - Output: :math:`(B, D)`.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.pre = CameraPreprocess()
        self.convs = nn.Sequential(
            conv2d_block(3, 16, 2), conv2d_block(16, 32, 2), conv2d_block(32, 64, 2), conv2d_block(64, 64, 2)
        )
        self.out = nn.Linear(64, dim)

    def forward(self, x: Tensor) -> Tensor:
        """Encode a batch of images."""
        h: Tensor = self.convs(self.pre(x))  # (B, 64, H/16, W/16)
        feat: Tensor = self.out(h.mean(dim=(2, 3)))  # (B, D)
        return feat


class CircularConv2d(nn.Module):
    """3x3 conv block that wraps around along azimuth (the last axis) and zero-pads elevation.

    A spinning LIDAR's first and last columns are neighbours. The wrap is an explicit
    concatenation rather than ``padding_mode="circular"``, which would also wrap elevation.

    Shape:
        - Input: :math:`(B, C_{in}, R, C)`.
        - Output: :math:`(B, C_{out}, R', C')` with the stride applied.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int | tuple[int, int]) -> None:
        super().__init__()
        self.block = conv2d_block(in_ch, out_ch, stride, padding=(1, 0))

    def forward(self, x: Tensor) -> Tensor:
        """Wrap one column on each side, then convolve."""
        wrapped = torch.cat([x[..., -1:], x, x[..., :1]], dim=-1)  # (B, C_in, R, C + 2)
        out: Tensor = self.block(wrapped)
        return out


class LidarEncoder(nn.Module):
    """LIDAR range-image CNN with circular padding along azimuth.

    Shape:
        - Input: :math:`(B, R, C)` ranges in metres (16 x 360 at training resolution).
        - Output: :math:`(B, D)`.
    """

    def __init__(self, dim: int, residual: bool = False) -> None:
        super().__init__()
        self.pre = LidarPreprocess(residual)
        self.convs = nn.Sequential(
            CircularConv2d(self.pre.channels, 16, (1, 2)),
            CircularConv2d(16, 32, 2),
            CircularConv2d(32, 64, 2),
            CircularConv2d(64, 64, 2),
        )
        self.out = nn.Linear(64, dim)

    def forward(self, x: Tensor) -> Tensor:
        """Encode a batch of range images."""
        h: Tensor = self.convs(self.pre(x))  # (B, 64, R/8, C/16)
        feat: Tensor = self.out(h.mean(dim=(2, 3)))  # (B, D)
        return feat


class ImuEncoder(nn.Module):
    """IMU 1-D CNN over time on the 10 gravity-scaled channels (9 with ``heading_free``, see :class:`ImuPreprocess`).

    Shape:
        - Input: :math:`(B, T, 10)` (T = 200 at training resolution).
        - Output: :math:`(B, D)`.
    """

    def __init__(self, dim: int, heading_free: bool = False) -> None:
        super().__init__()
        self.pre = ImuPreprocess(heading_free)
        self.convs = nn.Sequential(
            conv1d_block(self.pre.channels, 32, 2), conv1d_block(32, 64, 2), conv1d_block(64, 64, 2)
        )
        self.out = nn.Linear(64, dim)

    def forward(self, x: Tensor) -> Tensor:
        """Encode a batch of IMU windows."""
        h: Tensor = self.convs(self.pre(x))  # (B, 64, T/8)
        feat: Tensor = self.out(h.mean(dim=2))  # (B, D)
        return feat


class AudioEncoder(nn.Module):
    """Audio CNN on the log-mel spectrogram, which it computes itself (see :class:`LogMel`).

    Shape:
        - Input: :math:`(B, N)` samples at 16 kHz (8000 at training resolution).
        - Output: :math:`(B, D)`.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.pre = LogMel()
        # the log-mel spans about -14 (silence) to +10; BatchNorm centres it before the first conv
        self.norm = nn.BatchNorm2d(1)
        self.convs = nn.Sequential(conv2d_block(1, 16, 2), conv2d_block(16, 32, 2), conv2d_block(32, 64, 2))
        self.out = nn.Linear(64, dim)

    def forward(self, x: Tensor) -> Tensor:
        """Encode a batch of audio windows."""
        h: Tensor = self.convs(self.norm(self.pre(x)))  # (B, 64, 5, 6)
        feat: Tensor = self.out(h.mean(dim=(2, 3)))  # (B, D)
        return feat
