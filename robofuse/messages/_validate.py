"""Checks shared by every message type: they raise SampleError naming stream and field.

They run on every sample a driver, bag or simulator produces, so each is a handful of numpy
calls with no copies of the payload.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from robofuse.errors import SampleError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def check_int(stream: str, field: str, value: Any, *, minimum: int | None = None) -> None:
    """Fail unless ``value`` is a Python or numpy integer (not a bool), at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise SampleError(
            stream,
            field,
            f"must be an integer, got {type(value).__name__} {value!r}"
            " (times are integer nanoseconds: convert seconds with int(s * 1e9))",
        )
    if not INT64_MIN <= int(value) <= INT64_MAX:
        raise SampleError(stream, field, f"{value} does not fit in int64")
    if minimum is not None and value < minimum:
        raise SampleError(stream, field, f"must be >= {minimum}, got {value}")


def check_text(stream: str, field: str, value: Any) -> None:
    """Fail unless ``value`` is a string."""
    if not isinstance(value, str):
        raise SampleError(stream, field, f"must be a str, got {type(value).__name__}")


def _free_dims_differ(got: tuple[int, ...], want: tuple[int | None, ...]) -> bool:
    return any(w is not None and g != w for g, w in zip(got, want, strict=True))


def frozen_array(
    stream: str,
    field: str,
    value: Any,
    *,
    dtypes: tuple[type[np.generic], ...],
    shape: tuple[int | None, ...],
    finite: bool = True,
    allow_inf: bool = False,
) -> np.ndarray:
    """Return a read-only view of ``value`` after checking dtype, shape and finiteness.

    ``shape`` uses ``None`` for a free dimension. The view shares memory with the caller's
    array (no copy), but cannot be written through, so a frozen sample stays frozen.
    """
    if not isinstance(value, np.ndarray):
        raise SampleError(stream, field, f"must be a numpy array, got {type(value).__name__}")
    if value.dtype.type not in dtypes:
        allowed = ", ".join(np.dtype(d).name for d in dtypes)
        raise SampleError(stream, field, f"dtype {value.dtype.name} not allowed; use {allowed} (convert with .astype)")
    if value.shape != shape and (value.ndim != len(shape) or _free_dims_differ(value.shape, shape)):
        pattern = "(" + ", ".join("N" if d is None else str(d) for d in shape) + ")"
        raise SampleError(stream, field, f"shape {value.shape} does not match {pattern}")
    if finite and value.dtype.kind == "f":
        if allow_inf:
            bad = bool(np.isnan(value).any())
            what = "NaN"
        else:
            bad = not bool(np.isfinite(value).all())
            what = "NaN or inf"
        if bad:
            raise SampleError(
                stream,
                field,
                f"contains {what}: the sensor reported an invalid value; drop the sample or fix the driver's decoding",
            )
    view: np.ndarray = value.view()
    view.flags.writeable = False
    return view
