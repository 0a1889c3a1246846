"""Rig configuration: one YAML file describes a rig's streams, loaded into frozen dataclasses.

A stream names its modality, nominal rate, clock domain, health timeout and a ``type`` that
selects who produces it (``sim.camera``, a driver, a ROS 2 topic); ``settings`` are checked
against that type's own dataclass. See ``robofuse/data/sim_rig.yaml`` for a documented example.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from robofuse.align.config import AlignmentConfig
from robofuse.config.calibration import Calibration, load_calibration
from robofuse.config.registry import known_stream_types, lookup_stream_type
from robofuse.errors import ConfigError
from robofuse.messages import Modality
from robofuse.schema import build, require

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, kw_only=True)
class StreamConfig:
    """One sensor stream of the rig.

    ``clock_domain``: ``sensor`` when the device stamps with its own clock (robofuse estimates
    offset and drift), ``host`` when stamps are taken on arrival. ``timeout_s``: silence after
    which the stream is STALE (default: five nominal periods, at least 0.1 s).
    """

    name: str
    modality: Modality
    type: str
    rate_hz: float
    frame_id: str
    clock_domain: Literal["sensor", "host"] = "sensor"
    timeout_s: float | None = None
    settings: Any = None

    def __post_init__(self) -> None:
        require(
            bool(_NAME.match(self.name)), f"name {self.name!r} must be lower_snake_case (it becomes a topic and a key)"
        )
        require(0 < self.rate_hz <= 100_000, f"rate_hz must be in (0, 100000], got {self.rate_hz}")
        require(bool(self.frame_id), "frame_id must not be empty (REP-103 frame of the sensor)")
        if self.timeout_s is None:
            object.__setattr__(self, "timeout_s", max(0.1, 5.0 / self.rate_hz))
        require(self.timeout_s is not None and self.timeout_s > 0, f"timeout_s must be > 0, got {self.timeout_s}")

    @property
    def period_ns(self) -> int:
        """Nominal time between messages."""
        return round(1e9 / self.rate_hz)


@dataclass(frozen=True, kw_only=True)
class RigConfig:
    """A whole rig: its streams, its calibration and (for the simulator) its world."""

    name: str
    streams: tuple[StreamConfig, ...]
    description: str = ""
    calibration: Calibration | None = None
    alignment: AlignmentConfig = field(default_factory=AlignmentConfig)
    world: Any = None
    source_file: str = ""

    def __post_init__(self) -> None:
        names = [s.name for s in self.streams]
        require(bool(names), "a rig needs at least one stream under 'streams'")
        dupes = sorted({n for n in names if names.count(n) > 1})
        require(not dupes, f"stream names must be unique; repeated: {dupes}")

    def stream(self, name: str) -> StreamConfig:
        """The stream called ``name``."""
        for s in self.streams:
            if s.name == name:
                return s
        raise ConfigError(f"rig {self.name!r} has no stream {name!r}; it has {[s.name for s in self.streams]}")

    def with_seed(self, seed: int) -> RigConfig:
        """A copy whose simulated world uses ``seed``."""
        if self.world is None:
            raise ConfigError(f"rig {self.name!r} has no simulated world to seed")
        return dataclasses.replace(self, world=dataclasses.replace(self.world, seed=seed))


def _build_stream(raw: Any, where: str) -> StreamConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping describing a stream, got {type(raw).__name__}")
    raw = dict(raw)
    settings_raw = raw.pop("settings", {}) or {}
    type_name = raw.get("type")
    if not isinstance(type_name, str):
        raise ConfigError(f"{where}.type: required; one of {known_stream_types()}")
    stream_type = lookup_stream_type(type_name)
    if stream_type is None:
        raise ConfigError(f"{where}.type: unknown stream type {type_name!r}; use one of {known_stream_types()}")
    stream = build(StreamConfig, raw, where)
    if stream.modality not in stream_type.modalities:
        allowed = [m.value for m in stream_type.modalities]
        raise ConfigError(f"{where}.modality: type {type_name!r} produces {allowed}, not {stream.modality.value!r}")
    settings: Any = build(stream_type.settings_cls, settings_raw, f"{where}.settings")
    return dataclasses.replace(stream, settings=settings)


def load_rig(path: str | Path) -> RigConfig:
    """Load and validate a rig file; every problem is a ConfigError naming file and key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read rig file ({err.strerror}); pass an existing YAML file") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    return rig_from_mapping(raw, path)


def rig_from_mapping(raw: Any, path: Path) -> RigConfig:
    """Build a RigConfig from parsed YAML that came from ``path`` (used for messages and relative paths)."""
    where = str(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: the top level must be a mapping with 'name' and 'streams'")
    raw = dict(raw)
    allowed = {"name", "description", "streams", "calibration", "alignment", "world"}
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"{where}: {key}: unknown key; allowed keys: {', '.join(sorted(allowed))}")
    streams_raw = raw.pop("streams", None)
    if not isinstance(streams_raw, list):
        raise ConfigError(f"{where}: streams: required, a list of stream mappings")
    streams = tuple(_build_stream(s, f"{where}: streams[{i}]") for i, s in enumerate(streams_raw))
    calibration = None
    if raw.get("calibration") is not None:
        cal_name = raw.pop("calibration")
        if not isinstance(cal_name, str):
            raise ConfigError(f"{where}: calibration: expected a file name relative to the rig file")
        calibration = load_calibration(path.parent / cal_name)
    world = None
    if any(s.type.startswith("sim.") for s in streams):
        from robofuse.sim.settings import WorldSettings

        world = build(WorldSettings, raw.pop("world", {}) or {}, f"{where}: world")
    elif raw.get("world") is not None:
        raise ConfigError(f"{where}: world: only a rig with sim.* streams has a simulated world")
    raw.pop("world", None)
    alignment = build(AlignmentConfig, raw.get("alignment") or {}, f"{where}: alignment")
    names = [s.name for s in streams]
    if alignment.master is not None and alignment.master not in names:
        raise ConfigError(f"{where}: alignment.master: no stream {alignment.master!r}; use one of {names}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: name: required, a non-empty string naming the rig")
    try:
        rig = RigConfig(
            name=name,
            description=str(raw.get("description", "")),
            streams=streams,
            calibration=calibration,
            alignment=alignment,
            world=world,
            source_file=str(path),
        )
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from None
    if calibration is not None:
        calibration.check_streams([s.name for s in streams])
    return rig
