"""FusionModel: per-modality encoders, a masked fusion layer and the task heads."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from robofuse.fusion.factory import FusionConfig, FusionKind, make_fusion
from robofuse.labels import TERRAIN_NAMES
from robofuse.model.encoders import AudioEncoder, CameraEncoder, ImuEncoder, LidarEncoder

INPUT_NAMES: tuple[str, ...] = ("camera", "lidar", "imu", "audio", "mask")  # the export's input names, in order


@dataclass(frozen=True)
class FusionModelConfig:
    """Sizes, fusion kind, heads and the fixed input shapes (without batch) of a FusionModel."""

    dim: int = 64  # each encoder's feature size: 4 x 64 is plenty for 6 terrain classes and 2 events
    fused_dim: int = 64  # what the heads read
    fusion: FusionKind = "gated"  # gates show per-sensor reliance; correct for every subset
    proj_dim: int = 4  # TFN/LMF only, see FusionConfig
    rank: int = 4  # LMF only
    presence_gate: bool = False  # TFN/LMF only, see FusionConfig (False: checkpoints from before it load unchanged)
    terrain_classes: tuple[str, ...] = TERRAIN_NAMES  # asphalt, gravel, grass, sand, tiles, mud
    collision_classes: tuple[str, ...] = ("no_collision", "collision")
    slip_classes: tuple[str, ...] = ("no_slip", "slip")
    camera_shape: tuple[int, int, int] = (48, 64, 3)  # H, W, RGB; pixel values 0-255 as float32
    lidar_shape: tuple[int, int] = (16, 360)  # rows, 1-degree azimuth columns; metres
    imu_shape: tuple[int, int] = (200, 10)  # 1 s at 200 Hz; gyro, accel, quaternion xyzw
    audio_shape: tuple[int] = (8000,)  # 0.5 s at 16 kHz
    lidar_residual: bool = False  # a third LIDAR channel: the ranges' high-pass residual (ground roughness)
    imu_heading_free: bool = False  # the IMU's tilt without its heading (see ImuPreprocess); False: older checkpoints
    # the trunk also reads which sensors are present (4 more inputs): one fused vector has to serve
    # 15 subsets whose gated sums look nothing alike; this lets the heads decode each its own way
    # (docs/evaluation/candidates, round 11). False: older checkpoints load unchanged
    trunk_reads_mask: bool = False

    @property
    def heads(self) -> dict[str, tuple[str, ...]]:
        """Head name to its class names, in output order."""
        return {"terrain": self.terrain_classes, "collision": self.collision_classes, "slip": self.slip_classes}

    @property
    def output_names(self) -> tuple[str, ...]:
        """The model's outputs, in the order the export lists them."""
        return (*self.heads, "gates", "usable")

    def input_shapes(self) -> dict[str, tuple[int, ...]]:
        """Each named input's shape without the batch axis (the mask is ``(4,)``)."""
        return {
            "camera": self.camera_shape,
            "lidar": self.lidar_shape,
            "imu": self.imu_shape,
            "audio": self.audio_shape,
            "mask": (4,),
        }


