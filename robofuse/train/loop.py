"""The training loop: cached simulated windows, ModDrop, noise and fault augmentation, AdamW.

Deterministic for ``config.seed``: torch's initialisation and kernels (deterministic
algorithms on), the data order and every augmentation draw come from that seed alone.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812

from robofuse.dataset.generate import WindowSet, cached, window_cache
from robofuse.errors import ConfigError
from robofuse.model.fusion_model import FusionModel
from robofuse.train.config import HEADS, SENSORS, TrainConfig, subset_row
from robofuse.train.distill import Teachers

Arrays = dict[str, npt.NDArray[Any]]


@dataclass
class TrainResult:
    """The best model (by validation terrain accuracy), its metrics and the per-epoch history."""

    model: FusionModel
    metrics: dict[str, float]
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    checkpoint: Path = Path()
    windows_per_s: float = 0.0


def load_windows(seeds: tuple[int, ...], windows: int, cache_dir: str, *, progress: bool = False) -> Arrays:
    """The windows of every seed, generated once into ``cache_dir`` and concatenated."""
    directory = window_cache(cache_dir)
    sets: list[WindowSet] = [cached(seed, windows, directory, progress=progress) for seed in seeds]
    keys = (*SENSORS, "mask", *HEADS)
    return {key: np.concatenate([getattr(s, key) for s in sets]) for key in keys}


def restrict_mask(mask: npt.NDArray[Any], modalities: tuple[str, ...]) -> npt.NDArray[np.float32]:
    """``mask`` with every sensor outside ``modalities`` masked (a specialist's view of the data)."""
    keep = np.array([name in modalities for name in SENSORS], dtype=np.float32)
    return (mask.astype(np.float32) * keep).astype(np.float32)


def input_stds(data: Arrays) -> dict[str, npt.NDArray[np.float32]]:
    """Each input's standard deviation over present windows (per channel for camera and IMU)."""
    stds = {}
    for i, name in enumerate(SENSORS):
        x = data[name][data["mask"][:, i] > 0.5][:512].astype(np.float32)
        axes = tuple(range(x.ndim - 1)) if name in ("camera", "imu") else None
        std = np.nanstd(x, axis=axes) if len(x) else np.ones(())
        stds[name] = np.maximum(np.nan_to_num(std, nan=1.0), 1e-6).astype(np.float32)
    return stds


def class_weights(labels: npt.NDArray[Any], classes: int, clip: float) -> torch.Tensor:
    """Inverse-frequency weights ``n / (k * count)``, clipped to ``[1/clip, clip]``; absent classes get ``clip``."""
    counts = np.bincount(labels.astype(np.int64), minlength=classes).astype(np.float64)
    weights = np.where(counts > 0, len(labels) / (classes * np.maximum(counts, 1)), clip)
    return torch.tensor(np.clip(weights, 1 / clip, clip), dtype=torch.float32)


def drop_modalities(mask: npt.NDArray[np.float32], p: float, allow_all: bool, rng: np.random.Generator) -> Any:
    """ModDrop: mask each present modality with probability ``p``.

    Unless ``allow_all``, a window that would lose every present modality keeps one of them,
    drawn at random. Returns the new mask (a copy).
    """
    present = mask > 0.5
    out = np.where(present & (rng.random(mask.shape) < p), np.float32(0), mask).astype(np.float32)
    if not allow_all:
        for i in np.flatnonzero(present.any(axis=1) & (out.max(axis=1) < 0.5)):
            out[i, rng.choice(np.flatnonzero(present[i]))] = 1.0
    return out


def add_noise(batch: Arrays, stds: dict[str, Any], config: TrainConfig, rng: np.random.Generator) -> None:
    """Gaussian noise, std uniform in ``[0, noise_max]`` x the input's std, on a ``noise_prob`` share of inputs.

    ``noise_max`` is each sensor's own (:meth:`TrainConfig.noise_max_of`).

    Only the sensors of ``config.modalities``: a specialist's other inputs are masked anyway, and
    their noise was most of the augmentation's cost.
    """
    n = len(batch["mask"])
    for name in (m for m in SENSORS if m in config.modalities):
        level = rng.uniform(0, config.noise_max_of(name), n) * (rng.random(n) < config.noise_prob)
        hit = np.flatnonzero(level > 0)
        if len(hit) == 0:
            continue
        x = batch[name][hit]
        scale = level[hit].reshape(-1, *([1] * (x.ndim - 1)))  # (h, 1, ...)
        x = x + rng.standard_normal(x.shape, dtype=np.float32) * (scale * stds[name]).astype(np.float32)
        if name == "camera":
            x = np.clip(x, 0, 255)
        elif name == "lidar":
            x = np.maximum(x, 0)
        batch[name][hit] = x


def add_faults(batch: Arrays, p: float, rng: np.random.Generator, sensors: tuple[str, ...] = SENSORS) -> None:
    """Whole-modality faults with probability ``p`` each: NaN, zeros or another window's (frozen) input.

    A faulted modality is masked, as the runtime masks a stream it rejected. Only ``sensors`` are hit.
    """
    n = len(batch["mask"])
    for i, name in enumerate(SENSORS):
        if name not in sensors:
            continue
        for j in np.flatnonzero(rng.random(n) < p):
            kind = rng.integers(3)
            batch[name][j] = np.nan if kind == 0 else 0.0 if kind == 1 else batch[name][rng.integers(n)]
            batch["mask"][j, i] = 0.0


def random_subsets(mask: npt.NDArray[np.float32], rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """Each window's mask replaced by a uniformly drawn non-empty subset of its present sensors.

    Every present sensor is kept with probability 1/2 and an empty draw is drawn again, which
    is uniform over the 2^k - 1 non-empty subsets of k present sensors. Windows with nothing
    present stay empty.
    """
    present = mask > 0.5
    out = np.zeros_like(mask, dtype=np.float32)
    todo = np.flatnonzero(present.any(axis=1))
    while len(todo):
        draw = present[todo] & (rng.random((len(todo), mask.shape[1])) < 0.5)
        done = draw.any(axis=1)
        out[todo[done]] = draw[done]
        todo = todo[~done]
    return out


def make_batch(data: Arrays, index: npt.NDArray[np.int64]) -> Arrays:
    """Float32 copies of the inputs and mask, and the labels, of the windows at ``index``."""
    batch = {name: data[name][index].astype(np.float32) for name in (*SENSORS, "mask")}
    batch.update({name: data[name][index].astype(np.int64) for name in HEADS})
    return batch


def augment(batch: Arrays, stds: dict[str, Any], config: TrainConfig, rng: np.random.Generator) -> Arrays:
    """Faults, noise and modality dropout, in place on a batch from :func:`make_batch`."""
    add_faults(batch, config.fault_prob, rng, config.modalities)
    add_noise(batch, stds, config, rng)
    mask = drop_modalities(batch["mask"], config.modality_dropout, config.drop_all_allowed, rng)
    if config.subset_dropout > 0:
        subsets = random_subsets(batch["mask"], rng)
        mask = np.where((rng.random(len(mask)) < config.subset_dropout)[:, None], subsets, mask).astype(np.float32)
    batch["mask"] = mask
    return batch


def to_tensors(batch: Arrays, device: torch.device | str = "cpu") -> tuple[torch.Tensor, ...]:
    """The model's inputs, in INPUT_NAMES order, on ``device``."""
    return tuple(torch.from_numpy(np.ascontiguousarray(batch[name])).to(device) for name in (*SENSORS, "mask"))


def loss_fn(out: dict[str, torch.Tensor], batch: Arrays, weights: dict[str, torch.Tensor], config: TrainConfig) -> Any:
    """Weighted sum of the heads' class-weighted cross-entropies over windows with a usable sensor."""
    usable = out["usable"] > 0.5
    total = out["terrain"].new_zeros(())
    if not bool(usable.any()):
        return total
    for head in HEADS:
        target = torch.from_numpy(batch[head]).to(usable.device)[usable]
        ce = F.cross_entropy(out[head][usable], target, weight=weights[head])
        total = total + getattr(config, f"loss_{head}") * ce
    return total


SUBSETS = torch.tensor(
    [subset_row(bits) for bits in range(1, 2 ** len(SENSORS))], dtype=torch.float32
)  # (15, 4): every non-empty subset of the sensors


def step_loss(
    model: FusionModel,
    batch: Arrays,
    weights: dict[str, torch.Tensor],
    config: TrainConfig,
    teachers: Teachers | None = None,
) -> Any:
    """The loss of one batch: on its (augmented) mask, plus ``subset_loss`` x the mean over the 15 subsets of it,
    plus ``distill_loss`` x the distillation term of ``teachers`` (when given).

    The encoders run once; the 15 subsets re-run only fusion and heads, all in one batched call.
    """
    camera, lidar, imu, audio, mask = to_tensors(batch, config.device)
    feats = model.encode(camera, lidar, imu, audio, mask)  # (B, M, D)
    loss = loss_fn(model.classify(feats, mask), batch, weights, config)
    if config.subset_loss > 0:
        loss = loss + config.subset_loss * subset_loss(model, feats, mask, batch, weights, config)
    if teachers is not None and config.distill_loss > 0:
        loss = loss + config.distill_loss * teachers.loss(model, feats, (camera, lidar, imu, audio), mask)
    return loss


def subset_loss(
    model: FusionModel,
    feats: torch.Tensor,
    mask: torch.Tensor,
    batch: Arrays,
    weights: dict[str, torch.Tensor],
    config: TrainConfig,
) -> Any:
    """Mean over the 15 sensor subsets of :func:`loss_fn` with ``mask`` AND the subset, on ``config.subset_heads``.

    Each subset's loss is multiplied by its ``config.subset_weights`` entry (1 when not named)
    before the mean over all 15.

    One classify call on the features repeated 15 times, not 15 calls: on a GPU each call is a
    few dozen small kernels and a host sync, which made the subset loss cost more than the
    encoders. Exact, because fusion and heads hold no batch statistics (no BatchNorm after
    the encoders). A subset with no usable window adds 0, as :func:`loss_fn` gives then.
    """
    n, k = len(mask), len(SUBSETS)
    keep = SUBSETS.to(mask.device)  # (S, M)
    masks = (mask.unsqueeze(0) * keep.unsqueeze(1)).reshape(k * n, -1)  # (S*B, M), subset-major
    out = model.classify(feats.repeat(k, 1, 1), masks)  # (S*B, ...)
    usable = (out["usable"] > 0.5).reshape(k, n).to(feats.dtype)  # (S, B)
    total = feats.new_zeros(k)
    for head in config.subset_heads:
        target = torch.from_numpy(batch[head]).to(mask.device).repeat(k)  # (S*B,)
        w = weights[head][target].reshape(k, n) * usable  # (S, B): cross_entropy's weighted mean
        ce = F.cross_entropy(out[head], target, reduction="none").reshape(k, n)
        total = total + getattr(config, f"loss_{head}") * (w * ce).sum(1) / w.sum(1).clamp_min(1e-12)
    if config.subset_weights:  # only then: recipes without weights keep their arithmetic bit for bit
        total = total * torch.tensor(config.subset_weight_vector(), dtype=total.dtype, device=total.device)
    return total.mean()


def balanced_accuracy(pred: npt.NDArray[Any], target: npt.NDArray[Any]) -> float:
    """Mean per-class recall over the classes present in ``target``."""
    recalls = [float(np.mean(pred[target == c] == c)) for c in np.unique(target)]
    return float(np.mean(recalls))


def predict(model: FusionModel, data: Arrays, mask: npt.NDArray[np.float32], batch_size: int) -> dict[str, Any]:
    """Each head's argmax over every window of ``data`` under ``mask``, on the model's device."""
    preds: dict[str, list[Any]] = {head: [] for head in HEADS}
    device = next(model.parameters()).device
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(mask), batch_size):
            index = np.arange(start, min(start + batch_size, len(mask)))
            batch = make_batch(data, index)
            batch["mask"] = mask[index]
            out = model(*to_tensors(batch, device))
            for head in HEADS:
                preds[head].append(out[head].argmax(dim=1).cpu().numpy())
    return {head: np.concatenate(p) for head, p in preds.items()}


def evaluate(model: FusionModel, data: Arrays, batch_size: int) -> dict[str, float]:
    """Terrain accuracy and collision/slip balanced accuracy, all sensors; terrain accuracy with each one masked."""
    pred = predict(model, data, data["mask"].astype(np.float32), batch_size)
    metrics = {"terrain_acc": float(np.mean(pred["terrain"] == data["terrain"]))}
    for head in ("collision", "slip"):
        metrics[f"{head}_bacc"] = balanced_accuracy(pred[head], data[head].astype(np.int64))
    for i, name in enumerate(SENSORS):
        mask = data["mask"].astype(np.float32)
        mask[:, i] = 0.0
        dropped = predict(model, data, mask, batch_size)["terrain"]
        metrics[f"terrain_acc_no_{name}"] = float(np.mean(dropped == data["terrain"]))
    return metrics


@contextmanager
def deterministic(config: TrainConfig) -> Iterator[None]:
    """Seeded torch, deterministic kernels and the configured threads; restores the global settings after."""
    if config.device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {config.device!r}: this torch ({torch.__version__}) sees no CUDA GPU; "
                "train with device: cpu, or install a CUDA build of torch on a machine with a GPU"
            )
        # cuBLAS is deterministic only with a fixed workspace; it reads this when it starts
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    was_deterministic, threads = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    torch.manual_seed(config.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was_deterministic)
        torch.set_num_threads(threads)


