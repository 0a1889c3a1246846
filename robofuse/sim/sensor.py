"""The interface every simulated sensor implements, and what the rig gives it.

The rig (``robofuse.sim.rig``) decides *when* each measurement happens and arrives; a
:class:`SimSensor` only renders *what* it measured. ``render(seq, sensor_ns)`` returns the
payload keyword arguments of its Sample class (for example ``{"image": ..., "encoding":
"rgb8"}``); the rig adds the header, applies any injected faults and constructs the Sample.
"""

from __future__ import annotations

import abc
import zlib
from typing import Any, ClassVar

import numpy as np

from robofuse.config.calibration import StreamCalibration
from robofuse.config.rig import StreamConfig
from robofuse.messages import Sample
from robofuse.sim.clock import SensorClock
from robofuse.sim.world import World


class SimSensor(abc.ABC):
    """A simulated sensor of one stream.

    Attributes set by the base class: ``stream`` (its config; ``stream.settings`` is the
    sensor's settings dataclass), ``world``, ``clock`` (map sensor time to host time with
    ``clock.host_ns``), ``calibration`` and ``rng`` (a generator private to this stream and
    seed: draw noise here, in render order, and the output is deterministic for the seed).
    """

    sample_cls: ClassVar[type[Sample]]
    # Names of the payload arrays that hold measured values (what noise/NaN/corrupt faults touch).
    value_fields: ClassVar[tuple[str, ...]]

    def __init__(self, stream: StreamConfig, world: World, clock: SensorClock, calibration: StreamCalibration) -> None:
        self.stream = stream
        self.settings = stream.settings
        self.world = world
        self.clock = clock
        self.calibration = calibration
        stream_key = zlib.crc32(stream.name.encode())
        self.rng = np.random.default_rng([world.settings.seed, stream_key, 1])

    @property
    def period_ns(self) -> int:
        """Nominal time between measurements, in the sensor's clock."""
        return self.stream.period_ns

    def span_ns(self) -> int:
        """Sensor-clock time one message covers (a scan, a chunk); 0 for an instant."""
        return 0

    @abc.abstractmethod
    def render(self, seq: int, sensor_ns: int) -> dict[str, Any]:
        """The payload of measurement ``seq``, which starts at sensor-clock time ``sensor_ns``.

        Host (world) time of that instant is ``self.clock.host_ns(sensor_ns)``; a message that
        spans time samples the world at each of its own instants.
        """
