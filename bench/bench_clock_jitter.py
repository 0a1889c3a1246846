"""Clock sync under jitter: how the mapping error grows with stamping and transport jitter.

One stream at a time (the IMU at 400 Hz, the camera at 30 Hz), on the bundled rig's clock and
transport settings with the acceptance offsets and drifts (IMU -0.31 s / +80 ppm, camera
+0.97 s / +35 ppm). (stamp, arrival) pairs are generated exactly as the simulated rig does
(``robofuse.sim.clock.SensorClock`` and ``Transport``, in ``StreamRunner.advance``'s order, with
the rig's occasional bursts and drops) and fed straight into a ``ClockSync``, so only timing is
simulated. Two sweeps, each from the stream's defaults:

- symmetric stamping jitter (Gaussian, ``jitter_us``): 0, 10, 30, 100, 300, 1000 us;
- one-sided transport jitter (exponential, mean ``latency_extra_ms``, capped at 4x the mean):
  0.1, 0.5, 1, 2, 5 ms.

The mapping error is ``to_host(stamp) - true host time``, evaluated as each pair arrives (online,
as a live system would), over the samples measured from 30 to 40 s, pooled over three seeds:
median and p99 of its magnitude. The drift error is the largest ``|drift_ppm - truth|`` seen over
those 10 s. ``resets`` counts clock jumps the estimator declared (there are none in the input).

Run: ``.venv/bin/python bench/bench_clock_jitter.py [--seconds 40] [--seeds 3]``. Writes
``bench/results/clock_jitter.json`` and, where matplotlib is installed, ``clock_jitter.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import report

import robofuse
from robofuse.align.clock_sync import ClockSync
from robofuse.align.config import ClockSyncConfig
from robofuse.config import load_rig
from robofuse.sim.clock import SensorClock, Transport
from robofuse.sim.settings import ClockSettings

SYMMETRIC_US = (0.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
ONE_SIDED_MS = (0.1, 0.5, 1.0, 2.0, 5.0)
ACCEPTANCE = {"imu": {"offset_s": -0.31, "drift_ppm": 80.0}, "camera": {"offset_s": 0.97, "drift_ppm": 35.0}}
SETTLED_S = 30.0  # errors are measured on samples taken after this


@dataclass(frozen=True)
class Row:
    """One configuration's result."""

    stream: str
    sweep: str  # "symmetric_us" or "one_sided_ms"
    value: float
    jitter_us: float
    latency_extra_ms: float
    latency_cap_ms: float
    median_us: float
    p99_us: float
    drift_err_ppm: float
    resets: int


