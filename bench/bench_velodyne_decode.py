"""Velodyne decode rate on one core: packets per CPU second, a scan's packets at a time.

Decodes the real VLP-16 capture's 293 data packets, repeated, in batches of one turn's worth
of packets (as the scan assembler hands them over), from raw bytes to point arrays (xyz,
intensity, ring, azimuth, return type, time). Each batch is one measurement: packets in the
batch over the CPU time it took. Also times the whole path a driver runs, datagram by datagram:
parser, scan assembler and decoding.

glibc returns freed memory to the kernel once a free leaves more than its trim threshold at the
top of the heap, and that threshold only grows after the process frees a large block. In a fresh,
small process every batch therefore pays page faults for its arrays again; in a process that has
once freed a large array (a camera frame, a model's buffers) it does not. Both are measured:
``cold_heap`` first, then the steady state that the headline figures report.

Run: ``.venv/bin/python bench/bench_velodyne_decode.py [--seconds 5] [--pcap PATH]``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core, as the target says

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))

import report  # noqa: E402

from sensors.velodyne import ScanAssembler, VelodyneParser, decode_packets, read_udp  # noqa: E402
from sensors.velodyne.decoder import as_packet_array  # noqa: E402

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
PCAP = REAL / "velodyne_vlp16" / "mrpt_sample_velodyne_vlp16_gps.pcap"
TARGET = 100_000


def packets_per_turn(packets: np.ndarray) -> int:
    """How many packets one 360-degree turn takes in this capture."""
    azimuth = packets[:, 2:4].copy().view("<u2")[:, 0].astype(np.int64)  # block 0 of each packet
    turned = int(np.sum((np.diff(azimuth) + 18000) % 36000 - 18000))
    return max(1, round(len(packets) * 36000 / turned))


def decode_rates(batches: list[np.ndarray], seconds: float) -> list[float]:
    """Packets per CPU second of each batch decoded, cycling through ``batches`` for ``seconds``."""
    rates: list[float] = []
    spent = 0.0
    result = None
    while spent < seconds:
        for batch in batches:
            t0 = time.process_time_ns()
            result = decode_packets(batch)  # the previous result is freed after, as a caller would
            dt = (time.process_time_ns() - t0) * 1e-9
            rates.append(len(batch) / max(dt, 1e-9))
            spent += dt
    del result
    return rates


def driver_rate(datagrams: list[bytes], seconds: float) -> float:
    """Packets per CPU second through parser, scan assembler and decoding, datagram by datagram."""
    packets = 0
    t0 = time.process_time()
    while time.process_time() - t0 < seconds:
        parser, assembler = VelodyneParser(), ScanAssembler()
        for datagram in datagrams:
            for packet in parser.feed(datagram):
                assembler.add(packet)
        assembler.flush()
        packets += len(datagrams)
    return packets / (time.process_time() - t0)


def main() -> None:
    """Run the benchmark and write bench/results/velodyne_decode.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="CPU seconds of decoding to time (default 5)")
    parser.add_argument("--pcap", type=Path, default=PCAP, help="a VLP-16 capture (default: the real one)")
    args = parser.parse_args()
    if not args.pcap.exists():
        sys.exit(f"no capture at {args.pcap}: pass --pcap with a Velodyne pcap")
    datagrams = [d.payload for d in read_udp(args.pcap, port=2368)]
    packets = as_packet_array(datagrams)
    per_turn = packets_per_turn(packets)
    stream = np.concatenate([packets] * max(1, -(-4 * per_turn // len(packets))))  # repeated, several turns
    batches = [stream[i : i + per_turn].copy() for i in range(0, len(stream) - per_turn + 1, per_turn)]
    points_per_packet = len(decode_packets(batches[0])) / per_turn

    cold = decode_rates(batches, min(1.0, args.seconds))
    np.ones(8_000_000, np.float32)  # frees 32 MB: from here on glibc keeps the heap (see docstring)
    decode_rates(batches, 0.2)  # warm-up
    rates = decode_rates(batches, args.seconds)
    whole = driver_rate(datagrams, min(2.0, args.seconds))
    extra = {
        "capture": args.pcap.name,
        "packets_per_batch": per_turn,
        "points_per_packet": round(points_per_packet, 1),
        "cold_heap_median": round(float(np.median(cold)), 0),
        "driver_path_packets_per_s": round(whole, 0),
        "target": f">= {TARGET} packets/s on one core (a VLP-16 sends about 754/s single-return)",
    }
    out = report.write("velodyne_decode", "packets/s", rates, extra, higher_is_better=True)
    print(
        f"Velodyne decode: median {out['median']:,.0f} packets/s, p99 (slowest 1% of batches)"
        f" {out['p99']:,.0f}, over {out['n']} batches of {per_turn} packets"
        f" ({points_per_packet:.0f} points each) -> bench/results/velodyne_decode.json"
    )
    print(f"  fresh-process heap: median {extra['cold_heap_median']:,.0f} packets/s (see the docstring)")
    print(f"  parser + scan assembler + decode, datagram by datagram: {whole:,.0f} packets/s")
    print(f"  target {TARGET:,} packets/s: {'met' if out['median'] >= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
