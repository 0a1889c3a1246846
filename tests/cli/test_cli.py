"""The command line: help everywhere, the demo runs, mistakes are explained."""

from __future__ import annotations

import subprocess
import sys

import pytest

from robofuse.cli.main import main


def test_help_lists_the_demo_and_every_subcommand_has_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "robofuse.cli.main", "--help"], capture_output=True, text=True, check=True
    )
    assert "demo" in out.stdout
    sub = subprocess.run(
        [sys.executable, "-m", "robofuse.cli.main", "demo", "--help"], capture_output=True, text=True, check=True
    )
    assert "--seconds" in sub.stdout
    assert "--fault" in sub.stdout


def test_no_subcommand_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: robofuse" in capsys.readouterr().out


def test_the_demo_shows_rates_true_clocks_and_ground_truth_labelled_as_truth(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--seconds", "2.5", "--speed", "0", "--plain"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("t=")]
    assert len(lines) == 2  # one status line per simulated second
    assert "truth: terrain=" in lines[0]
    assert "imu=" in lines[0]
    assert "TRUE offset s" in out
    assert "TRUE drift ppm" in out
    assert "+0.370" in out  # the camera's true clock offset from the rig file
    imu_rate = float(lines[-1].split("imu=")[1].split("Hz")[0])
    assert imu_rate == pytest.approx(400, rel=0.02)


def test_the_demo_reports_a_dead_stream_as_silent(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--seconds", "3.2", "--speed", "0", "--plain", "--fault", "lidar:dead@0.5"]) == 0
    last = [line for line in capsys.readouterr().out.splitlines() if line.startswith("t=")][-1]
    assert "lidar=0.0Hz" in last


def test_nan_faults_become_rejected_samples_and_are_counted(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--seconds", "1", "--speed", "0", "--plain", "--fault", "imu:nan@0.2-0.6=0.5"]) == 0
    out = capsys.readouterr().out
    rejected = int(out.strip().splitlines()[-1].split(", ")[-1].split()[0])
    assert 140 <= rejected <= 165  # 0.4 s of a 400 Hz IMU, almost every sample has a NaN


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--fault", "imu:melted"], "fault kind 'melted' unknown"),
        (["demo", "--fault", "radar:dead"], "fault on unknown stream 'radar'"),
        (["demo", "--fault", "camera:nan"], "use 'corrupt'"),
        (["demo", "--rig", "/nonexistent.yaml"], "cannot read rig file"),
        (["demo", "--speed", "-1"], "--speed must be >= 0"),
        (["demo", "--seconds", "0"], "duration_s must be > 0"),
    ],
)
def test_demo_mistakes_are_explained_on_stderr(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    assert message in capsys.readouterr().err
