"""The Source contract, run against every Source implementation that can run here.

Drivers, bag readers and ROS 2 subscriptions join the parametrization as they arrive.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

import robofuse
from robofuse.config import load_rig
from robofuse.errors import SensorError
from robofuse.messages import RejectedSample, SampleHeader
from robofuse.sim import SimRig
from robofuse.source import Source


def small_sim() -> Source:
    rig = load_rig(robofuse.default_rig_path())
    streams = tuple(
        dataclasses.replace(s, settings=dataclasses.replace(s.settings, width=32, height=24))
        if s.type == "sim.camera"
        else s
        for s in rig.streams
    )
    return SimRig(dataclasses.replace(rig, streams=streams), duration_s=0.5)


SOURCES: dict[str, Callable[[], Source]] = {"sim": small_sim}


@pytest.fixture(params=sorted(SOURCES))
def source(request: pytest.FixtureRequest) -> Source:
    return SOURCES[request.param]()


def test_a_source_must_be_opened_before_iterating(source: Source) -> None:
    assert not source.is_open
    with pytest.raises(SensorError, match="not open"):
        iter(source)


def test_a_source_yields_samples_of_its_declared_streams_in_arrival_order(source: Source) -> None:
    with source:
        items = list(source)
    assert items
    assert {i.stream for i in items} <= set(source.streams)
    assert [i.recv_ns for i in items] == sorted(i.recv_ns for i in items)
    for item in items:
        assert isinstance(item, (SampleHeader, RejectedSample))
        if isinstance(item, SampleHeader):
            assert item.modality is source.streams[item.stream]


def test_open_and_close_are_idempotent_and_close_ends_iteration(source: Source) -> None:
    source.open()
    source.open()
    it = iter(source)
    next(it)
    source.close()
    source.close()
    assert not source.is_open
    assert list(it) == []
