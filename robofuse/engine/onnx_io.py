"""An ONNX file's graph inputs and outputs, read with ``onnx`` (no TensorRT), and checks against an engine's.

TensorRT names its I/O tensors after the ONNX graph's, but a re-export, a different parser
or an FP16 conversion can rename, drop or retype them; :func:`check_io_names` names every such
difference before any buffer is bound, instead of a late "binding not found".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robofuse.errors import EngineError

_REEXPORT = "re-export it with robofuse export (float32 inputs and outputs, batch the only dynamic axis)"

# ONNX TensorProto element type names -> the numpy-style names robofuse reports.
_ONNX_DTYPES: dict[str, str] = {
    "FLOAT": "float32",
    "FLOAT16": "float16",
    "BFLOAT16": "bfloat16",
    "DOUBLE": "float64",
    "BOOL": "bool",
    "INT64": "int64",
    "INT32": "int32",
    "INT8": "int8",
    "UINT8": "uint8",
}

Dim = int | str  # a fixed size, or a symbolic name ("batch") / "?" for a dynamic axis


@dataclass(frozen=True)
class TensorInfo:
    """One graph input or output: name, numpy-style dtype name, shape (dynamic axes as strings or -1)."""

    name: str
    dtype: str
    shape: tuple[Dim, ...]

    def fixed_shape(self) -> tuple[Dim, ...]:
        """The shape without the leading batch axis."""
        return self.shape[1:]


@dataclass(frozen=True)
class ModelIO:
    """A model's inputs and outputs, in graph order, and where they were read from."""

    source: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

    def input_spec(self) -> dict[str, tuple[int, ...]]:
        """Each input's shape without the batch axis (robofuse's ``InputSpec``).

        Raises:
            EngineError: a non-batch axis is dynamic.
        """
        spec: dict[str, tuple[int, ...]] = {}
        for t in self.inputs:
            dims = t.fixed_shape()
            if not all(isinstance(d, int) and d > 0 for d in dims):
                raise EngineError(
                    f"{self.source}: input {t.name!r} has shape {t.shape}; only the batch axis may be dynamic; "
                    f"{_REEXPORT}"
                )
            spec[t.name] = tuple(int(d) for d in dims)
        return spec

    @property
    def output_names(self) -> tuple[str, ...]:
        """The output names in graph order."""
        return tuple(t.name for t in self.outputs)


def read_onnx_io(path: Path) -> ModelIO:
    """The graph inputs and outputs of an ONNX file (initializers excluded), without TensorRT.

    Raises:
        EngineError: ``onnx`` is not installed, or the file is missing, corrupt or not a model.
    """
    try:
        import onnx
    except ImportError:
        raise EngineError(
            "reading the ONNX model's inputs and outputs needs the onnx package: pip install onnx"
        ) from None
    path = Path(path)
    if not path.is_file():
        raise EngineError(f"model file {path} does not exist; {_REEXPORT}")
    try:
        # The weights are not needed; external data (if any) stays on disk.
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # protobuf's DecodeError and friends: one message for the caller
        raise EngineError(f"{path} is not a readable ONNX model ({type(err).__name__}: {err}); {_REEXPORT}") from None
    graph = model.graph
    # protobuf parses many garbage byte strings as an almost empty message: insist on a real graph.
    if model.ir_version <= 0 or not graph.output:
        raise EngineError(f"{path} is not a readable ONNX model (no IR version or no graph outputs); {_REEXPORT}")
    initializers = {init.name for init in graph.initializer}
    inputs = tuple(_info(v, onnx) for v in graph.input if v.name not in initializers)
    outputs = tuple(_info(v, onnx) for v in graph.output)
    return ModelIO(str(path), inputs, outputs)


def _info(value: Any, onnx: Any) -> TensorInfo:
    tensor_type = value.type.tensor_type
    type_name = onnx.TensorProto.DataType.Name(tensor_type.elem_type)
    dims: list[Dim] = []
    for d in tensor_type.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        else:
            dims.append(str(d.dim_param) or "?")
    return TensorInfo(value.name, _ONNX_DTYPES.get(type_name, type_name.lower()), tuple(dims))


