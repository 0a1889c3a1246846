"""The engine contract, run against every backend, and ONNX Runtime's parity with torch for every fusion layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the engines' tests build their models with torch")
pytest.importorskip("onnxruntime", reason="export checks and the onnxruntime backend need onnxruntime")

from robofuse.engine.base import Engine, EngineConfig, check_spec, make_engine  # noqa: E402
from robofuse.errors import EngineError  # noqa: E402
from robofuse.fusion.factory import FusionKind  # noqa: E402
from robofuse.messages import MODALITIES, Modality, Window  # noqa: E402
from robofuse.model.fusion_model import FusionModel, FusionModelConfig  # noqa: E402
from robofuse.train.config import TrainConfig  # noqa: E402
from robofuse.train.export import export_onnx  # noqa: E402
from robofuse.train.loop import save_checkpoint  # noqa: E402

BACKENDS = ("torch", "onnxruntime")
CONTRACT_BACKENDS = (*BACKENDS, "tensorrt")  # the contract runs on every backend this machine has
KINDS: tuple[FusionKind, ...] = get_args(FusionKind)
PARITY_WINDOWS, PARITY_BATCH, PARITY_TOL = 1000, 125, 1e-4


class ModelFiles:
    """A freshly initialised model per fusion kind (fixed seed), as a checkpoint and as ONNX, built on demand."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.built: dict[str, dict[str, Path]] = {}

    def __call__(self, kind: FusionKind) -> dict[str, Path]:
        if kind not in self.built:
            torch.manual_seed(0)
            config = TrainConfig(model=FusionModelConfig(fusion=kind))
            model = FusionModel(config.model).eval()
            ckpt, onnx = self.root / f"{kind}.pt", self.root / f"{kind}.onnx"
            save_checkpoint(ckpt, model, config, 0, {"terrain_acc": 0.0})
            export_onnx(model, config, onnx, {})
            self.built[kind] = {"torch": ckpt, "onnxruntime": onnx, "tensorrt": onnx}
        return self.built[kind]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> ModelFiles:
    return ModelFiles(tmp_path_factory.mktemp("engines"))


def require_tensorrt() -> None:
    """Skip unless TensorRT and a CUDA GPU are both here."""
    pytest.importorskip("tensorrt", reason="TensorRT is not installed (it ships with JetPack on a Jetson)")
    if not torch.cuda.is_available():
        pytest.skip("the tensorrt backend needs a CUDA GPU; torch sees none")


