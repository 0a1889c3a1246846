"""Pack a sweep's finished models into a few tar parts small enough to carry off a GPU machine.

The device tool brings back at most 8 files of 16 MiB; 47 checkpoints of 1.5 MB do not fit. So
the specialists' weights travel as float16 (a relative rounding of 5e-4; ``load_state_dict``
casts them back to float32), the fused models' (all four sensors) stay float32, and ONNX
files, which ``robofuse export`` rebuilds from a checkpoint, stay behind. With ``--last`` each
run's ``checkpoint.pt`` (its last epoch) travels too. Unpack with
``cat runs.tar.part-* | tar -x -C DIR``.

    python bench/pack_runs.py RUNS_DIR OUT_DIR [--last]
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import torch

PART_BYTES = 15 * 2**20
FP16_MAX = 60000.0  # float16 tops out at 65504: a larger buffer stays float32


def half(checkpoint: Path) -> bytes:
    """The checkpoint with its floating tensors as float16 where they fit, serialised."""
    payload = torch.load(checkpoint, map_location="cpu", weights_only=False)
    state = payload["model"]
    for key, value in state.items():
        if value.is_floating_point() and (value.numel() == 0 or float(value.abs().max()) < FP16_MAX):
            state[key] = value.half()
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def pack(runs: Path, out: Path, last: bool = False) -> list[Path]:
    """Tar every finished run (sidecar, log, best.pt; checkpoint.pt if ``last``) into parts in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    tar_path = out / "runs.tar"
    with tarfile.open(tar_path, "w") as tar:
        for sidecar in sorted(runs.rglob("model.json")):
            folder = sidecar.parent
            rel = folder.relative_to(runs)
            tar.add(sidecar, str(rel / "model.json"))
            if (folder / "train.log").exists():
                tar.add(folder / "train.log", str(rel / "train.log"))
            # a specialist sits in .../specialists/<subset>/seedN, at any depth (round 7 nests them)
            fused = "specialists" not in rel.parts[:-2] or rel.parts[-2].count("+") == 3
            for name in ("best.pt", "checkpoint.pt") if last else ("best.pt",):
                data = (folder / name).read_bytes() if fused else half(folder / name)
                info = tarfile.TarInfo(str(rel / name))
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        for extra in ("sweep.json", "sweep.log"):
            if (runs / extra).exists():
                tar.add(runs / extra, extra)
    subprocess.run(["split", "-b", str(PART_BYTES), "-d", str(tar_path), str(out / "runs.tar.part-")], check=True)
    tar_path.unlink()
    return sorted(out.glob("runs.tar.part-*"))


if __name__ == "__main__":
    parts = pack(Path(sys.argv[1]), Path(sys.argv[2]), last="--last" in sys.argv[3:])
    print("packed", [f"{p.name} {p.stat().st_size / 2**20:.1f} MiB" for p in parts])
