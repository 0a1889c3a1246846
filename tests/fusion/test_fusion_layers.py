"""One contract suite for every fusion layer: shapes, every sensor subset, and masking that really masks."""

from __future__ import annotations

import dataclasses
import itertools
import subprocess
import sys

import pytest

torch = pytest.importorskip(
    "torch", reason="PyTorch is not installed (pip install torch==2.13.0, then pip install -e '.[train]')"
)

from torch import Tensor, nn  # noqa: E402

from robofuse.fusion.factory import FusionConfig, make_fusion  # noqa: E402
from robofuse.fusion.layers import ConcatFusion, GatedFusion  # noqa: E402
from robofuse.fusion.tensor import LowRankFusion, TensorFusion  # noqa: E402

BASE_KINDS = ["concat", "late", "tfn", "lmf", "gated"]
KINDS = [*BASE_KINDS, "tfn+presence", "lmf+presence"]  # +presence: presence_gate on
B, M, D, OUT = 5, 4, 16, 8
SUBSETS = [s for r in range(M + 1) for s in itertools.combinations(range(M), r)]  # 16, the empty one first


def build(kind: str) -> nn.Module:
    torch.manual_seed(0)
    base, _, variant = kind.partition("+")
    config = FusionConfig(base, modalities=M, dim=D, out_dim=OUT, presence_gate=variant == "presence")  # type: ignore[arg-type]
    return make_fusion(config)


def subset_mask(subset: tuple[int, ...], batch: int = B) -> Tensor:
    mask = torch.zeros(batch, M)
    mask[:, list(subset)] = 1.0
    return mask


