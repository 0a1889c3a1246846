"""Xsens MTi over a serial port, as a Source of ImuSamples.

Stamps: ``stamp_ns`` from the device's SampleTimeFine counter (10 kHz, wrap unrolled), so the
device clock's offset and drift stay visible to ClockSync; ``recv_ns`` when the bytes arrived.
A packet without SampleTimeFine is stamped on arrival (configure the stream's clock_domain as
``host`` then). ``seq`` is the device's PacketCounter, unrolled past its 16-bit wrap.
"""

from __future__ import annotations

from typing import Any

from robofuse.errors import SampleError, SensorError
from robofuse.messages import ImuSample, Modality, RejectedSample, SourceItem
from sensors.serial_driver import SerialDriver
from sensors.xsens.mtdata2 import MtData2, MtData2Decoder, SampleTimeFineUnwrapper, to_imu_payload
from sensors.xsens.settings import XsensSettings
from sensors.xsens.xbus import MessageId, XbusParser, frame

BUS_MASTER = 0xFF


class XsensDriver(SerialDriver):
    """Reads MTData2 from an MTi and yields ImuSamples (or RejectedSamples for unusable packets)."""

    device_name = "Xsens"

    def __init__(self, stream: str, frame_id: str, settings: XsensSettings, *, queue_size: int = 1024) -> None:
        super().__init__(settings.port, settings.baudrate, queue_size=queue_size)
        self.stream_name = stream
        self.frame_id = frame_id
        self.settings = settings
        self.parser: XbusParser[Any] = XbusParser(decode=MtData2Decoder())
        self._clock = SampleTimeFineUnwrapper()
        self._seq_base = 0
        self._last_counter: int | None = None

    @property
    def streams(self) -> dict[str, Modality]:
        """The one IMU stream this device produces."""
        return {self.stream_name: Modality.IMU}

    def _start(self, port: Any) -> None:
        self.parser = XbusParser(decode=MtData2Decoder())  # a fresh stream: no half message from before
        self._clock.reset()
        if self.settings.start_measurement:
            port.write(frame(BUS_MASTER, MessageId.GO_TO_MEASUREMENT))

    def _bytes(self, data: bytes, recv_ns: int) -> list[SourceItem]:
        return [self._sample(m, recv_ns) for m in self.parser.feed(data) if isinstance(m, MtData2)]

    def _sample(self, data: MtData2, recv_ns: int) -> SourceItem:
        seq = self._unwrap_counter(data.packet_counter)
        stamp = self._clock.unwrap(data.sample_time_fine) if data.sample_time_fine is not None else recv_ns
        try:
            return ImuSample(
                stream=self.stream_name,
                frame_id=self.frame_id,
                seq=seq,
                stamp_ns=stamp,
                recv_ns=recv_ns,
                **to_imu_payload(data),
            )
        except (SensorError, SampleError) as err:
            return RejectedSample(stream=self.stream_name, recv_ns=recv_ns, reason=str(err), stamp_ns=stamp, seq=seq)

    def _unwrap_counter(self, counter: int | None) -> int:
        if counter is None:
            self._seq_base += 1
            return self._seq_base
        if self._last_counter is not None and counter < self._last_counter:
            self._seq_base += 1 << 16
        self._last_counter = counter
        return self._seq_base + counter