def simulate(
    name: str, rate_hz: float, settings: ClockSettings, seconds: float, seed: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Online |mapping error| (ns) of samples measured after SETTLED_S, drift errors (ppm) seen then, resets."""
    clock = SensorClock(settings)
    key = zlib.crc32(name.encode())
    transport = Transport(settings, np.random.default_rng([seed, key, 3]))
    period = round(1e9 / rate_hz)
    first = int(float(clock.sensor_ns(0.0)) + float(np.random.default_rng([seed, key, 4]).uniform(0, period)))
    count = int(seconds * rate_hz)
    sensor = first + period * np.arange(count, dtype=np.int64)
    host = clock.host_ns(sensor)  # span 0: IMU samples and camera frames are instants
    sync = ClockSync(name, ClockSyncConfig(), latency_min_ns=round(settings.latency_min_ms * 1e6))
    settled = SETTLED_S * 1e9
    errors: list[int] = []
    drift: list[float] = []
    for s, h in zip(sensor.tolist(), host.tolist(), strict=True):
        recv = transport.deliver(int(h))  # the rig draws the delay first, then the stamping jitter
        stamp = s + transport.jitter_ns()
        if recv is None:
            continue  # dropped on the link
        sync.observe(stamp, recv)
        if h >= settled:
            errors.append(sync.to_host(stamp) - int(h))
            drift.append(sync.drift_ppm - settings.drift_ppm)
    return np.abs(np.array(errors, dtype=np.float64)), np.abs(np.array(drift)), sync.resets


def measure(
    name: str, rate_hz: float, base: ClockSettings, sweep: str, value: float, seconds: float, seeds: int
) -> Row:
    """One configuration over ``seeds`` seeds, errors pooled."""
    if sweep == "symmetric_us":
        settings = dataclasses.replace(base, jitter_us=value)
    else:
        settings = dataclasses.replace(base, latency_extra_ms=value, latency_cap_ms=4 * value)
    errs, drifts, resets = [], [], 0
    for seed in range(seeds):
        e, d, r = simulate(name, rate_hz, settings, seconds, seed)
        errs.append(e)
        drifts.append(d)
        resets += r
    err = np.concatenate(errs)
    return Row(
        stream=name,
        sweep=sweep,
        value=value,
        jitter_us=settings.jitter_us,
        latency_extra_ms=settings.latency_extra_ms,
        latency_cap_ms=settings.latency_cap_ms,
        median_us=float(np.median(err)) / 1e3,
        p99_us=float(np.percentile(err, 99)) / 1e3,
        drift_err_ppm=float(np.concatenate(drifts).max()),
        resets=resets,
    )


def plot(rows: list[Row], path: Path) -> bool:
    """Error vs jitter, one panel per sweep (mapping error above, drift error below); False without matplotlib."""
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        return False
    matplotlib.use("Agg")
    plt = importlib.import_module("matplotlib.pyplot")
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex="col")
    sweeps = (("symmetric_us", "symmetric stamping jitter sigma (us)"), ("one_sided_ms", "one-sided delay mean (ms)"))
    colors = {"imu": "tab:blue", "camera": "tab:orange"}
    for col, (sweep, label) in enumerate(sweeps):
        top, bottom = axes[0][col], axes[1][col]
        for stream, color in colors.items():
            sel = [r for r in rows if r.stream == stream and r.sweep == sweep]
            x = [r.value for r in sel]
            top.plot(x, [r.median_us for r in sel], "o-", color=color, label=f"{stream} median")
            top.plot(x, [r.p99_us for r in sel], "s--", color=color, label=f"{stream} p99")
            bottom.plot(x, [max(r.drift_err_ppm, 1e-3) for r in sel], "o-", color=color, label=stream)
            for r in sel:
                if r.resets:
                    top.annotate(f"{r.resets} resets", (r.value, r.p99_us), fontsize=7, color=color, ha="right")
        top.axhline(500.0, color="gray", lw=0.8, ls=":", label="0.5 ms acceptance")
        bottom.axhline(5.0, color="gray", lw=0.8, ls=":", label="5 ppm acceptance")
        if sweep == "symmetric_us":
            for ax in (top, bottom):
                ax.set_xscale("symlog", linthresh=10)
                ax.set_xlim(0, 1500)
        else:
            top.set_xscale("log")
            bottom.set_xscale("log")
        top.set_yscale("log")
        bottom.set_yscale("log")
        top.set_ylabel("|to_host(stamp) - truth| (us)")
        bottom.set_ylabel("max |drift error| (ppm)")
        bottom.set_xlabel(label)
        top.grid(True, which="both", alpha=0.3)
        bottom.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    axes[1][0].legend(fontsize=7)
    fig.suptitle("ClockSync mapping error after 30 s vs jitter (IMU 400 Hz, camera 30 Hz)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main() -> None:
    """Run both sweeps for both streams, print the table, write JSON and the plot."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=40.0, help="simulated seconds per run (default 40)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds pooled per configuration (default 3)")
    args = parser.parse_args()
    if args.seconds <= SETTLED_S:
        parser.error(f"--seconds must exceed {SETTLED_S} (errors are measured after it)")
    rig = load_rig(robofuse.default_rig_path())
    rows: list[Row] = []
    t0 = time.perf_counter()
    for name in ("imu", "camera"):
        stream = rig.stream(name)
        base = dataclasses.replace(stream.settings.clock, **ACCEPTANCE[name])
        for value in SYMMETRIC_US:
            rows.append(measure(name, stream.rate_hz, base, "symmetric_us", value, args.seconds, args.seeds))
        for value in ONE_SIDED_MS:
            rows.append(measure(name, stream.rate_hz, base, "one_sided_ms", value, args.seconds, args.seeds))
    elapsed = time.perf_counter() - t0

    header = (
        f"{'stream':7s} {'sweep':13s} {'value':>7s} {'jitter_us':>9s} {'extra_ms':>8s} {'cap_ms':>6s}"
        f" {'median_us':>9s} {'p99_us':>8s} {'drift_ppm':>9s} {'resets':>6s}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.stream:7s} {r.sweep:13s} {r.value:7g} {r.jitter_us:9g} {r.latency_extra_ms:8g} {r.latency_cap_ms:6g}"
            f" {r.median_us:9.1f} {r.p99_us:8.1f} {r.drift_err_ppm:9.3f} {r.resets:6d}"
        )
    extra: dict[str, Any] = {
        "samples_are": "median |mapping error| (us) of each configuration in the table",
        "simulated_s": args.seconds,
        "seeds": args.seeds,
        "settled_s": SETTLED_S,
        "clocks": {k: dict(v) for k, v in ACCEPTANCE.items()},
        "one_sided_cap": "latency_cap_ms = 4 x latency_extra_ms in the one-sided sweep",
        "wall_s": round(elapsed, 1),
        "table": [dataclasses.asdict(r) for r in rows],
    }
    out = report.write("clock_jitter", "us", [r.median_us for r in rows], extra)
    print(
        f"\n{len(rows)} configurations in {elapsed:.0f} s -> bench/results/clock_jitter.json (median of medians "
        f"{out['median']:.1f} us)"
    )
    png = report.RESULTS / "clock_jitter.png"
    if plot(rows, png):
        print(f"plot -> bench/results/{png.name}")
    else:
        print("matplotlib is not installed: no plot (pip install matplotlib to get bench/results/clock_jitter.png)")


if __name__ == "__main__":
    main()
