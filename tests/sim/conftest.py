"""Shared fixtures for simulator tests: the bundled rig, rendered small so tests stay fast."""

from __future__ import annotations

import pytest
from simtools import small_rig

import robofuse
from robofuse.config import RigConfig, load_rig


@pytest.fixture
def rig() -> RigConfig:
    """The small version of the bundled rig, seed 0."""
    return small_rig(0)


@pytest.fixture(scope="module")
def bundled_rig() -> RigConfig:
    """The bundled rig at full size (tests pick their own resolution)."""
    return load_rig(robofuse.default_rig_path())
