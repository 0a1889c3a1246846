"""``robofuse demo``: the simulated rig at real time, with a live console view."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live

import robofuse
from robofuse.cli.demo_model import check_fits, open_engine, rig_for_model
from robofuse.cli.demo_session import DemoSession
from robofuse.cli.demo_view import live_view, model_text, status_line, streams_table, windows_text
from robofuse.cli.rig_args import add_rig_arguments, rig_from_arguments
from robofuse.errors import ConfigError
from robofuse.sim.faults import FAULT_KINDS, Fault
from robofuse.sim.rig import SimRig

REFRESH_NS = 250_000_000


def add_parser(subparsers: Any) -> None:
    """Register ``demo`` and its options."""
    p = subparsers.add_parser(
        "demo",
        help="run the simulated rig live through alignment and the fusion model",
        description="Run the built-in simulated rig (or --rig) at real time and show per-stream rates, "
        "robofuse's clock offset and drift estimates beside the simulator's truth, window latency, the fusion model's "
        "predictions, gates and inference time beside the ground truth, in a live console view.",
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
    p.add_argument("--model", type=Path, help="ONNX fusion model (default: the shipped model)")
    p.add_argument("--no-model", action="store_true", help="align only; do not run the fusion model")
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
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # logs and pipes: no wrapping of tables and status lines
    engine, model = None, args.model or robofuse.default_model_path()
    if not args.no_model:
        engine = open_engine(model)
        rig, note = rig_for_model(rig, dict(engine.input_spec))
        if note:
            console.print(note, style="dim")
    session = DemoSession.start(SimRig(rig, duration_s=args.seconds, faults=faults, record_truth=True), engine)
    if engine is not None:
        check_fits(engine, session.buffer, model)
    plain = args.plain or not console.is_terminal
    try:
        with session.sim:
            if plain:
                _loop_plain(session, args.speed, console)
            else:
                _loop_live(session, args.speed, console, ", ".join(args.fault))
    except KeyboardInterrupt:
        console.print("stopped (Ctrl-C)")
    console.print(streams_table(session))
    console.print(windows_text(session))
    if engine is not None:
        console.print(model_text(session))
    received = sum(s.received for s in session.stats.values())
    rejected = sum(s.rejected for s in session.stats.values())
    console.print(f"{session.now_ns / 1e9:.2f} simulated seconds, {received} samples, {rejected} rejected")
    return 0


def _paced(session: DemoSession, speed: float) -> Iterator[int]:
    """Feed the session item by item, sleeping to keep ``speed`` times real time; yields host time."""
    start = time.monotonic_ns()
    for item in session.sim:
        if speed > 0:
            delay = start + item.recv_ns / speed - time.monotonic_ns()
            if delay > 0:
                time.sleep(delay / 1e9)
        session.take(item)
        yield item.recv_ns


def _loop_live(session: DemoSession, speed: float, console: Console, faults: str) -> None:
    shown_ns = -REFRESH_NS
    with Live(console=console, refresh_per_second=8, transient=False) as live:
        for now_ns in _paced(session, speed):
            if now_ns - shown_ns >= REFRESH_NS:
                live.update(live_view(session, faults))
                shown_ns = now_ns


def _loop_plain(session: DemoSession, speed: float, console: Console) -> None:
    shown_ns = 0
    for now_ns in _paced(session, speed):
        if now_ns - shown_ns >= 1_000_000_000:
            console.print(status_line(session), highlight=False, soft_wrap=True)
            shown_ns = now_ns