def features(batch: int = B, seed: int = 1) -> Tensor:
    return torch.randn(batch, M, D, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("kind", KINDS)
def test_output_and_info_have_the_documented_shapes(kind: str) -> None:
    y, info = build(kind)(features(), torch.ones(B, M))
    assert y.shape == (B, OUT)
    assert info["weights"].shape == (B, M)
    assert info["usable"].shape == (B,)
    assert info["usable"].dtype == torch.bool


@pytest.mark.parametrize("kind", KINDS)
def test_every_subset_of_sensors_gives_finite_output_and_weights_only_on_present_ones(kind: str) -> None:
    layer = build(kind)
    for subset in SUBSETS:
        mask = subset_mask(subset)
        y, info = layer(features(), mask)
        assert torch.isfinite(y).all(), subset
        assert torch.isfinite(info["weights"]).all(), subset
        assert bool(info["usable"].all()) == bool(subset), subset
        assert (info["weights"][mask == 0] == 0).all(), subset
        expected_total = 1.0 if subset else 0.0
        torch.testing.assert_close(info["weights"].sum(dim=1), torch.full((B,), expected_total))


@pytest.mark.parametrize("kind", KINDS)
def test_with_every_sensor_masked_the_output_is_finite_and_flagged_unusable_even_for_nan_input(kind: str) -> None:
    y, info = build(kind)(torch.full((B, M, D), float("nan")), torch.zeros(B, M))
    assert torch.isfinite(y).all()
    assert not info["usable"].any()
    assert (info["weights"] == 0).all()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("garbage", ["noise", "huge", "nan", "inf"])
@pytest.mark.parametrize("grad", [True, False], ids=["training", "inference"])
def test_a_masked_modalitys_input_cannot_change_the_output_or_the_weights(kind: str, garbage: str, grad: bool) -> None:
    # the property MultiBench gets wrong: zero-filling or multiplying by the mask leaks the input.
    # Inference too: without autograd TFN/LMF skip the zeroing, so the garbage does reach the projections
    with torch.set_grad_enabled(grad):
        layer = build(kind)
        x = features()
        replacement = {
            "noise": 100.0 * torch.randn(B, M, D),
            "huge": torch.full((B, M, D), 1e30),
            "nan": torch.full((B, M, D), float("nan")),
            "inf": torch.full((B, M, D), float("inf")),
        }[garbage]
        for subset in SUBSETS[:-1]:  # every subset with something masked
            mask = subset_mask(subset)
            corrupted = torch.where(mask.unsqueeze(-1) > 0, x, replacement)
            y0, info0 = layer(x, mask)
            y1, info1 = layer(corrupted, mask)
            assert torch.equal(y0, y1), subset
            assert torch.equal(info0["weights"], info1["weights"]), subset


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_reach_present_modalities_and_are_exactly_zero_for_masked_ones(kind: str) -> None:
    layer = build(kind)
    for subset in SUBSETS[1:]:
        x = features().requires_grad_(True)
        y, _ = layer(x, subset_mask(subset))
        y.square().sum().backward()
        assert x.grad is not None
        for m in range(M):
            if m in subset:
                assert x.grad[:, m].abs().sum() > 0, (subset, m)
            else:
                assert (x.grad[:, m] == 0).all(), (subset, m)


def test_gates_sum_to_one_over_present_modalities_and_masked_features_move_no_gate() -> None:
    layer = GatedFusion(M, D, OUT)
    x = features()
    for subset in SUBSETS[1:]:
        mask = subset_mask(subset)
        _, info = layer(x, mask)
        gates = info["weights"]
        torch.testing.assert_close(gates.sum(dim=1), torch.ones(B))
        assert (gates[:, list(subset)] > 0).all()
        assert (gates[mask == 0] == 0).all()
        moved = x + 50.0 * (1 - mask).unsqueeze(-1) * torch.randn(B, M, D)  # change only the masked ones
        assert torch.equal(layer(moved, mask)[1]["weights"], gates)


def test_a_gate_depends_only_on_its_own_modality_so_present_gates_keep_their_ratios() -> None:
    # dropping modality 3 renormalizes the others' gates without changing their relative sizes
    layer = GatedFusion(M, D, OUT)
    x = features()
    all_gates = layer(x, torch.ones(B, M))[1]["weights"]
    fewer = layer(x, subset_mask((0, 1, 2)))[1]["weights"]
    torch.testing.assert_close(fewer[:, :3], all_gates[:, :3] / all_gates[:, :3].sum(dim=1, keepdim=True))


def test_lmf_factors_are_registered_parameters_that_get_gradients_and_train() -> None:
    layer = LowRankFusion(M, D, OUT, proj_dim=4, rank=3)
    assert any(p is layer.factors for p in layer.parameters())
    assert layer.factors.shape == (M, 3, 5, OUT)
    before = layer.factors.detach().clone()
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    y, _ = layer(features(), torch.ones(B, M))
    y.square().mean().backward()
    assert layer.factors.grad is not None
    assert layer.factors.grad.abs().sum() > 0
    optimizer.step()
    assert not torch.equal(layer.factors.detach(), before)


@pytest.mark.parametrize(("normalize", "presence_gate"), [(True, False), (False, False), (True, True)])
def test_lmf_equals_tfn_with_the_reconstructed_weight_for_every_subset(normalize: bool, presence_gate: bool) -> None:
    torch.manual_seed(0)
    lmf = LowRankFusion(M, D, OUT, proj_dim=4, rank=3, normalize=normalize, presence_gate=presence_gate)
    tfn = TensorFusion(M, D, OUT, proj_dim=4, normalize=normalize, presence_gate=presence_gate)
    with torch.no_grad():
        tfn.factors.load_state_dict(lmf.factors_in.state_dict())  # the same projections
        tfn.out.weight.copy_(lmf.reconstruct_tensor_weight())
        tfn.out.bias.copy_(lmf.bias)
    x = features()
    for subset in SUBSETS:
        torch.testing.assert_close(tfn(x, subset_mask(subset))[0], lmf(x, subset_mask(subset))[0], rtol=1e-5, atol=1e-5)


def output_change_ratio(layer: nn.Module, reference: nn.Module, sigma: float) -> float:
    """Mean output change of ``layer`` over that of ``reference`` when x (std sigma) gets noise of std 0.1 sigma."""
    gen = torch.Generator().manual_seed(2)
    x = sigma * torch.randn(256, M, 128, generator=gen)
    noisy = x + 0.1 * sigma * torch.randn(256, M, 128, generator=gen)
    mask = torch.ones(256, M)
    with torch.no_grad():
        change = (layer(noisy, mask)[0] - layer(x, mask)[0]).norm(dim=1).mean()
        reference_change = (reference(noisy, mask)[0] - reference(x, mask)[0]).norm(dim=1).mean()
    return float(change / reference_change)


@pytest.mark.parametrize("cls", [TensorFusion, LowRankFusion])
def test_normalized_tensor_fusions_amplify_input_noise_at_most_a_small_multiple_of_concat(cls: type) -> None:
    # Measured (3 seeds, default init): normalized TFN 1.9-2.1x, LMF 1.6-1.7x the concat layer's
    # output change at unit-scale features, and 0.2x at std 10 (normalization makes them scale
    # free, while concat is linear). Without normalization the products grow like |x|^(M-1):
    # 0.3x at std 1, ~3.6x at std 3, 100-130x at std 10. The bound below leaves ~1.5x margin.
    torch.manual_seed(0)
    concat = ConcatFusion(M, 128, 128)
    for sigma in (1.0, 10.0):
        torch.manual_seed(0)
        assert output_change_ratio(cls(M, 128, 128), concat, sigma) < 3.0, sigma
    torch.manual_seed(0)
    assert output_change_ratio(cls(M, 128, 128, normalize=False), concat, 10.0) > 30.0


@pytest.mark.parametrize("cls", [TensorFusion, LowRankFusion])
def test_a_presence_gate_amplifies_noise_no_more_than_the_ungated_layer_bound(cls: type) -> None:
    # the gate only scales a normalized vector by (0, 1), so the concat-relative bound still holds
    concat = ConcatFusion(M, 128, 128)
    for sigma in (1.0, 10.0):
        for spread in (0.0, 1.0, 3.0):  # the initial near-constant gate, then gates that move with the input
            torch.manual_seed(0)
            layer = cls(M, 128, 128, presence_gate=True)
            factors = layer.factors if cls is TensorFusion else layer.factors_in
            if spread:
                with torch.no_grad():
                    factors.gate.weight.normal_(0.0, spread / 128**0.5)
            assert output_change_ratio(layer, concat, sigma) < 3.0, (sigma, spread)


@pytest.mark.parametrize("cls", [TensorFusion, LowRankFusion])
def test_a_fully_closed_presence_gate_gives_exactly_the_fusion_without_that_modality(cls: type) -> None:
    # the continuum the gate exists for: open = present, closed = missing, nothing else in between leaks
    torch.manual_seed(0)
    layer = cls(M, D, OUT, presence_gate=True)
    factors = layer.factors if cls is TensorFusion else layer.factors_in
    with torch.no_grad():
        factors.gate.bias[2] = -1e4  # sigmoid -> exactly 0 for modality 2 whatever its features
    x = features()
    closed, info = layer(x, torch.ones(B, M))
    missing, _ = layer(x, subset_mask((0, 1, 3)))
    torch.testing.assert_close(closed, missing, rtol=0, atol=1e-6)
    assert (info["weights"][:, 2] == 0).all()
    torch.testing.assert_close(info["weights"].sum(dim=1), torch.ones(B))


@pytest.mark.parametrize("bias", [-200.0, -1e4])
def test_presence_shares_stay_exact_when_every_present_gate_underflows(bias: float) -> None:
    # inputs far from training can close every gate past float32's range; s / s.sum() would be 0/0
    layer = build("lmf+presence")
    with torch.no_grad():
        layer.factors_in.gate.bias.fill_(bias)
        layer.factors_in.gate.bias[1] = bias - 1.0
    for subset in SUBSETS[1:]:
        y, info = layer(features(), subset_mask(subset))
        assert torch.isfinite(y).all(), subset
        assert torch.isfinite(info["weights"]).all(), subset
        torch.testing.assert_close(info["weights"].sum(dim=1), torch.ones(B))
    _, info = layer(features(), torch.ones(B, M))
    assert (info["weights"][:, 1] < info["weights"][:, 0]).all()  # one logit lower: a smaller share, not 0/0


def test_presence_gates_are_reported_as_weights_and_depend_only_on_their_own_modality() -> None:
    layer = build("lmf+presence")
    with torch.no_grad():
        layer.factors_in.gate.weight.normal_()  # spread the gates so the weights differ per sample
    x = features()
    weights = layer(x, torch.ones(B, M))[1]["weights"]
    assert not torch.allclose(weights, torch.full((B, M), 0.25))
    fewer = layer(x, subset_mask((0, 1, 2)))[1]["weights"]
    torch.testing.assert_close(fewer[:, :3], weights[:, :3] / weights[:, :3].sum(dim=1, keepdim=True))
    moved = x.clone()
    moved[:, 3] += 5.0 * torch.randn(B, D)  # another modality's features: the first three gates must not move
    moved_weights = layer(moved, torch.ones(B, M))[1]["weights"]
    torch.testing.assert_close(moved_weights[:, :3] / moved_weights[:, :3].sum(dim=1, keepdim=True), fewer[:, :3])


def test_concat_fills_a_missing_modality_with_a_learned_embedding_not_zeros() -> None:
    # so "sensor gone" is distinguishable from "sensor reads all zeros"
    layer = ConcatFusion(M, D, OUT)
    zeros = torch.zeros(B, M, D)
    gone = layer(zeros, subset_mask((0, 1, 2)))[0]
    silent = layer(zeros, torch.ones(B, M))[0]
    assert not torch.allclose(gone, silent)


@pytest.mark.parametrize("kind", BASE_KINDS)
def test_make_fusion_builds_each_kind_with_the_configured_sizes(kind: str) -> None:
    layer = make_fusion(FusionConfig(kind, modalities=3, dim=32, out_dim=7))  # type: ignore[arg-type]
    y, _ = layer(torch.randn(2, 3, 32), torch.ones(2, 3))
    assert y.shape == (2, 7)


def test_fusion_config_rejects_unknown_kinds_and_sizes_below_one_and_is_frozen() -> None:
    with pytest.raises(ValueError, match="unknown fusion kind"):
        FusionConfig("sum")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rank"):
        FusionConfig("lmf", rank=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        FusionConfig("lmf").rank = 8  # type: ignore[misc]


def test_a_mask_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="expected x"):
        build("gated")(features(), torch.ones(B, M + 1))


def test_importing_robofuse_and_its_fusion_package_does_not_import_torch() -> None:
    code = "import sys, robofuse, robofuse.fusion; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
