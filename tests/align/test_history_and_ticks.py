"""TickClock (when windows happen) and History (a stream's recent samples), each alone."""

from __future__ import annotations

import gc
import itertools
import weakref

import pytest

from robofuse.align.history import History
from robofuse.align.ticks import TickClock

MS = 1_000_000
S = 1_000_000_000
PERIOD = 50 * MS  # 20 Hz fixed clock
WINDOW = 500 * MS
MAX_WAIT = 100 * MS
MASTER_PERIOD = 40 * MS  # a 25 Hz master: 1.5 periods is a whole number of ns


def fixed_clock() -> TickClock:
    """The default fixed-rate clock: 20 Hz, 0.5 s window, 0.1 s deadline."""
    return TickClock(PERIOD, WINDOW, MAX_WAIT, master=False)


def master_clock(first_ns: int = 10 * MS) -> TickClock:
    """A 25 Hz master clock started by data at ``first_ns``."""
    clock = TickClock(MASTER_PERIOD, WINDOW, MAX_WAIT, master=True)
    clock.start(first_ns)
    return clock


# --- TickClock: fixed rate -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_ns", "first_tick_ns"),
    [
        (0, 500 * MS),
        (1, 550 * MS),
        (123 * MS, 650 * MS),
        (100 * MS, 600 * MS),  # first data + window is a multiple: that very instant
        (100 * MS + 1, 650 * MS),
        (7 * S + 49 * MS, 7 * S + 550 * MS),
        (-3 * S - 20 * MS, -2 * S - 500 * MS),  # host clocks may be anywhere, even negative in a bag
        pytest.param(
            1_700_000_000 * S - WINDOW + 1,
            1_700_000_000 * S + PERIOD,
            id="epoch-ns",
        ),
    ],
)
def test_fixed_rate_ticks_start_at_the_first_multiple_of_the_period_a_window_after_the_first_data(
    first_ns: int, first_tick_ns: int
) -> None:
    clock = fixed_clock()
    clock.start(first_ns)
    assert clock.due(first_tick_ns - 1) == []
    assert clock.due(first_tick_ns) == [first_tick_ns]
    assert first_tick_ns - PERIOD < first_ns + WINDOW <= first_tick_ns


def test_fixed_rate_ticks_come_once_each_in_order_whatever_the_polling() -> None:
    clock = fixed_clock()
    clock.start(123 * MS)
    got: list[int] = []
    for now in (600 * MS, 650 * MS, 650 * MS, 651 * MS, 640 * MS, 1_049 * MS, 2 * S + 1):
        got += clock.due(now)
    assert got == list(range(650 * MS, 2 * S + 1, PERIOD))
    assert clock.last_ns == 2 * S


def test_the_clock_is_anchored_on_the_first_data_only_and_gives_nothing_before() -> None:
    clock = fixed_clock()
    assert clock.due(10 * S) == []
    clock.start(123 * MS)
    clock.start(10 * MS)  # later data cannot move the anchor, even when older
    assert clock.due(650 * MS) == [650 * MS]


def test_a_fixed_clock_ignores_master_samples_and_makes_no_synthetic_ticks() -> None:
    clock = fixed_clock()
    clock.start(0)
    assert clock.due(S) == list(range(500 * MS, S + 1, PERIOD))
    assert clock.synthetic == 0


# --- TickClock: master -------------------------------------------------------------------------


def test_master_ticks_are_the_host_times_of_master_samples_after_the_first_window() -> None:
    clock = master_clock(first_ns=10 * MS)
    # the anchor: one period before first data + window, so a sample from then on is a tick
    assert clock.last_ns == 10 * MS + WINDOW - MASTER_PERIOD
    early = 10 * MS + WINDOW - MASTER_PERIOD  # not newer than the anchor: part of the warm-up
    clock.master_sample(early)
    assert clock.ignored_master == 1
    samples = [10 * MS + WINDOW + k * MASTER_PERIOD + (k % 3) * 700_000 for k in range(6)]
    for h in samples[:3]:
        clock.master_sample(h)
    assert clock.due(samples[1]) == samples[:2]  # due once their time has come, not before
    assert clock.due(samples[2] - 1) == []
    for h in samples[3:]:
        clock.master_sample(h)
    assert clock.due(samples[-1] + MS) == samples[2:]
    assert clock.synthetic == 0


