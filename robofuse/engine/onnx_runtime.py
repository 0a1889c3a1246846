"""ONNX Runtime backend: latency-minded session settings, CPU by default, CUDA where offered."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from robofuse.engine.base import Arrays, Engine, EngineConfig
from robofuse.errors import EngineError

_REEXPORT = "re-export it with robofuse export, or pass robofuse.default_model_path()"


class OrtEngine(Engine):
    """Runs an exported ONNX model with onnxruntime; inputs and outputs are read from the session.

    Session: ``intra_op_num_threads=threads``, sequential execution, ``inter_op_num_threads``
    from the config, every graph optimization. ``run()`` is used rather than I/O binding: on
    the CPU, binding saves the same ~3.5 µs per call whatever the graph (bench_engines.py: a
    no-op graph 6.1 -> 2.8 µs, the LMF layer 16.5 -> 12.9 µs), which is 0.6% of the shipped
    model's 0.6 ms; it pays off for tiny graphs and for CUDA, where it keeps tensors on the device.
    """

    def __init__(self, config: EngineConfig) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise EngineError("the onnxruntime backend needs onnxruntime: pip install onnxruntime") from None
        path = config.model
        if not path.is_file():
            raise EngineError(f"model file {path} does not exist; {_REEXPORT}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = config.threads
        options.inter_op_num_threads = config.inter_op_threads
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers = ["CPUExecutionProvider"]
        if config.cuda and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self._session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as err:  # onnxruntime raises its own pybind error kinds for bad files
            raise EngineError(f"cannot load ONNX model {path}: {err}; {_REEXPORT}") from None
        self.providers: tuple[str, ...] = tuple(self._session.get_providers())
        self.input_spec = _session_spec(self._session, path)
        self.output_names = tuple(o.name for o in self._session.get_outputs())
        _check_sidecar(path.with_suffix(".json"), self.input_spec)

    def infer_batch(self, inputs: Mapping[str, npt.NDArray[Any]]) -> Arrays:
        """Run a batch of named float32 arrays; returns every output, batch axis first."""
        self.check_batch(inputs)
        feeds = {name: np.ascontiguousarray(inputs[name], dtype=np.float32) for name in self.input_spec}
        try:
            values = self._session.run(list(self.output_names), feeds)
        except Exception as err:  # a runtime failure inside the graph
            raise EngineError(f"onnxruntime failed to run the model: {err}") from None
        return {name: np.asarray(v, dtype=np.float32) for name, v in zip(self.output_names, values, strict=True)}


def _session_spec(session: Any, path: Path) -> dict[str, tuple[int, ...]]:
    """Each input's shape without the batch axis, from the session; the model must take float32."""
    spec: dict[str, tuple[int, ...]] = {}
    for inp in session.get_inputs():
        dims = list(inp.shape)[1:]
        if inp.type != "tensor(float)" or not all(isinstance(d, int) for d in dims):
            raise EngineError(
                f"{path}: input {inp.name!r} is {inp.type} {inp.shape}; robofuse engines need float32 inputs "
                f"with only the batch axis dynamic; {_REEXPORT}"
            )
        spec[inp.name] = tuple(int(d) for d in dims)
    return spec


def _check_sidecar(sidecar: Path, spec: Mapping[str, tuple[int, ...]]) -> None:
    """When a sidecar lies beside the model, its inputs must be the session's."""
    if not sidecar.is_file():
        return
    try:
        inputs = json.loads(sidecar.read_text())["inputs"]
        described = {str(i["name"]): tuple(int(d) for d in i["shape"][1:]) for i in inputs}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise EngineError(f"cannot read the model's sidecar {sidecar}: {err!r}; {_REEXPORT}") from None
    if described != dict(spec):
        raise EngineError(f"sidecar {sidecar} describes inputs {described}, the model has {dict(spec)}; {_REEXPORT}")
