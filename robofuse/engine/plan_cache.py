"""The TensorRT plan cache: keys, atomic storage and validation, without importing TensorRT.

A serialized TensorRT engine ("plan") only runs on the TensorRT version and GPU that built it,
and deserializing a foreign one fails late and cryptically ("Version tag does not match"). So
each plan is stored with a JSON sidecar recording what it was built from and its own sha256,
and :func:`load_plan` checks both before TensorRT ever sees the bytes: a mismatch is a message
and a rebuild, never a blind load.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from robofuse.errors import EngineError

log = logging.getLogger(__name__)

PLAN_FORMAT = 1  # robofuse's plan sidecar layout; bump to invalidate every cached plan
Precision = Literal["fp32", "fp16"]
PRECISIONS: tuple[str, ...] = ("fp32", "fp16")

# How each key field reads in a mismatch message: "<what> <cached> built it, this is <current>".
_FIELD_WORDS: dict[str, str] = {
    "model_sha256": "the ONNX model changed (sha256 {old:.12} cached, {new:.12} now)",
    "tensorrt_version": "TensorRT {old} built it, this is {new}",
    "gpu_name": "GPU {old!r} built it, this is {new!r}",
    "compute_capability": "compute capability {old} built it, this GPU is {new}",
    "precision": "it is {old}, {new} was asked for",
    "batch_min": "its batch profile minimum is {old}, {new} was asked for",
    "batch_opt": "its batch profile optimum is {old}, {new} was asked for",
    "batch_max": "its batch profile maximum is {old}, {new} was asked for",
    "plan_format": "robofuse plan format {old} wrote it, this robofuse writes {new}",
}


def default_cache_dir() -> Path:
    """``$ROBOFUSE_TRT_CACHE`` if set, else ``~/.cache/robofuse/tensorrt``."""
    env = os.environ.get("ROBOFUSE_TRT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "robofuse" / "tensorrt"


@dataclass(frozen=True)
class PlanKey:
    """Everything a plan depends on; two equal keys may share a plan, any difference forces a rebuild.

    ``compute_capability`` is "major.minor" ("8.7" on a Jetson Orin). The batch fields are the
    optimization profile on the batch axis.
    """

    model_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: str
    precision: Precision
    batch_min: int = 1
    batch_opt: int = 1
    batch_max: int = 8
    plan_format: int = PLAN_FORMAT

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise EngineError(f"precision must be one of {list(PRECISIONS)}, got {self.precision!r}")
        if not 1 <= self.batch_min <= self.batch_opt <= self.batch_max:
            raise EngineError(
                f"the batch profile needs 1 <= min <= opt <= max, got min={self.batch_min}, "
                f"opt={self.batch_opt}, max={self.batch_max}"
            )

    def as_dict(self) -> dict[str, Any]:
        """The fields as plain JSON values."""
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """A stable sha256 hex digest of every field (sorted-key JSON, so field order never matters)."""
        text = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def differences(self, other: Mapping[str, Any]) -> list[str]:
        """Human-readable reasons why a plan recorded with ``other`` does not fit this key (empty: it fits)."""
        reasons = []
        for name, new in self.as_dict().items():
            if name not in other:
                reasons.append(f"its header lacks {name!r}")
            elif other[name] != new:
                reasons.append(_FIELD_WORDS[name].format(old=other[name], new=new))
        return reasons


def model_sha256(path: Path) -> str:
    """The sha256 of a model file's bytes.

    Raises:
        EngineError: the file cannot be read.
    """
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as err:
        raise EngineError(f"cannot read model file {path}: {err.strerror or err}") from None


def plan_path(cache_dir: Path, model: Path, key: PlanKey) -> Path:
    """``<cache_dir>/<model stem>-<digest[:16]>.plan``."""
    return Path(cache_dir) / f"{Path(model).stem}-{key.digest()[:16]}.plan"


def header_path(plan: Path) -> Path:
    """The JSON sidecar beside a plan: ``x.plan`` -> ``x.plan.json``."""
    return plan.with_name(plan.name + ".json")


def store_plan(path: Path, key: PlanKey, plan: bytes) -> None:
    """Write ``plan`` and its header atomically (temporary file then ``os.replace``), plan first.

    A reader that finds a header therefore finds its whole plan; a crash mid-write leaves at
    worst a stale header whose sha256 the new plan fails, which :func:`load_plan` rejects.

    Raises:
        EngineError: the cache directory cannot be written.
    """
    path = Path(path)
    header: dict[str, Any] = {
        "key": key.as_dict(),
        "digest": key.digest(),
        "plan_sha256": hashlib.sha256(plan).hexdigest(),
        "plan_bytes": len(plan),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, plan)
        _atomic_write(header_path(path), (json.dumps(header, indent=2, sort_keys=True) + "\n").encode())
    except OSError as err:
        raise EngineError(
            f"cannot write the TensorRT plan cache in {path.parent}: {err.strerror or err}; "
            "pass a writable plan_cache directory or set ROBOFUSE_TRT_CACHE"
        ) from None


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_plan(path: Path, key: PlanKey) -> tuple[bytes | None, str]:
    """The cached plan's bytes if its header matches ``key`` and its sha256 checks out, else None.

    Returns:
        ``(plan, "")`` on success, ``(None, reason)`` otherwise, where ``reason`` says what differs
        and ends with what happens next ("rebuilding").
    """
    path = Path(path)
    head = header_path(path)
    if not path.is_file():
        return None, f"no cached plan at {path}: building"
    try:
        header = json.loads(head.read_text())
        recorded = header["key"]
        expected_sha = str(header["plan_sha256"])
        if not isinstance(recorded, dict):
            raise TypeError("key is not an object")
    except FileNotFoundError:
        return None, f"cached plan {path} has no header {head.name}: rebuilding"
    except (OSError, ValueError, KeyError, TypeError) as err:
        return None, f"cannot read the header {head} of cached plan {path} ({err!r}): rebuilding"
    reasons = key.differences(recorded)
    if reasons:
        return None, f"cached plan {path} does not fit: {'; '.join(reasons)}: rebuilding"
    try:
        plan = path.read_bytes()
    except OSError as err:
        return None, f"cannot read cached plan {path} ({err.strerror or err}): rebuilding"
    if hashlib.sha256(plan).hexdigest() != expected_sha:
        return None, (
            f"cached plan {path} is corrupt or truncated ({len(plan)} bytes, its sha256 differs from its header): "
            "rebuilding"
        )
    return plan, ""


def load_plan(path: Path, key: PlanKey) -> bytes | None:
    """The cached plan's bytes when it fits ``key`` and is intact; else None, logging why (see :func:`check_plan`)."""
    plan, reason = check_plan(path, key)
    if plan is None:
        log.info("%s", reason)
    return plan


def discard_plan(path: Path) -> None:
    """Remove a plan and its header (a plan TensorRT refused); missing files are fine."""
    for p in (Path(path), header_path(Path(path))):
        try:
            p.unlink(missing_ok=True)
        except OSError as err:  # a read-only cache: the rebuild overwrites it or reports the write error
            log.warning("cannot remove %s: %s", p, err)
