"""AlignmentBuffer windows and deadlines, driven by the simulated rig.

The buffer is fed the way a live node feeds it: every item is pushed on arrival and followed by
``poll(recv_ns)``, and between arrivals a 1 ms timer polls too (aligned on whole milliseconds),
so that a window whose streams have all gone quiet is still released at its deadline. Without
the timer, a rig reduced to its 10 Hz LIDAR would only be polled every 100 ms and deadlines could
not be checked. Ticks of the fixed clock are multiples of 50 ms, so their deadlines fall on the
timer's grid and "never later than the deadline" can be checked to the nanosecond.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest
from simtools import small_rig

from robofuse.align.buffer import AlignmentBuffer
from robofuse.config import RigConfig
from robofuse.errors import AlignmentError
from robofuse.messages import MODALITIES, CameraFrame, ImuSample, Modality, RejectedSample, Window
from robofuse.sim.faults import Fault
from robofuse.sim.rig import SimRig

STREAMS = ("camera", "lidar", "imu", "audio")
MS = 1_000_000
S = 1_000_000_000
DEATH_S = 3.0  # dead faults start here


@dataclass
class Run:
    """What one drive of the buffer produced, with the simulator's truth beside it."""

    rig: RigConfig
    buf: AlignmentBuffer
    windows: list[Window]
    frames: list[CameraFrame]  # every CameraFrame pushed, in arrival order
    last_recv_ns: int
    first_host_ns: int  # true host time of the first measurement of any stream
    last_host_ns: dict[str, int]  # true host time of each stream's last measurement

    @property
    def ticks(self) -> np.ndarray:
        """Tick times of the windows, in emission order."""
        return np.array([w.tick_ns for w in self.windows], dtype=np.int64)

    @property
    def max_wait_ns(self) -> int:
        """The rig's deadline after a tick."""
        return round(self.rig.alignment.max_wait_s * S)


