"""Time alignment: per-stream clock synchronisation, resampling and windowing with deadlines.

Everything here is pure and deterministic: no threads, no I/O, no wall clock. Live mode and
replay feed the same objects; only who supplies ``now_ns`` differs.

Import from the modules: ``robofuse.align.buffer.AlignmentBuffer``, ``robofuse.align.clock_sync.ClockSync``
(the package itself imports nothing, since rig configuration imports ``robofuse.align.config``).
"""
