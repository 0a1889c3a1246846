"""The Result: what a fusion step publishes for one window."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

import numpy as np

from robofuse.labels import GroundTruth
from robofuse.messages.health import Health


class Fallback(str, Enum):
    """Which rung of the fallback ladder (DESIGN.md, "Health and fallbacks") produced a result."""

    FULL = "full"  # every configured modality present
    MASKED = "masked"  # the main model ran with some modalities masked
    SMALL_MODEL = "small_model"  # below the minimum sensor set: the smaller model ran
    NONE = "none"  # nothing usable: outputs are finite but carry no information


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """Fused outputs for the window at ``tick_ns``.

    ``outputs`` maps head name to float32 scores (e.g. class probabilities); ``gates`` is
    float32 ``[M]`` (each modality's share in the fusion, 0 where masked); ``usable`` is False
    when no sensor could be used, and then the outputs must not be acted on.
    ``stage_ns`` times each stage (align, infer, ...) for latency reports.
    """

    seq: int
    tick_ns: int
    outputs: Mapping[str, np.ndarray]
    gates: np.ndarray
    mask: np.ndarray
    fallback: Fallback
    health: Health
    stage_ns: Mapping[str, int]
    truth: GroundTruth | None = None

    @property
    def usable(self) -> bool:
        """False when no sensor was usable and the outputs say nothing."""
        return self.fallback is not Fallback.NONE