def drive(rig: RigConfig, *, duration_s: float = 20.0, faults: Sequence[Fault] = (), timer_ns: int = MS) -> Run:
    """Run the simulated ``rig`` through a fresh AlignmentBuffer, polling on arrival and on a timer."""
    buf = AlignmentBuffer(rig)
    windows: list[Window] = []
    frames: list[CameraFrame] = []
    next_poll: int | None = None
    last = 0
    with SimRig(rig, duration_s=duration_s, faults=faults, record_truth=True) as sim:
        for item in sim:
            if next_poll is None:
                next_poll = -(-item.recv_ns // timer_ns) * timer_ns
            while next_poll < item.recv_ns:
                windows += buf.poll(next_poll)
                next_poll += timer_ns
            buf.push(item)
            last = max(last, item.recv_ns)
            windows += buf.poll(last)
            if isinstance(item, CameraFrame):
                frames.append(item)
        truth = sim.emissions
    windows += buf.flush(last)
    last_host: dict[str, int] = {}
    for (stream, _), emission in truth.items():
        last_host[stream] = max(last_host.get(stream, 0), emission.host_ns)
    first_host = min(e.host_ns for e in truth.values())
    return Run(rig, buf, windows, frames, last, first_host, last_host)


def with_master(rig: RigConfig, master: str | None) -> RigConfig:
    """``rig`` ticking on ``master`` (None: the fixed-rate clock)."""
    return dataclasses.replace(rig, alignment=dataclasses.replace(rig.alignment, master=master))


_RUNS: dict[str, Run] = {}


def cached(key: str, rig: RigConfig, faults: Sequence[Fault] = ()) -> Run:
    """``drive(rig, faults=faults)`` once per ``key`` for the whole module (one run feeds several tests)."""
    if key not in _RUNS:
        _RUNS[key] = drive(rig, faults=faults)
    return _RUNS[key]


def mask_index(rig: RigConfig, stream: str) -> int:
    """Position of ``stream``'s modality in every window's mask."""
    return MODALITIES.index(rig.stream(stream).modality)


def settled_after_ns(rig: RigConfig, stream: str, since_s: float) -> int:
    """First tick at which ``stream``, silent since ``since_s``, is surely past its timeout.

    Its last message may end one period after ``since_s`` (a LIDAR scan is sent when complete)
    and arrive a few ms later; after ``timeout_s`` more it is no longer waited for.
    """
    s = rig.stream(stream)
    return round((since_s + 1 / s.rate_hz + (s.timeout_s or 0.0) + 0.05) * S)


def assert_every_tick_once(run: Run) -> None:
    """Fixed clock: ticks are consecutive multiples of the period from the first one on, none lost or repeated."""
    period = run.rig.alignment.tick_period_ns
    ticks = run.ticks
    assert [w.seq for w in run.windows] == list(range(len(run.windows)))
    assert np.all(ticks % period == 0), "ticks must be multiples of the period"
    steps = np.diff(ticks)
    bad = np.flatnonzero(steps != period)
    assert bad.size == 0, f"ticks not consecutive after {ticks[bad] / S} s: steps of {steps[bad] / MS} ms"
    assert len(run.windows) == (ticks[-1] - ticks[0]) // period + 1
    # the first tick: the first multiple of the period at least window_s after the first data
    window_ns = round(run.rig.alignment.window_s * S)
    first = math.ceil((run.first_host_ns + window_ns) / period) * period
    assert abs(int(ticks[0]) - first) <= period, (ticks[0], first)
    assert ticks[0] >= run.first_host_ns + window_ns - 2 * MS  # 2 ms: clock estimate vs truth
    # flush: every tick up to the last arrival came out
    assert ticks[-1] >= run.last_recv_ns // period * period


def assert_never_after_deadline(run: Run) -> None:
    """No window is released later than its tick plus max_wait."""
    latency = np.array([w.latency_ns for w in run.windows])
    worst = int(np.argmax(latency))
    assert latency[worst] <= run.max_wait_ns, (
        f"window for tick {run.windows[worst].tick_ns / S} s released {latency[worst] / MS} ms after it"
    )


def assert_dead_streams_masked_and_rest_on_time(run: Run, dead: Sequence[str]) -> None:
    """Dead streams masked once past their timeout, the others present throughout; latency back to normal."""
    settled = max(settled_after_ns(run.rig, s, DEATH_S) for s in dead)
    masks = np.array([w.mask for w in run.windows])
    ticks = run.ticks
    for stream in STREAMS:
        column = masks[:, mask_index(run.rig, stream)]
        if stream in dead:
            after = column[ticks >= settled_after_ns(run.rig, stream, DEATH_S)]
            assert after.size > 0
            assert np.all(after == 0), f"dead {stream} not masked after its timeout"
            before = column[ticks < round(DEATH_S * S)]
            assert np.all(before == 1), f"{stream} masked before it died"
        else:  # up to the end of the data (a tick in its last 0.1 s may lack the audio chunk that covers it)
            missing = ticks[(column != 1) & (ticks <= run.last_recv_ns - 100 * MS)]
            assert missing.size == 0, f"live {stream} masked at ticks {missing[:5] / S} s"
    late = [
        (w.tick_ns / S, w.latency_ns / MS, w.deadline_hit)
        for w in run.windows
        if settled <= w.tick_ns <= run.last_recv_ns - run.max_wait_ns  # (flush releases the last ones late)
        and (w.latency_ns >= run.max_wait_ns or w.deadline_hit)
    ]
    assert not late, f"after the dead streams timed out, windows still wait for the deadline: {late[:5]}"


# --- 1. zero windows lost at the tick rate ------------------------------------------------


def test_fixed_clock_emits_every_tick_exactly_once_when_all_sensors_are_healthy() -> None:
    run = cached("healthy", small_rig(0))
    assert_every_tick_once(run)
    assert_never_after_deadline(run)
    assert run.buf.emitted == len(run.windows)
    assert run.buf.deadline_hits == 0
    assert np.all(np.array([w.mask for w in run.windows]) == 1)


@pytest.mark.parametrize("dead", STREAMS)
def test_fixed_clock_loses_no_tick_while_one_sensor_is_dead(dead: str) -> None:
    run = drive(small_rig(0), faults=[Fault(stream=dead, kind="dead", start_s=DEATH_S)])
    assert_every_tick_once(run)
    assert_never_after_deadline(run)
    assert_dead_streams_masked_and_rest_on_time(run, [dead])


@pytest.mark.parametrize("survivor", STREAMS)
def test_fixed_clock_loses_no_tick_while_three_sensors_are_dead(survivor: str) -> None:
    dead = [s for s in STREAMS if s != survivor]
    run = drive(small_rig(0), faults=[Fault(stream=s, kind="dead", start_s=DEATH_S) for s in dead])
    assert_every_tick_once(run)
    assert_never_after_deadline(run)
    assert_dead_streams_masked_and_rest_on_time(run, dead)


def master_dead_run() -> Run:
    """Ticking on the camera, which dies for good at DEATH_S."""
    dead = Fault(stream="camera", kind="dead", start_s=DEATH_S)
    return cached("master-dead", with_master(small_rig(0), "camera"), faults=[dead])


def test_master_clock_keeps_ticking_at_the_masters_nominal_rate_when_the_master_dies() -> None:
    run = master_dead_run()
    period = run.rig.stream("camera").period_ns
    ticks = run.ticks
    assert [w.seq for w in run.windows] == list(range(len(run.windows)))
    steps = np.diff(ticks)
    # frames are stamped with jitter and mapped by an estimate: a step may differ from the period by a little
    odd = np.flatnonzero(np.abs(steps - period) > period // 20)
    assert odd.size == 0, f"gap or duplicate after {ticks[odd] / S} s: steps of {steps[odd] / MS} ms"
    last_frame = run.last_host_ns["camera"]
    made_up = ticks[ticks > last_frame + period // 2]
    assert made_up.size > 0
    assert np.all(np.diff(made_up) == period), "ticks while the master is missing come at exactly its period"
    # the clock counts what it made up; flush may have taken a few more that no window has used yet
    assert 0 <= run.buf.clock.synthetic - made_up.size <= run.max_wait_ns // period + 1
    # they go on to the end of the run (the last ones may lag: see the next test)
    assert made_up[-1] >= run.last_recv_ns - period * 3 // 2 - run.max_wait_ns
    masks = np.array([w.mask for w in run.windows])
    camera = masks[:, mask_index(run.rig, "camera")]
    assert np.all(camera[ticks >= settled_after_ns(run.rig, "camera", DEATH_S)] == 0)
    assert np.all(camera[ticks < round(DEATH_S * S)] == 1)
    for stream in ("lidar", "imu", "audio"):
        column = masks[:, mask_index(run.rig, stream)]
        assert np.all(column[ticks <= run.last_recv_ns - 100 * MS] == 1), f"{stream} masked while the camera was dead"


def test_master_clock_fallback_windows_are_on_time_once_the_master_timed_out() -> None:
    run = master_dead_run()
    # (the first fallback ticks come late by design: the master is declared missing after 1.5 periods + max_wait)
    assert_dead_streams_masked_and_rest_on_time(run, ["camera"])
    # and flush releases every tick up to the last arrival (it stops 1.5 periods + max_wait short)
    assert run.ticks[-1] >= run.last_recv_ns - run.rig.stream("camera").period_ns


# --- 2. zero camera frames unused when ticking on the camera ------------------------------


def test_every_camera_frame_becomes_its_own_tick_when_ticking_on_the_camera() -> None:
    run = cached("master", with_master(small_rig(0), "camera"))
    by_address = {f.image.__array_interface__["data"][0]: f for f in run.frames}
    used: list[CameraFrame] = []
    for w in run.windows:
        image = w.inputs[Modality.CAMERA]
        frame = by_address.get(image.__array_interface__["data"][0])
        assert frame is not None, f"tick {w.tick_ns / S} s: the camera input is not a frame received"
        assert np.shares_memory(image, frame.image)
        used.append(frame)
        assert w.quality["camera"].present
        assert abs(w.quality["camera"].age_ns) <= MS  # the tick is the frame's own time (clock estimate moves)
    seqs = [f.seq for f in used]
    assert seqs == sorted(set(seqs)), "each frame is used by exactly one window, in order"
    first = used[0].seq
    expected = [f.seq for f in run.frames if f.seq >= first]
    assert seqs == expected, f"frames received but unused: {sorted(set(expected) - set(seqs))[:10]}"
    # the frames before the first window are those measured before the clock started (the warm-up)
    assert run.buf.clock.ignored_master == len(run.frames) - len(expected)
    assert run.buf.clock.synthetic == 0
    assert_never_after_deadline(run)


# --- 3. deadline ---------------------------------------------------------------------------


@pytest.mark.parametrize("stream", STREAMS)
def test_a_delayed_stream_is_masked_at_the_deadline_and_no_tick_is_skipped(stream: str) -> None:
    start_s, end_s, delay_s = 4.0, 7.0, 0.3
    rig = small_rig(0)
    delayed = Fault(stream=stream, kind="delayed", start_s=start_s, end_s=end_s, magnitude=delay_s)
    run = drive(rig, duration_s=10, faults=[delayed])
    assert_every_tick_once(run)
    assert_never_after_deadline(run)
    column = mask_index(rig, stream)
    inside = [w for w in run.windows if (start_s + 0.4) * S <= w.tick_ns <= (end_s - 0.1) * S]
    assert len(inside) >= 40
    for w in inside:
        assert w.latency_ns == run.max_wait_ns, f"tick {w.tick_ns / S} s released after {w.latency_ns / MS} ms"
        assert w.deadline_hit
        assert w.mask[column] == 0, f"tick {w.tick_ns / S} s: the late {stream} is not masked"
        assert all(w.mask[mask_index(rig, s)] == 1 for s in STREAMS if s != stream)
    assert run.buf.deadline_hits >= len(inside)
    after = [w for w in run.windows if w.tick_ns >= (end_s + delay_s + 0.3) * S]
    assert after
    assert not any(w.deadline_hit for w in after), "deadline hits go on after the delay ended"
    before = [w for w in run.windows if w.tick_ns < start_s * S]
    assert not any(w.deadline_hit for w in before)
    assert run.buf.counters()[stream].late > 0


# --- 6. bad input ----------------------------------------------------------------------------


def imu_sample(stream: str = "imu", seq: int = 0, stamp_ns: int = S, recv_ns: int = S + MS) -> ImuSample:
    """A plain IMU sample at rest."""
    return ImuSample(
        stream=stream,
        frame_id="imu_link",
        seq=seq,
        stamp_ns=stamp_ns,
        recv_ns=recv_ns,
        angular_velocity=np.zeros(3),
        linear_acceleration=np.array([0.0, 0.0, 9.81]),
    )


def test_an_item_of_an_unknown_stream_is_refused_with_the_known_streams_named() -> None:
    buf = AlignmentBuffer(small_rig(0))
    with pytest.raises(AlignmentError, match="imu9") as err:
        buf.push(imu_sample("imu9"))
    for name in STREAMS:
        assert repr(name) in str(err.value)
    assert all(c.received == 0 for c in buf.counters().values())


def test_a_rig_with_two_imu_streams_is_refused_with_a_message_saying_what_to_do() -> None:
    rig = small_rig(0)
    second = dataclasses.replace(rig.stream("imu"), name="imu2")
    with pytest.raises(AlignmentError, match=r"two imu streams \('imu' and 'imu2'\).*remove one"):
        AlignmentBuffer(dataclasses.replace(rig, streams=(*rig.streams, second)))


def test_a_master_that_names_no_stream_is_refused_with_the_known_streams_named() -> None:
    with pytest.raises(AlignmentError, match="nope"):
        AlignmentBuffer(with_master(small_rig(0), "nope"))


def test_a_rejected_sample_only_counts_and_does_not_make_the_stream_live() -> None:
    buf = AlignmentBuffer(small_rig(0))
    buf.push(RejectedSample(stream="imu", recv_ns=S, reason="NaN in angular_velocity", stamp_ns=S, seq=0))
    counters = buf.counters()
    assert counters["imu"].rejected == 1
    assert dataclasses.replace(counters["imu"], rejected=0) == type(counters["imu"])()
    assert all(c == type(c)() for name, c in counters.items() if name != "imu")
    assert buf.live(S) == []
    assert buf.clock.last_ns is None  # nor does it start the fusion clock
    assert buf.poll(10 * S) == []
    assert buf.emitted == 0


# --- flush ---------------------------------------------------------------------------------


def imu_only_run(seconds: float) -> tuple[AlignmentBuffer, list[Window], int]:
    """A buffer fed only 400 Hz IMU samples (sensor clock = host clock, 1 ms transport), polled on arrival."""
    buf = AlignmentBuffer(small_rig(0))
    windows: list[Window] = []
    period = buf.tracks[Modality.IMU].period_ns
    recv = 0
    for seq in range(round(seconds * S / period)):
        stamp = 7 * MS + seq * period
        recv = stamp + MS
        buf.push(imu_sample(seq=seq, stamp_ns=stamp, recv_ns=recv))
        windows += buf.poll(recv)
    return buf, windows, recv


def test_flush_releases_every_tick_due_by_its_time() -> None:
    buf, windows, last = imu_only_run(1.5)
    windows += buf.flush(last)
    period = buf.config.tick_period_ns
    due = [w.tick_ns for w in windows if w.tick_ns <= last]
    assert due == list(range(due[0], last // period * period + 1, period))


def test_flush_releases_no_tick_after_its_time() -> None:
    buf, _, last = imu_only_run(1.5)
    late = [w.tick_ns for w in buf.flush(last) if w.tick_ns > last]
    assert late == [], f"flush({last}) released ticks {late} after it"


def test_a_sample_of_the_wrong_kind_for_its_stream_is_a_clear_error() -> None:
    imu_on_camera = ImuSample(
        stream="camera",
        frame_id="f",
        seq=0,
        stamp_ns=0,
        recv_ns=0,
        angular_velocity=np.zeros(3),
        linear_acceleration=np.zeros(3),
    )
    with pytest.raises(AlignmentError, match="configured as camera but sent a ImuSample"):
        AlignmentBuffer(small_rig()).push(imu_on_camera)
