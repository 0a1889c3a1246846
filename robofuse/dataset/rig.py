"""The rig that training data is generated with: the bundled rig at training resolution."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from enum import Enum
from pathlib import Path
from typing import Any

import robofuse
from robofuse.config import RigConfig, load_rig

CAMERA_WIDTH = 64
CAMERA_HEIGHT = 48
LIDAR_AZIMUTH_STEPS = 360


def training_rig(seed: int, base: RigConfig | None = None) -> RigConfig:
    """``base`` (default: the bundled rig) with a 64x48 camera, a 360-step LIDAR and world seed ``seed``.

    The alignment's range image gets 360 columns to match the LIDAR; clocks, transport,
    calibration and world settings stay as in ``base``.
    """
    rig = (base if base is not None else load_rig(robofuse.default_rig_path())).with_seed(seed)
    streams = []
    for s in rig.streams:
        if s.type == "sim.camera":
            s = dataclasses.replace(
                s, settings=dataclasses.replace(s.settings, width=CAMERA_WIDTH, height=CAMERA_HEIGHT)
            )
        elif s.type == "sim.lidar":
            s = dataclasses.replace(s, settings=dataclasses.replace(s.settings, azimuth_steps=LIDAR_AZIMUTH_STEPS))
        streams.append(s)
    alignment = dataclasses.replace(rig.alignment, lidar_cols=LIDAR_AZIMUTH_STEPS)
    return dataclasses.replace(rig, streams=tuple(streams), alignment=alignment)


def _plain(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses as dicts, enums by value, paths dropped."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name != "source_file"  # where the file was read from says nothing about the data
        }
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def rig_digest(rig: RigConfig) -> str:
    """A hex SHA-256 of everything in ``rig`` that shapes the data (not the file it came from)."""
    text = json.dumps(_plain(rig), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
