"""``robofuse evaluate`` end to end on 2 seeds x 30 windows with a quickly trained model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from robofuse.cli.main import main
from robofuse.train.config import TrainConfig
from robofuse.train.loop import train


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A quick model's best.pt, trained on a private window cache; returns (checkpoint, cache)."""
    cache = tmp_path_factory.mktemp("cache")
    out = tmp_path_factory.mktemp("quick")
    config = TrainConfig.quick()
    import dataclasses

    train(dataclasses.replace(config, cache_dir=str(cache)), out, progress=False)
    return out / "best.pt", cache


@pytest.mark.slow
def test_the_cli_writes_markdown_json_and_plots(run_dir: tuple[Path, Path], tmp_path: Path) -> None:
    best, cache = run_dir
    specialists = tmp_path / "specialists"
    for seed in (0, 1):  # a stand-in specialist: the layout is what discovery reads
        (specialists / "camera" / f"seed{seed}").mkdir(parents=True)
        shutil.copy(best, specialists / "camera" / f"seed{seed}" / "best.pt")
    out = tmp_path / "report"
    argv = ["evaluate", "--model", f"default={best}", "--model", f"late={best}", "--specialists", str(specialists)]
    argv += ["--seeds", "5000-5001", "--windows-per-seed", "30", "--cache", str(cache), "--out", str(out)]
    argv += ["--quiet", "--emap-samples", "8", "--batch-size", "32"]
    assert main(argv) == 0
    assert {"report.md", "report.json", "subsets.png", "noise.png", "gates.png"} <= {p.name for p in out.iterdir()}
    result = json.loads((out / "report.json").read_text())
    assert result["data"]["windows"] == 60
    default = result["models"]["default"]
    assert len(default["subsets"]) == 15
    assert set(default["curves"]) == {"camera", "lidar", "imu", "audio", "all"}
    assert all(len(c) == 10 for c in default["curves"].values())
    assert default["robustness"]["camera"]["effective"]["mean"] == pytest.approx(0.0)  # same model as the baseline
    assert default["emap"]["per_seed"][0]["samples"] == 8
    assert result["specialists"]["camera"]["terrain_acc"]["n"] == 2
    assert result["comparison"]["camera"]["diff_points"] == pytest.approx(
        100
        * (default["subsets"]["camera"]["terrain_acc"]["mean"] - result["specialists"]["camera"]["terrain_acc"]["mean"])
    )
    assert any("specialist lidar" in m for m in result["missing"])
    assert any("trained on camera+lidar+imu+audio" in m for m in result["missing"])  # the stand-in's config says so
    turned = default["heading_turned"]["terrain_acc"]["mean"]
    heading = next(c for c in result["checks"] if "facing any way" in c["name"])
    assert heading["detail"].startswith(f"{100 * turned:.2f}%")
    drop = 100 * (default["subsets"]["camera+lidar+imu+audio"]["terrain_acc"]["mean"] - turned)
    assert heading["ok"] == (drop <= 1.0)
    md = (out / "report.md").read_text()
    assert "## Heading" in md
    assert "| camera+imu |" in md
    assert "EMAP" in md
    assert "Not evaluated" in md
    assert (out / "noise.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_model_paths_and_training_seeds_are_clear_errors(
    run_dir: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    best, cache = run_dir
    common = ["--windows-per-seed", "30", "--cache", str(cache), "--out", str(tmp_path), "--quiet"]
    assert main(["evaluate", "--model", f"x={tmp_path / 'nope.pt'}", *common]) == 1
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["evaluate", "--model", f"x={bad}", *common]) == 1
    assert "cannot read checkpoint" in capsys.readouterr().err
    assert main(["evaluate", "--model", f"x={best}", "--seeds", "100", *common]) == 1  # a training seed
    assert "used to train or validate" in capsys.readouterr().err
    assert main(["evaluate", "--model", "nopath", *common]) == 1
    assert "NAME=PATH" in capsys.readouterr().err


@pytest.mark.slow
def test_a_reference_report_stands_in_for_the_models_and_specialists_it_recorded(
    run_dir: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    best, cache = run_dir
    specialists = tmp_path / "specialists"
    (specialists / "imu" / "seed0").mkdir(parents=True)
    shutil.copy(best, specialists / "imu" / "seed0" / "best.pt")
    common = ["--seeds", "5000-5001", "--windows-per-seed", "30", "--cache", str(cache), "--quiet"]
    common += ["--emap-samples", "0", "--batch-size", "32"]
    full = tmp_path / "full"
    argv = ["evaluate", "--model", f"default={best}", "--model", f"late={best}", "--specialists", str(specialists)]
    assert main([*argv, *common, "--out", str(full)]) == 0
    recorded = tmp_path / "recorded"
    argv = ["evaluate", "--model", f"default={best}", "--reference", str(full / "report.json")]
    assert main([*argv, *common, "--out", str(recorded)]) == 0
    a = json.loads((full / "report.json").read_text())
    b = json.loads((recorded / "report.json").read_text())
    assert b["reference"] == {"path": str(full / "report.json"), "models": ["late"], "specialists": ["imu"]}
    assert b["models"]["late"]["recorded"] == str(full / "report.json")
    assert b["models"]["late"]["curves"] == a["models"]["late"]["curves"]
    assert b["specialists"]["imu"]["terrain_acc"] == a["specialists"]["imu"]["terrain_acc"]
    assert b["comparison"] == a["comparison"]
    # the same checks, effective robustness against the recorded late fusion included
    assert [(c["name"], c["ok"], c["detail"]) for c in b["checks"]] == [
        (c["name"], c["ok"], c["detail"]) for c in a["checks"]
    ]
    assert any("effective robustness" in c["name"] for c in b["checks"])
    assert "Recorded in" in (recorded / "report.md").read_text()
    capsys.readouterr()
    # other windows: refused, with what to do
    other = ["--seeds", "5000-5002", "--windows-per-seed", "30", "--cache", str(cache), "--quiet"]
    assert main([*argv, *other, "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert "was measured on worlds 5000-5001 (2 seeds, 60 windows), this run on 5000-5002" in err
    # a file that is no report
    junk = tmp_path / "junk.json"
    junk.write_text('{"models": {}}')
    assert main(["evaluate", "--reference", str(junk), *common, "--out", str(tmp_path / "y")]) == 1
    assert "not a robofuse evaluate report (no data, levels, specialists)" in capsys.readouterr().err