class FusionModel(nn.Module):
    """Encoders for camera, LIDAR, IMU and audio, a masked fusion layer, and classification heads.

    Every encoder runs on every input (fixed shapes for export), but a masked modality's input
    is replaced by zeros before its encoder (``torch.where``, so NaN or inf cannot leak through,
    and BatchNorm's training statistics never see it) and its features are then excluded by the
    fusion layer's own masking. So a masked modality's input cannot move any output, and with
    every modality masked the outputs are finite and ``usable`` is 0.

    Args:
        config: sizes, fusion kind and heads.

    Shape:
        - camera: :math:`(B, 48, 64, 3)`; lidar: :math:`(B, 16, 360)`; imu: :math:`(B, 200, 10)`;
          audio: :math:`(B, 8000)`; mask: :math:`(B, 4)` float, 1 present, in that order.
        - Output: a dict with logits ``terrain`` :math:`(B, 6)`, ``collision`` :math:`(B, 2)`,
          ``slip`` :math:`(B, 2)`; ``gates`` :math:`(B, 4)`, each present modality's share of the
          fused features (0 where masked); ``usable`` :math:`(B,)` float, 0 when nothing was present.
    """

    def __init__(self, config: FusionModelConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or FusionModelConfig()
        d = config.dim
        self.encoders = nn.ModuleList(
            [
                CameraEncoder(d),
                LidarEncoder(d, config.lidar_residual),
                ImuEncoder(d, config.imu_heading_free),
                AudioEncoder(d),
            ]
        )
        self.fusion = make_fusion(
            FusionConfig(
                kind=config.fusion,
                modalities=4,
                dim=d,
                out_dim=config.fused_dim,
                proj_dim=config.proj_dim,
                rank=config.rank,
                presence_gate=config.presence_gate,
            )
        )
        # one shared hidden layer: the gated sum is linear in each modality's tanh features
        trunk_in = config.fused_dim + (4 if config.trunk_reads_mask else 0)
        self.trunk = nn.Sequential(nn.Linear(trunk_in, config.fused_dim), nn.ReLU(inplace=True))
        self.heads = nn.ModuleDict({name: nn.Linear(config.fused_dim, len(cls)) for name, cls in config.heads.items()})

    def forward(self, camera: Tensor, lidar: Tensor, imu: Tensor, audio: Tensor, mask: Tensor) -> dict[str, Tensor]:
        """Encode every modality, fuse the present ones, classify."""
        return self.classify(self.encode(camera, lidar, imu, audio, mask), mask)

    def encode(self, camera: Tensor, lidar: Tensor, imu: Tensor, audio: Tensor, mask: Tensor) -> Tensor:
        """Each modality's features, a masked modality's input zeroed first: :math:`(B, M, D)`.

        In eager mode on the CPU, or in training on any device, a modality masked in the whole batch
        skips its encoder and gets zero features (the fusion layer ignores them either way); a
        specialist trained on one sensor then costs that sensor's encoder only, and the others'
        weights get no gradient, so weight decay leaves them alone. Traced and exported graphs
        always run every encoder.
        """
        present = mask > 0.5  # (B, M)
        tracing = torch.jit.is_tracing()  # type: ignore[attr-defined,no-untyped-call]  # untyped in torch's stubs
        # GPU inference skips the check: it would cost a host sync per sensor and break CUDA graph
        # capture; in training the sync is small beside a backward pass
        eager = (mask.device.type == "cpu" or torch.is_grad_enabled()) and not (
            tracing or torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export()
        )
        feats = []
        for i, (encoder, x) in enumerate(zip(self.encoders, (camera, lidar, imu, audio), strict=True)):
            if eager and not bool(present[:, i].any()):
                feats.append(torch.zeros(x.shape[0], self.config.dim, dtype=mask.dtype, device=mask.device))
                continue
            keep = present[:, i].view(-1, *([1] * (x.dim() - 1)))  # (B, 1, ...)
            x = torch.where(keep, x, torch.zeros((), dtype=x.dtype, device=x.device))
            feats.append(encoder(x))  # (B, D)
        return torch.stack(feats, dim=1)  # (B, M, D)

    def classify(self, feats: Tensor, mask: Tensor) -> dict[str, Tensor]:
        """Fuse per-modality features :math:`(B, M, D)` under ``mask`` and run the heads."""
        fused, info = self.fusion(feats, mask)  # (B, M, D) -> (B, fused_dim)
        if self.config.trunk_reads_mask:  # presence as 0/1, whatever the mask's values: (B, fused_dim + M)
            fused = torch.cat([fused, (mask > 0.5).to(fused.dtype)], dim=1)
        h = self.trunk(fused)  # (B, fused_dim)
        out = {name: head(h) for name, head in self.heads.items()}  # (B, classes) each
        out["gates"] = info["weights"]  # (B, M)
        out["usable"] = info["usable"].to(fused.dtype)  # (B,)
        return out

    def count_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def example_inputs(self, batch: int = 1, seed: int = 0) -> tuple[Tensor, ...]:
        """Random inputs of the configured shapes, in :data:`INPUT_NAMES` order, every modality present."""
        g = torch.Generator().manual_seed(seed)
        shapes = self.config.input_shapes()
        camera = torch.randint(0, 256, (batch, *shapes["camera"]), generator=g).float()
        lidar = torch.rand((batch, *shapes["lidar"]), generator=g) * 100.0
        imu = torch.randn((batch, *shapes["imu"]), generator=g)
        audio = torch.randn((batch, *shapes["audio"]), generator=g) * 0.1
        return camera, lidar, imu, audio, torch.ones(batch, 4)
