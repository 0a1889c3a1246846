"""robofuse sweep: the evaluation's training plan, parallel runs that resume, deadlines and failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="training needs torch (pip install robofuse[train])")

from robofuse.cli.main import main
from robofuse.train.sweep import Job, evaluation_plan, run_sweep, subset_names

TINY = """train_seeds: [100, 101]
val_seeds: [900]
windows_per_seed: 20
val_windows_per_seed: 20
epochs: 1
batch_size: 8
model: {dim: 8, fused_dim: 8}
"""


def test_the_plan_has_the_baselines_then_every_subset_for_every_seed_smallest_first() -> None:
    jobs = evaluation_plan([0, 1, 2], ["late", "lmf"])
    names = [j.name for j in jobs]
    assert len(set(subset_names())) == 15
    assert len(jobs) == 15 * 3 + 2 == len(set(names))
    assert names[:2] == ["fusion/late/seed0", "fusion/lmf/seed0"]
    assert names[2:5] == ["specialists/camera/seed0", "specialists/camera/seed1", "specialists/camera/seed2"]
    sizes = [name.split("/")[1].count("+") + 1 for name in names[2:]]
    assert sizes == sorted(sizes)
    assert sizes[-1] == 4
    imu = next(j for j in jobs if j.name == "specialists/imu/seed1")
    assert imu.flags == ("--modalities", "imu", "--seed", "1")


@pytest.mark.slow
def test_a_sweep_trains_in_parallel_records_metrics_and_resumes(tmp_path: Path) -> None:
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(TINY)
    flags = ["--config", str(recipe), "--cache", str(tmp_path / "cache"), "--threads", "1"]
    jobs = [j for j in evaluation_plan([0], []) if j.name.split("/")[1] in ("imu", "audio")]
    results = run_sweep(jobs, tmp_path / "out", flags, parallel=2, progress=False)
    logs = [(tmp_path / "out" / r.name / "train.log").read_text() for r in results]
    assert [r.status for r in results] == ["done", "done"], logs
    assert all(0 <= r.metrics["terrain_acc"] <= 1 for r in results)
    assert (tmp_path / "out/specialists/imu/seed0/model.onnx").is_file()
    saved = json.loads((tmp_path / "out/sweep.json").read_text())
    assert [s["name"] for s in saved] == [j.name for j in jobs]
    again = run_sweep(jobs, tmp_path / "out", flags, parallel=2, progress=False)
    assert [r.status for r in again] == ["skipped", "skipped"]
    assert again[0].metrics == results[0].metrics


@pytest.mark.slow
def test_a_failed_run_is_reported_with_its_log_and_a_deadline_stops_the_rest(tmp_path: Path) -> None:
    broken = Job("specialists/imu/seed0", ("--modalities", "radar"))
    slow = Job("specialists/audio/seed0", ("--modalities", "audio"))
    flags = ["--config", str(tmp_path / "missing.yaml")]
    results = run_sweep([broken], tmp_path / "out", flags, parallel=1, progress=False)
    assert results[0].status == "failed"
    assert results[0].returncode not in (0, None)
    assert "missing.yaml" in (tmp_path / "out/specialists/imu/seed0/train.log").read_text()
    stopped = run_sweep([slow, broken], tmp_path / "out2", [], parallel=1, deadline_s=0.5, progress=False)
    assert [r.status for r in stopped] == ["stopped", "stopped"]


def test_the_cli_refuses_an_unknown_fusion_and_lists_a_dry_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sweep", "--out", str(tmp_path), "--fusions", "magic"]) == 1
    assert "unknown ['magic']" in capsys.readouterr().err
    assert main(["sweep", "--out", str(tmp_path), "--seeds", "4", "--only", "specialists/lidar*", "--dry-run"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 4  # lidar, lidar+imu, lidar+audio, lidar+imu+audio
    assert all(line.startswith("specialists/lidar") for line in listed)
    assert "--seed 4" in listed[0]


def test_the_train_cli_knows_every_fusion_kind() -> None:
    from typing import get_args

    from robofuse.cli.train import FUSIONS
    from robofuse.fusion.factory import FusionKind

    assert set(FUSIONS) == set(get_args(FusionKind))


def test_the_baselines_recipe_shares_the_shipped_recipes_data_budget_and_model() -> None:
    """Specialists and baselines train on the shipped model's data, epochs and encoders; only what
    trains every subset (subset loss, its heads and the teachers it distils), the camera's wider noise, the
    kept epoch and the seed differ."""
    import yaml

    docs = Path(__file__).resolve().parents[2] / "docs"
    shipped = yaml.safe_load((docs / "train_default_model.yaml").read_text())
    baselines = yaml.safe_load((docs / "train_baselines.yaml").read_text())
    assert shipped.pop("subset_loss") > 0
    assert shipped.pop("distill_from")
    distillation = ("distill_loss", "distill_temperature", "distill_weights")
    for key in ("subset_heads", "sensor_noise_max", "keep", "seed", *distillation):
        shipped.pop(key, None)
    assert baselines == shipped


@pytest.mark.parametrize(
    "recipe", sorted((Path(__file__).resolve().parents[2] / "docs/evaluation/candidates").glob("*.yaml")), ids=str
)
def test_every_candidate_recipe_loads_and_keeps_the_baselines_data_and_budget(recipe: Path) -> None:
    """A candidate differs from docs/train_baselines.yaml in its training method, never in data or budget."""
    from robofuse.cli.train import load_recipe

    candidate, baselines = load_recipe(recipe), load_recipe(recipe.parents[2] / "train_baselines.yaml")
    for key in ("train_seeds", "val_seeds", "windows_per_seed", "epochs", "batch_size", "learning_rate"):
        assert getattr(candidate, key) == getattr(baselines, key), key
    assert (candidate.model.dim, candidate.model.fused_dim) == (baselines.model.dim, baselines.model.fused_dim)


def test_a_recipe_loads_as_robofuse_train_would_read_it_and_names_the_worlds_it_trains_on() -> None:
    from robofuse.cli.train import load_recipe
    from robofuse.train.sweep import recipe_worlds

    recipe = Path(__file__).resolve().parents[2] / "docs/train_default_model.yaml"
    config = load_recipe(recipe, epochs=3, device="cuda")
    assert (config.epochs, config.device, config.seed) == (3, "cuda", load_recipe(recipe).seed)
    worlds = recipe_worlds(config)
    assert worlds[0] == (config.train_seeds[0], config.windows_per_seed)
    assert worlds[-1] == (config.val_seeds[-1], config.val_windows_per_seed)
    assert len(worlds) == len(config.train_seeds) + len(config.val_seeds)
    with pytest.raises(TypeError, match="unknown flags"):
        load_recipe(recipe, epoch=3)


def test_the_shipped_models_sidecar_was_trained_with_the_documented_recipe() -> None:
    """docs/train_default_model.yaml, as `robofuse train --threads 1` reads it, is what trained the bundled model."""
    import dataclasses
    import json

    import robofuse
    from robofuse.cli.train import load_recipe

    root = Path(__file__).resolve().parents[2]
    trained = json.loads(robofuse.default_model_path().with_suffix(".json").read_text())["training"]
    documented = json.loads(
        json.dumps(dataclasses.asdict(load_recipe(root / "docs/train_default_model.yaml", threads=1)))
    )
    for config in (trained, documented):
        config.pop("cache_dir")  # where windows were cached, not what was trained
    assert trained == documented
