"""``robofuse snapshot``: pictures of what each simulated sensor sees at one instant, with the truth."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from robofuse.cli.rig_args import add_rig_arguments, rig_from_arguments
from robofuse.errors import ConfigError
from robofuse.messages import AudioChunk, CameraFrame, ImuSample, PointCloud
from robofuse.png import write_png
from robofuse.sim.rig import SimRig
from robofuse.sim.views import lidar_birds_eye, spectrogram

AUDIO_HISTORY_S = 2.0


def add_parser(subparsers: Any) -> None:
    """Register ``snapshot`` and its options."""
    p = subparsers.add_parser(
        "snapshot",
        help="save what each simulated sensor sees at one instant as PNG files",
        description="Run the simulated rig up to --at seconds and write camera.png, lidar.png (bird's-eye view) "
        "and audio.png (spectrogram of the last 2 s) into --out, and print the ground truth and the IMU reading.",
    )
    p.add_argument("--at", type=float, default=10.0, help="simulated time in seconds (default 10)")
    p.add_argument("--out", default="snapshot", help="output folder (default ./snapshot)")
    add_rig_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the pictures; returns the exit status."""
    if args.at < AUDIO_HISTORY_S:
        raise ConfigError(f"--at must be at least {AUDIO_HISTORY_S} s so there is audio history, got {args.at}")
    rig = rig_from_arguments(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    latest: dict[type, Any] = {}
    audio: list[np.ndarray] = []
    sample_rate = 16000
    with SimRig(rig, duration_s=args.at) as sim:
        for item in sim:
            latest[type(item)] = item
            if isinstance(item, AudioChunk):
                audio.append(item.samples[:, 0].astype(np.float32))
                sample_rate = item.rate_hz
    written = []
    if CameraFrame in latest:
        write_png(out / "camera.png", latest[CameraFrame].image)
        written.append("camera.png")
    if PointCloud in latest:
        write_png(out / "lidar.png", lidar_birds_eye(latest[PointCloud].points))
        written.append("lidar.png")
    if audio:
        tail = np.concatenate(audio)[-int(AUDIO_HISTORY_S * sample_rate) :]
        write_png(out / "audio.png", spectrogram(tail, sample_rate))
        written.append("audio.png")
    print(f"wrote {', '.join(written)} to {out}/")
    print(f"truth at {args.at:.2f} s: {sim.world.truth(round(args.at * 1e9))}")
    if ImuSample in latest:
        imu = latest[ImuSample]
        print(
            f"imu: angular velocity {np.round(imu.angular_velocity, 3)} rad/s, "
            f"acceleration {np.round(imu.linear_acceleration, 2)} m/s^2"
        )
    return 0
