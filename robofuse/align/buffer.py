"""The AlignmentBuffer: streams in, fixed-shape windows out, on time.

Pure and deterministic: ``push`` takes items in arrival order, ``poll(now_ns)`` returns the
windows that are ready by ``now_ns``. A window for tick ``t`` is emitted as soon as every live
stream has delivered data past ``t``, or at ``t + max_wait`` with the late streams masked;
a stream silent past its timeout is not live and is not waited for. No tick is ever skipped.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass

import numpy as np

from robofuse.align.clock_sync import ClockJump, ClockSync
from robofuse.align.counters import StreamCounters
from robofuse.align.ticks import TickClock
from robofuse.align.tracks import AudioTrack, FrameTrack, ImuTrack, Track
from robofuse.config.rig import RigConfig, StreamConfig
from robofuse.errors import AlignmentError
from robofuse.messages import MODALITIES, Modality, RejectedSample, SourceItem, StreamQuality, Window

_ABSENT = np.zeros((0,), np.float32)
_ABSENT.flags.writeable = False


@dataclass(frozen=True)
class StreamClock:
    """A stream's clock estimate, for display and diagnostics."""

    stream: str
    method: str
    ready: bool
    offset_ns: float  # sensor minus host, now
    drift_ppm: float
    resets: int


