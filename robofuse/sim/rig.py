"""The simulated rig as a Source: every sensor on its own clock, merged in arrival order.

For each stream a runner steps the sensor's own clock (nominal period on the sensor clock, so
a drifting clock really samples the world at drifted instants), stamps each message with
jitter, sends it through a transport with latency and drops, and applies injected faults.
Messages of all streams are yielded in host arrival order, as a live system sees them.
"""

from __future__ import annotations

import heapq
import math
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from robofuse.config.calibration import StreamCalibration
from robofuse.config.rig import RigConfig, StreamConfig
from robofuse.errors import ConfigError
from robofuse.messages import Modality, RejectedSample, SourceItem
from robofuse.messages.build import sample_or_rejection
from robofuse.sim.clock import SensorClock, Transport
from robofuse.sim.faults import Fault, FaultInjector
from robofuse.sim.sensor import SimSensor
from robofuse.sim.world import World
from robofuse.source import Source


def _sensor_class(type_name: str) -> type[SimSensor]:
    # Imported here so that loading a rig file does not import every renderer.
    if type_name == "sim.camera":
        from robofuse.sim.camera import SimCamera

        return SimCamera
    if type_name == "sim.lidar":
        from robofuse.sim.lidar import SimLidar

        return SimLidar
    if type_name == "sim.imu":
        from robofuse.sim.imu import SimImu

        return SimImu
    if type_name == "sim.audio":
        from robofuse.sim.audio import SimAudio

        return SimAudio
    raise ConfigError(f"stream type {type_name!r} is not simulated; the simulator runs sim.* streams only")


@dataclass(frozen=True)
class Emission:
    """Timing truth of one message: when it was measured, stamped and received."""

    host_ns: int  # true host time of the measurement (start of a scan or chunk)
    ready_ns: int  # true host time the message was complete and handed to the link (end of a scan or chunk)
    stamp_ns: int  # what the sensor wrote on it (sensor clock, jitter and clock jumps included)
    recv_ns: int  # host arrival


class StreamRunner:
    """Produces one stream's messages in order: timing first (cheap), payload on demand."""

    def __init__(self, stream: StreamConfig, sensor: SimSensor, faults: Sequence[Fault], seed: int) -> None:
        self.stream = stream
        self.sensor = sensor
        self.clock = sensor.clock
        key = zlib.crc32(stream.name.encode())
        self.transport = Transport(stream.settings.clock, np.random.default_rng([seed, key, 3]))
        self.faults = FaultInjector(faults, seed, stream.name)
        period = sensor.period_ns
        # The sensor's own clock ticks at its nominal period from a random phase.
        first = float(self.clock.sensor_ns(0.0)) + float(np.random.default_rng([seed, key, 4]).uniform(0, period))
        self._first_sensor_ns = int(first)
        self.seq = 0
        self.next: tuple[int, Emission] | None = None
        self._pending_sensor_ns = 0

    @property
    def next_recv_ns(self) -> int:
        """Arrival time of the scheduled message."""
        if self.next is None:
            raise RuntimeError("robofuse bug: no message scheduled; call advance() first")
        return self.next[1].recv_ns

    def advance(self) -> None:
        """Schedule the next message that is not lost (dead stream or dropped on the link).

        A stream that is dead for good has no next message: ``next`` becomes None.
        """
        while True:
            seq = self.seq
            sensor_ns = self._first_sensor_ns + seq * self.sensor.period_ns
            host = float(self.clock.host_ns(sensor_ns))
            revival = self.faults.dead_until_ns(host)
            if revival is not None:  # skip the dead interval at once instead of message by message
                if math.isinf(revival):
                    self.next = None
                    return
                self.seq = max(
                    seq + 1,
                    math.ceil((float(self.clock.sensor_ns(revival)) - self._first_sensor_ns) / self.sensor.period_ns),
                )
                continue
            self.seq += 1
            ready = float(self.clock.host_ns(sensor_ns + self.sensor.span_ns()))
            recv = self.transport.deliver(int(ready) + self.faults.extra_delay_ns(host))
            stamp = sensor_ns + self.transport.jitter_ns() + self.faults.stamp_shift_ns(host)
            if recv is None:
                continue
            if self.stream.clock_domain == "host":
                stamp = recv
            self.next = (seq, Emission(int(host), int(ready), stamp, recv))
            self._pending_sensor_ns = sensor_ns
            return

    def emit(self) -> tuple[SourceItem, Emission]:
        """Render the scheduled message and build its Sample (or the record of its rejection)."""
        if self.next is None:
            raise RuntimeError("robofuse bug: emit() before advance()")
        seq, em = self.next
        payload = self.sensor.render(seq, self._pending_sensor_ns)
        payload = self.faults.payload(payload, self.sensor.value_fields, em.host_ns)
        item = sample_or_rejection(
            self.sensor.sample_cls,
            stream=self.stream.name,
            frame_id=self.stream.frame_id,
            seq=seq,
            stamp_ns=em.stamp_ns,
            recv_ns=em.recv_ns,
            **payload,
        )
        return item, em


