"""Per-terrain physical properties: the cues each sensor can pick up (docs/cue_table.md).

Pairs are deliberately alike for single sensors: the IMU cannot tell asphalt from mud or grass
from sand, the microphone cannot tell asphalt from sand or grass from mud, the LIDAR only sees
three levels of roughness, and the camera is blind at night. Together they separate all six.
"""

from __future__ import annotations

from dataclasses import dataclass

from robofuse.labels import Terrain


@dataclass(frozen=True)
class TerrainPhysics:
    """What a terrain does to each sensor."""

    color_rgb: tuple[int, int, int]  # mean albedo seen by the camera in daylight
    texture: str  # camera texture kind: fine, speckle, streaks, grid
    texture_contrast: float  # 0..1 amplitude of the texture around the mean color
    roughness_m: float  # standard deviation of ground height (LIDAR)
    vib_gain: float  # IMU vibration amplitude per m/s of body speed, m/s^2
    vib_band_hz: tuple[float, float]  # IMU vibration band
    joint_pitch_m: float  # distance between tile joints (0: none): periodic jolts and clicks
    sound: str  # rolling-noise kind: hiss, crunch, rustle, clicks
    sound_band_hz: tuple[float, float]  # rolling-noise band
    bump_factor: float  # scales the world's bump rate


PHYSICS: dict[Terrain, TerrainPhysics] = {
    # IMU group "low, broadband" = {asphalt, mud}; audio group "hiss" = {asphalt, sand}
    Terrain.ASPHALT: TerrainPhysics(
        (70, 70, 74), "fine", 0.25, 0.002, 0.35, (20.0, 50.0), 0.0, "hiss", (2000.0, 6000.0), 0.3
    ),
    Terrain.GRAVEL: TerrainPhysics(
        (150, 145, 135), "speckle", 0.9, 0.03, 2.0, (10.0, 50.0), 0.0, "crunch", (800.0, 5000.0), 2.0
    ),
    # IMU group "medium, low frequency" = {grass, sand}; audio group "rustle" = {grass, mud}
    Terrain.GRASS: TerrainPhysics(
        (60, 120, 45), "streaks", 0.5, 0.015, 0.9, (5.0, 15.0), 0.0, "rustle", (200.0, 900.0), 0.7
    ),
    Terrain.SAND: TerrainPhysics(
        (200, 180, 130), "fine", 0.2, 0.004, 0.9, (5.0, 15.0), 0.0, "hiss", (2000.0, 6000.0), 0.5
    ),
    Terrain.TILES: TerrainPhysics(
        (140, 135, 130), "grid", 0.6, 0.002, 0.35, (20.0, 50.0), 0.3, "clicks", (1500.0, 5000.0), 0.3
    ),
    Terrain.MUD: TerrainPhysics(
        (80, 60, 40), "speckle", 0.3, 0.015, 0.35, (20.0, 50.0), 0.0, "rustle", (200.0, 900.0), 0.7
    ),
}