@pytest.fixture(scope="module", params=CONTRACT_BACKENDS)
def engine(request: pytest.FixtureRequest, models: ModelFiles, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    backend = request.param
    if backend == "tensorrt":
        require_tensorrt()
        plans = tmp_path_factory.mktemp("plans")
        return make_engine(EngineConfig(backend="tensorrt", model=models("gated")["tensorrt"], plan_cache=plans))
    return make_engine(EngineConfig(backend=backend, model=models("gated")[backend]))


def random_inputs(n: int, rng: np.random.Generator, mask_p: float = 0.5) -> dict[str, np.ndarray]:
    shapes = FusionModelConfig().input_shapes()
    return {
        "camera": rng.integers(0, 256, (n, *shapes["camera"])).astype(np.float32),
        "lidar": (rng.random((n, *shapes["lidar"])) * 100).astype(np.float32),
        "imu": rng.standard_normal((n, *shapes["imu"])).astype(np.float32),
        "audio": (rng.standard_normal((n, *shapes["audio"])) * 0.1).astype(np.float32),
        "mask": (rng.random((n, 4)) < mask_p).astype(np.float32),
    }


def make_window(camera_shape: tuple[int, ...] = (48, 64, 3), audio_dtype: Any = np.float32) -> Window:
    rng = np.random.default_rng(1)
    inputs = {
        Modality.CAMERA: rng.integers(0, 256, camera_shape, dtype=np.uint8),
        Modality.LIDAR: (rng.random((16, 360)) * 50).astype(np.float32),
        Modality.IMU: rng.standard_normal((200, 10)).astype(np.float32),
        Modality.AUDIO: (rng.standard_normal(8000) * 0.1).astype(audio_dtype),
    }
    return Window(seq=0, tick_ns=0, emitted_ns=0, inputs=inputs, mask=np.ones(4, np.float32), quality={})


def test_a_batch_gives_every_output_with_its_shape_and_finite_values(engine: Engine) -> None:
    out = engine.infer_batch(random_inputs(3, np.random.default_rng(0)))
    shapes = {name: v.shape for name, v in out.items()}
    assert shapes == {"terrain": (3, 6), "collision": (3, 2), "slip": (3, 2), "gates": (3, 4), "usable": (3,)}
    assert all(np.isfinite(v).all() and v.dtype == np.float32 for v in out.values())


def test_windows_with_every_modality_masked_are_not_usable(engine: Engine) -> None:
    inputs = random_inputs(4, np.random.default_rng(0))
    inputs["mask"][:] = 0.0
    inputs["mask"][3] = 1.0
    out = engine.infer_batch(inputs)
    assert out["usable"].tolist() == [0.0, 0.0, 0.0, 1.0]
    assert all(np.isfinite(v).all() for v in out.values())


def test_a_hand_built_window_runs_through_infer_without_the_batch_axis(engine: Engine) -> None:
    window = make_window()
    out = engine.infer(window)
    assert {name: v.shape for name, v in out.items()} == {
        "terrain": (6,),
        "collision": (2,),
        "slip": (2,),
        "gates": (4,),
        "usable": (),
    }
    assert float(out["usable"]) == 1.0
    batch = {m.value: np.asarray(window.inputs[m], np.float32)[None] for m in MODALITIES}
    batch["mask"] = window.mask[None]
    np.testing.assert_allclose(out["terrain"], engine.infer_batch(batch)["terrain"][0], atol=1e-6)


def test_half_precision_audio_is_accepted_as_float32(engine: Engine) -> None:
    out = engine.infer(make_window(audio_dtype=np.float16))
    assert np.isfinite(out["terrain"]).all()


def test_a_window_of_the_wrong_camera_shape_names_the_input_both_shapes_and_the_fix(engine: Engine) -> None:
    with pytest.raises(EngineError) as err:
        engine.infer(make_window(camera_shape=(480, 640, 3)))
    assert str(err.value) == (
        "camera: the model expects (48, 64, 3), the window has (480, 640, 3): "
        "render the rig at the model's resolution or retrain"
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_corrupt_model_file_is_an_engine_error_naming_the_file(backend: str, tmp_path: Path) -> None:
    path = tmp_path / ("model.pt" if backend == "torch" else "model.onnx")
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(EngineError, match="cannot") as err:
        make_engine(EngineConfig(backend=backend, model=path))  # type: ignore[arg-type]
    assert str(path) in str(err.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_missing_model_file_is_an_engine_error_naming_the_file(backend: str, tmp_path: Path) -> None:
    path = tmp_path / "absent.onnx"
    with pytest.raises(EngineError, match="does not exist") as err:
        make_engine(EngineConfig(backend=backend, model=path))  # type: ignore[arg-type]
    assert str(path) in str(err.value)


def test_an_unknown_backend_is_an_engine_error_listing_the_choices(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=r"unknown engine backend 'tensorflow'.*'torch', 'onnxruntime'"):
        make_engine(EngineConfig(backend="tensorflow", model=tmp_path / "m.onnx"))  # type: ignore[arg-type]


def test_a_rig_whose_streams_differ_from_the_model_is_told_every_difference() -> None:
    spec = FusionModelConfig().input_shapes()
    with pytest.raises(EngineError) as err:
        check_spec(spec, {"camera": (480, 640, 3), "lidar": (16, 360), "imu": (100, 10)})
    message = str(err.value)
    assert "camera: the model expects (48, 64, 3), the rig gives (480, 640, 3)" in message
    assert "imu: the model expects (200, 10), the rig gives (100, 10)" in message
    assert "audio: the model takes it but the rig has no such stream" in message
    assert "lidar" not in message
    check_spec(spec, {k: v for k, v in spec.items() if k != "mask"})


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_onnxruntime_matches_torch_on_a_thousand_random_masked_windows(kind: FusionKind, models: ModelFiles) -> None:
    files = models(kind)
    reference = make_engine(EngineConfig(backend="torch", model=files["torch"]))
    candidate = make_engine(EngineConfig(backend="onnxruntime", model=files["onnxruntime"]))
    rng = np.random.default_rng(42)
    worst = dict.fromkeys(reference.output_names, 0.0)
    for _ in range(PARITY_WINDOWS // PARITY_BATCH):
        inputs = random_inputs(PARITY_BATCH, rng)
        expected, got = reference.infer_batch(inputs), candidate.infer_batch(inputs)
        assert set(got) == set(expected)
        for name in worst:
            assert got[name].shape == expected[name].shape
            worst[name] = max(worst[name], float(np.max(np.abs(got[name] - expected[name]))))
    assert all(d <= PARITY_TOL for d in worst.values()), f"{kind}: max abs difference per output {worst}"
