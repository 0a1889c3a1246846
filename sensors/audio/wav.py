"""A WAV file replayed as a Source of AudioChunks.

Chunk ``k`` is stamped by its first sample's count: ``start_ns + round(k * chunk_samples * 1e9
/ rate)``, so the file's own rate is the clock ClockSync sees. ``recv_ns`` is when a live device
would have delivered the chunk: the stamp of the sample after its last one. With ``realtime``,
``start_ns`` is the host clock at open and each chunk is held back until that moment, so
``recv_ns`` is the real arrival. The last chunk holds what is left: it may be shorter than
``chunk_samples`` (never padded). Only 16-bit PCM is read (as int16); convert other formats with
``sox in.wav -b 16 out.wav``.
"""

from __future__ import annotations

import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from robofuse.errors import SensorError
from robofuse.messages import AudioChunk, Modality, SourceItem
from robofuse.messages.build import sample_or_rejection
from robofuse.source import Source
from sensors.audio.settings import AudioSettings
from sensors.base import now_ns


class WavSource(Source):
    """Reads ``settings.wav`` (or ``path``) in chunks of ``settings.chunk_samples``."""

    def __init__(
        self, stream: str, frame_id: str, settings: AudioSettings, *, path: str | Path | None = None, start_ns: int = 0
    ) -> None:
        super().__init__()
        if path is None and settings.wav is None:
            raise SensorError("WavSource needs a file: set the stream's settings.wav")
        self.path = Path(path if path is not None else str(settings.wav))
        self.stream_name = stream
        self.frame_id = frame_id
        self.settings = settings
        self.start_ns = start_ns
        self.rate_hz = 0
        self.channels = 0
        self.frames = 0  # sample frames the header promises
        self._wav: wave.Wave_read | None = None

    @property
    def streams(self) -> dict[str, Modality]:
        """The one audio stream."""
        return {self.stream_name: Modality.AUDIO}

    def _open(self) -> None:
        try:
            self._wav = wave.open(str(self.path), "rb")  # noqa: SIM115 - held open until close()
        except FileNotFoundError:
            raise SensorError(f"no WAV file at {self.path}") from None
        except (wave.Error, EOFError, OSError) as err:
            raise SensorError(f"{self.path} is not a readable WAV file ({err or 'header cut short'})") from None
        self.rate_hz, self.channels = self._wav.getframerate(), self._wav.getnchannels()
        self.frames = self._wav.getnframes()
        try:
            self._check_format(self._wav.getsampwidth())
        except SensorError:
            self._close()
            raise
        if self.settings.realtime:
            self.start_ns = now_ns()

    def _check_format(self, sample_width: int) -> None:
        s = self.settings
        if sample_width != 2:
            raise SensorError(f"{self.path} holds {8 * sample_width}-bit samples; only 16-bit PCM is read (sox -b 16)")
        if s.sample_rate_hz is not None and s.sample_rate_hz != self.rate_hz:
            raise SensorError(f"{self.path} is {self.rate_hz} Hz but the stream says {s.sample_rate_hz} Hz")
        if s.channels is not None and s.channels != self.channels:
            raise SensorError(f"{self.path} has {self.channels} channels but the stream says {s.channels}")

    def _close(self) -> None:
        wav, self._wav = self._wav, None
        if wav is not None:
            wav.close()

    def _stamp(self, sample_index: int) -> int:
        return self.start_ns + round(sample_index * 1e9 / self.rate_hz)

    def _items(self) -> Iterator[SourceItem]:
        chunk, seq, done = self.settings.chunk_samples, 0, 0
        while self._wav is not None and done < self.frames:
            want = min(chunk, self.frames - done)
            data = self._wav.readframes(want)
            got = len(data) // (2 * self.channels)
            if got < want:
                raise SensorError(
                    f"{self.path} is truncated: its header promises {self.frames} samples per channel,"
                    f" the file ends after {done + got}; re-record or re-export it"
                )
            stamp, recv = self._stamp(done), self._stamp(done + got)
            if self.settings.realtime:
                time.sleep(max(0.0, (recv - now_ns()) / 1e9))
                recv = now_ns()
            samples = np.frombuffer(data, dtype="<i2").astype(np.int16).reshape(got, self.channels)
            yield self._chunk(seq, stamp, recv, samples)
            seq, done = seq + 1, done + got

    def _chunk(self, seq: int, stamp_ns: int, recv_ns: int, samples: np.ndarray) -> SourceItem:
        return sample_or_rejection(
            AudioChunk,
            stream=self.stream_name,
            frame_id=self.frame_id,
            seq=seq,
            stamp_ns=stamp_ns,
            recv_ns=recv_ns,
            samples=samples,
            rate_hz=self.rate_hz,
        )
