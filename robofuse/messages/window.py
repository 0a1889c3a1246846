"""The Window: what the alignment buffer hands the fusion engine for one tick."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from robofuse.errors import SampleError
from robofuse.labels import GroundTruth
from robofuse.messages.samples import MODALITIES, Modality


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamQuality:
    """How well one stream filled its part of a window.

    ``age_ns``: tick time minus the (host-clock) time of the newest data used; ``spread_ns``:
    span between the oldest and newest data used; ``gaps``: holes longer than 1.5 nominal
    periods inside the window; ``interpolated``: values were resampled rather than picked.
    ``present`` is False when the stream missed the deadline or is unhealthy (then masked).
    """

    stream: str
    modality: Modality
    present: bool
    age_ns: int
    spread_ns: int
    gaps: int
    interpolated: bool
    samples_used: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """Fixed-shape inputs for one fusion tick at host time ``tick_ns``.

    ``inputs`` maps each modality to an array whose shape is fixed by the rig (a masked
    modality holds zeros of that shape, so engines always see the same shapes; a modality the
    rig has no stream for holds an empty ``(0,)`` array and is always masked). With the
    alignment buffer: camera ``(H, W, 3)`` uint8 (the frame itself, not a copy), LIDAR
    ``(rows, cols)`` float32 range image in metres, IMU ``(T, 10)`` float32 rows of gyro xyz,
    accel xyz, orientation xyzw, audio ``(W * rate,)`` float32. ``mask`` is
    float32 ``[M]`` in ``MODALITIES`` order, 1.0 where the modality is present. ``emitted_ns``
    is when the buffer released it (host clock); ``deadline_hit`` says a stream was waited
    for until ``tick_ns + max_wait`` and then masked.
    """

    seq: int
    tick_ns: int
    emitted_ns: int
    inputs: Mapping[Modality, np.ndarray]
    mask: np.ndarray
    quality: Mapping[str, StreamQuality]
    deadline_hit: bool = False
    truth: GroundTruth | None = None

    def __post_init__(self) -> None:
        mask = self.mask
        if not isinstance(mask, np.ndarray) or mask.dtype != np.float32 or mask.shape != (len(MODALITIES),):
            raise SampleError("window", "mask", f"must be float32 of shape ({len(MODALITIES)},)")
        missing = [m.value for m in MODALITIES if m not in self.inputs]
        if missing:
            raise SampleError("window", "inputs", f"missing arrays for {missing}; fill masked ones with zeros")

    @property
    def latency_ns(self) -> int:
        """Time from the tick to the window's release."""
        return self.emitted_ns - self.tick_ns

    def present(self, modality: Modality) -> bool:
        """Whether ``modality`` holds real data in this window."""
        return bool(self.mask[MODALITIES.index(modality)] > 0.5)
