"""Calibration files: per-stream time offsets, camera intrinsics and sensor extrinsics.

The format is documented in ``calibration/README.md``. Time: ``latency_min_s`` is the constant
minimum transport delay from measurement to arrival, the part of a stream's clock offset that
passive synchronisation cannot see, so it comes from calibration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from robofuse.errors import ConfigError
from robofuse.schema import build, require

FORMAT = "robofuse-calibration/1"


@dataclass(frozen=True, kw_only=True)
class Distortion:
    """Lens distortion: ``radtan`` coefficients (k1, k2, p1, p2) as OpenCV and EuRoC use, or none."""

    model: Literal["none", "radtan"] = "none"
    coeffs: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        want = {"none": 0, "radtan": 4}[self.model]
        require(
            len(self.coeffs) == want, f"distortion model {self.model!r} takes {want} coeffs, got {len(self.coeffs)}"
        )


@dataclass(frozen=True, kw_only=True)
class Intrinsics:
    """Pinhole camera intrinsics in pixels, for an image of ``width`` x ``height``."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    distortion: Distortion = field(default_factory=Distortion)

    def __post_init__(self) -> None:
        require(self.width > 0 and self.height > 0, f"image size must be positive, got {self.width}x{self.height}")
        require(self.fx > 0 and self.fy > 0, f"focal lengths must be > 0, got fx={self.fx}, fy={self.fy}")

    def scaled(self, width: int, height: int) -> Intrinsics:
        """The same lens for an image resized to ``width`` x ``height``."""
        sx, sy = width / self.width, height / self.height
        return Intrinsics(
            width=width,
            height=height,
            fx=self.fx * sx,
            fy=self.fy * sy,
            cx=self.cx * sx,
            cy=self.cy * sy,
            distortion=self.distortion,
        )


@dataclass(frozen=True, kw_only=True)
class Extrinsics:
    """Pose of the sensor frame in ``parent`` (REP-103): translation and quaternion (x, y, z, w)."""

    parent: str = "base_link"
    translation_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotation_xyzw: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)

    def __post_init__(self) -> None:
        norm = sum(q * q for q in self.rotation_xyzw) ** 0.5
        require(abs(norm - 1.0) < 1e-3, f"rotation_xyzw must be a unit quaternion (x, y, z, w), norm is {norm:.4f}")


@dataclass(frozen=True, kw_only=True)
class StreamCalibration:
    """Everything calibrated about one stream."""

    latency_min_s: float = 0.0
    intrinsics: Intrinsics | None = None
    extrinsics: Extrinsics = field(default_factory=Extrinsics)

    def __post_init__(self) -> None:
        require(0 <= self.latency_min_s < 10, f"latency_min_s must be in [0, 10) s, got {self.latency_min_s}")


@dataclass(frozen=True, kw_only=True)
class Calibration:
    """A rig's calibration, by stream name."""

    format: str
    rig: str
    streams: dict[str, StreamCalibration]
    source_file: str = ""

    def check_streams(self, rig_streams: list[str]) -> None:
        """Fail if the calibration names a stream the rig does not have (a typo would silently do nothing)."""
        extra = sorted(set(self.streams) - set(rig_streams))
        if extra:
            raise ConfigError(f"{self.source_file}: calibrates unknown streams {extra}; the rig has {rig_streams}")

    def of(self, stream: str) -> StreamCalibration:
        """The stream's calibration, or the neutral default when it has none."""
        return self.streams.get(stream, StreamCalibration())


def load_calibration(path: str | Path) -> Calibration:
    """Load a calibration file; errors name the file and the key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{path}: cannot read calibration file ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ConfigError(f"{path}: format: expected {FORMAT!r} at the top level (see calibration/README.md)")
    streams_raw = raw.get("streams")
    if not isinstance(streams_raw, dict):
        raise ConfigError(f"{path}: streams: required, a mapping from stream name to its calibration")
    unknown = set(raw) - {"format", "rig", "streams"}
    if unknown:
        raise ConfigError(f"{path}: {sorted(unknown)[0]}: unknown key; allowed keys: format, rig, streams")
    streams = {
        str(name): build(StreamCalibration, value, f"{path}: streams.{name}") for name, value in streams_raw.items()
    }
    return Calibration(format=FORMAT, rig=str(raw.get("rig", "")), streams=streams, source_file=str(path))
