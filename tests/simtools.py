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

# The acceptance clocks: offsets up to 1 s, drift up to 100 ppm (the audio ADC at the
# bound), one-sided transport jitter up to 2 ms. Stamping jitter stays at each stream's default.
ACCEPTANCE_CLOCKS: dict[str, dict[str, float]] = {
    "camera": {"offset_s": 0.97, "drift_ppm": 35.0},
    "lidar": {"offset_s": -0.83, "drift_ppm": -60.0},
    "imu": {"offset_s": -0.31, "drift_ppm": 80.0},
    "audio": {"offset_s": 0.62, "drift_ppm": -100.0},
}
TRANSPORT_JITTER: dict[str, float] = {"latency_extra_ms": 1.0, "latency_cap_ms": 2.0}


def with_clocks(rig: RigConfig, clocks: dict[str, dict[str, float]], **common: float) -> RigConfig:
    """``rig`` with each named stream's ClockSettings replaced by ``clocks[name]`` and ``common``.

    The calibration's latency_min_s must stay equal to each stream's latency_min_ms (what
    passive synchronisation cannot see); this helper changes neither, and checks it.
    """
    assert rig.calibration is not None
    streams = []
    for s in rig.streams:
        clock = dataclasses.replace(s.settings.clock, **{**clocks.get(s.name, {}), **common})
        assert abs(rig.calibration.of(s.name).latency_min_s - clock.latency_min_ms / 1000) < 1e-12
        streams.append(dataclasses.replace(s, settings=dataclasses.replace(s.settings, clock=clock)))
    return dataclasses.replace(rig, streams=tuple(streams))


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