class AlignmentBuffer:
    """Aligns the rig's streams (one per modality) into Windows."""

    def __init__(self, rig: RigConfig) -> None:
        self.rig = rig
        self.config = rig.alignment
        self.tracks: dict[Modality, Track] = {}
        for stream in rig.streams:
            if stream.modality in self.tracks:
                raise AlignmentError(
                    f"rig {rig.name!r} has two {stream.modality.value} streams"
                    f" ({self.tracks[stream.modality].stream.name!r} and {stream.name!r});"
                    " the fusion window takes one per modality: remove one from the rig"
                )
            self.tracks[stream.modality] = self._make_track(stream)
        self._by_name = {t.stream.name: t for t in self.tracks.values()}
        master = self.config.master
        if master is not None and master not in self._by_name:
            raise AlignmentError(
                f"alignment.master {master!r} is not a stream of rig {self.rig.name!r};"
                f" use one of {sorted(self._by_name)}"
            )
        period = self._by_name[master].period_ns if master else self.config.tick_period_ns
        self.clock = TickClock(
            period, round(self.config.window_s * 1e9), round(self.config.max_wait_s * 1e9), master is not None
        )
        self._waiting: deque[int] = deque()  # due ticks not yet emitted
        self.last_emitted_ns: int | None = None
        self.emitted = 0
        self.deadline_hits = 0
        self.jumps: list[ClockJump] = []

    def _make_track(self, stream: StreamConfig) -> Track:
        latency = round(self.rig.calibration.of(stream.name).latency_min_s * 1e9) if self.rig.calibration else 0
        sync = ClockSync(
            stream.name, self.config.clock, latency_min_ns=latency, host_domain=stream.clock_domain == "host"
        )
        if stream.modality is Modality.IMU:
            return ImuTrack(stream, sync, self.config)
        if stream.modality is Modality.AUDIO:
            rate = int(getattr(stream.settings, "sample_rate_hz", 16000))
            return AudioTrack(stream, sync, self.config, rate)
        if stream.modality is Modality.CAMERA:
            s = stream.settings
            if not hasattr(s, "width"):
                raise AlignmentError(
                    f"stream {stream.name!r}: its settings give no image width/height to fix the window shape"
                )
            return FrameTrack(stream, sync, self.config, (int(s.height), int(s.width), 3))
        return FrameTrack(stream, sync, self.config, (self.config.lidar_rows, self.config.lidar_cols))

    def window_shapes(self) -> dict[str, tuple[int, ...]]:
        """Each modality's array shape in the windows this buffer emits (modality name -> shape)."""
        return {track.stream.modality.value: tuple(track.shape) for track in self._by_name.values()}

    # --- input ------------------------------------------------------------------------------
    def push(self, item: SourceItem) -> ClockJump | None:
        """Take one item from a source, in arrival order."""
        track = self._by_name.get(item.stream)
        if track is None:
            raise AlignmentError(f"no stream {item.stream!r} in rig {self.rig.name!r}; it has {sorted(self._by_name)}")
        if isinstance(item, RejectedSample):
            track.counters.rejected += 1  # not a sign of life: a stream sending only garbage is not waited for
            return None
        if item.modality is not track.stream.modality:
            raise AlignmentError(
                f"stream {item.stream!r} is configured as {track.stream.modality.value} but sent a"
                f" {type(item).__name__}: fix the stream's modality in the rig file or the source's stream name"
            )
        jump = track.push(item)
        if jump is not None:
            self.jumps.append(jump)
        start = track.sync.to_host(item.stamp_ns)
        self.clock.start(start)
        if self.last_emitted_ns is not None and start <= self.last_emitted_ns:
            track.counters.late += 1  # a window that wanted it has already gone out
        if track.stream.name == self.config.master:
            self.clock.master_sample(track.sync.to_host(item.stamp_ns + track.span_ns(item) // 2))
        return jump

    # --- output -----------------------------------------------------------------------------
    def live(self, now_ns: int) -> list[Track]:
        """Streams heard from within their timeout: the ones worth waiting for."""
        return [
            t
            for t in self.tracks.values()
            if t.last_recv_ns is not None and now_ns - t.last_recv_ns <= (t.stream.timeout_s or 0) * 1e9
        ]

    def poll(self, now_ns: int) -> list[Window]:
        """Windows ready at host time ``now_ns``, in tick order."""
        self._waiting.extend(self.clock.due(now_ns))
        out: list[Window] = []
        while self._waiting:
            tick = self._waiting[0]
            deadline = now_ns >= tick + self.config.max_wait_s * 1e9
            if not deadline and not all(t.passed(tick) for t in self.live(now_ns)):
                break
            self._waiting.popleft()
            out.append(self._emit(tick, now_ns, deadline))
        return out

    def _emit(self, tick: int, now_ns: int, deadline: bool) -> Window:
        inputs: dict[Modality, np.ndarray] = {}
        quality: dict[str, StreamQuality] = {}
        mask = np.zeros(len(MODALITIES), np.float32)
        late = False
        live = self.live(now_ns)
        for i, modality in enumerate(MODALITIES):
            track = self.tracks.get(modality)
            if track is None:
                inputs[modality] = _ABSENT
                continue
            array, q = track.build(tick)
            if q.present and not isinstance(track, FrameTrack) and not track.passed(tick):
                q = dataclasses.replace(q, present=False)  # missed the deadline: masked
            late |= track in live and not track.passed(tick)  # only streams worth waiting for count
            inputs[modality] = array
            quality[track.stream.name] = q
            mask[i] = 1.0 if q.present else 0.0
        self.emitted += 1
        hit = deadline and late
        self.deadline_hits += int(hit)
        self.last_emitted_ns = tick
        self._trim(tick, now_ns)
        return Window(
            seq=self.emitted - 1,
            tick_ns=tick,
            emitted_ns=now_ns,
            inputs=inputs,
            mask=mask,
            quality=quality,
            deadline_hit=hit,
        )

    def _trim(self, tick: int, now_ns: int) -> None:
        keep_from = min(tick, now_ns - round(self.config.buffer_s * 1e9) + round(self.config.window_s * 1e9))
        horizon = keep_from - round(self.config.window_s * 1e9) - round(0.2e9)
        for track in self.tracks.values():
            track.trim(horizon)

    def flush(self, now_ns: int) -> list[Window]:
        """Every window with a tick up to ``now_ns``, waiting no longer for late streams (end of a replay)."""
        self._waiting.extend(self.clock.due(now_ns))
        out = [self._emit(tick, now_ns, deadline=True) for tick in self._waiting]
        self._waiting.clear()
        return out

    # --- diagnostics ------------------------------------------------------------------------
    def sync(self, stream: str) -> ClockSync:
        """The clock estimate of ``stream``."""
        track = self._by_name.get(stream)
        if track is None:
            raise AlignmentError(f"no stream {stream!r} in rig {self.rig.name!r}; it has {sorted(self._by_name)}")
        return track.sync

    def counters(self) -> dict[str, StreamCounters]:
        """Per-stream counters, by stream name."""
        return {name: t.counters for name, t in self._by_name.items()}

    def clocks(self, now_ns: int) -> dict[str, StreamClock]:
        """Per-stream clock estimates at host time ``now_ns``."""
        return {
            name: StreamClock(
                name, t.sync.method, t.sync.ready, t.sync.offset_ns(now_ns), t.sync.drift_ppm, t.sync.resets
            )
            for name, t in self._by_name.items()
        }
