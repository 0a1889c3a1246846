"""Export a trained FusionModel to ONNX, checked against torch, with its JSON sidecar.

The graph holds the preprocessing (camera scaling, LIDAR log range, IMU units, audio
log-mel), so an engine feeds raw window inputs. Nothing is written unless onnxruntime,
running the exported graph on random windows with random masks, agrees with torch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robofuse import __version__
from robofuse.errors import EngineError
from robofuse.messages import MODALITIES
from robofuse.model import preprocess as pp
from robofuse.model.fusion_model import INPUT_NAMES, FusionModel
from robofuse.train.config import TrainConfig

SIDECAR_FORMAT = "robofuse-model/1"
TOLERANCE = 1e-4  # max abs difference allowed between onnxruntime and torch on any output
CHECK_BATCH = 16


def export_onnx(model: FusionModel, config: TrainConfig, path: str | Path, metrics: dict[str, float]) -> Path:
    """Write ``path`` (ONNX) and ``<name>.json`` (sidecar) for ``model``, in eval mode; returns the sidecar's path.

    Raises:
        EngineError: the exported graph disagrees with torch by more than :data:`TOLERANCE`,
            or the export itself failed; nothing is written then.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        candidate = Path(tmp) / path.name
        export_graph(model, candidate)
        diffs = compare(model, candidate)
        worst = max(diffs, key=lambda k: diffs[k])
        if not diffs[worst] <= TOLERANCE:
            raise EngineError(
                f"exported ONNX disagrees with torch: output {worst!r} differs by {diffs[worst]:.3g} "
                f"(tolerance {TOLERANCE}); {path} was not written"
            )
        os.replace(candidate, path)
    sidecar = path.with_suffix(".json")
    sidecar.write_text(json.dumps(describe(model, config, path, metrics, diffs), indent=2) + "\n")
    return sidecar


def export_graph(model: FusionModel, path: Path) -> None:
    """Write the model's ONNX graph (dynamo exporter, weights embedded, batch the only dynamic axis), unchecked."""
    batch = torch.export.Dim("batch", min=1, max=4096)
    try:
        torch.onnx.export(
            model,
            model.example_inputs(2),
            str(path),
            dynamo=True,
            input_names=list(INPUT_NAMES),
            output_names=list(model.config.output_names),
            dynamic_shapes={name: {0: batch} for name in INPUT_NAMES},
            external_data=False,  # one self-contained file: a .onnx.data beside it is easily lost
            verbose=False,
        )
    except Exception as err:  # the exporter raises many kinds; the caller needs one
        raise EngineError(f"ONNX export failed: {err}") from err


def check_inputs(model: FusionModel, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random windows with random masks (including one with nothing present and one with everything)."""
    *inputs, _ = model.example_inputs(CHECK_BATCH, seed)
    g = torch.Generator().manual_seed(seed + 1)
    mask = (torch.rand(CHECK_BATCH, len(MODALITIES), generator=g) < 0.6).float()
    mask[0], mask[1] = 0.0, 1.0
    return (*inputs, mask)


def compare(model: FusionModel, path: Path) -> dict[str, float]:
    """Max abs difference between onnxruntime and torch, per output, on :func:`check_inputs`."""
    import onnxruntime as ort

    inputs = check_inputs(model)
    with torch.inference_mode():
        expected = model(*inputs)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {name: x.numpy() for name, x in zip(INPUT_NAMES, inputs, strict=True)}
    names = list(model.config.output_names)
    got = dict(zip(names, session.run(names, feeds), strict=True))
    return {name: max_abs_diff(expected[name].numpy(), got[name]) for name in names}


def max_abs_diff(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    """Largest absolute difference; infinite on a shape mismatch or any non-finite value."""
    if a.shape != b.shape or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("inf")
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)), initial=0.0))


def describe(
    model: FusionModel, config: TrainConfig, path: Path, metrics: dict[str, float], diffs: dict[str, float]
) -> dict[str, Any]:
    """The sidecar: what an engine needs to feed the graph and read its outputs, and how it was made."""
    mc = model.config
    return {
        "format": SIDECAR_FORMAT,
        "model_file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "robofuse_version": __version__,
        "inputs": [
            {"name": name, "shape": ["batch", *shape], "dtype": "float32"} for name, shape in mc.input_shapes().items()
        ],
        "outputs": [{"name": name, "shape": ["batch", *_output_shape(mc.heads, name)]} for name in mc.output_names],
        "mask_order": [m.value for m in MODALITIES],
        "preprocessing": PREPROCESSING,
        "classes": {head: list(names) for head, names in mc.heads.items()},
        "training": dataclasses.asdict(config),
        "metrics": metrics,
        "export_check": {"tolerance": TOLERANCE, "max_abs_diff": diffs, "windows": CHECK_BATCH},
    }


def _output_shape(heads: dict[str, tuple[str, ...]], name: str) -> list[int]:
    if name in heads:
        return [len(heads[name])]
    return [len(MODALITIES)] if name == "gates" else []


PREPROCESSING: dict[str, Any] = {
    "where": "inside the graph: feed raw window inputs as float32",
    "masked_inputs": "a modality whose mask is 0 is replaced by zeros inside the graph; NaN there is harmless",
    "camera": {
        "layout": "HWC RGB, values 0-255",
        "normalize": "x / 255, then (x - mean) / std per channel",
        "mean": list(pp.CAMERA_MEAN),
        "std": list(pp.CAMERA_STD),
    },
    "lidar": {
        "layout": "rows x 1-degree azimuth columns, metres; 0 means no return",
        "normalize": "channels log1p(clip(r, 0, max)) / log1p(max) and r > 0",
        "max_range_m": pp.LIDAR_MAX_RANGE_M,
    },
    "imu": {
        "layout": "time x (gyro xyz rad/s, accel xyz m/s^2, quaternion xyzw)",
        "normalize": "gyro / gyro_scale, accel / accel_scale, quaternion as is",
        "gyro_scale_radps": pp.GYRO_SCALE_RADPS,
        "accel_scale_mps2": pp.STANDARD_GRAVITY_MPS2,
    },
    "audio": {
        "layout": "mono samples",
        "rate_hz": pp.AUDIO_RATE_HZ,
        "log_mel": {
            "n_fft": pp.N_FFT,
            "hop": pp.HOP,
            "n_mels": pp.N_MELS,
            "fmin_hz": pp.MEL_FMIN_HZ,
            "fmax_hz": pp.MEL_FMAX_HZ,
            "log_floor": pp.LOG_FLOOR,
        },
    },
}
