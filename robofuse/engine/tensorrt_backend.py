"""TensorRT backend: builds (or loads a cached) serialized plan from the ONNX file and runs it on CUDA.

TensorRT 10.x (JetPack 6) and 11.x are supported. FP16 differs between them: 10.x takes the
float32 graph and ``BuilderFlag.FP16``; 11.x removed that flag (networks are always strongly
typed, per the TensorRT 10.x-to-11.x migration guide), so FP16 there needs an FP16 graph,
``model.fp16.onnx`` beside the model, as ``robofuse export --precision fp16`` writes it.

Buffers are torch CUDA tensors (torch ships on Jetson images and as a CUDA wheel elsewhere), so
no pycuda or cuda-python is needed. ``tensorrt`` and ``torch`` are imported only when this backend
is selected; everything here that needs no GPU lives in :mod:`~robofuse.engine.plan_cache` and
:mod:`~robofuse.engine.onnx_io` and is tested everywhere.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from robofuse.engine.base import Arrays, Engine, EngineConfig
from robofuse.engine.onnx_io import ModelIO, TensorInfo, check_io_names, read_onnx_io
from robofuse.engine.plan_cache import (
    PlanKey,
    default_cache_dir,
    discard_plan,
    load_plan,
    model_sha256,
    plan_path,
    store_plan,
)
from robofuse.errors import EngineError

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "TensorRT is not installed (the Python module 'tensorrt' cannot be imported). On a Jetson it ships with "
    "JetPack: sudo apt install nvidia-tensorrt (or python3-libnvinfer), then use the system Python 3 or a venv "
    "created with --system-site-packages so that it sees the system's tensorrt. On an x86 machine with a CUDA GPU: "
    "pip install tensorrt. Without a GPU, use backend 'onnxruntime'."
)
WORKSPACE_BYTES = 1 << 30  # builder scratch memory; 1 GiB fits an 8 GB Orin Nano beside the robot's other work
MIN_TENSORRT_MAJOR = 10

# TensorRT DataType member names -> numpy-style names (as onnx_io reports ONNX types).
_TRT_DTYPES: dict[str, str] = {
    "FLOAT": "float32",
    "HALF": "float16",
    "BF16": "bfloat16",
    "BOOL": "bool",
    "INT64": "int64",
    "INT32": "int32",
    "INT8": "int8",
    "UINT8": "uint8",
}


def import_tensorrt() -> Any:
    """The ``tensorrt`` module, or EngineError with :data:`INSTALL_HINT`."""
    try:
        import tensorrt as trt
    except (ImportError, OSError) as err:  # OSError: the module is there but libnvinfer.so is not
        detail = "" if isinstance(err, ModuleNotFoundError) else f" ({err})"
        raise EngineError(INSTALL_HINT + detail) from None
    return trt


def tensorrt_major(version: str) -> int:
    """The major version of a TensorRT version string ("10.3.0" -> 10).

    Raises:
        EngineError: the string does not start with a number.
    """
    head = str(version).split(".")[0]
    if not head.isdigit():
        raise EngineError(f"cannot read the TensorRT version {version!r}")
    return int(head)


def trt_dtype_name(dtype: Any) -> str:
    """A TensorRT ``DataType`` (or its name, "DataType.HALF" / "HALF") as a numpy-style name ("float16")."""
    name = str(getattr(dtype, "name", dtype)).split(".")[-1].upper()
    return _TRT_DTYPES.get(name, name.lower())


def onnx_for_precision(model: Path, precision: str, major: int) -> Path:
    """The ONNX file TensorRT parses: the model itself, or on TensorRT >= 11 with FP16 its FP16 graph.

    Raises:
        EngineError: FP16 on TensorRT 11 and no ``<stem>.fp16.onnx`` beside the model.
    """
    if precision != "fp16" or major < 11:
        return model
    half = model.with_name(model.stem + ".fp16.onnx")
    if not half.is_file():
        raise EngineError(
            f"TensorRT {major}.x has no FP16 builder flag (its networks are strongly typed): FP16 needs an FP16 "
            f"graph at {half}. Write it with robofuse export --precision fp16, or in Python with "
            f"robofuse.train.export.export_fp16({str(model)!r}); or use precision fp32"
        )
    return half


def _import_torch_cuda() -> Any:
    try:
        import torch
    except ImportError:
        raise EngineError(
            "the tensorrt backend keeps its buffers in torch CUDA tensors and torch is not installed: on a Jetson "
            "install NVIDIA's JetPack torch wheel, elsewhere a CUDA build of torch"
        ) from None
    if not torch.cuda.is_available():
        raise EngineError(
            f"the tensorrt backend needs a CUDA GPU visible to torch; torch {torch.__version__} sees none "
            f"(built for CUDA {torch.version.cuda}): install a CUDA build of torch, check the driver, "
            "or use backend 'onnxruntime'"
        )
    return torch


def _sidecar_spec(model: Path) -> dict[str, tuple[int, ...]] | None:
    """The input spec the model's JSON sidecar describes, when one lies beside the (float32) model."""
    sidecar = model.with_suffix(".json")
    if not sidecar.is_file():
        return None
    try:
        inputs = json.loads(sidecar.read_text())["inputs"]
        return {str(i["name"]): tuple(int(d) for d in i["shape"][1:]) for i in inputs}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise EngineError(
            f"cannot read the model's sidecar {sidecar}: {err!r}; re-export it with robofuse export"
        ) from None


