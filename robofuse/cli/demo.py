"""``robofuse demo``: the simulated rig at real time, with a live console view."""

from __future__ import annotations

import argparse
import time
from typing import Any

from rich.console import Console
from rich.live import Live

from robofuse.cli.demo_view import live_view, status_line, streams_table
from robofuse.cli.rig_args import add_rig_arguments, rig_from_arguments
from robofuse.cli.stream_stats import StreamStats
from robofuse.errors import ConfigError
from robofuse.messages import RejectedSample
from robofuse.sim.faults import FAULT_KINDS, Fault
from robofuse.sim.rig import SimRig

REFRESH_NS = 250_000_000


def add_parser(subparsers: Any) -> None:
    """Register ``demo`` and its options."""
    p = subparsers.add_parser(
        "demo",
        help="run the simulated rig live and show streams and ground truth",
        description="Run the built-in simulated rig (or --rig) at real time and show per-stream rates, "
        "the simulator's true clock offsets and the ground truth in a live console view.",
    )
    p.add_argument(
        "--seconds", type=float, default=None, help="stop after this many simulated seconds (default: until Ctrl-C)"
    )
    add_rig_arguments(p)
    p.add_argument(
        "--speed", type=float, default=1.0, help="multiple of real time; 0 runs as fast as possible (default 1)"
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="STREAM:KIND[@START[-END]][=MAG]",
        help=f"inject a fault, e.g. imu:dead@5-10 (kinds: {', '.join(FAULT_KINDS)}); repeatable",
    )
    p.add_argument("--plain", action="store_true", help="print a status line per second instead of the live view")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit status."""
    if args.speed < 0:
        raise ConfigError(f"--speed must be >= 0, got {args.speed}")
    rig = rig_from_arguments(args)
    try:
        faults = [Fault.parse(text) for text in args.fault]
    except ValueError as err:
        raise ConfigError(f"--fault: {err}") from None
    sim = SimRig(rig, duration_s=args.seconds, faults=faults, record_truth=True)
    stats = {s.name: StreamStats(s.name) for s in rig.streams}
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # logs and pipes: no wrapping of tables and status lines
    plain = args.plain or not console.is_terminal
    now_ns = 0
    try:
        with sim:
            if plain:
                now_ns = _loop_plain(sim, stats, args.speed, console)
            else:
                now_ns = _loop_live(sim, stats, args.speed, console, ", ".join(args.fault))
    except KeyboardInterrupt:
        console.print("stopped (Ctrl-C)")
    console.print(streams_table(rig, stats, sim.clocks, now_ns))
    rejected = sum(s.rejected for s in stats.values())
    console.print(
        f"{now_ns / 1e9:.2f} simulated seconds, {sum(s.received for s in stats.values())} samples, {rejected} rejected"
    )
    return 0


def _feed(sim: SimRig, stats: dict[str, StreamStats], speed: float) -> Any:
    """Yield each item's arrival time after pacing to it and counting it."""
    start = time.monotonic_ns()
    for item in sim:
        if speed > 0:
            delay = start + item.recv_ns / speed - time.monotonic_ns()
            if delay > 0:
                time.sleep(delay / 1e9)
        seq = item.seq if not isinstance(item, RejectedSample) else None
        emission = sim.emissions.pop((item.stream, seq), None) if seq is not None else None
        stats[item.stream].update(item, emission.ready_ns if emission else None)
        yield item.recv_ns


def _loop_live(sim: SimRig, stats: dict[str, StreamStats], speed: float, console: Console, faults: str) -> int:
    now_ns, shown_ns = 0, -REFRESH_NS
    with Live(console=console, refresh_per_second=8, transient=False) as live:
        for now_ns in _feed(sim, stats, speed):
            if now_ns - shown_ns >= REFRESH_NS:
                live.update(live_view(sim.rig, stats, sim.clocks, sim.world.truth(now_ns), now_ns, faults))
                shown_ns = now_ns
    return now_ns


def _loop_plain(sim: SimRig, stats: dict[str, StreamStats], speed: float, console: Console) -> int:
    now_ns, shown_ns = 0, 0
    for now_ns in _feed(sim, stats, speed):
        if now_ns - shown_ns >= 1_000_000_000:
            console.print(status_line(sim.rig, stats, sim.world.truth(now_ns), now_ns), highlight=False)
            shown_ns = now_ns
    return now_ns
