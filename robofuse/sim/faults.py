"""Scripted faults injected into simulated streams, for tests and sensor-failure drills.

A :class:`Fault` names a stream, a kind and a time interval (host clock, seconds from the
start of the simulation). The rig asks a :class:`FaultInjector` what to do with each message:
whether to drop it, how to shift its stamp and arrival, and how to alter its payload.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from robofuse.schema import require

FaultKind = Literal["dead", "frozen", "noisy", "nan", "delayed", "clock_jump", "corrupt"]
FAULT_KINDS: tuple[str, ...] = ("dead", "frozen", "noisy", "nan", "delayed", "clock_jump", "corrupt")


@dataclass(frozen=True, kw_only=True)
class Fault:
    """One fault on one stream, active for host times in ``[start_s, end_s)`` (open-ended if None).

    ``magnitude`` depends on the kind: ``noisy`` noise standard deviation relative to the
    signal's own; ``nan`` fraction of values made NaN; ``delayed`` extra transport delay in
    seconds; ``clock_jump`` the step added to the sensor clock in seconds (it persists after
    ``end_s``, as a real jump does); ``corrupt`` fraction of payload bytes flipped. ``dead``
    and ``frozen`` ignore it.
    """

    stream: str
    kind: FaultKind
    start_s: float = 0.0
    end_s: float | None = None
    magnitude: float = 1.0

    def __post_init__(self) -> None:
        require(self.kind in FAULT_KINDS, f"fault kind {self.kind!r} unknown; use one of {list(FAULT_KINDS)}")
        require(self.start_s >= 0, f"start_s must be >= 0, got {self.start_s}")
        require(self.end_s is None or self.end_s > self.start_s, f"end_s must be after start_s, got {self.end_s}")
        if self.kind in ("nan", "corrupt"):
            require(0 < self.magnitude <= 1, f"{self.kind} magnitude is a fraction in (0, 1], got {self.magnitude}")
        if self.kind in ("noisy", "delayed"):
            require(self.magnitude > 0, f"{self.kind} magnitude must be > 0, got {self.magnitude}")

    def active(self, host_ns: float) -> bool:
        """Whether the fault applies to a message measured at ``host_ns``."""
        t = host_ns / 1e9
        return t >= self.start_s and (self.end_s is None or t < self.end_s)

    @classmethod
    def parse(cls, text: str) -> Fault:
        """Parse ``stream:kind[@start[-end]][=magnitude]``, e.g. ``imu:dead@5-10``, ``camera:noisy@2=0.5``."""
        try:
            head, _, magnitude = text.partition("=")
            target, _, when = head.partition("@")
            stream, kind = target.split(":")
            start, _, end = when.partition("-")
            return cls(
                stream=stream,
                kind=kind,  # type: ignore[arg-type]
                start_s=float(start) if start else 0.0,
                end_s=float(end) if end else None,
                magnitude=float(magnitude) if magnitude else 1.0,
            )
        except ValueError as err:
            raise ValueError(
                f"cannot parse fault {text!r} ({err}); write stream:kind[@start[-end]][=magnitude],"
                f" kinds {list(FAULT_KINDS)}, e.g. imu:dead@5-10"
            ) from None


class FaultInjector:
    """Applies the faults of one stream to its messages, in order."""

    def __init__(self, faults: Sequence[Fault], seed: int, stream: str) -> None:
        self.faults = tuple(f for f in faults if f.stream == stream)
        self._rng = np.random.default_rng([seed, zlib.crc32(stream.encode()), 2])
        self._frozen: dict[str, Any] | None = None

    def drops(self, host_ns: float) -> bool:
        """Whether the stream is dead at ``host_ns``."""
        return any(f.kind == "dead" and f.active(host_ns) for f in self.faults)

    def dead_until_ns(self, host_ns: float) -> float | None:
        """When the stream comes back to life if it is dead at ``host_ns`` (inf: never; None: not dead)."""
        ends = [
            math.inf if f.end_s is None else f.end_s * 1e9
            for f in self.faults
            if f.kind == "dead" and f.active(host_ns)
        ]
        if not ends:
            return None
        later = max(ends)
        # another dead interval may start right where this one ends
        return later if math.isinf(later) or not self.drops(later) else self.dead_until_ns(later)

    def stamp_shift_ns(self, host_ns: float) -> int:
        """Total clock jump in effect at ``host_ns`` (jumps persist once they happened)."""
        return sum(
            round(f.magnitude * 1e9) for f in self.faults if f.kind == "clock_jump" and host_ns / 1e9 >= f.start_s
        )

    def extra_delay_ns(self, host_ns: float) -> int:
        """Extra transport delay at ``host_ns``."""
        return sum(round(f.magnitude * 1e9) for f in self.faults if f.kind == "delayed" and f.active(host_ns))

    def payload(self, payload: dict[str, Any], value_fields: tuple[str, ...], host_ns: float) -> dict[str, Any]:
        """The payload as the faulty sensor would send it (new arrays; the input is not changed)."""
        active = [f for f in self.faults if f.active(host_ns)]
        if any(f.kind == "frozen" for f in active):
            if self._frozen is None:
                self._frozen = payload
            return self._frozen
        self._frozen = None
        out = dict(payload)
        for fault in active:
            for name in value_fields:
                if name in out:
                    out[name] = self._alter(fault, out[name])
        return out

    def _alter(self, fault: Fault, values: np.ndarray) -> np.ndarray:
        r = self._rng
        if fault.kind == "noisy":
            scale = float(np.std(values)) or 1.0
            noisy = values.astype(np.float64) + r.normal(0.0, fault.magnitude * scale, values.shape)
            if values.dtype.kind in "ui":
                info = np.iinfo(values.dtype)
                return np.clip(np.rint(noisy), info.min, info.max).astype(values.dtype)
            return noisy.astype(values.dtype)
        if fault.kind == "nan":
            if values.dtype.kind != "f":
                return values  # integer data (an 8-bit image) has no NaN; use 'corrupt' there
            out: np.ndarray = values.copy()
            out[r.random(values.shape) < fault.magnitude] = np.nan
            return out
        if fault.kind == "corrupt":
            raw: np.ndarray = np.ascontiguousarray(values).copy()
            flat = raw.view(np.uint8).reshape(-1)
            hit = r.random(flat.shape[0]) < fault.magnitude
            flat[hit] ^= r.integers(1, 256, int(hit.sum()), dtype=np.uint8)
            return raw
        return values