class TrtEngine(Engine):
    """A TensorRT engine for an exported robofuse ONNX model, built once per GPU/TensorRT/precision and cached.

    ``build_seconds`` is how long this construction spent building (0.0 when the plan came from
    the cache); ``plan_path`` is the cached plan's path. ``opt_batch`` is the batch size the
    optimization profile tunes for (1: one window at a time, the robot's case); batches from 1 to
    ``config.max_batch`` run.
    """

    def __init__(self, config: EngineConfig, opt_batch: int = 1) -> None:
        trt = import_tensorrt()
        version = str(trt.__version__)
        major = tensorrt_major(version)
        if major < MIN_TENSORRT_MAJOR:
            raise EngineError(
                f"TensorRT {version} is too old: robofuse needs {MIN_TENSORRT_MAJOR}.x or newer (JetPack 6 ships 10.x)"
            )
        torch = _import_torch_cuda()
        if not config.model.is_file():
            raise EngineError(f"model file {config.model} does not exist; export one with robofuse export") from None
        self._trt, self._torch = trt, torch
        self.precision = config.precision
        self.max_batch = config.max_batch
        self.onnx_path = onnx_for_precision(config.model, config.precision, major)
        self._onnx_io = read_onnx_io(self.onnx_path)
        self.input_spec = self._onnx_io.input_spec()
        self._robofuse_spec = _sidecar_spec(config.model)
        self._device = torch.device("cuda", torch.cuda.current_device())
        major_cc, minor_cc = torch.cuda.get_device_capability(self._device)
        self.key = PlanKey(
            model_sha256=model_sha256(self.onnx_path),
            tensorrt_version=version,
            gpu_name=str(torch.cuda.get_device_name(self._device)),
            compute_capability=f"{major_cc}.{minor_cc}",
            precision=config.precision,
            batch_min=1,
            batch_opt=min(max(opt_batch, 1), config.max_batch),
            batch_max=config.max_batch,
        )
        self.plan_path = plan_path(config.plan_cache or default_cache_dir(), self.onnx_path, self.key)
        self._logger = trt.Logger(trt.Logger.WARNING)
        self.build_seconds = 0.0
        self._engine = self._load_or_build()
        self._context = self._engine.create_execution_context()
        if self._context is None:
            raise EngineError("TensorRT could not create an execution context (out of GPU memory?)")
        engine_io = self._engine_io()
        check_io_names(self._onnx_io, engine_io, self._robofuse_spec)
        self._input_names = tuple(t.name for t in engine_io.inputs)
        self.output_names = self._onnx_io.output_names

    def _load_or_build(self) -> Any:
        """A deserialized engine: the cached plan when it fits and TensorRT takes it, else a fresh build."""
        runtime = self._trt.Runtime(self._logger)
        plan = load_plan(self.plan_path, self.key)
        if plan is not None:
            engine = _deserialize(runtime, plan)
            if engine is not None:
                log.info("loaded cached TensorRT plan %s", self.plan_path)
                return engine
            log.warning("TensorRT refused the cached plan %s: discarding it and rebuilding", self.plan_path)
            discard_plan(self.plan_path)
        plan = self._build()
        store_plan(self.plan_path, self.key, plan)
        engine = _deserialize(runtime, plan)
        if engine is None:
            raise EngineError(
                f"TensorRT {self.key.tensorrt_version} built a plan for {self.onnx_path} that it cannot load; "
                "check the TensorRT log above, or use backend 'onnxruntime'"
            )
        return engine

    def _build(self) -> bytes:
        """Parse the ONNX file and build a serialized plan; sets ``build_seconds``."""
        trt = self._trt
        log.warning(
            "building TensorRT plan (%s) for %s: this takes a minute or two on a Jetson Orin; cached afterwards in %s",
            self.precision,
            self.onnx_path.name,
            self.plan_path.parent,
        )
        start = time.perf_counter()
        builder = trt.Builder(self._logger)
        # 10.x: flags 0 is explicit batch (EXPLICIT_BATCH is deprecated and ignored since 10.0).
        # 11.x: networks are always strongly typed (STRONGLY_TYPED is deprecated and ignored), so
        # tensor types, FP16 included, come from the (FP16) graph chosen by onnx_for_precision.
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, self._logger)
        if not parser.parse_from_file(str(self.onnx_path)):
            errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
            raise EngineError(
                f"TensorRT's ONNX parser rejected {self.onnx_path}: {'; '.join(errors) or 'no reason given'}; "
                "re-export it with robofuse export"
            )
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
        if self.precision == "fp16" and tensorrt_major(self.key.tensorrt_version) < 11:
            config.set_flag(trt.BuilderFlag.FP16)  # weak typing: 10.x only; removed in 11.x
        profile = builder.create_optimization_profile()
        for i in range(network.num_inputs):
            tensor = network.get_input(i)
            rest = tuple(int(d) for d in tuple(tensor.shape)[1:])
            profile.set_shape(
                tensor.name, (self.key.batch_min, *rest), (self.key.batch_opt, *rest), (self.key.batch_max, *rest)
            )
        config.add_optimization_profile(profile)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise EngineError(
                f"TensorRT could not build {self.onnx_path} ({self.precision}); see its log above, "
                "or use precision fp32 / backend 'onnxruntime'"
            )
        self.build_seconds = time.perf_counter() - start
        log.warning("built TensorRT plan in %.1f s: %s", self.build_seconds, self.plan_path)
        return bytes(serialized)

    def _engine_io(self) -> ModelIO:
        """The engine's I/O tensors by the name-based API (TensorRT >= 8.5; the only one in 10.x)."""
        trt, engine = self._trt, self._engine
        inputs: list[TensorInfo] = []
        outputs: list[TensorInfo] = []
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            info = TensorInfo(
                name,
                trt_dtype_name(engine.get_tensor_dtype(name)),
                tuple(int(d) for d in engine.get_tensor_shape(name)),
            )
            (inputs if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT else outputs).append(info)
        return ModelIO(f"TensorRT plan {self.plan_path.name}", tuple(inputs), tuple(outputs))

    def infer_batch(self, inputs: Mapping[str, npt.NDArray[Any]]) -> Arrays:
        """Run a batch of named float32 arrays (batch 1 to ``max_batch``); returns every output, batch axis first."""
        self.check_batch(inputs)
        torch, context = self._torch, self._context
        batch = int(inputs[next(iter(self.input_spec))].shape[0])
        if not 1 <= batch <= self.max_batch:
            raise EngineError(
                f"batch of {batch}: the TensorRT plan takes 1 to {self.max_batch}; build it with a larger max_batch"
            )
        keep = []  # the device tensors must outlive the enqueued work
        for name in self._input_names:
            host = torch.from_numpy(np.ascontiguousarray(inputs[name], dtype=np.float32))
            device = host.to(self._device)
            keep.append(device)
            if not context.set_input_shape(name, tuple(device.shape)):
                raise EngineError(f"TensorRT rejected input {name!r} of shape {tuple(device.shape)}")
            context.set_tensor_address(name, device.data_ptr())
        outputs = {}
        for name in self.output_names:
            shape = tuple(int(d) for d in context.get_tensor_shape(name))
            outputs[name] = torch.empty(shape, dtype=torch.float32, device=self._device)
            context.set_tensor_address(name, outputs[name].data_ptr())
        stream = torch.cuda.current_stream(self._device)
        if not context.execute_async_v3(stream.cuda_stream):
            raise EngineError("TensorRT failed to run the model; see its log above")
        stream.synchronize()
        del keep
        return {name: outputs[name].cpu().numpy().astype(np.float32, copy=False) for name in self.output_names}


def _deserialize(runtime: Any, plan: bytes) -> Any:
    """The engine, or None when TensorRT refuses the bytes (it may return None or raise)."""
    try:
        return runtime.deserialize_cuda_engine(plan)
    except Exception as err:  # the bindings raise RuntimeError/TypeError on some versions
        log.warning("TensorRT cannot deserialize the plan: %s", err)
        return None
