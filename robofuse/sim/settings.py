"""Settings of the simulated rig: the world, and each simulated sensor with its clock.

These dataclasses are what ``type: sim.*`` streams and the rig's ``world:`` section load into.
Defaults follow SIMULATION.md (real devices' figures); each field's comment says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from robofuse.config.registry import register_stream_type
from robofuse.messages import Modality
from robofuse.schema import require


@dataclass(frozen=True, kw_only=True)
class ClockSettings:
    """A simulated sensor's clock and transport: the truth that alignment must recover.

    ``offset_s``: sensor clock minus host clock at host time 0. ``drift_ppm``: how much faster the
    sensor clock runs (host = (sensor - offset) / (1 + drift)). ``jitter_us``: standard deviation
    of the stamping jitter (symmetric, Gaussian). ``latency_min_ms``: constant minimum transport
    delay; ``latency_extra_ms``: mean of the one-sided (exponential) extra delay, capped at
    ``latency_cap_ms``; ``burst_prob``: chance a message is held up by ``burst_ms`` more (a busy
    bus); ``drop_prob``: chance a message is lost.
    """

    offset_s: float = 0.0
    drift_ppm: float = 0.0
    jitter_us: float = 20.0
    latency_min_ms: float = 2.0
    latency_extra_ms: float = 0.5
    latency_cap_ms: float = 2.0
    burst_prob: float = 0.002
    burst_ms: float = 8.0
    drop_prob: float = 0.001

    def __post_init__(self) -> None:
        require(abs(self.offset_s) <= 1e5, f"offset_s must be within ±1e5 s, got {self.offset_s}")
        require(abs(self.drift_ppm) <= 1000, f"drift_ppm must be within ±1000, got {self.drift_ppm}")
        require(self.jitter_us >= 0, f"jitter_us must be >= 0, got {self.jitter_us}")
        require(self.latency_min_ms >= 0, f"latency_min_ms must be >= 0, got {self.latency_min_ms}")
        require(self.latency_extra_ms >= 0, f"latency_extra_ms must be >= 0, got {self.latency_extra_ms}")
        require(self.latency_cap_ms >= 0, f"latency_cap_ms must be >= 0, got {self.latency_cap_ms}")
        require(0 <= self.burst_prob <= 1, f"burst_prob must be in [0, 1], got {self.burst_prob}")
        require(self.burst_ms >= 0, f"burst_ms must be >= 0, got {self.burst_ms}")
        require(0 <= self.drop_prob < 1, f"drop_prob must be in [0, 1), got {self.drop_prob}")


@dataclass(frozen=True, kw_only=True)
class SimCameraSettings:
    """Simulated RGB camera. Resolution is configurable so training can render small."""

    width: int = 640
    height: int = 480
    exposure_ms: float = 8.0  # with speed, sets the motion blur
    read_noise_dn: float = 3.0  # noise floor in digital numbers; dominates at night
    clock: ClockSettings = field(default_factory=ClockSettings)

    def __post_init__(self) -> None:
        require(
            16 <= self.width <= 4096 and 16 <= self.height <= 4096,
            f"image size must be 16..4096, got {self.width}x{self.height}",
        )
        require(0 < self.exposure_ms <= 100, f"exposure_ms must be in (0, 100], got {self.exposure_ms}")
        require(self.read_noise_dn >= 0, f"read_noise_dn must be >= 0, got {self.read_noise_dn}")


@dataclass(frozen=True, kw_only=True)
class SimLidarSettings:
    """Simulated spinning LIDAR, VLP-16 like: 16 beams over ±15°, 1800 azimuth steps at 10 Hz."""

    beams: int = 16
    azimuth_steps: int = 1800
    fov_down_deg: float = -15.0
    fov_up_deg: float = 15.0
    max_range_m: float = 100.0
    range_noise_m: float = 0.015  # VLP-16 datasheet: ±3 cm accuracy, so sigma about 1.5 cm
    mount_height_m: float = 0.5  # used only when the calibration gives no extrinsics for the stream
    clock: ClockSettings = field(default_factory=ClockSettings)

    def __post_init__(self) -> None:
        require(1 <= self.beams <= 128, f"beams must be 1..128, got {self.beams}")
        require(16 <= self.azimuth_steps <= 8192, f"azimuth_steps must be 16..8192, got {self.azimuth_steps}")
        require(-90 < self.fov_down_deg < self.fov_up_deg < 90, "need -90 < fov_down_deg < fov_up_deg < 90")
        require(self.max_range_m > 1, f"max_range_m must be > 1, got {self.max_range_m}")
        require(self.range_noise_m >= 0, f"range_noise_m must be >= 0, got {self.range_noise_m}")
        require(self.mount_height_m > 0, f"mount_height_m must be > 0, got {self.mount_height_m}")


@dataclass(frozen=True, kw_only=True)
class SimImuSettings:
    """Simulated IMU; noise densities are the ADIS16448 figures EuRoC calibrated (SIMULATION.md)."""

    gyro_noise_density: float = 1.7e-4  # rad/s/sqrt(Hz)
    accel_noise_density: float = 2.0e-3  # m/s^2/sqrt(Hz)
    gyro_bias_walk: float = 1.94e-5  # rad/s^2/sqrt(Hz)
    accel_bias_walk: float = 3.0e-3  # m/s^3/sqrt(Hz)
    with_orientation: bool = True  # the device reports an orientation estimate
    clock: ClockSettings = field(default_factory=ClockSettings)

    def __post_init__(self) -> None:
        for name in ("gyro_noise_density", "accel_noise_density", "gyro_bias_walk", "accel_bias_walk"):
            require(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True, kw_only=True)
class SimAudioSettings:
    """Simulated mono microphone; the stream's rate_hz is the chunk rate, this the sample rate."""

    sample_rate_hz: int = 16000
    chunk_samples: int = 320  # 20 ms chunks, as USB audio delivers them
    gain: float = 1.0
    test_tone_hz: float = 0.0  # > 0: a pure tone at this frequency (in true time) replaces the scene
    clock: ClockSettings = field(default_factory=ClockSettings)

    def __post_init__(self) -> None:
        require(
            0 <= self.test_tone_hz < self.sample_rate_hz / 2,
            f"test_tone_hz must be in [0, sample_rate_hz/2), got {self.test_tone_hz}",
        )
        require(
            1000 <= self.sample_rate_hz <= 192000, f"sample_rate_hz must be 1000..192000, got {self.sample_rate_hz}"
        )
        require(
            16 <= self.chunk_samples <= self.sample_rate_hz,
            f"chunk_samples must be 16..sample_rate_hz, got {self.chunk_samples}",
        )
        require(self.gain > 0, f"gain must be > 0, got {self.gain}")


