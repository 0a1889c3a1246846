"""Audio sources against real WAV files written here (stdlib ``wave``, and espeak-ng when present).

The live driver needs a sound card, which CI has not; what can run without one does: the error
when PortAudio cannot be loaded, and the error for an input device that does not exist.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from robofuse.errors import SensorError
from robofuse.messages import AudioChunk
from sensors.audio.driver import SoundDeviceDriver
from sensors.audio.settings import AudioSettings
from sensors.audio.wav import WavSource

RATE, CHUNK = 16000, 512


def write_tone(path: Path, seconds: float = 1.03, rate: int = RATE) -> np.ndarray:
    """A 440 Hz tone, 16-bit mono; returns the samples written."""
    t = np.arange(round(seconds * rate)) / rate
    samples = np.round(0.5 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return samples


def read_all(source: WavSource) -> list[AudioChunk]:
    with source:
        items = list(source)
    assert all(isinstance(i, AudioChunk) for i in items)
    return [i for i in items if isinstance(i, AudioChunk)]


def test_a_wav_file_comes_back_sample_for_sample_in_chunks(tmp_path: Path) -> None:
    written = write_tone(tmp_path / "tone.wav")  # 16480 samples: 32 whole chunks and 96 left over
    chunks = read_all(WavSource("mic", "mic", AudioSettings(wav=str(tmp_path / "tone.wav"), chunk_samples=CHUNK)))
    assert len(chunks) == 33
    assert [c.seq for c in chunks] == list(range(33))
    assert all(c.rate_hz == RATE and c.channels == 1 and c.samples.dtype == np.int16 for c in chunks)
    np.testing.assert_array_equal(np.concatenate([c.samples[:, 0] for c in chunks]), written)


def test_the_last_chunk_is_partial_and_not_padded(tmp_path: Path) -> None:
    write_tone(tmp_path / "tone.wav")
    chunks = read_all(WavSource("mic", "mic", AudioSettings(wav=str(tmp_path / "tone.wav"), chunk_samples=CHUNK)))
    assert [c.samples.shape[0] for c in chunks] == [CHUNK] * 32 + [16480 - 32 * CHUNK]


def test_stamps_follow_the_sample_count_and_recv_is_when_the_chunk_is_complete(tmp_path: Path) -> None:
    write_tone(tmp_path / "tone.wav")
    settings = AudioSettings(wav=str(tmp_path / "tone.wav"), chunk_samples=CHUNK)
    chunks = read_all(WavSource("mic", "mic", settings, start_ns=5_000_000_000))
    for k, chunk in enumerate(chunks):
        assert chunk.stamp_ns == 5_000_000_000 + round(k * CHUNK * 1e9 / RATE)
        assert chunk.recv_ns == 5_000_000_000 + round((k * CHUNK + chunk.samples.shape[0]) * 1e9 / RATE)
    assert chunks[-1].recv_ns == 5_000_000_000 + 1_030_000_000


def test_a_truncated_wav_is_a_clear_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.wav"
    write_tone(path)
    path.write_bytes(path.read_bytes()[:20000])  # the header still promises 16480 samples
    source = WavSource("mic", "mic", AudioSettings(wav=str(path), chunk_samples=CHUNK))
    with source, pytest.raises(SensorError, match=r"cut\.wav is truncated: .*16480 samples.* ends after 9978"):
        list(source)


def test_a_wav_cut_inside_its_header_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "stub.wav"
    write_tone(path)
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(SensorError, match=r"stub\.wav is not a readable WAV file"):
        WavSource("mic", "mic", AudioSettings(wav=str(path))).open()


def test_a_wav_at_another_rate_than_the_rig_says_is_a_clear_error(tmp_path: Path) -> None:
    write_tone(tmp_path / "tone.wav", rate=8000)
    source = WavSource("mic", "mic", AudioSettings(wav=str(tmp_path / "tone.wav"), sample_rate_hz=16000))
    with pytest.raises(SensorError, match="is 8000 Hz but the stream says 16000 Hz"):
        source.open()
    assert not source.is_open


def test_settings_need_exactly_one_of_device_and_wav() -> None:
    with pytest.raises(ValueError, match="exactly one of device"):
        AudioSettings()
    with pytest.raises(ValueError, match="exactly one of device"):
        AudioSettings(device=0, wav="a.wav")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not on PATH (apt-get install espeak-ng)")
def test_a_speech_recording_from_espeak_ng_reads_whole(tmp_path: Path) -> None:
    path = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "sensor fusion keeps answering"], check=True, timeout=30)
    with wave.open(str(path), "rb") as wav:
        rate, frames = wav.getframerate(), wav.getnframes()
        expected = np.frombuffer(wav.readframes(frames), dtype="<i2")
    chunks = read_all(WavSource("voice", "mic", AudioSettings(wav=str(path), chunk_samples=1024)))
    assert frames > rate // 2  # more than half a second of speech
    assert chunks[0].rate_hz == rate
    np.testing.assert_array_equal(np.concatenate([c.samples[:, 0] for c in chunks]), expected)
    assert np.abs(expected).max() > 1000  # it is speech, not silence


def test_without_portaudio_the_driver_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """``sys.modules[name] = None`` makes the import fail as on a machine without the library."""
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    driver = SoundDeviceDriver("mic", "mic", AudioSettings(device=0))
    with pytest.raises(SensorError, match=r"cannot load PortAudio.*apt-get install libportaudio2"):
        driver.open()
    assert not driver.is_open


def test_the_real_sounddevice_import_fails_with_the_clear_error_when_portaudio_is_missing() -> None:
    try:
        import sounddevice  # noqa: F401
    except OSError:
        pass
    else:
        pytest.skip("sounddevice imports (PortAudio is installed): nothing missing to report")
    with pytest.raises(SensorError, match="apt-get install libportaudio2"):
        SoundDeviceDriver("mic", "mic", AudioSettings(device=0)).open()


def test_an_input_device_that_does_not_exist_is_a_clear_error() -> None:
    pytest.importorskip("sounddevice", reason="sounddevice/PortAudio is not installed")
    driver = SoundDeviceDriver("mic", "mic", AudioSettings(device="no such microphone 57"))
    with pytest.raises(SensorError, match=r"cannot open audio input 'no such microphone 57'.*python -m sounddevice"):
        driver.open()
