"""Configuration: rig files, calibration files, stream types, and the checked loader behind them."""

from robofuse.config.calibration import Calibration, StreamCalibration, load_calibration
from robofuse.config.registry import known_stream_types, register_stream_type
from robofuse.config.rig import RigConfig, StreamConfig, load_rig
from robofuse.schema import build, require

__all__ = [
    "Calibration",
    "RigConfig",
    "StreamCalibration",
    "StreamConfig",
    "build",
    "known_stream_types",
    "load_calibration",
    "load_rig",
    "register_stream_type",
    "require",
]