@dataclass(frozen=True, kw_only=True)
class WorldSettings:
    """The procedural world the robot drives through. Same seed, same world, same samples."""

    seed: int = 0
    segment_min_s: float = 4.0  # terrain and conditions hold for one segment
    segment_max_s: float = 10.0
    max_speed_mps: float = 2.0
    stop_prob: float = 0.06  # a segment in which the robot stands still
    slip_prob: float = 0.12  # wheels spin while the body stands still
    collision_prob: float = 0.08  # drives into an obstacle and stops
    approach_prob: float = 0.08  # stops just short of an obstacle, no contact
    bump_rate_hz: float = 0.3  # jolts from the ground, scaled by terrain roughness
    bump_stop_prob: float = 0.4  # a jolt after which the robot stops (so a jolt alone is no collision)
    light_keep_prob: float = 0.7  # light changes slowly: chance a segment keeps the last one's
    wind_prob: float = 0.3
    wind_keep_prob: float = 0.6
    obstacles_per_m: float = 0.3  # obstacles scattered near the path (near misses)

    def __post_init__(self) -> None:
        require(0.5 <= self.segment_min_s <= self.segment_max_s, "need 0.5 <= segment_min_s <= segment_max_s")
        require(0 < self.max_speed_mps <= 10, f"max_speed_mps must be in (0, 10], got {self.max_speed_mps}")
        for name in (
            "stop_prob",
            "slip_prob",
            "collision_prob",
            "approach_prob",
            "bump_stop_prob",
            "light_keep_prob",
            "wind_prob",
            "wind_keep_prob",
        ):
            value = getattr(self, name)
            require(0 <= value <= 1, f"{name} must be in [0, 1], got {value}")
        events = self.slip_prob + self.collision_prob + self.approach_prob + self.stop_prob
        require(events <= 1, f"stop_prob + slip_prob + collision_prob + approach_prob must be <= 1, got {events}")
        require(self.bump_rate_hz >= 0, f"bump_rate_hz must be >= 0, got {self.bump_rate_hz}")
        require(self.obstacles_per_m >= 0, f"obstacles_per_m must be >= 0, got {self.obstacles_per_m}")


register_stream_type("sim.camera", (Modality.CAMERA,), SimCameraSettings, "simulated RGB camera")
register_stream_type("sim.lidar", (Modality.LIDAR,), SimLidarSettings, "simulated spinning 3-D LIDAR")
register_stream_type("sim.imu", (Modality.IMU,), SimImuSettings, "simulated 6-axis IMU")
register_stream_type("sim.audio", (Modality.AUDIO,), SimAudioSettings, "simulated microphone")
