"""torch backend: the reference, running a training checkpoint in eval and inference mode."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from robofuse.engine.base import Arrays, Engine, EngineConfig
from robofuse.errors import EngineError


class TorchEngine(Engine):
    """Runs a FusionModel loaded from a checkpoint (``robofuse train``'s ``checkpoint.pt``/``best.pt``).

    ``threads`` sets torch's intra-op threads for the whole process (torch has no per-model setting).
    """

    def __init__(self, config: EngineConfig) -> None:
        try:
            import torch
        except ImportError:
            raise EngineError("the torch backend needs torch: pip install torch") from None
        from robofuse.train.checkpoint import load_checkpoint

        if not config.model.is_file():
            raise EngineError(
                f"checkpoint {config.model} does not exist; pass a checkpoint.pt or best.pt from robofuse train"
            )
        torch.set_num_threads(config.threads)
        self._torch = torch
        self.model, _, _ = load_checkpoint(config.model)
        self.model.eval()
        self.input_spec = self.model.config.input_shapes()
        self.output_names = self.model.config.output_names

    def infer_batch(self, inputs: Mapping[str, npt.NDArray[Any]]) -> Arrays:
        """Run a batch of named float32 arrays; returns every output, batch axis first."""
        self.check_batch(inputs)
        torch = self._torch
        tensors = {
            name: torch.from_numpy(np.ascontiguousarray(inputs[name], dtype=np.float32)) for name in self.input_spec
        }
        with torch.inference_mode():
            out = self.model(**tensors)
        return {name: out[name].numpy().astype(np.float32, copy=False) for name in self.output_names}
