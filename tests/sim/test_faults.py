"""Fault injection, message by message: each kind does what it says and nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from robofuse.sim.faults import Fault, FaultInjector

S = 1_000_000_000


def payload() -> dict[str, np.ndarray]:
    return {"values": np.linspace(-1, 1, 1000), "other": np.arange(3)}


def injector(*faults: Fault) -> FaultInjector:
    return FaultInjector(faults, seed=0, stream="imu")


def test_a_fault_is_active_only_in_its_interval_and_on_its_stream() -> None:
    inj = injector(Fault(stream="imu", kind="dead", start_s=2, end_s=3), Fault(stream="camera", kind="dead"))
    assert [inj.drops(t * S) for t in (1.9, 2.0, 2.5, 3.0)] == [False, True, True, False]


def test_a_clock_jump_persists_after_its_interval_and_delay_does_not() -> None:
    inj = injector(
        Fault(stream="imu", kind="clock_jump", start_s=5, end_s=6, magnitude=-2.5),
        Fault(stream="imu", kind="delayed", start_s=5, end_s=6, magnitude=0.3),
    )
    assert inj.stamp_shift_ns(4 * S) == 0
    assert inj.stamp_shift_ns(10 * S) == -2_500_000_000
    assert inj.extra_delay_ns(5.5 * S) == 300_000_000
    assert inj.extra_delay_ns(7 * S) == 0


def test_frozen_repeats_the_last_payload_before_the_fault_until_it_ends() -> None:
    inj = injector(Fault(stream="imu", kind="frozen", start_s=1, end_s=2))
    first = inj.payload(payload(), ("values",), 1.0 * S)
    fresh = {"values": np.zeros(1000), "other": np.arange(3)}
    assert inj.payload(fresh, ("values",), 1.5 * S) is first
    assert inj.payload(fresh, ("values",), 2.0 * S) is not first


def test_noisy_adds_noise_scaled_to_the_signal_and_leaves_other_fields() -> None:
    inj = injector(Fault(stream="imu", kind="noisy", magnitude=0.5))
    clean = payload()
    out = inj.payload(clean, ("values",), 0)
    assert np.std(out["values"] - clean["values"]) == pytest.approx(0.5 * np.std(clean["values"]), rel=0.1)
    assert out["other"] is clean["other"]
    assert not np.shares_memory(out["values"], clean["values"])


def test_noisy_on_an_image_stays_a_valid_image() -> None:
    inj = injector(Fault(stream="imu", kind="noisy", magnitude=2.0))
    img = np.full((8, 8, 3), 250, np.uint8)
    out = inj.payload({"image": img}, ("image",), 0)["image"]
    assert out.dtype == np.uint8
    assert out.max() == 255


def test_nan_poisons_the_given_fraction_of_values() -> None:
    inj = injector(Fault(stream="imu", kind="nan", magnitude=0.2))
    out = inj.payload(payload(), ("values",), 0)["values"]
    assert np.isnan(out).mean() == pytest.approx(0.2, abs=0.04)


def test_corrupt_flips_bytes_and_never_touches_the_senders_array() -> None:
    inj = injector(Fault(stream="imu", kind="corrupt", magnitude=0.05))
    clean = payload()
    before = clean["values"].copy()
    out = inj.payload(clean, ("values",), 0)["values"]
    assert np.array_equal(clean["values"], before)
    changed = (out.view(np.uint8) != before.view(np.uint8)).mean()
    assert changed == pytest.approx(0.05, abs=0.01)


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("imu:dead@5-10", Fault(stream="imu", kind="dead", start_s=5, end_s=10)),
        ("camera:noisy@2=0.5", Fault(stream="camera", kind="noisy", start_s=2, magnitude=0.5)),
        ("lidar:clock_jump@3=-1.5", Fault(stream="lidar", kind="clock_jump", start_s=3, magnitude=-1.5)),
        ("audio:frozen", Fault(stream="audio", kind="frozen")),
    ],
)
def test_the_command_line_form_parses(text: str, fault: Fault) -> None:
    assert Fault.parse(text) == fault


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("imu-dead", "write stream:kind"),
        ("imu:melted", "fault kind 'melted' unknown"),
        ("imu:nan=3", "fraction in (0, 1]"),
        ("imu:dead@5-2", "end_s must be after start_s"),
    ],
)
def test_a_bad_fault_says_how_to_write_one(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        Fault.parse(text)
