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
import warnings
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
        # torch's reference is the second call, not the first: in a fresh process with several
        # threads, the first vectorized exp/log/sqrt/tanh has returned one thread's share with
        # relative errors near 3e-4 (torch 2.13 CPU on the 2-core development VM, in 10 of 80
        # fresh processes, never on a second call: bench/first_call_precision.py). Through the
        # IMU's quaternion normalization that moved the logits by 1.8e-4 and failed 3 of 12 exports.
        model(*inputs)
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
        "preprocessing": preprocessing_spec(mc.imu_heading_free),
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


def preprocessing_spec(imu_heading_free: bool) -> dict[str, Any]:
    """The sidecar's ``preprocessing``: :data:`PREPROCESSING`, with the IMU's orientation as the model reads it.

    A heading-free model (``FusionModelConfig.imu_heading_free``) turns the quaternion into the
    body-frame gravity direction inside the graph; a runtime feeding the graph still passes the
    quaternion, but someone reading the sidecar should know the heading never reaches the model.
    """
    if not imu_heading_free:
        return PREPROCESSING
    imu = {
        **PREPROCESSING["imu"],
        "normalize": "gyro / gyro_scale, accel / accel_scale, quaternion normalized and turned into the "
        "gravity direction in the body frame (R(q)^T e_z): tilt kept, heading dropped",
    }
    return {**PREPROCESSING, "imu": imu}


FP16_SUFFIX = ".fp16.onnx"
# Max abs difference allowed between the FP16 graph and the float32 one on any output (probabilities
# and gates in [0, 1]). Measured on the default model: 0.023 (terrain) at worst over 1000 random
# windows with random masks in ONNX Runtime CPU; about twice that leaves margin for retrained models.
FP16_TOLERANCE = 5e-2
_FLOAT, _FLOAT16 = 1, 10  # onnx.TensorProto.FLOAT / FLOAT16 element types


def fp16_path(onnx_path: str | Path) -> Path:
    """Where the FP16 graph of ``model.onnx`` lives: ``model.fp16.onnx`` beside it."""
    path = Path(onnx_path)
    return path.with_name(path.stem + FP16_SUFFIX)


