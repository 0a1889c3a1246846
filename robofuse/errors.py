"""The one error hierarchy of robofuse.

Every error robofuse raises on purpose is a :class:`RobofuseError`, with one subclass per
layer so callers can catch exactly the layer they handle. Messages say what was wrong and
what to do about it.
"""

from __future__ import annotations


class RobofuseError(Exception):
    """Base of every error robofuse raises on purpose."""


class ConfigError(RobofuseError):
    """A rig or component configuration is wrong: names the file, the key and what is allowed."""


class SampleError(RobofuseError, ValueError):
    """A sample failed validation on construction: names the stream and the field."""

    def __init__(self, stream: str, field: str, problem: str) -> None:
        self.stream = stream
        self.field = field
        self.problem = problem
        super().__init__(f"stream {stream!r}, field {field!r}: {problem}")


class SensorError(RobofuseError):
    """A sensor or its driver failed: unplugged, silent, or speaking garbage."""


class AlignmentError(RobofuseError):
    """Time alignment cannot proceed (for example a window asked for a stream it does not know)."""


class EngineError(RobofuseError):
    """A fusion engine cannot be built or run (missing backend, model/rig mismatch)."""


class BagError(RobofuseError):
    """A bag file cannot be read or written (truncated, unknown format, missing topic)."""
