"""Resampling kernels: exact on what they model, honest about gaps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from robofuse.align.range_image import range_image
from robofuse.align.resample import interp_index, interp_linear, slerp


def yaw_quat(angle: float) -> np.ndarray:
    return np.array([0.0, 0.0, np.sin(angle / 2), np.cos(angle / 2)])


@given(st.lists(st.floats(0.1, 10.0), min_size=2, max_size=30), st.floats(-5, 5), st.floats(-5, 5))
def test_linear_interpolation_is_exact_on_a_line(steps: list[float], slope: float, offset: float) -> None:
    t = np.cumsum(steps)
    values = np.stack([slope * t + offset, -t], axis=1)
    grid = np.linspace(t[0], t[-1], 17)
    out, valid = interp_linear(t, values, grid, max_gap=np.inf)
    assert valid.all()
    assert np.allclose(out[:, 0], slope * grid + offset, atol=1e-9 * (1 + abs(slope) * t[-1]))
    assert np.allclose(out[:, 1], -grid)


def test_grid_points_in_a_gap_or_outside_the_data_are_invalid_and_zero() -> None:
    t = np.array([0.0, 1.0, 2.0, 10.0, 11.0])
    values = np.ones((5, 1))
    grid = np.array([-0.5, 0.5, 1.5, 5.0, 10.5, 12.0])
    out, valid = interp_linear(t, values, grid, max_gap=1.5)
    assert valid.tolist() == [False, True, True, False, True, False]
    assert out[~valid].tolist() == [[0.0]] * 3
    assert interp_linear(t[:1], values[:1], grid, 1.5)[1].sum() == 0


def test_slerp_halfway_between_two_yaws_is_the_middle_yaw_and_stays_unit() -> None:
    t = np.array([0.0, 1.0])
    q = np.stack([yaw_quat(0.0), yaw_quat(np.pi / 2)])
    out, valid = slerp(t, q, np.array([0.5, 0.25]), max_gap=2.0)
    assert valid.all()
    assert np.allclose(out[0], yaw_quat(np.pi / 4))
    assert np.allclose(out[1], yaw_quat(np.pi / 8))


def test_slerp_takes_the_short_way_when_the_sign_flips() -> None:
    t = np.array([0.0, 1.0])
    q = np.stack([yaw_quat(0.1), -yaw_quat(0.3)])  # -q is the same rotation as q
    out, _ = slerp(t, q, np.array([0.5]), max_gap=2.0)
    assert abs(abs(out[0] @ yaw_quat(0.2)) - 1.0) < 1e-12


def test_slerp_marks_gaps_with_the_identity() -> None:
    out, valid = slerp(np.array([0.0, 5.0]), np.stack([yaw_quat(0.0), yaw_quat(1.0)]), np.array([2.0]), max_gap=1.0)
    assert not valid[0]
    assert out[0].tolist() == [0.0, 0.0, 0.0, 1.0]


def test_fractional_index_interpolation_needs_both_neighbours() -> None:
    values = np.arange(6, dtype=np.float32)
    present = np.array([True, True, True, False, True, True])
    out, valid = interp_index(values, present, np.array([0.5, 1.25, 2.5, 3.5, 4.5, 5.0, 5.5, -0.1]))
    assert valid.tolist() == [True, True, False, False, True, True, False, False]
    assert out[valid].tolist() == pytest.approx([0.5, 1.25, 4.5, 5.0])


def test_a_range_image_keeps_the_nearest_return_per_cell_with_the_front_in_the_middle() -> None:
    points = np.array([[2.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.0, 4.0, 0.0], [-5.0, -0.001, 0.0]], np.float32)
    ring = np.array([1, 1, 0, 2], np.uint16)
    image = range_image(points, ring, rows=3, cols=8)
    assert image[1, 4] == pytest.approx(2.0)  # straight ahead: azimuth 0 -> column cols // 2
    assert image[0, 6] == pytest.approx(4.0)  # left: +pi/2
    assert image[2, 0] == pytest.approx(5.0)  # behind
    assert np.count_nonzero(image) == 3