def test_master_ticks_continue_at_the_nominal_rate_after_one_and_a_half_periods_plus_max_wait_of_silence() -> None:
    clock = master_clock()
    last = 10 * MS + WINDOW + 3 * MS
    clock.master_sample(last)
    assert clock.due(last) == [last]
    silence = MASTER_PERIOD * 3 // 2 + MAX_WAIT
    assert clock.due(last + silence - 1) == []
    # declared missing: the nominal ticks up to now come at once (none skipped), then each at its time
    caught_up = clock.due(last + silence)
    assert caught_up == [last + k * MASTER_PERIOD for k in range(1, 1 + silence // MASTER_PERIOD)]
    assert clock.synthetic == len(caught_up)
    following = caught_up[-1] + MASTER_PERIOD
    assert clock.due(following - 1) == []
    assert clock.due(following) == [following]
    got = clock.due(last + 10 * MASTER_PERIOD + silence)
    assert got[0] == following + MASTER_PERIOD
    assert all(b - a == MASTER_PERIOD for a, b in itertools.pairwise(got))
    assert clock.synthetic == len(caught_up) + 1 + len(got)
    # the master comes back: its samples are ticks again and the made-up ones stop
    made_up = clock.synthetic
    back = got[-1] + 25 * MS
    clock.master_sample(back)
    assert clock.due(back + MS) == [back]
    assert clock.due(back + MASTER_PERIOD + MS) == []
    assert clock.synthetic == made_up


def test_a_master_sample_not_newer_than_the_last_tick_is_counted_as_ignored() -> None:
    clock = master_clock()
    t = 10 * MS + WINDOW + 5 * MS
    clock.master_sample(t)
    assert clock.due(t) == [t]
    clock.master_sample(t - MS)  # older than the last tick
    clock.master_sample(t)  # the same instant again
    assert clock.ignored_master == 2
    # older than one still pending counts too: ticks never go back
    clock.master_sample(t + 30 * MS)
    clock.master_sample(t + 20 * MS)
    assert clock.ignored_master == 3
    got = clock.due(t + S)  # the pending one, then made-up ones a period apart
    assert got[0] == t + 30 * MS
    assert all(b - a == MASTER_PERIOD for a, b in itertools.pairwise(got))
    assert got[-1] >= t + S - 2 * MASTER_PERIOD - MAX_WAIT
    # a sample between made-up ticks but older than the latest one is ignored as well
    clock.master_sample(clock.last_ns - MS)  # type: ignore[operator]
    assert clock.ignored_master == 4


# --- History -----------------------------------------------------------------------------------


def test_history_inserts_in_order_out_of_order_and_drops_duplicates() -> None:
    h: History[str] = History(max_items=10)
    assert h.last() is None
    assert [h.insert(s, f"v{s}") for s in (10, 20, 30)] == ["ok"] * 3
    assert h.insert(15, "v15") == "out_of_order"
    assert h.insert(5, "v5") == "out_of_order"
    assert h.insert(20, "again") == "duplicate"
    assert len(h) == 5
    assert h.range(10, 20) == ([10, 15, 20], ["v10", "v15", "v20"])  # bounds included
    assert h.range(11, 14) == ([], [])
    assert h.last() == (30, "v30")


def test_history_trims_by_stamp_and_by_count() -> None:
    h: History[int] = History(max_items=4)
    for s in range(10):
        h.insert(s, s)
    assert len(h) == 4
    assert h.range(0, 100) == ([6, 7, 8, 9], [6, 7, 8, 9])  # the oldest went first
    assert h.trim_before(8) == 2
    assert h.trim_before(8) == 0
    assert h.range(0, 100) == ([8, 9], [8, 9])
    h.insert(7, 7)  # older than everything held: kept, in place
    assert h.range(0, 100)[0] == [7, 8, 9]
    assert h.trim_before(100) == 3
    assert len(h) == 0
    assert h.last() is None
    h.insert(1, 1)  # after emptying, any stamp starts it afresh
    assert h.last() == (1, 1)
    h.clear()
    assert len(h) == 0
    assert h.range(-(10**18), 10**18) == ([], [])


def test_history_compacts_its_dead_prefix_so_a_long_stream_stays_bounded() -> None:
    h: History[int] = History(max_items=100)
    for s in range(100_000):
        h.insert(s, s)
        if s % 7 == 0:
            h.trim_before(s - 30)
        assert len(h.stamps) <= 2 * 100 + 65
    assert len(h) <= 31 + 7


class _Payload:
    """Something a weak reference can watch."""


def test_trimmed_items_are_released_at_once() -> None:
    h: History[_Payload] = History(max_items=1000)
    refs = []
    for s in range(10):
        item = _Payload()
        refs.append(weakref.ref(item))
        h.insert(s, item)
    del item
    assert h.trim_before(5) == 5
    gc.collect()
    assert [r() is None for r in refs] == [True] * 5 + [False] * 5