def save_checkpoint(path: Path, model: FusionModel, config: TrainConfig, epoch: int, metrics: dict[str, float]) -> None:
    """Model state, config (as a plain dict), epoch and metrics, written atomically."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}  # loads on any machine
    payload = {"model": state, "config": dataclasses.asdict(config), "epoch": epoch, "metrics": metrics}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def train(config: TrainConfig, out_dir: str | Path, *, progress: bool = True) -> TrainResult:
    """Train a FusionModel on the config's seeds; checkpoints go to ``out_dir``.

    ``checkpoint.pt`` holds the latest epoch, ``best.pt`` the kept one (``config.keep``: the best
    by validation terrain accuracy, or the last); the returned model is the kept one.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_data = load_windows(config.train_seeds, config.windows_per_seed, config.cache_dir, progress=progress)
    val_data = load_windows(config.val_seeds, config.val_windows_per_seed, config.cache_dir, progress=progress)
    for data in (train_data, val_data):
        data["mask"] = restrict_mask(data["mask"], config.modalities)
    teachers = Teachers.load(config)  # before the seed is set: building them draws from torch's generator
    with deterministic(config):
        return _fit(config, out, train_data, val_data, progress, teachers)


def _fit(
    config: TrainConfig,
    out: Path,
    train_data: Arrays,
    val_data: Arrays,
    progress: bool,
    teachers: Teachers | None = None,
) -> TrainResult:
    model = FusionModel(config.model).to(config.device)
    rng = np.random.default_rng(config.seed)
    stds = input_stds(train_data)
    weights = {
        h: class_weights(train_data[h], len(config.model.heads[h]), config.class_weight_max).to(config.device)
        for h in HEADS
    }
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    n = len(train_data["mask"])
    steps = max(1, n // config.batch_size)  # drop the last partial batch: BatchNorm dislikes a batch of 1
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.learning_rate, total_steps=steps * config.epochs)
    result = TrainResult(model=model, metrics={}, best_epoch=0, checkpoint=out / "best.pt")
    best_state: dict[str, Any] = {}
    seen, elapsed = 0, 0.0
    with TrainProgress(config.epochs, steps, progress) as bar:
        for epoch in range(1, config.epochs + 1):
            model.train()
            order = rng.permutation(n)
            start = time.perf_counter()
            for step in range(steps):
                index = order[step * config.batch_size : (step + 1) * config.batch_size]
                batch = augment(make_batch(train_data, index), stds, config, rng)
                loss = step_loss(model, batch, weights, config, teachers)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                bar.step(epoch, float(loss.detach()))
            elapsed += time.perf_counter() - start
            seen += steps * config.batch_size
            metrics = {
                "epoch": float(epoch),
                "loss": float(loss.detach()),
                **evaluate(model, val_data, config.batch_size),
            }
            result.history.append(metrics)
            bar.epoch_done(metrics["terrain_acc"])
            save_checkpoint(out / "checkpoint.pt", model, config, epoch, metrics)
            better = not result.metrics or metrics["terrain_acc"] > result.metrics["terrain_acc"]
            if better or config.keep == "last":
                result.metrics, result.best_epoch = metrics, epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                save_checkpoint(out / "best.pt", model, config, epoch, metrics)
    model.load_state_dict(best_state)
    model.to("cpu").eval()  # the returned model exports and evaluates on any machine
    result.windows_per_s = seen / elapsed if elapsed > 0 else 0.0
    return result


class TrainProgress:
    """A rich progress bar over every step (epoch, step, loss, val accuracy) when ``enabled``."""

    def __init__(self, epochs: int, steps: int, enabled: bool) -> None:
        self.epochs, self.steps, self.enabled = epochs, steps, enabled
        self.val = "-"
        self._bar: Any = None

    def __enter__(self) -> TrainProgress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("epoch {task.fields[epoch]}/" + str(self.epochs)),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("steps  loss {task.fields[loss]}  val terrain acc {task.fields[val]}"),
                TimeRemainingColumn(),
            )
            self._bar.__enter__()
            self._bar.add_task("train", total=self.epochs * self.steps, epoch=1, loss="-", val="-")
        return self

    def step(self, epoch: int, loss: float) -> None:
        """One optimiser step done."""
        if self._bar is not None:
            self._bar.update(self._bar.task_ids[0], advance=1, epoch=epoch, loss=f"{loss:.3f}")

    def epoch_done(self, terrain_acc: float) -> None:
        """Show the validation accuracy of the epoch just finished."""
        if self._bar is not None:
            self._bar.update(self._bar.task_ids[0], val=f"{terrain_acc:.3f}")

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
