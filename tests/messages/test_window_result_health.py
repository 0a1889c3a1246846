"""Window, Result and Health: the contract the alignment, fusion and engine work meet on."""

from __future__ import annotations

import numpy as np
import pytest

from robofuse.errors import SampleError
from robofuse.messages import (
    MODALITIES,
    Fallback,
    Health,
    HealthState,
    Modality,
    Result,
    StreamHealth,
    StreamQuality,
    Window,
)


def inputs() -> dict[Modality, np.ndarray]:
    return {m: np.zeros(4, np.float32) for m in MODALITIES}


def health(*states: HealthState) -> Health:
    return Health(
        time_ns=5,
        streams=tuple(
            StreamHealth(
                stream=f"s{i}", modality=Modality.IMU, state=s, reason="", since_ns=0, last_recv_ns=None, rate_hz=0.0
            )
            for i, s in enumerate(states)
        ),
    )


def test_a_window_reports_its_latency_and_which_modalities_are_present() -> None:
    mask = np.array([1, 0, 1, 1], np.float32)
    q = StreamQuality(
        stream="imu",
        modality=Modality.IMU,
        present=True,
        age_ns=2,
        spread_ns=5,
        gaps=0,
        interpolated=True,
        samples_used=200,
    )
    w = Window(seq=0, tick_ns=100, emitted_ns=130, inputs=inputs(), mask=mask, quality={"imu": q})
    assert w.latency_ns == 30
    assert w.present(Modality.CAMERA)
    assert not w.present(Modality.LIDAR)


def test_a_window_refuses_a_mask_of_the_wrong_shape_or_type() -> None:
    with pytest.raises(SampleError, match=r"float32 of shape \(4,\)"):
        Window(seq=0, tick_ns=0, emitted_ns=0, inputs=inputs(), mask=np.ones(3, np.float32), quality={})
    with pytest.raises(SampleError, match="float32"):
        Window(seq=0, tick_ns=0, emitted_ns=0, inputs=inputs(), mask=np.ones(4, bool), quality={})


def test_a_window_needs_an_array_for_every_modality_even_masked_ones() -> None:
    partial = inputs()
    del partial[Modality.AUDIO]
    with pytest.raises(SampleError, match=r"missing arrays for \['audio'\]; fill masked ones with zeros"):
        Window(seq=0, tick_ns=0, emitted_ns=0, inputs=partial, mask=np.zeros(4, np.float32), quality={})


def test_health_reports_the_worst_stream_and_finds_streams_by_name() -> None:
    h = health(HealthState.OK, HealthState.STALE, HealthState.WARN)
    assert h.worst is HealthState.STALE
    assert h.of("s2").usable
    assert not h.of("s1").usable
    with pytest.raises(KeyError, match="known"):
        h.of("nope")
    assert health().worst is HealthState.OK


def test_a_result_with_nothing_usable_says_so() -> None:
    common = {
        "seq": 1,
        "tick_ns": 0,
        "outputs": {"terrain": np.zeros(6, np.float32)},
        "gates": np.zeros(4, np.float32),
        "mask": np.zeros(4, np.float32),
        "health": health(HealthState.STALE),
        "stage_ns": {"infer": 10},
    }
    assert not Result(fallback=Fallback.NONE, **common).usable  # type: ignore[arg-type]
    assert Result(fallback=Fallback.MASKED, **common).usable  # type: ignore[arg-type]
