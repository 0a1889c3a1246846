"""A live audio input through sounddevice (PortAudio), as a Source of AudioChunks.

PortAudio calls back with each block of ``chunk_samples``; the callback only copies the block
and notes the host time (``recv_ns``) into a queue. A chunk's ``stamp_ns`` is the stream's
start time on the host clock plus its first sample's count at the nominal rate, so the ADC's
true rate, which drifts from nominal, shows up as drift between stamp and arrival for
ClockSync to estimate. An input overflow (PortAudio dropped samples) breaks that count: it is
counted in ``overflows`` and the stream is restarted, which starts a fresh count.
"""

from __future__ import annotations

import contextlib
import queue
from typing import Any

import numpy as np

from robofuse.errors import SensorError
from robofuse.messages import AudioChunk, Modality, SourceItem
from robofuse.messages.build import sample_or_rejection
from sensors.audio.settings import DEFAULT_RATE_HZ, AudioSettings
from sensors.base import POLL_S, Driver, now_ns

PORTAUDIO_HINT = "install PortAudio (`sudo apt-get install libportaudio2`) and `pip install sounddevice`"


class SoundDeviceDriver(Driver):
    """Reads ``settings.device`` in blocks of ``settings.chunk_samples`` int16 samples."""

    def __init__(self, stream: str, frame_id: str, settings: AudioSettings, *, queue_size: int = 64) -> None:
        super().__init__(queue_size=queue_size)
        if settings.device is None:
            raise SensorError("SoundDeviceDriver needs settings.device; a WAV file is read by WavSource")
        self.stream_name = stream
        self.frame_id = frame_id
        self.settings = settings
        self.rate_hz = settings.sample_rate_hz or DEFAULT_RATE_HZ
        self.channels = settings.channels or 1
        self.overflows = 0
        self._blocks: queue.Queue[tuple[np.ndarray, int, bool]] = queue.Queue(maxsize=queue_size)
        self._stream: Any = None
        self._start_ns = 0
        self._count = 0  # samples since the stream started
        self._seq = 0

    @property
    def streams(self) -> dict[str, Modality]:
        """The one audio stream."""
        return {self.stream_name: Modality.AUDIO}

    def _connect(self) -> None:
        try:
            import sounddevice as sd  # lazy: it loads the PortAudio shared library on import
        except (ImportError, OSError) as err:
            raise SensorError(f"the audio driver cannot load PortAudio ({err}); {PORTAUDIO_HINT}") from None
        self._blocks = queue.Queue(maxsize=self._blocks.maxsize)
        try:
            self._stream = sd.InputStream(
                device=self.settings.device,
                samplerate=self.rate_hz,
                channels=self.channels,
                dtype="int16",
                blocksize=self.settings.chunk_samples,
                callback=self._callback,
            )
            self._count = 0
            self._stream.start()
        except (sd.PortAudioError, ValueError) as err:
            raise SensorError(
                f"cannot open audio input {self.settings.device!r} at {self.rate_hz} Hz x {self.channels} ({err});"
                " list inputs with `python -m sounddevice`"
            ) from None
        self._start_ns = now_ns()

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        recv = now_ns()
        with contextlib.suppress(queue.Full):  # the reader is gone or far behind: the next read sees the gap
            self._blocks.put_nowait((indata.copy(), recv, bool(status.input_overflow)))

    def _disconnect(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):  # a device that vanished fails to stop too
                stream.stop()
                stream.close()

    def _read(self) -> list[SourceItem]:
        if self._stream is None:
            raise SensorError(f"audio input {self.settings.device!r} is not open")
        try:
            block, recv, overflow = self._blocks.get(timeout=POLL_S)
        except queue.Empty:
            if not self._stream.active:
                raise SensorError(f"audio input {self.settings.device!r} stopped; reconnecting") from None
            return []
        if overflow:
            self.overflows += 1
            raise SensorError(f"audio input {self.settings.device!r} overflowed; restarting to recount samples")
        stamp = self._start_ns + round(self._count * 1e9 / self.rate_hz)
        self._count += int(block.shape[0])
        seq, self._seq = self._seq, self._seq + 1
        chunk = sample_or_rejection(
            AudioChunk,
            stream=self.stream_name,
            frame_id=self.frame_id,
            seq=seq,
            stamp_ns=stamp,
            recv_ns=recv,
            samples=block,
            rate_hz=self.rate_hz,
        )
        return [chunk]
