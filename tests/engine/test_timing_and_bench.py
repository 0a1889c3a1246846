"""Engine timing on real simulated windows, and ``robofuse bench`` end to end on this machine's backends."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the timed backend is onnxruntime")

import robofuse
from robofuse.cli.main import main
from robofuse.dataset.generate import WindowSet, generate
from robofuse.engine.base import EngineConfig, make_engine
from robofuse.engine.timing import summarize, time_engine
from robofuse.errors import EngineError
from robofuse.messages import MODALITIES


@pytest.fixture(scope="module")
def data() -> WindowSet:
    return generate(7100, 12)


def test_summary_statistics_are_those_of_the_samples() -> None:
    samples = [0.001] * 98 + [0.010, 0.020]  # seconds
    t = summarize(samples, batch=4)
    assert (t.calls, t.batch) == (100, 4)
    assert t.median_ms == pytest.approx(1.0)
    assert t.p99_ms == pytest.approx(float(np.percentile(np.array(samples) * 1e3, 99)))
    assert t.mean_ms == pytest.approx(1.28)
    assert t.windows_per_s == pytest.approx(4 / 1.28e-3)
    with pytest.raises(EngineError, match="no timed calls"):
        summarize([], batch=1)


def test_a_window_rebuilt_from_a_window_set_carries_its_arrays_and_mask(data: WindowSet) -> None:
    window = data.window(3)
    for m in MODALITIES:
        np.testing.assert_array_equal(window.inputs[m], getattr(data, m.value)[3].astype(window.inputs[m].dtype))
    assert window.inputs[MODALITIES[3]].dtype == np.float32  # audio is stored as float16
    np.testing.assert_array_equal(window.mask, data.mask[3])


def test_the_onnxruntime_engine_times_real_windows_at_batch_one_and_eight(data: WindowSet) -> None:
    engine = make_engine(EngineConfig(backend="onnxruntime", model=robofuse.default_model_path()))
    windows = [data.window(i) for i in range(len(data))]
    for batch in (1, 8):
        t = time_engine(engine, windows, batch, calls=5, warmup=1)
        assert t.batch == batch
        assert t.calls == 5
        assert 0 < t.median_ms <= t.p99_ms
        assert t.windows_per_s == pytest.approx(batch * 1e3 / t.mean_ms)
    with pytest.raises(EngineError, match="at least one window"):
        time_engine(engine, [], 1, calls=1)


def test_robofuse_bench_times_what_runs_and_says_why_the_rest_did_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    args = ["bench", "--calls", "3", "--batches", "1,2", "--backends", "onnxruntime,torch,tensorrt-fp32"]
    assert main([*args, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert {"machine", "commit", "results"} <= set(report)
    rows = {r["backend"]: r for r in report["results"]}
    assert [t["batch"] for t in rows["onnxruntime"]["timings"]] == [1, 2]
    assert all(t["median_ms"] > 0 and t["windows_per_s"] > 0 for t in rows["onnxruntime"]["timings"])
    assert [t["batch"] for t in rows["torch"]["timings"]] == [1, 2]  # the shipped checkpoint
    if importlib.util.find_spec("tensorrt") is None:
        assert "JetPack" in rows["tensorrt-fp32"]["not_run"]
    printed = capsys.readouterr().out
    assert "onnxruntime" in printed
    assert "torch" in printed


def test_without_a_checkpoint_for_another_model_torch_is_not_run_and_says_why(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    model = ["--model", str(robofuse.default_model_path())]
    assert (
        main(["bench", "--calls", "2", "--batches", "1", "--backends", "onnxruntime,torch", *model, "--json", str(out)])
        == 0
    )
    rows = {r["backend"]: r for r in json.loads(out.read_text())["results"]}
    assert "pass --checkpoint" in rows["torch"]["not_run"]
    assert rows["onnxruntime"]["timings"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--backends", "onnxruntime,openvino"], "--backends: unknown ['openvino']"),
        (["--batches", "1,x"], "--batches: expected comma-separated integers"),
        (["--batches", "0"], "at least 1"),
        (["--model", "/nonexistent/model.onnx"], "does not exist"),
    ],
)
def test_bad_bench_options_are_clear_errors(
    flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", *flags, "--json", str(tmp_path / "b.json")]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "b.json").exists()
