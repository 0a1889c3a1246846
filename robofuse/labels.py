"""The task's labels and the conditions they were observed under (ground truth).

The simulated rig attaches a :class:`GroundTruth` to every instant; windows and results carry
it along so accuracy can be measured anywhere in the flow. Class names here are what a
model's sidecar lists, in this order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Terrain(IntEnum):
    """Ground the robot drives on (see docs/cue_table.md for what each sensor perceives)."""

    ASPHALT = 0
    GRAVEL = 1
    GRASS = 2
    SAND = 3
    TILES = 4
    MUD = 5


class Light(IntEnum):
    """Ambient light; at night the camera sees only its own read noise."""

    DAY = 0
    DUSK = 1
    NIGHT = 2


TERRAIN_NAMES: tuple[str, ...] = tuple(t.name.lower() for t in Terrain)


@dataclass(frozen=True, slots=True, kw_only=True)
class GroundTruth:
    """What was really happening at ``time_ns`` (host clock), as the simulator knows it.

    Labels: ``terrain``; ``collision`` (the body hit an obstacle within the last
    ``COLLISION_LABEL_S``); ``slip`` (wheels turning while the body stands still).
    Conditions: ``light``, ``wind`` (strong wind that masks low audio), speeds.
    """

    time_ns: int
    terrain: Terrain
    collision: bool
    slip: bool
    light: Light
    wind: bool
    wheel_speed_mps: float
    body_speed_mps: float
    obstacle_distance_m: float
