"""FusionModel and its preprocessing: shapes, masking, gradients, determinism, log-mel, ONNX export."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the fusion model needs torch (pip install robofuse[torch])")

from robofuse.evaluate.heading import turn_heading  # noqa: E402
from robofuse.model import preprocess as pp  # noqa: E402
from robofuse.model.encoders import CircularConv2d  # noqa: E402
from robofuse.model.fusion_model import INPUT_NAMES, FusionModel, FusionModelConfig  # noqa: E402

MODALITY_NAMES = ("camera", "lidar", "imu", "audio")


@pytest.fixture(scope="module")
def model() -> FusionModel:
    torch.manual_seed(0)
    return FusionModel().eval()


def run(model: FusionModel, inputs: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
    with torch.inference_mode():
        return model(*inputs)


def with_mask(inputs: tuple[torch.Tensor, ...], mask: list[float]) -> tuple[torch.Tensor, ...]:
    batch = inputs[0].shape[0]
    return (*inputs[:4], torch.tensor(mask, dtype=torch.float32).expand(batch, 4).clone())


# ---- preprocessing ----------------------------------------------------------------------


def numpy_log_mel(audio: np.ndarray) -> np.ndarray:
    """Reference log-mel: framing, periodic Hann, rfft, power, the same mel matrix, log."""
    frames = 1 + (audio.shape[-1] - pp.N_FFT) // pp.HOP
    idx = np.arange(frames)[:, None] * pp.HOP + np.arange(pp.N_FFT)  # (frames, n_fft)
    window = np.hanning(pp.N_FFT + 1)[:-1]  # periodic Hann
    power = np.abs(np.fft.rfft(audio[..., idx].astype(np.float64) * window, axis=-1)) ** 2  # (B, frames, F)
    mel = np.einsum("mf,btf->bmt", pp.mel_filterbank().astype(np.float64), power)  # (B, n_mels, frames)
    return np.log(pp.LOG_FLOOR + mel)


def test_log_mel_of_a_pure_tone_matches_numpy_and_its_band_is_brightest() -> None:
    band = 20
    edges = pp.mel_to_hz(np.linspace(pp.hz_to_mel(np.array(50.0)), pp.hz_to_mel(np.array(8000.0)), pp.N_MELS + 2))
    t = np.arange(8000) / pp.AUDIO_RATE_HZ
    tone = (0.5 * np.sin(2 * np.pi * edges[band + 1] * t)).astype(np.float32)[None]  # centre of band 20
    got = pp.LogMel()(torch.from_numpy(tone)).squeeze(1).numpy()  # (1, 40, 48)
    assert got.shape == (1, pp.N_MELS, 48)
    np.testing.assert_allclose(got, numpy_log_mel(tone), atol=2e-3)
    assert int(got.mean(axis=2).argmax()) == band


def test_log_mel_of_white_noise_has_the_expected_energy_in_every_band() -> None:
    sigma = 0.1
    noise = torch.randn(16, 8000, generator=torch.Generator().manual_seed(1)) * sigma
    energy = pp.LogMel()(noise).exp().mean(dim=(0, 1, 3)).numpy()  # (40,) mean linear mel energy
    window = np.hanning(pp.N_FFT + 1)[:-1]
    # white noise: E|X_k|^2 = sigma^2 * sum(w^2) in every rFFT bin
    expected = sigma**2 * (window**2).sum() * pp.mel_filterbank().sum(axis=1)
    np.testing.assert_allclose(energy / expected, 1.0, atol=0.15)


def test_lidar_keeps_no_return_at_zero_and_marks_it_invalid() -> None:
    ranges = torch.tensor([[[0.0, 1.0, 100.0, 250.0]]])
    out = pp.LidarPreprocess()(ranges)  # (1, 2, 1, 4)
    np.testing.assert_allclose(out[0, 0, 0].numpy(), [0.0, np.log1p(1.0) / np.log1p(100.0), 1.0, 1.0], rtol=1e-6)
    assert out[0, 1, 0].tolist() == [0.0, 1.0, 1.0, 1.0]


def test_the_roughness_residual_is_zero_on_a_smooth_ring_and_marks_a_bump_and_missing_returns() -> None:
    ring = torch.full((1, 1, 12), 4.0)
    out = pp.LidarPreprocess(residual=True)(ring)  # (1, 3, 1, 12)
    assert out.shape == (1, 3, 1, 12)
    assert out[0, 2].abs().max() == 0.0  # a smooth ring has no residual
    bumped = ring.clone()
    bumped[0, 0, 5] = 4.02  # 2 cm further: 0.02 / 4.02 x 20
    res = pp.LidarPreprocess(residual=True)(bumped)[0, 2, 0]
    assert res[5] == pytest.approx(0.02 / 4.02 * 20, rel=1e-4)
    assert res[4] == pytest.approx(-0.05, rel=1e-3)
    assert res[0] == 0.0
    holed = ring.clone()
    holed[0, 0, 0] = 0.0  # no return: it and its two neighbours (azimuth wraps) give no residual
    res = pp.LidarPreprocess(residual=True)(holed)[0, 2, 0]
    assert res[[11, 0, 1]].tolist() == [0.0, 0.0, 0.0]
    torch.testing.assert_close(pp.LidarPreprocess(residual=True)(holed)[:, :2], pp.LidarPreprocess()(holed))


@pytest.mark.parametrize("option", ["lidar_residual", "imu_heading_free", "trunk_reads_mask"])
def test_a_model_with_an_input_option_exports_and_matches_onnx_runtime(option: str, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime", reason="the export check runs the graph in onnxruntime")
    from robofuse.train.config import TrainConfig
    from robofuse.train.export import export_onnx

    torch.manual_seed(0)
    config = TrainConfig(model=FusionModelConfig(**{option: True}))
    model = FusionModel(config.model).eval()
    sidecar = export_onnx(model, config, tmp_path / "m.onnx", {})  # refuses to write on a mismatch
    assert sidecar.is_file()
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == list(INPUT_NAMES)
    imu_note = json.loads(sidecar.read_text())["preprocessing"]["imu"]["normalize"]
    assert ("heading dropped" in imu_note) == (option == "imu_heading_free"), imu_note


def test_imu_at_rest_reads_one_g_and_keeps_the_quaternion() -> None:
    row = torch.tensor([0.0, 0.0, np.pi, 0.0, 0.0, 9.80665, 0.0, 0.0, 0.0, 1.0])
    out = pp.ImuPreprocess()(row.view(1, 1, 10))  # (1, 10, 1)
    np.testing.assert_allclose(out[0, :, 0].numpy(), [0, 0, 1, 0, 0, 1, 0, 0, 0, 1], atol=1e-6)


@pytest.mark.parametrize("yaw", [0.0, 0.7, -2.5, np.pi])
def test_heading_free_imu_gives_the_tilt_an_accelerometer_at_rest_reads_whatever_the_heading(yaw: float) -> None:
    # body rolled by 0.4 rad, then turned to any heading about the world's z: q = q_yaw * q_roll (xyzw)
    roll = 0.4
    cr, sr, cy, sy = np.cos(roll / 2), np.sin(roll / 2), np.cos(yaw / 2), np.sin(yaw / 2)
    q = [cy * sr, sy * sr, sy * cr, cy * cr]
    at_rest = 9.80665 * np.array([0.0, np.sin(roll), np.cos(roll)])  # R^T (0, 0, g): what the accel reads
    row = torch.tensor([0.1, -0.2, 0.3, *at_rest, *q], dtype=torch.float32)
    out = pp.ImuPreprocess(heading_free=True)(row.view(1, 1, 10))
    assert out.shape == (1, 9, 1)
    np.testing.assert_allclose(out[0, 6:, 0].numpy(), at_rest / 9.80665, atol=1e-6)  # gravity = accel / g
    np.testing.assert_allclose(out[0, :6, 0].numpy(), pp.ImuPreprocess()(row.view(1, 1, 10))[0, :6, 0].numpy())


@pytest.mark.parametrize("length", [0.7, 1.3])
def test_heading_free_imu_gives_a_unit_gravity_direction_when_the_quaternion_is_off_unit_length(length: float) -> None:
    # training noise (up to 0.6 x std per component) leaves |q| != 1; R(q)'s formula then scales the
    # third row by |q|^2 (and bends it), so the direction must come from q / |q|
    roll = 0.4
    q = np.array([np.sin(roll / 2), 0.0, 0.0, np.cos(roll / 2)])
    at_rest = np.array([0.0, np.sin(roll), np.cos(roll)])
    rows = torch.tensor([[0.0] * 6 + list(q), [0.0] * 6 + list(length * q)], dtype=torch.float32)
    out = pp.ImuPreprocess(heading_free=True)(rows.view(2, 1, 10))
    np.testing.assert_allclose(out[:, 6:, 0].numpy(), [at_rest, at_rest], atol=1e-6)
    zero_row = torch.zeros(1, 1, 10, requires_grad=True)  # a zero-filled (masked) row
    zero = pp.ImuPreprocess(heading_free=True)(zero_row)
    assert torch.isfinite(zero).all()
    zero.sum().backward()
    assert zero_row.grad is not None
    assert torch.isfinite(zero_row.grad).all()


def test_camera_is_channels_first_and_normalized_per_channel() -> None:
    image = torch.zeros(1, 2, 3, 3)
    image[..., 0] = 255.0
    out = pp.CameraPreprocess()(image)
    assert out.shape == (1, 3, 2, 3)
    expected = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0 - 0.406) / 0.225]
    np.testing.assert_allclose(out[0, :, 0, 0].numpy(), expected, rtol=1e-5)


def test_lidar_convolution_wraps_around_azimuth_but_not_elevation() -> None:
    torch.manual_seed(0)
    conv = CircularConv2d(1, 4, 1).eval()
    base = torch.zeros(1, 1, 4, 10)
    poked = base.clone()
    poked[0, 0, 0, 0] = 1.0  # top row, first column
    diff = (conv(poked) - conv(base)).abs().sum(dim=1)[0]  # (4, 10)
    assert diff[:2, -1].sum() > 0  # the last column sees the first
    assert diff[2:].sum() == 0  # rows do not wrap: the bottom rows never see the top one


# ---- the model ----------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 8])
def test_outputs_have_the_configured_shapes_and_match_batch_one(model: FusionModel, batch: int) -> None:
    inputs = model.example_inputs(batch)
    out = run(model, inputs)
    expected = {"terrain": (batch, 6), "collision": (batch, 2), "slip": (batch, 2), "gates": (batch, 4)}
    assert {k: tuple(v.shape) for k, v in out.items()} == {**expected, "usable": (batch,)}
    assert list(out) == list(model.config.output_names)
    first = run(model, tuple(x[:1] for x in inputs))
    for name in out:
        torch.testing.assert_close(out[name][:1], first[name], atol=1e-5, rtol=1e-5)


def test_every_mask_subset_gives_finite_outputs_and_gates_over_the_present(model: FusionModel) -> None:
    inputs = model.example_inputs(2)
    for bits in itertools.product([0.0, 1.0], repeat=4):
        out = run(model, with_mask(inputs, list(bits)))
        assert all(torch.isfinite(v).all() for v in out.values()), bits
        present = torch.tensor(bits).bool()
        assert out["usable"].tolist() == [float(present.any())] * 2
        assert (out["gates"][:, ~present] == 0).all()
        if present.any():
            torch.testing.assert_close(out["gates"].sum(dim=1), torch.ones(2))


def test_with_every_modality_masked_the_model_says_nothing_is_usable(model: FusionModel) -> None:
    inputs = with_mask(model.example_inputs(3), [0, 0, 0, 0])
    inputs = (*(torch.full_like(x, float("nan")) for x in inputs[:4]), inputs[4])
    out = run(model, inputs)
    assert all(torch.isfinite(v).all() for v in out.values())
    assert out["usable"].tolist() == [0.0, 0.0, 0.0]
    assert (out["gates"] == 0).all()


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("garbage", ["noise", "huge", "nan"])
@pytest.mark.parametrize("masked", range(4), ids=MODALITY_NAMES)
def test_a_masked_modalitys_input_cannot_change_any_output(masked: int, garbage: str, training: bool) -> None:
    torch.manual_seed(0)
    model = FusionModel().train(training)
    mask = [1.0] * 4
    mask[masked] = 0.0
    clean = with_mask(model.example_inputs(4), mask)
    x = clean[masked]
    bad = {"noise": torch.randn_like(x) * 50, "huge": torch.full_like(x, 1e30), "nan": torch.full_like(x, float("nan"))}
    dirty = tuple(bad[garbage] if i == masked else t for i, t in enumerate(clean))
    before, after = run(model, clean), run(model, dirty)
    for name in before:
        assert torch.equal(before[name], after[name]), name


@pytest.mark.parametrize("kind", ["gated", "lmf", "tfn", "late", "concat"])
def test_skipping_the_encoders_of_modalities_masked_in_the_whole_batch_changes_no_output(kind: str) -> None:
    torch.manual_seed(0)
    model = FusionModel(FusionModelConfig(fusion=kind)).eval()  # type: ignore[arg-type]
    inputs = with_mask(model.example_inputs(3), [1, 0, 1, 0])
    with torch.inference_mode():
        skipped = model(*inputs)  # eager: LIDAR and audio encoders do not run
        zeroed = [
            torch.where(inputs[4][:, i].view(-1, *[1] * (x.dim() - 1)) > 0.5, x, 0.0) for i, x in enumerate(inputs[:4])
        ]
        every = torch.stack([enc(x) for enc, x in zip(model.encoders, zeroed, strict=True)], dim=1)
        reference = model.classify(every, inputs[4])  # every encoder run, as in the exported graph
    for name in reference:
        torch.testing.assert_close(skipped[name], reference[name], atol=1e-6, rtol=1e-6)


def test_gradients_reach_only_the_present_modalities_encoders() -> None:
    torch.manual_seed(0)
    model = FusionModel().train()
    out = model(*with_mask(model.example_inputs(4), [1, 0, 1, 0]))
    (out["terrain"].sum() + out["collision"].sum() + out["slip"].sum()).backward()
    for i, encoder in enumerate(model.encoders):
        grads = [p.grad for p in encoder.parameters()]
        moved = any(g is not None and g.abs().sum() > 0 for g in grads)
        assert moved == (i in (0, 2)), MODALITY_NAMES[i]


def test_initialization_is_deterministic_for_a_seed() -> None:
    def params(seed: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(seed)
        return FusionModel().state_dict()

    a, b, c = params(3), params(3), params(4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_the_model_is_small_enough_to_ship() -> None:
    model = FusionModel()
    assert model.count_parameters() < 1_000_000  # under 4 MB as float32
    for encoder in model.encoders:
        assert sum(p.numel() for p in encoder.parameters()) < 100_000


@pytest.mark.parametrize("kind", ["concat", "late", "tfn", "lmf"])
def test_other_fusion_kinds_build_and_survive_masking(kind: str) -> None:
    torch.manual_seed(0)
    model = FusionModel(FusionModelConfig(fusion=kind)).eval()  # type: ignore[arg-type]
    out = run(model, with_mask(model.example_inputs(2), [0, 1, 0, 1]))
    assert all(torch.isfinite(v).all() for v in out.values())


def test_onnx_export_has_named_inputs_a_dynamic_batch_and_matches_torch(model: FusionModel, tmp_path: Path) -> None:
    pytest.importorskip("onnxscript", reason="the dynamo ONNX exporter needs onnxscript")
    ort = pytest.importorskip("onnxruntime", reason="running the exported graph needs onnxruntime")
    from robofuse.train.export import export_graph

    path = tmp_path / "model.onnx"
    export_graph(model, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    shapes = model.config.input_shapes()
    assert [(i.name, tuple(i.shape[1:])) for i in session.get_inputs()] == [(n, shapes[n]) for n in INPUT_NAMES]
    assert all(isinstance(i.shape[0], str) for i in session.get_inputs())
    assert [o.name for o in session.get_outputs()] == list(model.config.output_names)
    for size in (1, 5):
        inputs = model.example_inputs(size, seed=size)
        mask = (torch.rand(size, 4, generator=torch.Generator().manual_seed(size)) > 0.4).float()
        inputs = (*inputs[:4], mask)
        want = run(model, inputs)
        got = session.run(None, {n: t.numpy() for n, t in zip(INPUT_NAMES, inputs, strict=True)})
        for name, value in zip(model.config.output_names, got, strict=True):
            np.testing.assert_allclose(value, want[name].numpy(), atol=1e-4, err_msg=name)


def test_an_lmf_model_with_presence_gates_exports_to_onnx_and_matches_torch(tmp_path: Path) -> None:
    # the round-5 LMF recipe (docs/evaluation/candidates/lmf_presence.yaml) must ship like the rest
    pytest.importorskip("onnxscript", reason="the dynamo ONNX exporter needs onnxscript")
    ort = pytest.importorskip("onnxruntime", reason="running the exported graph needs onnxruntime")
    from robofuse.train.export import export_graph

    torch.manual_seed(0)
    model = FusionModel(FusionModelConfig(fusion="lmf", presence_gate=True)).eval()
    with torch.no_grad():  # a gate closed far past float32's exp range: the shares must still agree
        model.fusion.factors_in.gate.bias[0] = -200.0
    path = tmp_path / "lmf.onnx"
    export_graph(model, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = with_mask(model.example_inputs(3, seed=1), [1, 1, 0, 1])
    want = run(model, inputs)
    got = session.run(None, {n: t.numpy() for n, t in zip(INPUT_NAMES, inputs, strict=True)})
    for name, value in zip(model.config.output_names, got, strict=True):
        np.testing.assert_allclose(value, want[name].numpy(), atol=1e-4, err_msg=name)
    gates = got[model.config.output_names.index("gates")]
    assert (gates[:, 2] == 0).all()  # the masked IMU has no share
    assert (gates[:, 0] < 1e-6).all()  # the closed camera almost none
    np.testing.assert_allclose(gates.sum(axis=1), 1.0, rtol=1e-6)


def test_a_heading_free_model_gives_the_same_outputs_whichever_way_the_robot_faces() -> None:
    # the models trained with the quaternion lose 5-17 points on unseen worlds when headings turn
    # (docs/evaluation/imu_channels.py); with it on, the heading cannot reach any output
    torch.manual_seed(0)
    model = FusionModel(FusionModelConfig(imu_heading_free=True)).eval()
    camera, lidar, imu, audio, mask = model.example_inputs(3, seed=2)
    t = torch.linspace(0.0, 1.0, imu.shape[1])
    roll, pitch = 0.3 * torch.sin(6.0 * t), 0.2 * torch.cos(4.0 * t)  # a tilt that changes over the window
    cr, sr, cp, sp = torch.cos(roll / 2), torch.sin(roll / 2), torch.cos(pitch / 2), torch.sin(pitch / 2)
    imu[..., 6:] = torch.stack([sr * cp, cr * sp, -sr * sp, cr * cp], dim=-1)  # q_pitch(y) * q_roll(x), xyzw
    # q_yaw(z) * q: the same tilt, facing yaw
    turned = torch.from_numpy(turn_heading(imu.numpy(), np.array([0.5, 2.0, -3.0])))
    before, after = run(model, (camera, lidar, imu, audio, mask)), run(model, (camera, lidar, turned, audio, mask))
    for name in before:
        torch.testing.assert_close(after[name], before[name], atol=1e-5, rtol=1e-5)
    tilt = model.encoders[2].pre(imu)[:, 6:]  # (B, 3, T): the gravity direction really varies
    assert tilt[:, :2].abs().max() > 0.1
    plain = FusionModel(FusionModelConfig()).eval()  # without it the heading moves the outputs
    moved = (
        run(plain, (camera, lidar, turned, audio, mask))["terrain"]
        - run(plain, (camera, lidar, imu, audio, mask))["terrain"]
    )
    assert moved.abs().max() > 1e-4


def test_a_trunk_that_reads_the_mask_sees_presence_and_nothing_of_a_masked_sensor() -> None:
    torch.manual_seed(0)
    model = FusionModel(FusionModelConfig(trunk_reads_mask=True)).eval()
    assert model.trunk[0].in_features == model.config.fused_dim + 4
    clean = with_mask(model.example_inputs(3), [1, 0, 1, 1])
    dirty = (clean[0], torch.full_like(clean[1], float("nan")), *clean[2:])
    before, after = run(model, clean), run(model, dirty)
    for name in before:
        assert torch.equal(before[name], after[name]), name
    # presence is read as 0/1: a mask of 0.7 means present, exactly as 1 does
    soft = (*clean[:4], clean[4] * 0.7 + (clean[4] == 0) * 0.2)
    for name, value in run(model, soft).items():
        assert torch.equal(value, before[name]), name
    # the trunk's mask inputs matter: the same fused features under another mask give other logits
    with torch.inference_mode():
        a = model.trunk(torch.cat([torch.zeros(2, 64), torch.tensor([[1.0, 0, 0, 0]] * 2)], dim=1))
        b = model.trunk(torch.cat([torch.zeros(2, 64), torch.tensor([[0.0, 1, 0, 0]] * 2)], dim=1))
    assert not torch.equal(a, b)
    nothing = with_mask(model.example_inputs(2), [0, 0, 0, 0])
    out = run(model, (*(torch.full_like(x, float("nan")) for x in nothing[:4]), nothing[4]))
    assert all(torch.isfinite(v).all() for v in out.values())
    assert out["usable"].tolist() == [0.0, 0.0]
