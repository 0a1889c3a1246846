"""differing_tensors: the bit-for-bit comparison behind "the documented command rebuilt the shipped model"."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from robofuse.errors import EngineError
from robofuse.train.checkpoint import differing_tensors


def save(path: Path, state: dict[str, torch.Tensor]) -> Path:
    torch.save({"model": state, "config": {}, "metrics": {}}, path)
    return path


def state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {
        "w": torch.randn(3, 4),
        "b": torch.tensor([1.0, float("nan")]),
        "n": torch.tensor(7),
        "z": torch.zeros(2, 3),
    }


def test_identical_weights_have_no_differing_tensor(tmp_path: Path) -> None:
    assert differing_tensors(save(tmp_path / "a.pt", state()), save(tmp_path / "b.pt", state())) == ([], 4)


def test_one_ulp_a_dtype_a_shape_or_a_missing_name_each_count(tmp_path: Path) -> None:
    a = save(tmp_path / "a.pt", state())
    changed = state()
    changed["w"][1, 2] = torch.nextafter(changed["w"][1, 2], torch.tensor(10.0))  # the smallest step there is
    changed["n"] = torch.tensor(7, dtype=torch.int32)
    changed["z"] = torch.zeros(3, 2)
    del changed["b"]
    changed["extra"] = torch.zeros(1)
    assert differing_tensors(a, save(tmp_path / "b.pt", changed)) == (["b", "extra", "n", "w", "z"], 5)


def test_negative_zero_differs_from_zero_though_they_compare_equal(tmp_path: Path) -> None:
    other = state()
    other["z"][0, 0] = -0.0
    assert bool((other["z"] == state()["z"]).all())
    assert differing_tensors(save(tmp_path / "a.pt", state()), save(tmp_path / "b.pt", other)) == (["z"], 4)


def test_nan_in_different_places_differs(tmp_path: Path) -> None:
    other = state()
    other["b"] = torch.tensor([float("nan"), 1.0])
    assert differing_tensors(save(tmp_path / "a.pt", state()), save(tmp_path / "b.pt", other)) == (["b"], 4)


def test_a_file_that_is_not_a_checkpoint_says_so(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(EngineError, match="cannot read checkpoint"):
        differing_tensors(junk, junk)
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(EngineError, match="no model weights"):
        differing_tensors(tmp_path / "list.pt", tmp_path / "list.pt")
