"""Shared fixtures for simulator tests: the bundled rig, rendered small so tests stay fast."""

from __future__ import annotations

import dataclasses

import pytest

import robofuse
from robofuse.config import RigConfig, load_rig


def small_rig(seed: int = 0) -> RigConfig:
    """The bundled rig with a 64x48 camera and a 360-step LIDAR: same clocks, same world."""
    rig = load_rig(robofuse.default_rig_path()).with_seed(seed)
    streams = []
    for s in rig.streams:
        if s.type == "sim.camera":
            s = dataclasses.replace(s, settings=dataclasses.replace(s.settings, width=64, height=48))
        elif s.type == "sim.lidar":
            s = dataclasses.replace(s, settings=dataclasses.replace(s.settings, azimuth_steps=360))
        streams.append(s)
    return dataclasses.replace(rig, streams=tuple(streams))


@pytest.fixture
def rig() -> RigConfig:
    """The small version of the bundled rig, seed 0."""
    return small_rig(0)


@pytest.fixture(scope="module")
def bundled_rig() -> RigConfig:
    """The bundled rig at full size (tests pick their own resolution)."""
    return load_rig(robofuse.default_rig_path())
