"""The demo's console view: per-stream statistics and the simulator's truth, labelled as truth."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Group
from rich.table import Table
from rich.text import Text

from robofuse.cli.stream_stats import StreamStats
from robofuse.config.rig import RigConfig
from robofuse.labels import GroundTruth
from robofuse.sim.clock import SensorClock


def _ms(ns: int | None) -> str:
    return "-" if ns is None else f"{ns / 1e6:.2f}"


def streams_table(
    rig: RigConfig, stats: Mapping[str, StreamStats], clocks: Mapping[str, SensorClock], now_ns: int
) -> Table:
    """One row per stream: measured rate and counts, then the simulator's true clock figures."""
    table = Table(title="streams", title_justify="left", expand=False)
    for header in ("stream", "modality", "rate Hz", "nominal", "received", "lost", "rejected"):
        table.add_column(header, justify="right" if header not in ("stream", "modality") else "left")
    for header in ("TRUE offset s", "TRUE drift ppm", "TRUE transport ms"):
        table.add_column(header, justify="right", style="magenta")
    for stream in rig.streams:
        st = stats[stream.name]
        clock = clocks[stream.name]
        offset_s = (float(clock.sensor_ns(now_ns)) - now_ns) / 1e9
        table.add_row(
            stream.name,
            stream.modality.value,
            f"{st.rate_hz(now_ns):.1f}",
            f"{stream.rate_hz:g}",
            str(st.received),
            str(st.lost),
            str(st.rejected),
            f"{offset_s:+.6f}",
            f"{clock.settings.drift_ppm:+.1f}",
            _ms(st.last_latency_ns),
        )
    return table


def truth_table(truth: GroundTruth) -> Table:
    """The labels and conditions at this instant, straight from the simulator."""
    table = Table(title="ground truth (from the simulator, not estimated)", title_justify="left", style="magenta")
    columns = {
        "terrain": truth.terrain.name.lower(),
        "collision": "YES" if truth.collision else "no",
        "slip": "YES" if truth.slip else "no",
        "light": truth.light.name.lower(),
        "wind": "yes" if truth.wind else "no",
        "wheel m/s": f"{truth.wheel_speed_mps:.2f}",
        "body m/s": f"{truth.body_speed_mps:.2f}",
        "nearest obstacle m": f"{truth.obstacle_distance_m:.2f}",
    }
    for name in columns:
        table.add_column(name)
    table.add_row(*columns.values())
    return table


def live_view(
    rig: RigConfig,
    stats: Mapping[str, StreamStats],
    clocks: Mapping[str, SensorClock],
    truth: GroundTruth,
    now_ns: int,
    faults: str,
) -> Group:
    """The whole screen for a terminal."""
    header = Text(f"robofuse demo: rig {rig.name!r}, seed {rig.world.seed}, t = {now_ns / 1e9:7.2f} s", style="bold")
    parts: list[Table | Text] = [header, streams_table(rig, stats, clocks, now_ns), truth_table(truth)]
    if faults:
        parts.append(Text(f"injected faults: {faults}", style="yellow"))
    for st in stats.values():
        if st.last_reason:
            parts.append(Text(f"{st.name}: last rejected sample: {st.last_reason}", style="red"))
    parts.append(
        Text("TRUE = the simulator's own values; estimates arrive with time alignment. Ctrl-C stops.", style="dim")
    )
    return Group(*parts)


def status_line(rig: RigConfig, stats: Mapping[str, StreamStats], truth: GroundTruth, now_ns: int) -> str:
    """A one-line summary for logs and pipes (no terminal)."""
    rates = " ".join(f"{s.name}={stats[s.name].rate_hz(now_ns):.1f}Hz" for s in rig.streams)
    return (
        f"t={now_ns / 1e9:6.2f}s {rates} | truth: terrain={truth.terrain.name.lower()} light={truth.light.name.lower()}"
        f" wind={'yes' if truth.wind else 'no'} slip={'yes' if truth.slip else 'no'}"
        f" collision={'yes' if truth.collision else 'no'} speed={truth.body_speed_mps:.2f}m/s"
    )
