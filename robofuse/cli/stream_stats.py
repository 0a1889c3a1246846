"""Running per-stream statistics for live views: rate, counts, drops, rejections, latency."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from robofuse.messages import RejectedSample, SourceItem

RATE_WINDOW_NS = 2_000_000_000


@dataclass
class StreamStats:
    """What has been seen of one stream so far."""

    name: str
    received: int = 0
    rejected: int = 0
    lost: int = 0  # gaps in seq: messages the link or the sensor dropped
    last_seq: int | None = None
    last_reason: str = ""
    last_latency_ns: int | None = None
    first_recv_ns: int | None = None
    _recent: deque[int] = field(default_factory=deque)

    def update(self, item: SourceItem, ready_ns: int | None = None) -> None:
        """Count ``item``; ``ready_ns`` (true host time the message left the sensor) gives its transport latency."""
        if isinstance(item, RejectedSample):
            self.rejected += 1
            self.last_reason = item.reason
            seq = item.seq
        else:
            self.received += 1
            seq = item.seq
        if seq is not None:
            if self.last_seq is not None and seq > self.last_seq + 1:
                self.lost += seq - self.last_seq - 1
            self.last_seq = seq if self.last_seq is None else max(seq, self.last_seq)
        if self.first_recv_ns is None:
            self.first_recv_ns = item.recv_ns
        self._recent.append(item.recv_ns)
        while self._recent and self._recent[0] < item.recv_ns - RATE_WINDOW_NS:
            self._recent.popleft()
        if ready_ns is not None:
            self.last_latency_ns = item.recv_ns - ready_ns

    def rate_hz(self, now_ns: int) -> float:
        """Messages per second over the last two seconds before ``now_ns`` (falls to 0 when silent)."""
        if self.first_recv_ns is None:
            return 0.0
        count = sum(1 for t in self._recent if now_ns - RATE_WINDOW_NS < t <= now_ns)
        since_first = now_ns - self.first_recv_ns
        if since_first < RATE_WINDOW_NS:  # still filling: count intervals since the first message
            return (count - 1) * 1e9 / since_first if since_first > 0 and count > 1 else 0.0
        return count * 1e9 / RATE_WINDOW_NS
