"""Helpers for simulator tests: build one simulated sensor, find segments and windows of interest.

On the path through ``pythonpath = ["tests"]`` in pyproject.toml; import as ``simtools``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

import robofuse
from robofuse.config import RigConfig, load_rig
from robofuse.config.calibration import StreamCalibration
from robofuse.labels import Terrain
from robofuse.sim.clock import SensorClock
from robofuse.sim.sensor import SimSensor
from robofuse.sim.world import Segment, World, WorldState

BUNDLED: RigConfig = load_rig(robofuse.default_rig_path())

# Worlds without scattered obstacles or obstacle events, where only the ground is in view.
BARE: dict[str, Any] = {"obstacles_per_m": 0.0, "collision_prob": 0.0, "approach_prob": 0.0}

SensorT = TypeVar("SensorT", bound=SimSensor)


def small_rig(seed: int = 0) -> RigConfig:
    """The bundled rig with a 64x48 camera and a 360-step LIDAR: same clocks, same world, fast to render."""
    rig = BUNDLED.with_seed(seed)
    streams = []
    for s in rig.streams:
        if s.type == "sim.camera":
            s = dataclasses.replace(s, settings=dataclasses.replace(s.settings, width=64, height=48))
        elif s.type == "sim.lidar":
            s = dataclasses.replace(s, settings=dataclasses.replace(s.settings, azimuth_steps=360))
        streams.append(s)
    return dataclasses.replace(rig, streams=tuple(streams))


def calibration_of(rig: RigConfig, stream: str) -> StreamCalibration:
    """The rig's calibration of ``stream`` (the bundled rig always has one)."""
    assert rig.calibration is not None
    return rig.calibration.of(stream)


def make_sensor(
    cls: type[SensorT],
    stream_name: str,
    *,
    seed: int = 0,
    settings: dict[str, Any] | None = None,
    clock: dict[str, Any] | None = None,
    world: dict[str, Any] | None = None,
    rig: RigConfig = BUNDLED,
) -> SensorT:
    """One simulated sensor of ``rig`` with its settings, clock and world overridden as given."""
    stream = rig.stream(stream_name)
    clock_settings = dataclasses.replace(stream.settings.clock, **(clock or {}))
    stream = dataclasses.replace(
        stream, settings=dataclasses.replace(stream.settings, clock=clock_settings, **(settings or {}))
    )
    w = World(dataclasses.replace(rig.world, seed=seed, **(world or {})))
    return cls(stream, w, SensorClock(clock_settings), calibration_of(rig, stream_name))


def find_segment(rig: RigConfig, want: Callable[[Segment], bool], **world: Any) -> tuple[int, Segment]:
    """The first segment (over 20 seeds x 40 segments) that ``want`` accepts, with its seed."""
    for seed in range(20):
        w = World(dataclasses.replace(rig.world, seed=seed, **world))
        for k in range(40):
            if want(w.segment(k)):
                return seed, w.segment(k)
    raise AssertionError("no such segment in 20 seeds x 40 segments")


def segment_windows(
    seeds: range,
    seconds: float,
    accept: Callable[[World, WorldState], bool],
    world: dict[str, Any] | None = None,
    rig: RigConfig = BUNDLED,
    quiet: bool = False,
) -> Iterator[tuple[int, int, Terrain]]:
    """(seed, host start ns, terrain) of the window ending 0.2 s before each segment's end, if ``accept``ed.

    ``accept`` sees the world and its 200 Hz state over the window; ``quiet`` also skips windows
    with an impact in them or just before.
    """
    for seed in seeds:
        w = World(dataclasses.replace(rig.world, seed=seed, **(world or {})))
        for k in range(40):
            seg = w.segment(k)
            start = seg.end_ns - int((seconds + 0.2) * 1e9)
            if start < seg.start_ns:
                continue
            st = w.state(np.arange(start, start + int(seconds * 1e9), 5_000_000))
            if quiet and w.impacts_between(start - 200_000_000, start + int(seconds * 1e9)):
                continue
            if accept(w, st):
                yield seed, start, seg.terrain
