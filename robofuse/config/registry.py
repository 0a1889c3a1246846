"""Stream types: the ``type`` names a rig YAML may use, each with its settings dataclass.

Drivers, the simulator and (later) ROS 2 topics register here, so the rig loader can check
a stream's ``settings`` without importing the heavy module that will run it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from robofuse.messages import Modality

# Modules that register types under a prefix; imported only when a rig names such a type.
_PROVIDERS: dict[str, str] = {
    "sim": "robofuse.sim.settings",
    "xsens": "sensors.xsens.settings",
    "velodyne": "sensors.velodyne.settings",
    "camera": "sensors.camera.settings",
    "audio": "sensors.audio.settings",
    "rplidar": "sensors.rplidar.settings",
}


@dataclass(frozen=True)
class StreamType:
    """A registered stream type: its name, the modalities it can produce and its settings class."""

    name: str
    modalities: tuple[Modality, ...]
    settings_cls: type
    description: str


_TYPES: dict[str, StreamType] = {}


def register_stream_type(name: str, modalities: tuple[Modality, ...], settings_cls: type, description: str) -> None:
    """Make ``name`` usable as a stream ``type`` in rig files."""
    existing = _TYPES.get(name)
    if existing is not None and existing.settings_cls is not settings_cls:
        raise ValueError(f"stream type {name!r} is already registered by {existing.settings_cls}")
    _TYPES[name] = StreamType(name, modalities, settings_cls, description)


def lookup_stream_type(name: str) -> StreamType | None:
    """The registered type ``name``, importing its provider module if needed; None if unknown."""
    if name not in _TYPES:
        prefix = name.split(".", 1)[0]
        if prefix in _PROVIDERS:
            importlib.import_module(_PROVIDERS[prefix])
    return _TYPES.get(name)


def known_stream_types() -> list[str]:
    """Every type name that can be used, after loading all providers."""
    for module in _PROVIDERS.values():
        importlib.import_module(module)
    return sorted(_TYPES)
