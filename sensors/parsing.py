"""What every byte-stream parser in ``sensors`` shares: counters and the feed contract.

A parser is pure: ``feed(data)`` takes whatever bytes arrived (any split, any garbage) and
returns the complete messages they finish, in order. It never raises on bad input: it counts
the problem, skips to the next plausible frame start (a resync) and carries on, so one corrupt
packet costs one packet. Drivers wrap parsers with ports, threads and stamps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

T_co = TypeVar("T_co", covariant=True)


@dataclass
class ParserCounters:
    """What a parser has seen. ``dropped_bytes`` were skipped while looking for a frame start."""

    bytes: int = 0
    packets: int = 0
    checksum_failures: int = 0
    resyncs: int = 0
    dropped_bytes: int = 0
    malformed: int = 0  # framed and checksummed correctly, but the content made no sense


class StreamParser(Protocol[T_co]):
    """A parser of one protocol's byte stream."""

    counters: ParserCounters

    def feed(self, data: bytes) -> Sequence[T_co]:
        """Consume ``data``; return the messages completed by it. Never raises on bad bytes."""
        ...