def export_fp16(onnx_path: str | Path, out_path: str | Path | None = None) -> tuple[Path, dict[str, float]]:
    """Write an FP16 copy of a checked float32 ONNX graph, inputs and outputs kept float32.

    For TensorRT 11's strongly typed networks, where FP16 comes from the graph rather than a
    builder flag. The converted graph must agree with the float32 one in ONNX Runtime (CPU) on
    :func:`random_feeds` within :data:`FP16_TOLERANCE`, else nothing is written.

    Returns:
        The written path (default ``model.fp16.onnx`` beside the input) and the max abs
        difference per output.

    Raises:
        EngineError: onnx/onnxconverter-common missing, the graph unreadable, or the FP16 graph
            disagreeing with the float32 one.
    """
    src = Path(onnx_path)
    out = Path(out_path) if out_path is not None else fp16_path(src)
    try:
        import onnx
    except ImportError:
        raise EngineError("FP16 export needs onnx: pip install 'robofuse[train]'") from None
    try:
        model = onnx.load(str(src))
    except Exception as err:  # protobuf decode errors have several kinds
        raise EngineError(f"cannot read ONNX model {src}: {err}") from None
    converted = to_fp16_graph(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        candidate = Path(tmp) / out.name
        onnx.save(converted, str(candidate))
        diffs = compare_graphs(src, candidate)
        worst = max(diffs, key=lambda k: diffs[k])
        if not diffs[worst] <= FP16_TOLERANCE:
            raise EngineError(
                f"FP16 graph disagrees with {src}: output {worst!r} differs by {diffs[worst]:.3g} "
                f"(tolerance {FP16_TOLERANCE}); {out} was not written; use fp32"
            )
        os.replace(candidate, out)
    return out, diffs


def to_fp16_graph(model: Any) -> Any:
    """The model with every float32 tensor inside made float16, graph inputs and outputs float32.

    ``convert_float_to_float16(keep_io_types=True)`` (onnxconverter-common 1.16) leaves type
    errors on this graph (a graph output also consumed inside, a Cast to float writing an output),
    so the whole graph is converted and the float32 I/O casts are added here instead.
    """
    import onnx
    from onnx import helper

    try:
        from onnxconverter_common import float16
    except ImportError:
        raise EngineError("FP16 export needs onnxconverter-common: pip install 'robofuse[train]'") from None
    model = onnx.ModelProto.FromString(model.SerializeToString())
    del model.graph.value_info[:]  # the exporter's recorded types go stale once converted; re-inferred
    float_inputs = [v.name for v in model.graph.input if v.type.tensor_type.elem_type == _FLOAT]
    float_outputs = [v.name for v in model.graph.output if v.type.tensor_type.elem_type == _FLOAT]
    with warnings.catch_warnings():  # it warns for every constant clamped to float16's range
        warnings.simplefilter("ignore", UserWarning)
        half = float16.convert_float_to_float16(model, keep_io_types=False, disable_shape_infer=False)
    graph = half.graph
    for node in graph.node:  # Casts to float32 inside (bool -> float) must now cast to float16
        for attr in node.attribute:
            if node.op_type == "Cast" and attr.name == "to" and attr.i == _FLOAT:
                attr.i = _FLOAT16
    casts = []
    for name in float_inputs:
        inner = f"{name}__fp16"
        _rename_uses(graph, name, inner)
        casts.append(helper.make_node("Cast", [name], [inner], to=_FLOAT16, name=f"{inner}_cast"))
    for name in float_outputs:
        inner = f"{name}__fp16"
        _rename_uses(graph, name, inner)
        for node in graph.node:
            node.output[:] = [inner if o == name else o for o in node.output]
        graph.node.append(helper.make_node("Cast", [inner], [name], to=_FLOAT, name=f"{name}_cast"))
    for i, cast in enumerate(casts):
        graph.node.insert(i, cast)
    for value in [*graph.input, *graph.output]:
        if value.name in float_inputs or value.name in float_outputs:
            value.type.tensor_type.elem_type = _FLOAT
    del graph.value_info[:]
    half = onnx.shape_inference.infer_shapes(half, strict_mode=True)
    onnx.checker.check_model(half)
    return half


def _rename_uses(graph: Any, old: str, new: str) -> None:
    """Every node input that reads ``old`` reads ``new`` instead."""
    for node in graph.node:
        node.input[:] = [new if i == old else i for i in node.input]


def random_feeds(session: Any, batch: int, seed: int = 0) -> dict[str, np.ndarray[Any, Any]]:
    """Plausible raw windows for a session's inputs: pixels 0-255, ranges 0-50 m, unit noise, random masks."""
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray[Any, Any]] = {}
    for inp in session.get_inputs():
        shape = (batch, *inp.shape[1:])
        if inp.name == "camera":
            value = rng.integers(0, 256, shape).astype(np.float32)
        elif inp.name == "lidar":
            value = rng.uniform(0.0, 50.0, shape).astype(np.float32) * (rng.random(shape) < 0.9)
        elif inp.name == "audio":
            value = rng.uniform(-1.0, 1.0, shape).astype(np.float32)
        elif inp.name == "mask":
            value = (rng.random(shape) < 0.6).astype(np.float32)
            value[0], value[-1] = 0.0, 1.0
        else:
            value = rng.standard_normal(shape).astype(np.float32)
        feeds[inp.name] = value
    return feeds


def compare_graphs(reference: Path, candidate: Path, batch: int = CHECK_BATCH * 4) -> dict[str, float]:
    """Max abs difference per output between two ONNX graphs in ONNX Runtime (CPU) on :func:`random_feeds`."""
    import onnxruntime as ort

    ref = ort.InferenceSession(str(reference), providers=["CPUExecutionProvider"])
    try:
        cand = ort.InferenceSession(str(candidate), providers=["CPUExecutionProvider"])
    except Exception as err:  # an op ORT's CPU provider has no float16 kernel for, or a type error
        raise EngineError(f"ONNX Runtime cannot load the converted graph: {err}") from None
    feeds = random_feeds(ref, batch)
    names = [o.name for o in ref.get_outputs()]
    expected = ref.run(names, feeds)
    got = cand.run(names, feeds)
    return {name: max_abs_diff(e, g) for name, e, g in zip(names, expected, got, strict=True)}
