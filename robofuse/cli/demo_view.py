"""The demo's console view: per-stream rates, clock estimates beside the simulator's truth,
window latency and masks, and the ground truth, each labelled for what it is."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from robofuse.cli.demo_session import DemoSession
from robofuse.labels import GroundTruth
from robofuse.messages import MODALITIES


def _ms(ns: int | None) -> str:
    return "-" if ns is None else f"{ns / 1e6:.2f}"


def streams_table(session: DemoSession) -> Table:
    """One row per stream: what arrived, the estimated clock, and (magenta) the simulator's truth."""
    table = Table(title="streams", title_justify="left")
    headers = (
        "stream",
        "rate Hz",
        "nominal",
        "received",
        "lost",
        "rejected",
        "late",
        "clock resets",
        "offset s (est)",
        "drift ppm (est)",
        "map error ms",
    )
    for header in headers:
        table.add_column(header, justify="left" if header == "stream" else "right")
    for header in ("TRUE offset s", "TRUE drift ppm", "TRUE transport ms"):
        table.add_column(header, justify="right", style="magenta")
    counters = session.buffer.counters()
    clocks = session.buffer.clocks(session.now_ns)
    for stream in session.sim.rig.streams:
        st, c, est = session.stats[stream.name], counters[stream.name], clocks[stream.name]
        ready = "" if est.ready else " (settling)"
        table.add_row(
            stream.name,
            f"{st.rate_hz(session.now_ns):.1f}",
            f"{stream.rate_hz:g}",
            str(st.received),
            str(st.lost),
            str(st.rejected),
            str(c.late),
            str(c.resets),
            f"{est.offset_ns / 1e9:+.6f}",
            f"{est.drift_ppm:+.1f}{ready}",
            f"{session.offset_error_ms(stream.name):+.3f}",
            f"{session.true_offset_s(stream.name):+.6f}",
            f"{session.sim.clocks[stream.name].settings.drift_ppm:+.1f}",
            _ms(st.last_latency_ns),
        )
    return table


def windows_text(session: DemoSession) -> Text:
    """Windows emitted, their latency (tick to release) and which modalities the last one had."""
    w = session.windows
    mask = "  ".join(f"{m.value} {'yes' if w.last_mask[i] > 0.5 else 'MASKED'}" for i, m in enumerate(MODALITIES))
    return Text(
        f"windows: {w.emitted} emitted, {session.buffer.deadline_hits} hit the deadline; latency median "
        f"{w.latency_ms(50):.1f} ms, p99 {w.latency_ms(99):.1f} ms (last {len(w.latencies_ns)}); last window: {mask}"
    )


def model_text(session: DemoSession) -> Text:
    """The fusion model's last prediction, its gates, inference time, and terrain accuracy so far."""
    m = session.model
    if m.last is None:
        return Text("fusion model: no window yet")
    p = m.last
    said = (
        f"terrain {p.terrain} ({p.terrain_p:.2f}), collision {p.collision_p:.2f}, slip {p.slip_p:.2f}"
        if p.usable
        else "NOTHING USABLE (every sensor masked)"
    )
    return Text(
        f"fusion model: {said}; gates {m.gates_text()}; inference median {m.latency_ms(50):.2f} ms, "
        f"p99 {m.latency_ms(99):.2f} ms; terrain right in {m.accuracy():.1%} of {m.scored} windows"
        f"{f', {m.unusable} unusable' if m.unusable else ''}"
    )


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


def live_view(session: DemoSession, faults: str) -> Group:
    """The whole screen for a terminal."""
    rig = session.sim.rig
    header = Text(
        f"robofuse demo: rig {rig.name!r}, seed {rig.world.seed}, t = {session.now_ns / 1e9:7.2f} s", style="bold"
    )
    parts: list[Table | Text] = [
        header,
        streams_table(session),
        windows_text(session),
    ]
    if session.engine is not None:
        parts.append(model_text(session))
    parts.append(truth_table(session.sim.world.truth(session.now_ns)))
    if faults:
        parts.append(Text(f"injected faults: {faults}", style="yellow"))
    for st in session.stats.values():
        if st.last_reason:
            parts.append(Text(f"{st.name}: last rejected sample: {st.last_reason}", style="red"))
    parts.append(Text("est = robofuse's estimate; TRUE = the simulator's own value. Ctrl-C stops.", style="dim"))
    return Group(*parts)


def status_line(session: DemoSession) -> str:
    """A one-line summary for logs and pipes (no terminal)."""
    now = session.now_ns
    rates = " ".join(f"{s.name}={session.stats[s.name].rate_hz(now):.1f}Hz" for s in session.sim.rig.streams)
    errors = " ".join(f"{s.name}={session.offset_error_ms(s.name):+.2f}" for s in session.sim.rig.streams)
    truth = session.sim.world.truth(now)
    mask = "".join("1" if v > 0.5 else "0" for v in session.windows.last_mask)
    model = ""
    if session.engine is not None and session.model.last is not None:
        m, p = session.model, session.model.last
        said = f"{p.terrain}({p.terrain_p:.2f})" if p.usable else "UNUSABLE"
        model = f" | model: {said} acc={m.accuracy():.1%} infer p50={m.latency_ms(50):.2f}ms"
    return (
        f"t={now / 1e9:6.2f}s {rates} | map error ms {errors} | windows={session.windows.emitted}"
        f" latency p50={session.windows.latency_ms(50):.1f}ms mask={mask} | truth: terrain={truth.terrain.name.lower()}"
        f" light={truth.light.name.lower()} wind={'yes' if truth.wind else 'no'} slip={'yes' if truth.slip else 'no'}"
        f" collision={'yes' if truth.collision else 'no'} speed={truth.body_speed_mps:.2f}m/s{model}"
    )
