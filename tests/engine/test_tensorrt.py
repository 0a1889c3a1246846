"""The TensorRT backend: its GPU-free parts (plan cache, ONNX I/O map, FP16 graph) everywhere; the rest on a GPU."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import robofuse
from robofuse.engine.base import EngineConfig, make_engine
from robofuse.engine.onnx_io import ModelIO, TensorInfo, check_io_names, read_onnx_io
from robofuse.engine.plan_cache import (
    PLAN_FORMAT,
    PlanKey,
    check_plan,
    default_cache_dir,
    discard_plan,
    header_path,
    load_plan,
    plan_path,
    store_plan,
)
from robofuse.engine.tensorrt_backend import TrtEngine
from robofuse.errors import EngineError

KEY = PlanKey(
    model_sha256="ab" * 32,
    tensorrt_version="10.3.0",
    gpu_name="Orin",
    compute_capability="8.7",
    precision="fp16",
    batch_min=1,
    batch_opt=2,
    batch_max=8,
)
# One changed value per field, and the words the mismatch message must contain.
CHANGES: dict[str, tuple[Any, str]] = {
    "model_sha256": ("cd" * 32, "ONNX model changed"),
    "tensorrt_version": ("10.7.0", "TensorRT 10.3.0 built it, this is 10.7.0"),
    "gpu_name": ("NVIDIA H100", "GPU 'Orin' built it"),
    "compute_capability": ("9.0", "compute capability 8.7"),
    "precision": ("fp32", "it is fp16, fp32 was asked for"),
    "batch_min": (2, "minimum"),
    "batch_opt": (4, "optimum"),
    "batch_max": (16, "maximum is 8, 16"),
    "plan_format": (PLAN_FORMAT + 1, "plan format"),
}
HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None


# --- plan keys -------------------------------------------------------------------------------


def test_the_key_digest_is_stable_and_hex() -> None:
    same = PlanKey(**KEY.as_dict())
    assert KEY.digest() == same.digest()
    assert len(KEY.digest()) == 64
    assert int(KEY.digest(), 16) >= 0
    # Fixed so that a change of the key layout (which orphans every cached plan) is deliberate.
    assert KEY.digest() == PlanKey(**dict(reversed(list(KEY.as_dict().items())))).digest()


@pytest.mark.parametrize("field", list(CHANGES))
def test_every_key_field_changes_the_digest(field: str) -> None:
    changed = dataclasses.replace(KEY, **{field: CHANGES[field][0]})
    assert changed.digest() != KEY.digest()


def test_a_bad_precision_or_batch_profile_is_an_engine_error() -> None:
    with pytest.raises(EngineError, match="precision must be one of"):
        dataclasses.replace(KEY, precision="int8")  # type: ignore[arg-type]
    with pytest.raises(EngineError, match="min <= opt <= max"):
        dataclasses.replace(KEY, batch_opt=9)


def test_plan_files_are_named_by_model_stem_and_digest(tmp_path: Path) -> None:
    path = plan_path(tmp_path, Path("/models/fusion.onnx"), KEY)
    assert path == tmp_path / f"fusion-{KEY.digest()[:16]}.plan"
    assert header_path(path).name == path.name + ".json"


def test_the_default_cache_dir_is_under_home_and_overridable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ROBOFUSE_TRT_CACHE", raising=False)
    assert default_cache_dir() == Path.home() / ".cache" / "robofuse" / "tensorrt"
    monkeypatch.setenv("ROBOFUSE_TRT_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path


# --- storing and loading plans ---------------------------------------------------------------


def test_a_stored_plan_loads_back(tmp_path: Path) -> None:
    path = plan_path(tmp_path / "cache", Path("m.onnx"), KEY)
    store_plan(path, KEY, b"plan bytes" * 100)
    assert load_plan(path, KEY) == b"plan bytes" * 100
    header = json.loads(header_path(path).read_text())
    assert header["key"] == KEY.as_dict()
    assert header["plan_bytes"] == 1000
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []  # no temporaries left


@pytest.mark.parametrize("field", list(CHANGES))
def test_a_plan_built_for_another_key_is_rejected_naming_the_field(field: str, tmp_path: Path) -> None:
    path = tmp_path / "m.plan"
    store_plan(path, KEY, b"x" * 64)
    wanted = dataclasses.replace(KEY, **{field: CHANGES[field][0]})
    plan, reason = check_plan(path, wanted)
    assert plan is None
    assert CHANGES[field][1] in reason
    assert reason.endswith("rebuilding")


def test_the_version_message_reads_as_the_issue_asks(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "m.plan"
    store_plan(path, KEY, b"x")
    with caplog.at_level(logging.INFO, logger="robofuse.engine.plan_cache"):
        assert load_plan(path, dataclasses.replace(KEY, tensorrt_version="10.7.0")) is None
    assert "TensorRT 10.3.0 built it, this is 10.7.0: rebuilding" in caplog.text


def test_a_truncated_plan_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "m.plan"
    store_plan(path, KEY, bytes(range(256)) * 4)
    path.write_bytes(path.read_bytes()[:500])
    plan, reason = check_plan(path, KEY)
    assert plan is None
    assert "corrupt or truncated" in reason
    assert "500 bytes" in reason


@pytest.mark.parametrize("header", ["{not json", "[]", '{"key": 3, "plan_sha256": "0"}', '{"plan_sha256": "0"}'])
def test_a_garbage_header_is_rejected(header: str, tmp_path: Path) -> None:
    path = tmp_path / "m.plan"
    store_plan(path, KEY, b"x")
    header_path(path).write_text(header)
    plan, reason = check_plan(path, KEY)
    assert plan is None
    assert "cannot read the header" in reason


def test_a_missing_plan_or_header_is_a_build_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "m.plan"
    assert check_plan(path, KEY) == (None, f"no cached plan at {path}: building")
    path.write_bytes(b"x")
    plan, reason = check_plan(path, KEY)
    assert plan is None
    assert "has no header" in reason


def test_a_header_missing_a_field_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "m.plan"
    store_plan(path, KEY, b"x")
    header = json.loads(header_path(path).read_text())
    del header["key"]["gpu_name"]
    header_path(path).write_text(json.dumps(header))
    plan, reason = check_plan(path, KEY)
    assert plan is None
    assert "lacks 'gpu_name'" in reason


def test_store_is_atomic_a_failed_write_leaves_the_old_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.plan"
    store_plan(path, KEY, b"old")

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(EngineError, match=r"No space left on device.*plan_cache"):
        store_plan(path, KEY, b"new")
    monkeypatch.undo()
    assert load_plan(path, KEY) == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.plan", "m.plan.json"]


def test_discard_removes_plan_and_header(tmp_path: Path) -> None:
    path = tmp_path / "m.plan"
    store_plan(path, KEY, b"x")
    discard_plan(path)
    discard_plan(path)  # twice is fine
    assert list(tmp_path.iterdir()) == []


# --- the ONNX file's inputs and outputs ------------------------------------------------------


def default_io() -> ModelIO:
    return read_onnx_io(robofuse.default_model_path())


def test_onnx_io_of_the_default_model() -> None:
    io = default_io()
    assert [t.name for t in io.inputs] == ["camera", "lidar", "imu", "audio", "mask"]
    assert io.output_names == ("terrain", "collision", "slip", "gates", "usable")
    assert {t.dtype for t in (*io.inputs, *io.outputs)} == {"float32"}
    assert io.input_spec()["camera"] == (48, 64, 3)
    assert io.input_spec()["mask"] == (4,)
    assert isinstance(io.inputs[0].shape[0], str)  # the dynamic batch axis


@pytest.mark.parametrize("content", [b"", b"\x00garbage\xff" * 100, b"not an onnx model at all"])
def test_a_corrupt_onnx_file_is_an_engine_error_naming_it(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(content)
    with pytest.raises(EngineError, match=r"broken\.onnx is not a readable ONNX model"):
        read_onnx_io(path)


def test_a_missing_onnx_file_is_an_engine_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="does not exist"):
        read_onnx_io(tmp_path / "nope.onnx")


def engine_like(io: ModelIO, **changes: Any) -> ModelIO:
    """An 'engine' I/O copied from ``io``, with ``inputs``/``outputs`` replaced as given."""
    return dataclasses.replace(io, source="TensorRT plan m.plan", **changes)


def test_matching_io_passes() -> None:
    io = default_io()
    check_io_names(io, engine_like(io), io.input_spec())


def test_a_renamed_input_is_named() -> None:
    io = default_io()
    inputs = tuple(dataclasses.replace(t, name="image") if t.name == "camera" else t for t in io.inputs)
    with pytest.raises(EngineError, match=r"input 'camera' is called 'image' in TensorRT plan m\.plan \(renamed\?\)"):
        check_io_names(io, engine_like(io, inputs=inputs))


def test_a_missing_output_and_an_extra_one_are_named() -> None:
    io = default_io()
    outputs = (*(t for t in io.outputs if t.name != "gates"), TensorInfo("debug", "float32", (-1, 3, 3)))
    with pytest.raises(EngineError) as err:
        check_io_names(io, engine_like(io, outputs=outputs))
    assert "output 'gates' is missing" in str(err.value)
    assert "extra output 'debug'" in str(err.value)
    assert "robofuse export" in str(err.value)


@pytest.mark.parametrize("dtype", ["bool", "float16", "int64"])
def test_non_float32_io_is_named_with_the_fix(dtype: str) -> None:
    io = default_io()
    inputs = tuple(dataclasses.replace(t, dtype=dtype) if t.name == "mask" else t for t in io.inputs)
    with pytest.raises(EngineError, match=rf"'mask' is {dtype} in TensorRT plan m\.plan.*float32 only"):
        check_io_names(io, engine_like(io, inputs=inputs))


def test_a_shape_difference_and_a_spec_difference_are_named() -> None:
    io = default_io()
    inputs = tuple(dataclasses.replace(t, shape=(-1, 32, 360)) if t.name == "lidar" else t for t in io.inputs)
    spec = {**io.input_spec(), "imu": (100, 10)}
    with pytest.raises(EngineError) as err:
        check_io_names(io, engine_like(io, inputs=inputs), spec)
    assert "input 'lidar' has shape (-1, 32, 360)" in str(err.value)
    assert "input 'imu': robofuse expects (100, 10)" in str(err.value)


def test_every_problem_is_reported_at_once() -> None:
    io = default_io()
    inputs = tuple(t for t in io.inputs if t.name != "audio")
    outputs = tuple(dataclasses.replace(t, dtype="bool") if t.name == "usable" else t for t in io.outputs)
    with pytest.raises(EngineError) as err:
        check_io_names(io, engine_like(io, inputs=inputs, outputs=outputs))
    assert "input 'audio' is missing" in str(err.value)
    assert "'usable' is bool" in str(err.value)


# --- config, factory and the missing-TensorRT error ------------------------------------------


def test_the_engine_config_validates_the_tensorrt_fields(tmp_path: Path) -> None:
    config = EngineConfig(backend="tensorrt", model=tmp_path / "m.onnx", plan_cache="~/plans", precision="fp16")  # type: ignore[arg-type]
    assert config.plan_cache == Path.home() / "plans"
    assert config.max_batch == 8
    with pytest.raises(EngineError, match="precision must be one of"):
        EngineConfig(backend="tensorrt", model=tmp_path, precision="int8")  # type: ignore[arg-type]
    for bad in (0, -1, True):
        with pytest.raises(EngineError, match="max_batch must be"):
            EngineConfig(backend="tensorrt", model=tmp_path, max_batch=bad)


@pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed here")
def test_selecting_tensorrt_without_it_says_how_to_get_it_on_a_jetson() -> None:
    with pytest.raises(EngineError) as err:
        make_engine(EngineConfig(backend="tensorrt", model=robofuse.default_model_path()))
    message = str(err.value)
    assert "TensorRT is not installed" in message
    assert "JetPack" in message
    assert "nvidia-tensorrt" in message
    assert "--system-site-packages" in message
    assert "onnxruntime" in message


def test_the_missing_tensorrt_error_also_when_it_is_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "tensorrt", None)  # importing it now raises ImportError
    with pytest.raises(EngineError, match=r"TensorRT is not installed.*JetPack"):
        make_engine(EngineConfig(backend="tensorrt", model=robofuse.default_model_path(), precision="fp16"))


def test_version_and_dtype_helpers() -> None:
    from robofuse.engine.tensorrt_backend import onnx_for_precision, tensorrt_major, trt_dtype_name

    assert tensorrt_major("10.3.0") == 10
    assert tensorrt_major("11.0.0.post1") == 11
    with pytest.raises(EngineError, match="TensorRT version"):
        tensorrt_major("unknown")
    assert [trt_dtype_name(n) for n in ("DataType.FLOAT", "HALF", "DataType.BOOL", "INT64")] == [
        "float32",
        "float16",
        "bool",
        "int64",
    ]
    model = robofuse.default_model_path()
    assert onnx_for_precision(model, "fp16", 10) == model  # 10.x: the float32 graph and a builder flag
    assert onnx_for_precision(model, "fp32", 11) == model
    with pytest.raises(EngineError, match=r"FP16 graph at .*default_model\.fp16\.onnx.*--precision fp16"):
        onnx_for_precision(model, "fp16", 11)


# --- the FP16 graph (for TensorRT 11's strongly typed networks) ------------------------------


def test_the_fp16_graph_keeps_float32_io_and_agrees_with_float32(tmp_path: Path) -> None:
    pytest.importorskip("onnxconverter_common", reason="onnxconverter-common is not installed (robofuse[train])")
    import onnx

    from robofuse.train.export import FP16_TOLERANCE, export_fp16, fp16_path

    out, diffs = export_fp16(robofuse.default_model_path(), tmp_path / "m.fp16.onnx")
    assert out == tmp_path / "m.fp16.onnx"
    assert fp16_path(tmp_path / "m.onnx") == out
    assert set(diffs) == {"terrain", "collision", "slip", "gates", "usable"}
    assert max(diffs.values()) <= FP16_TOLERANCE
    half, full = read_onnx_io(out), default_io()
    check_io_names(full, half, full.input_spec())  # same names, shapes, float32 I/O
    weights = onnx.load(str(out)).graph.initializer
    assert any(w.data_type == onnx.TensorProto.FLOAT16 for w in weights)
    assert not any(w.data_type == onnx.TensorProto.FLOAT for w in weights)


def test_fp16_export_of_a_corrupt_file_is_an_engine_error(tmp_path: Path) -> None:
    pytest.importorskip("onnxconverter_common", reason="onnxconverter-common is not installed (robofuse[train])")
    from robofuse.train.export import export_fp16

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xffnot onnx" * 10)
    with pytest.raises(EngineError, match=r"bad\.onnx"):
        export_fp16(bad)
    assert not (tmp_path / "bad.fp16.onnx").exists()


# --- on a GPU with TensorRT ------------------------------------------------------------------


@pytest.fixture
def gpu() -> None:
    pytest.importorskip("tensorrt", reason="TensorRT is not installed (it ships with JetPack on a Jetson)")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU visible to torch")


def _parity(engine: Any, windows: int = 1000, batch: int = 8) -> dict[str, float]:
    """Max abs difference per output between ``engine`` and onnxruntime (CPU) on random windows and masks."""
    import onnxruntime as ort

    from robofuse.train.export import max_abs_diff, random_feeds

    ref = ort.InferenceSession(str(robofuse.default_model_path()), providers=["CPUExecutionProvider"])
    names = [o.name for o in ref.get_outputs()]
    worst = dict.fromkeys(names, 0.0)
    for seed in range(windows // batch):
        feeds = random_feeds(ref, batch, seed)
        expected = dict(zip(names, ref.run(names, feeds), strict=True))
        got = engine.infer_batch(feeds)
        for name in names:
            worst[name] = max(worst[name], max_abs_diff(expected[name], got[name]))
    return worst


@pytest.mark.usefixtures("gpu")
def test_fp32_builds_caches_and_matches_onnxruntime(tmp_path: Path) -> None:
    config = EngineConfig(backend="tensorrt", model=robofuse.default_model_path(), plan_cache=tmp_path)
    first = make_engine(config)
    assert isinstance(first, TrtEngine)
    assert first.build_seconds > 0
    assert first.plan_path.is_file()
    second = make_engine(config)
    assert isinstance(second, TrtEngine)
    assert second.build_seconds == 0.0
    assert second.plan_path == first.plan_path
    assert max(_parity(second).values()) <= 1e-4


@pytest.mark.usefixtures("gpu")
def test_fp16_matches_onnxruntime_within_the_fp16_tolerance(tmp_path: Path) -> None:
    from robofuse.engine.tensorrt_backend import import_tensorrt, tensorrt_major
    from robofuse.train.export import FP16_TOLERANCE, export_fp16

    model = robofuse.default_model_path()
    if tensorrt_major(import_tensorrt().__version__) >= 11:  # strongly typed: needs the FP16 graph beside it
        local = tmp_path / "model.onnx"
        local.write_bytes(model.read_bytes())
        export_fp16(local)
        model = local
    engine = make_engine(EngineConfig(backend="tensorrt", model=model, plan_cache=tmp_path, precision="fp16"))
    assert max(_parity(engine).values()) <= FP16_TOLERANCE


@pytest.mark.usefixtures("gpu")
def test_a_corrupted_cached_plan_is_rebuilt_not_loaded(tmp_path: Path) -> None:
    config = EngineConfig(backend="tensorrt", model=robofuse.default_model_path(), plan_cache=tmp_path)
    built = make_engine(config)
    assert isinstance(built, TrtEngine)
    path = built.plan_path
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\x00" * 64
    path.write_bytes(bytes(data))  # the header's sha256 no longer matches
    rebuilt = make_engine(config)
    assert isinstance(rebuilt, TrtEngine)
    assert rebuilt.build_seconds > 0
    # A plan whose header was rewritten to match but which TensorRT refuses is rebuilt too.
    store_plan(path, json_key(path), b"not a TensorRT plan")
    again = make_engine(config)
    assert isinstance(again, TrtEngine)
    assert again.build_seconds > 0
    assert load_plan(path, json_key(path)) != b"not a TensorRT plan"
    window_batch = {name: np.zeros((1, *shape), np.float32) for name, shape in again.input_spec.items()}
    assert set(again.infer_batch(window_batch)) == set(again.output_names)


def json_key(path: Path) -> PlanKey:
    """The key recorded in a plan's header."""
    return PlanKey(**json.loads(header_path(path).read_text())["key"])
