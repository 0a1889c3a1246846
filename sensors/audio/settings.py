"""Rig-file settings of an audio stream (``type: audio.sounddevice`` or ``type: audio.wav``).

One settings class serves both types so a rig can swap a microphone for a recording of it by
changing ``type`` and one key; the class checks that exactly one of ``device``/``wav`` is set,
and the type says which one the rig means.
"""

from __future__ import annotations

from dataclasses import dataclass

from robofuse.config.registry import register_stream_type
from robofuse.messages import Modality
from robofuse.schema import require

DEFAULT_RATE_HZ = 16000


@dataclass(frozen=True, kw_only=True)
class AudioSettings:
    """Where the audio comes from and how it is cut into chunks.

    ``device``: a sounddevice input (its name, a part of it, or its index; ``python -m
    sounddevice`` lists them). ``wav``: a WAV file (16-bit PCM) instead. ``sample_rate_hz``,
    ``channels``: what to open the device with (default 16 kHz mono); for a WAV file, what the
    file must hold, or the file's own when left out. ``chunk_samples``: samples per chunk (the
    last chunk of a file may be shorter). ``realtime``: replay a file at its own pace, from the
    host clock at open, instead of as fast as it is consumed.
    """

    device: str | int | None = None
    wav: str | None = None
    sample_rate_hz: int | None = None
    channels: int | None = None
    chunk_samples: int = 512
    realtime: bool = False

    def __post_init__(self) -> None:
        require(
            (self.device is None) != (self.wav is None),
            "set exactly one of device (a live input, type audio.sounddevice) or wav (a file, type audio.wav)",
        )
        require(self.wav is None or bool(self.wav), "wav must be a file path")
        require(
            self.sample_rate_hz is None or 1000 <= self.sample_rate_hz <= 384_000,
            f"sample_rate_hz must be in [1000, 384000], got {self.sample_rate_hz}",
        )
        require(self.channels is None or 1 <= self.channels <= 64, f"channels must be in [1, 64], got {self.channels}")
        require(self.chunk_samples >= 1, f"chunk_samples must be >= 1, got {self.chunk_samples}")


register_stream_type("audio.sounddevice", (Modality.AUDIO,), AudioSettings, "a live audio input through PortAudio")
register_stream_type("audio.wav", (Modality.AUDIO,), AudioSettings, "a WAV file replayed as an audio stream")