class SimRig(Source):
    """The simulated rig of a RigConfig whose streams are all ``sim.*``: a Source of Samples.

    ``duration_s`` ends the run after that much host time (None: run forever). ``faults``
    are injected into the named streams. The truth is public: ``world`` (labels, kinematics),
    ``clocks`` (each stream's true clock) and, with ``record_truth``, ``emissions`` (each
    yielded message's true measurement time, keyed by ``(stream, seq)``).
    """

    def __init__(
        self,
        rig: RigConfig,
        *,
        duration_s: float | None = None,
        faults: Sequence[Fault] = (),
        record_truth: bool = False,
    ) -> None:
        super().__init__()
        if rig.world is None:
            raise ConfigError(f"rig {rig.name!r} has no simulated world (its streams are not sim.*)")
        if duration_s is not None and duration_s <= 0:
            raise ConfigError(f"duration_s must be > 0 seconds, got {duration_s}")
        self.rig = rig
        self.duration_s = duration_s
        self.faults = tuple(faults)
        self._check_faults()
        self.record_truth = record_truth
        self.world = World(rig.world)
        self.clocks = {s.name: SensorClock(s.settings.clock) for s in rig.streams}
        self.emissions: dict[tuple[str, int], Emission] = {}
        self._runners: list[StreamRunner] = []

    def _check_faults(self) -> None:
        names = {s.name: s for s in self.rig.streams}
        for fault in self.faults:
            if fault.stream not in names:
                raise ConfigError(f"fault on unknown stream {fault.stream!r}; the rig has {sorted(names)}")
            if fault.kind == "nan" and names[fault.stream].modality is Modality.CAMERA:
                raise ConfigError(f"stream {fault.stream!r} sends 8-bit images, which cannot hold NaN; use 'corrupt'")

    @property
    def streams(self) -> dict[str, Modality]:
        """Stream name to modality, in rig order."""
        return {s.name: s.modality for s in self.rig.streams}

    def true_sensor_ns(self, stream: str, host_ns: int) -> float:
        """What ``stream``'s clock truly reads at ``host_ns``, injected clock jumps included (no jitter)."""
        shift = next((r.faults.stamp_shift_ns(host_ns) for r in self._runners if r.stream.name == stream), 0)
        return float(self.clocks[stream].sensor_ns(host_ns)) + shift

    def calibration(self, stream: str) -> StreamCalibration:
        """The rig's calibration of ``stream`` (neutral if the rig has none)."""
        cal = self.rig.calibration
        return cal.of(stream) if cal is not None else StreamCalibration()

    def _open(self) -> None:
        self.world = World(self.rig.world)  # a fresh world: every open replays the same run
        self.emissions.clear()
        seed = self.rig.world.seed
        self._runners = []
        for stream in self.rig.streams:
            sensor = _sensor_class(stream.type)(
                stream, self.world, self.clocks[stream.name], self.calibration(stream.name)
            )
            self._runners.append(StreamRunner(stream, sensor, self.faults, seed))

    def _close(self) -> None:
        # Nothing to release; the runners stay so the truth (true_sensor_ns) can still be read after the run.
        pass

    def _items(self) -> Iterator[SourceItem]:
        end_ns = None if self.duration_s is None else round(self.duration_s * 1e9)
        heap: list[tuple[int, int]] = []
        for i, runner in enumerate(self._runners):
            runner.advance()
            if runner.next is not None:
                heap.append((runner.next_recv_ns, i))
        heapq.heapify(heap)
        while heap and self.is_open:
            recv_ns, i = heap[0]
            if end_ns is not None and recv_ns > end_ns:
                return
            runner = self._runners[i]
            item, emission = runner.emit()
            if self.record_truth and not isinstance(item, RejectedSample):
                self.emissions[(runner.stream.name, item.seq)] = emission
            runner.advance()
            if runner.next is None:
                heapq.heappop(heap)  # dead for good
            else:
                heapq.heapreplace(heap, (runner.next_recv_ns, i))
            yield item