def check_io_names(
    onnx_io: ModelIO, engine_io: ModelIO, input_spec: Mapping[str, tuple[int, ...]] | None = None
) -> None:
    """Raise EngineError naming every difference between an engine's I/O tensors and the ONNX file's.

    Checks, all at once: inputs and outputs missing from or extra in the engine (a missing and an
    extra one of the same shape are reported as a probable rename), non-batch shape differences,
    any I/O that is not float32 (bool, half, int64: robofuse feeds and reads float32 only), and,
    when given, the robofuse ``input_spec`` (name -> shape without batch) against the ONNX inputs.
    """
    problems: list[str] = []
    for kind, want, got in (
        ("input", onnx_io.inputs, engine_io.inputs),
        ("output", onnx_io.outputs, engine_io.outputs),
    ):
        problems += _compare(kind, want, got, engine_io.source)
    problems += _non_float(onnx_io.source, [*onnx_io.inputs, *onnx_io.outputs])
    already = {t.name for t in (*onnx_io.inputs, *onnx_io.outputs) if t.dtype != "float32"}  # said once is enough
    problems += _non_float(
        engine_io.source, [t for t in (*engine_io.inputs, *engine_io.outputs) if t.name not in already]
    )
    if input_spec is not None:
        onnx_spec = {t.name: tuple(t.fixed_shape()) for t in onnx_io.inputs}
        for name in input_spec:
            if name not in onnx_spec:
                problems.append(f"robofuse expects input {name!r}, {onnx_io.source} has none")
            elif _dims_differ(onnx_spec[name], tuple(input_spec[name])):
                problems.append(
                    f"input {name!r}: robofuse expects {tuple(input_spec[name])}, "
                    f"{onnx_io.source} has {onnx_spec[name]}"
                )
        extra = [name for name in onnx_spec if name not in input_spec]
        if extra:
            problems.append(f"{onnx_io.source} has inputs {extra} robofuse does not feed")
    if problems:
        raise EngineError(
            f"the engine's inputs/outputs do not match {onnx_io.source}: " + "; ".join(problems) + f"; {_REEXPORT}"
        )


def _compare(kind: str, want: Iterable[TensorInfo], got: Iterable[TensorInfo], where: str) -> list[str]:
    wanted = {t.name: t for t in want}
    have = {t.name: t for t in got}
    missing = [name for name in wanted if name not in have]
    extra = [name for name in have if name not in wanted]
    problems: list[str] = []
    for name in list(missing):
        # A missing and an extra tensor with the same shape is most likely one renamed.
        twin = next((e for e in extra if not _dims_differ(have[e].fixed_shape(), wanted[name].fixed_shape())), None)
        if twin is not None:
            problems.append(f"{kind} {name!r} is called {twin!r} in {where} (renamed?)")
            missing.remove(name)
            extra.remove(twin)
    problems += [f"{kind} {name!r} is missing from {where}" for name in missing]
    problems += [f"{where} has an extra {kind} {name!r}" for name in extra]
    for name in wanted.keys() & have.keys():
        if _dims_differ(wanted[name].fixed_shape(), have[name].fixed_shape()):
            problems.append(
                f"{kind} {name!r} has shape {have[name].shape} in {where}, {wanted[name].shape} in the ONNX file"
            )
    return problems


def _dims_differ(a: tuple[Dim, ...], b: tuple[Dim, ...]) -> bool:
    """Shapes without batch differ; a dynamic axis (string or negative) matches any size."""
    if len(a) != len(b):
        return True
    return any(
        isinstance(x, int) and isinstance(y, int) and x >= 0 and y >= 0 and x != y for x, y in zip(a, b, strict=True)
    )


def _non_float(where: str, tensors: Iterable[TensorInfo]) -> list[str]:
    return [
        f"{t.name!r} is {t.dtype} in {where} (robofuse engines take and give float32 only; "
        "an FP16 model must keep float32 inputs and outputs, as robofuse export --precision fp16 writes it)"
        for t in tensors
        if t.dtype != "float32"
    ]
