"""The simulated camera shows what the cue table says it shows, deterministically."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from simtools import BARE, calibration_of, find_segment, make_sensor

from robofuse.config import RigConfig
from robofuse.labels import Light, Terrain
from robofuse.messages import CameraFrame
from robofuse.sim.camera import TEXEL_M, TILE, SimCamera
from robofuse.sim.clock import SensorClock
from robofuse.sim.world import Segment, World


def make_camera(rig: RigConfig, *, seed: int = 0, width: int = 64, height: int = 48, **world: Any) -> SimCamera:
    return make_sensor(
        SimCamera, "camera", seed=seed, settings={"width": width, "height": height}, world=world, rig=rig
    )


def frame_at(cam: SimCamera, host_ns: int, seq: int = 0) -> np.ndarray:
    """The image whose exposure starts at host time ``host_ns``."""
    image: np.ndarray = cam.render(seq, int(cam.clock.sensor_ns(host_ns)))["image"]
    return image


def high_frequency_energy(image: np.ndarray) -> float:
    """Mean squared difference of vertically adjacent pixels in the bottom middle of the view.

    The nearest ground is where a few millimetres of motion span several pixels.
    """
    h, w = image.shape[:2]
    patch = image[3 * h // 4 :, w // 4 : 3 * w // 4].astype(np.float64).mean(axis=2)
    return float(np.mean(np.diff(patch, axis=0) ** 2))


def test_render_makes_a_valid_rgb8_camera_frame_of_the_configured_size(bundled_rig: RigConfig) -> None:
    cam = make_camera(bundled_rig, width=80, height=60)
    payload = cam.render(0, int(cam.clock.sensor_ns(5e9)))
    frame = CameraFrame(stream="camera", frame_id="camera_optical", seq=0, stamp_ns=0, recv_ns=1, **payload)
    assert frame.encoding == "rgb8"
    assert frame.image.shape == (60, 80, 3)
    assert frame.image.dtype == np.uint8
    assert SimCamera.value_fields == ("image",)


def test_default_settings_render_640_by_480(bundled_rig: RigConfig) -> None:
    stream = bundled_rig.stream("camera")
    calibration = calibration_of(bundled_rig, "camera")
    cam = SimCamera(stream, World(bundled_rig.world), SensorClock(stream.settings.clock), calibration)
    assert frame_at(cam, 5_000_000_000).shape == (480, 640, 3)


def test_two_sensors_with_the_same_seed_render_the_same_frames(bundled_rig: RigConfig) -> None:
    a, b = make_camera(bundled_rig, seed=4), make_camera(bundled_rig, seed=4)
    for i in range(4):
        t = 3_000_000_000 + i * 400_000_000
        assert np.array_equal(frame_at(a, t, i), frame_at(b, t, i))


def test_different_seeds_render_different_frames(bundled_rig: RigConfig) -> None:
    a, b = make_camera(bundled_rig, seed=1), make_camera(bundled_rig, seed=2)
    assert not np.array_equal(frame_at(a, 3_000_000_000), frame_at(b, 3_000_000_000))


def terrain_colours(rig: RigConfig, light: Light) -> dict[Terrain, np.ndarray]:
    """Mean colour of the lower half of the view over three frames, per terrain, under ``light``."""
    out = {}
    for terrain in Terrain:

        def wanted(s: Segment, t: Terrain = terrain) -> bool:
            return s.terrain == t and s.light == light

        seed, seg = find_segment(rig, wanted, **BARE)
        cam = make_camera(rig, seed=seed, **BARE)
        frames = [frame_at(cam, seg.start_ns + 1_000_000_000 + i * 33_000_000, i) for i in range(3)]
        out[terrain] = np.mean([f[f.shape[0] // 2 :].reshape(-1, 3).mean(axis=0) for f in frames], axis=0)
    return out


def test_by_day_the_six_terrains_have_clearly_different_mean_colours(bundled_rig: RigConfig) -> None:
    colours = terrain_colours(bundled_rig, Light.DAY)
    for a in Terrain:
        for b in Terrain:
            if a < b:
                assert np.abs(colours[a] - colours[b]).max() > 4.0, (a.name, b.name)


def test_at_dusk_colours_fade_and_asphalt_and_mud_and_tiles_and_gravel_grow_close(bundled_rig: RigConfig) -> None:
    black = make_camera(bundled_rig).pedestal
    day, dusk = terrain_colours(bundled_rig, Light.DAY), terrain_colours(bundled_rig, Light.DUSK)
    for a, b in ((Terrain.ASPHALT, Terrain.MUD), (Terrain.TILES, Terrain.GRAVEL)):
        assert np.abs(dusk[a] - dusk[b]).max() < np.abs(day[a] - day[b]).max() / 2

    def chroma(rgb: np.ndarray) -> float:
        """Spread of the channels relative to brightness: what dimming alone leaves unchanged."""
        signal = rgb - black
        return float(np.ptp(signal) / signal.mean())

    assert chroma(dusk[Terrain.GRASS]) < 0.5 * chroma(day[Terrain.GRASS])


def test_at_night_frames_of_different_terrains_differ_by_less_than_the_noise(bundled_rig: RigConfig) -> None:
    colours = terrain_colours(bundled_rig, Light.NIGHT)
    seed, seg = find_segment(bundled_rig, lambda s: s.light == Light.NIGHT, **BARE)
    noise = frame_at(make_camera(bundled_rig, seed=seed, **BARE), seg.start_ns + 1_000_000_000).astype(np.float64)
    spread = np.ptp(np.array(list(colours.values())), axis=0).max()
    assert noise.std() > 2.0  # read noise is what remains...
    assert spread < 0.1 * noise.std()  # ...and it carries nothing about the ground


def test_a_moving_robot_blurs_the_ground_and_a_still_one_does_not(bundled_rig: RigConfig) -> None:
    seed, seg = find_segment(
        bundled_rig,
        lambda s: (
            s.light == Light.DAY
            and s.event in ("slip", "stop")
            and s.body_speed.max() > 1.7
            and (s.body_speed == 0).any()
        ),
        **BARE,
    )
    still = np.nonzero(seg.body_speed == 0)[0]
    moving_ns, still_ns = int(seg.grid_ns[np.argmax(seg.body_speed)]), int(seg.grid_ns[still[len(still) // 2]])
    cam = make_camera(bundled_rig, seed=seed, width=320, height=240, **BARE)
    half_exposure = int(cam.settings.exposure_ms * 5e5)
    moving = frame_at(cam, moving_ns - half_exposure, 0)
    still = frame_at(cam, still_ns - half_exposure, 1)
    assert high_frequency_energy(moving) < 0.5 * high_frequency_energy(still)


def test_wheels_spinning_on_the_spot_look_like_standing_still(bundled_rig: RigConfig) -> None:
    seed, seg = find_segment(bundled_rig, lambda s: s.light == Light.DAY and s.event == "slip", **BARE)
    cam = make_camera(bundled_rig, seed=seed, width=160, height=120, **BARE)
    a = frame_at(cam, seg.event_ns + 200_000_000, 0).astype(np.int16)
    b = frame_at(cam, seg.event_ns + 700_000_000, 1).astype(np.int16)
    assert cam.world.state(np.array([seg.event_ns + 200_000_000])).slip[0]
    # The wheels turn but the body does not move: the view stays put, only the noise changes.
    assert np.abs(a - b).mean() < 3 * cam.settings.read_noise_dn


@pytest.mark.parametrize("event", ["collision", "approach"])
def test_an_obstacle_at_the_front_fills_the_lower_middle_of_the_view(
    bundled_rig: RigConfig, event: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed, seg = find_segment(bundled_rig, lambda s: s.event == event and s.light == Light.DAY)
    t = seg.event_ns + 300_000_000
    with_obstacles = make_camera(bundled_rig, seed=seed, width=80, height=60)
    without = make_camera(bundled_rig, seed=seed, width=80, height=60)
    monkeypatch.setattr(without.world, "obstacles_near", lambda time_ns: np.zeros((0, 4)))
    a, b = frame_at(with_obstacles, t).astype(np.int16), frame_at(without, t).astype(np.int16)
    lower_middle = (slice(40, 60), slice(30, 50))
    # Both sensors draw the same noise, so whatever differs was painted by the obstacle.
    changed = np.abs(a[lower_middle] - b[lower_middle]).max(axis=2) > 2
    assert changed.mean() > 0.95


def test_the_ground_texture_stays_on_the_ground_as_the_robot_drives(bundled_rig: RigConfig) -> None:
    seed, seg = find_segment(
        bundled_rig,
        lambda s: (
            s.light == Light.DAY
            and s.terrain == Terrain.GRAVEL
            and s.body_speed.min() > 0.5
            and np.ptp(s.body_speed[-800:]) == 0
        ),
        **BARE,
    )
    cam = make_camera(bundled_rig, seed=seed, width=160, height=120, **BARE)
    half_exposure = int(cam.settings.exposure_ms * 5e5)
    t = int(seg.grid_ns[-800])  # cruising: same speed, so the same motion blur, throughout
    odometer = float(cam.world.state(np.array([t])).odometer_m[0])

    def after(metres: float) -> int:  # when the body has travelled `metres` more
        return int(np.interp(odometer + metres, seg.odometer_m, seg.grid_ns))

    period = TILE * TEXEL_M  # the texture repeats along track after this distance
    start = frame_at(cam, t - half_exposure, 0).astype(np.int16)
    half_way = frame_at(cam, after(period / 2) - half_exposure, 1).astype(np.int16)
    once_round = frame_at(cam, after(period) - half_exposure, 2).astype(np.int16)
    near = (slice(80, 120), slice(40, 120))
    noise_only = np.abs(start[near] - once_round[near]).mean()
    assert noise_only < 2 * cam.settings.read_noise_dn
    assert np.abs(start[near] - half_way[near]).mean() > 3 * noise_only
