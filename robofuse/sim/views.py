"""Pictures of what the simulated sensors measure: a LIDAR bird's-eye view and an audio spectrogram.

Pure numpy, no plotting library, so ``robofuse snapshot`` works on a bare install.
"""

from __future__ import annotations

import numpy as np

# A perceptual-ish ramp from dark blue through green to yellow, for heights and levels.
_RAMP = np.array([[20, 20, 80], [30, 110, 160], [60, 180, 100], [230, 220, 60]], dtype=np.float64)


def colour_ramp(values: np.ndarray) -> np.ndarray:
    """uint8 RGB of ``values`` in [0, 1] along the ramp (out-of-range values are clipped)."""
    v = np.clip(values, 0.0, 1.0) * (len(_RAMP) - 1)
    lo = np.minimum(v.astype(np.int64), len(_RAMP) - 2)
    frac = (v - lo)[..., None]
    rgb: np.ndarray = (_RAMP[lo] * (1 - frac) + _RAMP[lo + 1] * frac).astype(np.uint8)
    return rgb


def lidar_birds_eye(
    points: np.ndarray, *, range_m: float = 20.0, pixels: int = 400, z_min: float = -0.6, z_max: float = 1.5
) -> np.ndarray:
    """Top view (REP-103: x forward is up, y left is left) of an (N, 3) cloud, coloured by height.

    The sensor sits at the centre; a faint ring marks every 5 m.
    """
    img = np.zeros((pixels, pixels, 3), np.uint8)
    scale = pixels / (2 * range_m)
    centre = pixels // 2
    yy, xx = np.mgrid[0:pixels, 0:pixels]
    dist = np.hypot(yy - centre, xx - centre) / scale
    img[np.abs(dist - np.round(dist / 5) * 5) < 0.5 / scale * 1.5] = (45, 45, 45)
    row = (centre - points[:, 0] * scale).astype(np.int64)
    col = (centre - points[:, 1] * scale).astype(np.int64)
    keep = (row >= 0) & (row < pixels) & (col >= 0) & (col < pixels)
    order = np.argsort(points[keep, 2])  # draw high points last so obstacles stay visible
    height = (points[keep, 2][order] - z_min) / (z_max - z_min)
    img[row[keep][order], col[keep][order]] = colour_ramp(height)
    img[centre - 2 : centre + 3, centre - 2 : centre + 3] = (255, 60, 60)
    return img


def spectrogram(
    samples: np.ndarray, rate_hz: int, *, window: int = 512, hop: int = 128, floor_db: float = -100.0
) -> np.ndarray:
    """Log-power spectrogram image of mono ``samples``: time to the right, frequency up, 0 Hz at the bottom."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    if x.size < window:
        raise ValueError(f"need at least {window} samples for a spectrogram, got {x.size}")
    frames = np.lib.stride_tricks.sliding_window_view(x, window)[::hop] * np.hanning(window)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2 / window
    db = 10 * np.log10(power + 1e-20)
    level = (db - floor_db) / -floor_db
    return colour_ramp(level.T[::-1])
