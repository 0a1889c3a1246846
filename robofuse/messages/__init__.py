"""The data contract: the typed values that flow between robofuse's stages.

Samples come from sources, Windows from the alignment buffer, Results from the engine, and
Health from the health monitor. Each is a frozen dataclass holding numpy arrays.
"""

from robofuse.messages.health import Health, HealthState, StreamHealth
from robofuse.messages.result import Fallback, Result
from robofuse.messages.samples import (
    IMAGE_ENCODINGS,
    MODALITIES,
    AudioChunk,
    CameraFrame,
    ImuSample,
    LaserScan,
    Modality,
    PointCloud,
    RejectedSample,
    Sample,
    SampleHeader,
    SourceItem,
)
from robofuse.messages.window import StreamQuality, Window

__all__ = [
    "IMAGE_ENCODINGS",
    "MODALITIES",
    "AudioChunk",
    "CameraFrame",
    "Fallback",
    "Health",
    "HealthState",
    "ImuSample",
    "LaserScan",
    "Modality",
    "PointCloud",
    "RejectedSample",
    "Result",
    "Sample",
    "SampleHeader",
    "SourceItem",
    "StreamHealth",
    "StreamQuality",
    "Window",
]
