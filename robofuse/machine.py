"""What a measurement ran on: the machine and the code (for every benchmark's JSON)."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import numpy as np


def machine() -> dict[str, Any]:
    """The machine the figures were measured on: host, CPU model, cores, OS, Python, numpy."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "node": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "system": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def commit(where: Path | None = None) -> str:
    """The git commit measured, with '+dirty' for uncommitted changes; 'unknown' outside a checkout."""
    cwd = where or Path(__file__).resolve().parent
    try:
        run = {"capture_output": True, "text": True, "check": True, "cwd": cwd}
        sha = subprocess.run(["git", "rev-parse", "HEAD"], **run).stdout.strip()  # type: ignore[call-overload]
        dirty = subprocess.run(["git", "status", "--porcelain"], **run).stdout  # type: ignore[call-overload]
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return str(sha) + ("+dirty" if str(dirty).strip() else "")
