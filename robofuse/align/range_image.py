"""A LIDAR scan as a fixed-shape range image (rows = rings, columns = azimuth bins)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def range_image(
    points: npt.NDArray[np.float32], ring: npt.NDArray[np.uint16], rows: int, cols: int
) -> npt.NDArray[np.float32]:
    """Range in metres per (ring, azimuth bin), nearest return where several fall in one cell, 0 where none.

    Column 0 looks backwards (azimuth -pi) and columns advance counter-clockwise through the
    front (azimuth 0 at column ``cols // 2``), REP-103: x forward, y left.
    """
    image = np.zeros(rows * cols, np.float32)
    if points.shape[0]:
        rng = np.sqrt(np.einsum("ij,ij->i", points, points, dtype=np.float32))
        az = np.arctan2(points[:, 1], points[:, 0])
        col = np.minimum(((az + np.pi) * (cols / (2 * np.pi))).astype(np.intp), cols - 1)
        cell = np.minimum(ring.astype(np.intp), rows - 1) * cols + col
        image[cell] = rng  # most cells get one return; fix the few that got several (dual return, skew)
        shared = np.bincount(cell, minlength=rows * cols)[cell] > 1
        if shared.any():
            image[cell[shared]] = np.inf
            np.minimum.at(image, cell[shared], rng[shared])
    return image.reshape(rows, cols)
