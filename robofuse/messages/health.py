"""Per-stream health, as the HealthMonitor states it and ROS 2 diagnostics publish it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from robofuse.messages.samples import Modality


class HealthState(IntEnum):
    """Ordered by severity; values match diagnostic_msgs/DiagnosticStatus levels."""

    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamHealth:
    """One stream's state and the reason for it (empty when OK)."""

    stream: str
    modality: Modality
    state: HealthState
    reason: str
    since_ns: int
    last_recv_ns: int | None
    rate_hz: float

    @property
    def usable(self) -> bool:
        """Whether fusion may use this stream's data (OK or WARN)."""
        return self.state <= HealthState.WARN


@dataclass(frozen=True, slots=True, kw_only=True)
class Health:
    """Every stream's health at host time ``time_ns``."""

    time_ns: int
    streams: tuple[StreamHealth, ...]

    def of(self, stream: str) -> StreamHealth:
        """The health of ``stream``; KeyError names the known streams if it is unknown."""
        for entry in self.streams:
            if entry.stream == stream:
                return entry
        raise KeyError(f"no stream {stream!r}; known: {[s.stream for s in self.streams]}")

    @property
    def worst(self) -> HealthState:
        """The most severe state of any stream (OK when there are none)."""
        return max((s.state for s in self.streams), default=HealthState.OK)
