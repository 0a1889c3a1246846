"""What the demo tracks while it runs: the rig, the alignment buffer and running statistics."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from robofuse.align.buffer import AlignmentBuffer
from robofuse.cli.demo_model import ModelStats
from robofuse.cli.stream_stats import StreamStats
from robofuse.engine.base import Engine
from robofuse.messages import MODALITIES, RejectedSample, SourceItem, Window
from robofuse.sim.rig import SimRig

LATENCY_HISTORY = 200  # windows over which latency is summarised (10 s at 20 Hz)


@dataclass
class WindowStats:
    """Running figures of the windows the alignment buffer emitted."""

    emitted: int = 0
    deadline_hits: int = 0
    last_mask: np.ndarray = field(default_factory=lambda: np.zeros(len(MODALITIES), np.float32))
    latencies_ns: deque[int] = field(default_factory=lambda: deque(maxlen=LATENCY_HISTORY))

    def update(self, window: Window) -> None:
        """Count one window."""
        self.emitted += 1
        self.deadline_hits += int(window.deadline_hit)
        self.last_mask = window.mask
        self.latencies_ns.append(window.latency_ns)

    def latency_ms(self, q: float) -> float:
        """The ``q``-th percentile of recent window latency, in milliseconds (nan before any window)."""
        return float(np.percentile(self.latencies_ns, q)) / 1e6 if self.latencies_ns else float("nan")


@dataclass
class DemoSession:
    """The simulated rig feeding an alignment buffer, with statistics for the view."""

    sim: SimRig
    buffer: AlignmentBuffer
    stats: dict[str, StreamStats]
    windows: WindowStats = field(default_factory=WindowStats)
    engine: Engine | None = None  # the fusion model; None runs alignment only
    model: ModelStats = field(default_factory=ModelStats)
    now_ns: int = 0

    @classmethod
    def start(cls, sim: SimRig, engine: Engine | None = None) -> DemoSession:
        """A session over ``sim`` (not yet opened), running ``engine`` on every window when given."""
        stats = {s.name: StreamStats(s.name) for s in sim.rig.streams}
        return cls(sim, AlignmentBuffer(sim.rig), stats, engine=engine)

    def take(self, item: SourceItem) -> None:
        """Account for one item: statistics, truth, alignment, and any windows it released."""
        self.now_ns = item.recv_ns
        emission = None
        if not isinstance(item, RejectedSample):
            emission = self.sim.emissions.pop((item.stream, item.seq), None)
        self.stats[item.stream].update(item, emission.ready_ns if emission else None)
        self.buffer.push(item)
        for window in self.buffer.poll(item.recv_ns):
            self.windows.update(window)
            if self.engine is not None:
                self.model.run(self.engine, window, self.sim.world.truth(window.tick_ns))

    def true_offset_s(self, stream: str) -> float:
        """The simulator's true clock offset (sensor minus host) of ``stream`` now."""
        return (self.sim.true_sensor_ns(stream, self.now_ns) - self.now_ns) / 1e9

    def offset_error_ms(self, stream: str) -> float:
        """Estimated minus true host time of a measurement stamped now, in milliseconds."""
        stamp = round(self.sim.true_sensor_ns(stream, self.now_ns))
        return (self.buffer.sync(stream).to_host(stamp) - self.now_ns) / 1e6
