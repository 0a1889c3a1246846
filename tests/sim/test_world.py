"""The procedural world: deterministic, unbounded, and it has every event the cue table promises."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest

from robofuse.labels import Light, Terrain
from robofuse.sim.settings import WorldSettings
from robofuse.sim.world import COLLISION_LABEL_NS, World


def test_the_same_seed_gives_the_same_world_and_another_seed_another() -> None:
    times = np.arange(0, 120e9, 1e8).astype(np.int64)
    a, b, c = (World(WorldSettings(seed=s)).state(times) for s in (5, 5, 6))
    assert np.array_equal(a.x_m, b.x_m)
    assert np.array_equal(a.terrain, b.terrain)
    assert not np.array_equal(a.terrain, c.terrain)


def test_random_access_gives_the_same_answer_as_walking_in_order() -> None:
    late = World(WorldSettings(seed=2)).state(np.array([300_000_000_000]))
    walked = World(WorldSettings(seed=2))
    walked.state(np.arange(0, 300e9, 1e9).astype(np.int64))
    again = walked.state(np.array([300_000_000_000]))
    assert late.x_m[0] == again.x_m[0]
    assert late.terrain[0] == again.terrain[0]


def test_over_half_an_hour_every_terrain_light_and_event_occurs() -> None:
    world = World(WorldSettings(seed=0))
    segments = [world.segment(k) for k in range(300)]
    assert set(Counter(s.terrain for s in segments)) == set(Terrain)
    assert set(Counter(s.light for s in segments)) == set(Light)
    events = Counter(s.event for s in segments)
    assert {"stop", "slip", "collision", "approach", ""} <= set(events)
    assert 0.1 < sum(s.wind for s in segments) / len(segments) < 0.6
    kinds = Counter(im.kind for s in segments for im in s.impacts)
    assert kinds["collision"] == events["collision"]
    assert kinds["bump"] > kinds["collision"]


def test_the_robot_moves_continuously_and_no_faster_than_its_limit() -> None:
    world = World(WorldSettings(seed=3))
    st = world.state(np.arange(0, 200e9, 5e6).astype(np.int64))
    step = np.hypot(np.diff(st.x_m), np.diff(st.y_m))
    assert step.max() <= 2.0 * 0.005 * 1.05  # max speed 2 m/s over 5 ms steps
    assert st.body_speed.max() <= 2.0
    assert st.body_speed.min() >= 0.0
    assert np.all(np.diff(st.odometer_m) >= 0)


def test_slip_means_wheels_turn_while_the_body_stands_still() -> None:
    world = World(WorldSettings(seed=0))
    seg = next(world.segment(k) for k in range(200) if world.segment(k).event == "slip")
    t = np.arange(seg.event_ns, seg.slip_end_ns, 10_000_000)
    st = world.state(t)
    assert st.slip.all()
    assert np.all(st.body_speed == 0.0)
    assert np.all(st.wheel_speed > 0.5)
    assert not world.truth(seg.event_ns - 100_000_000).slip


def test_a_collision_is_labelled_for_half_a_second_with_the_obstacle_at_the_bumper() -> None:
    world = World(WorldSettings(seed=0))
    seg = next(world.segment(k) for k in range(200) if world.segment(k).event == "collision")
    assert world.truth(seg.event_ns).collision
    assert world.truth(seg.event_ns + COLLISION_LABEL_NS - 1_000_000).collision
    assert not world.truth(seg.event_ns + COLLISION_LABEL_NS + 10_000_000).collision
    assert not world.truth(seg.event_ns - 10_000_000).collision
    assert world.truth(seg.event_ns + 200_000_000).obstacle_distance_m == pytest.approx(0.3, abs=0.02)
    assert world.truth(seg.event_ns).obstacle_distance_m < 0.3 + 0.15


def test_an_approach_stops_short_of_the_obstacle_without_a_collision() -> None:
    world = World(WorldSettings(seed=0))
    seg = next(world.segment(k) for k in range(200) if world.segment(k).event == "approach")
    truth = world.truth(seg.event_ns + 200_000_000)
    assert truth.body_speed_mps == 0.0
    assert not truth.collision
    assert 0.3 + 0.1 < truth.obstacle_distance_m < 0.3 + 0.4


def test_settings_refuse_impossible_probabilities() -> None:
    with pytest.raises(ValueError, match="must be <= 1"):
        dataclasses.replace(WorldSettings(), slip_prob=0.5, collision_prob=0.5, approach_prob=0.2)
    with pytest.raises(ValueError, match="world time must be >= 0"):
        World(WorldSettings()).state(np.array([-1]))
