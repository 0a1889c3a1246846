"""Audio as Sources of AudioChunks: a live input device through sounddevice, or a WAV file.

Both stamp a chunk by its first sample's count at the stream's rate, so the rate of the clock
that produced the samples (an ADC's, or a recording's) is what ClockSync sees.
"""

from sensors.audio.settings import AudioSettings

__all__ = ["AudioSettings"]
