"""Time alignment: per-stream clock synchronisation, resampling and windowing with deadlines.

Everything here is pure and deterministic: no threads, no I/O, no wall clock. Live mode and
replay feed the same objects; only who supplies ``now_ns`` differs.
"""
