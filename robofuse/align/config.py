"""Alignment settings: the rig file's ``alignment:`` section, and each stream's clock estimation."""

from __future__ import annotations

from dataclasses import dataclass, field

from robofuse.schema import require


@dataclass(frozen=True, kw_only=True)
class ClockSyncConfig:
    """How a stream's clock is estimated; the defaults suit 10 Hz to 1 kHz streams."""

    bin_s: float = 0.5  # pairs reduced to the lowest one per bin
    window_s: float = 60.0  # bins older than this are forgotten (tracks slow drift changes)
    jump_tolerance_s: float = 0.005  # arrival this much before the mapped stamp: a forward jump
    jump_forward_s: float = 1.0  # stamp ahead of arrival by more than this since the last pair: a jump
    reorder_s: float = 0.25  # a stamp up to this much older than the newest is a reordered message, not a jump
    min_span_s: float = 4.0  # drift is fitted once the bins span this long; before, offset only
    max_drift_ppm: float = 1000.0  # a fitted drift beyond this is implausible and clamped

    def __post_init__(self) -> None:
        require(0.01 <= self.bin_s <= 10, f"bin_s must be in [0.01, 10] s, got {self.bin_s}")
        require(
            self.window_s >= 4 * self.bin_s,
            f"window_s must be at least 4 bins ({4 * self.bin_s} s), got {self.window_s}",
        )
        require(self.jump_tolerance_s > 0, f"jump_tolerance_s must be > 0, got {self.jump_tolerance_s}")
        require(self.jump_forward_s > 0, f"jump_forward_s must be > 0, got {self.jump_forward_s}")
        require(0 <= self.reorder_s <= 10, f"reorder_s must be in [0, 10] s, got {self.reorder_s}")
        require(0 < self.min_span_s < self.window_s, f"min_span_s must be in (0, window_s), got {self.min_span_s}")
        require(0 < self.max_drift_ppm <= 1e5, f"max_drift_ppm must be in (0, 1e5], got {self.max_drift_ppm}")


@dataclass(frozen=True, kw_only=True)
class AlignmentConfig:
    """How streams become windows.

    ``tick_hz``: fusion rate when ticking on a fixed clock; with ``master`` set, ticks follow
    that stream's samples and continue at its nominal rate while it is missing. ``window_s``:
    span of the IMU and audio windows ``[t - window_s, t]``. ``max_wait_s``: deadline after a
    tick; a stream that has not delivered by then is masked in that window. ``match_bound_s``:
    how far from the tick a camera frame or LIDAR scan (by its mid time) may be and still be
    used. ``buffer_s``: history kept per stream (memory is bounded by it). ``imu_rate_hz``: IMU
    grid rate (0: the IMU stream's nominal rate). ``lidar_rows``/``lidar_cols``: range-image size.
    """

    tick_hz: float = 20.0
    window_s: float = 0.5
    master: str | None = None
    max_wait_s: float = 0.1
    match_bound_s: float = 0.1
    buffer_s: float = 3.0
    imu_rate_hz: float = 0.0
    lidar_rows: int = 16
    lidar_cols: int = 1800
    clock: ClockSyncConfig = field(default_factory=ClockSyncConfig)

    def __post_init__(self) -> None:
        require(0 < self.tick_hz <= 1000, f"tick_hz must be in (0, 1000], got {self.tick_hz}")
        require(0.01 <= self.window_s <= 10, f"window_s must be in [0.01, 10] s, got {self.window_s}")
        require(0 <= self.max_wait_s <= 5, f"max_wait_s must be in [0, 5] s, got {self.max_wait_s}")
        require(self.match_bound_s > 0, f"match_bound_s must be > 0, got {self.match_bound_s}")
        need = self.window_s + self.max_wait_s + 0.5
        require(
            self.buffer_s >= need,
            f"buffer_s must be at least window_s + max_wait_s + 0.5 = {need} s, got {self.buffer_s}",
        )
        require(self.imu_rate_hz >= 0, f"imu_rate_hz must be >= 0 (0: the IMU's own rate), got {self.imu_rate_hz}")
        require(
            1 <= self.lidar_rows <= 256 and 16 <= self.lidar_cols <= 8192,
            "lidar_rows must be 1..256 and lidar_cols 16..8192",
        )

    @property
    def tick_period_ns(self) -> int:
        """Time between fixed-rate ticks."""
        return round(1e9 / self.tick_hz)
