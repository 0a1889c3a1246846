"""Small rotation helpers shared by the simulator, calibration and (later) alignment.

Quaternions are stored ``(x, y, z, w)`` as in ROS and SciPy (DESIGN.md, "Time").
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def rotation_matrix(xyzw: tuple[float, float, float, float]) -> npt.NDArray[np.float64]:
    """The 3x3 rotation of a unit quaternion stored ``(x, y, z, w)``."""
    x, y, z, w = xyzw
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
